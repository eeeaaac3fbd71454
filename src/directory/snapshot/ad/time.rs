//! Dates as AD writes them.

use std::time::{SystemTime, UNIX_EPOCH};

use graph_rules::time::civil_from_days;

/// AD's GeneralizedTime: `20240115093000.0Z`.
pub(super) fn generalized_time(now: SystemTime) -> String {
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{year:04}{month:02}{day:02}{:02}{:02}{:02}.0Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generalized_time_is_utc_to_the_second() {
        let t = UNIX_EPOCH + std::time::Duration::from_secs(1_705_311_000);
        assert_eq!(generalized_time(t), "20240115093000.0Z");
        assert_eq!(generalized_time(UNIX_EPOCH), "19700101000000.0Z");
    }
}
