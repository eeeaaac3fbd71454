//! UTC timestamps in the shapes Graph and Entra print, without a date-time dependency.

use std::time::{SystemTime, UNIX_EPOCH};

/// Broken-down UTC time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utc {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

impl Utc {
    pub fn now() -> Self {
        Self::from_system(SystemTime::now())
    }

    pub fn from_system(t: SystemTime) -> Self {
        let secs = t
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        Self::from_unix(secs)
    }

    pub fn from_unix(secs: i64) -> Self {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (year, month, day) = graph_rules::time::civil_from_days(days);
        Utc {
            year,
            month,
            day,
            hour: (rem / 3600) as u32,
            minute: ((rem % 3600) / 60) as u32,
            second: (rem % 60) as u32,
        }
    }

    /// `2023-02-20T05:06:48`: the `innerError.date` shape Graph uses (no zone suffix).
    pub fn graph_inner_date(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// `2023-02-20T05:06:48Z`: ISO 8601 as Graph returns DateTimeOffset properties.
    pub fn iso(&self) -> String {
        format!("{}Z", self.graph_inner_date())
    }

    /// `2016-01-09 02:02:12Z`: the `timestamp` shape of Entra token errors.
    pub fn entra_timestamp(&self) -> String {
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(Utc::from_unix(0).iso(), "1970-01-01T00:00:00Z");
        assert_eq!(Utc::from_unix(951_782_400).iso(), "2000-02-29T00:00:00Z");
        assert_eq!(
            Utc::from_unix(1_676_869_608).graph_inner_date(),
            "2023-02-20T05:06:48"
        );
        assert_eq!(
            Utc::from_unix(1_452_304_932).entra_timestamp(),
            "2016-01-09 02:02:12Z"
        );
    }
}
