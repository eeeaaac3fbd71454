//! Per-app request budget: N requests in any 10-second window (sliding), as Graph's
//! "requests per 10 seconds per app" limits are stated
//! (<https://learn.microsoft.com/graph/throttling-limits>).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

pub const WINDOW: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Over budget: answer 429 with this `Retry-After` (seconds).
    Throttled {
        retry_after: u64,
    },
    /// The app came back before the `Retry-After` it was given had passed.
    Early {
        retry_after: u64,
    },
}

#[derive(Debug, Default)]
struct AppState {
    accepted: VecDeque<Instant>,
    /// Until when the app was told to wait.
    blocked_until: Option<Instant>,
}

#[derive(Debug, Default)]
pub struct Throttle {
    apps: HashMap<String, AppState>,
}

fn ceil_secs(d: Duration) -> u64 {
    let s = d.as_secs();
    if d.subsec_nanos() > 0 {
        s + 1
    } else {
        s.max(1)
    }
}

impl Throttle {
    /// Decides one request of `app` under a budget of `limit` requests per window
    /// (`None`: unlimited). Only admitted requests use the budget, so a client that waits
    /// the full `Retry-After` always finds room.
    pub fn admit(&mut self, app: &str, limit: Option<u32>, now: Instant) -> Verdict {
        let Some(limit) = limit else {
            return Verdict::Allowed;
        };
        let st = self.apps.entry(app.to_string()).or_default();
        if let Some(until) = st.blocked_until {
            if now < until {
                return Verdict::Early {
                    retry_after: ceil_secs(until - now),
                };
            }
            st.blocked_until = None;
        }
        while st
            .accepted
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            st.accepted.pop_front();
        }
        if st.accepted.len() >= limit as usize {
            let oldest = *st.accepted.front().expect("limit >= 1 when full");
            let wait = ceil_secs(WINDOW.saturating_sub(now.duration_since(oldest)));
            st.blocked_until = Some(now + Duration::from_secs(wait));
            return Verdict::Throttled { retry_after: wait };
        }
        st.accepted.push_back(now);
        Verdict::Allowed
    }

    pub fn reset(&mut self) {
        self.apps.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_then_retry_after_then_room() {
        let mut t = Throttle::default();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(t.admit("a", Some(3), t0), Verdict::Allowed);
        }
        let v = t.admit("a", Some(3), t0 + Duration::from_millis(500));
        assert_eq!(v, Verdict::Throttled { retry_after: 10 });
        assert!(matches!(
            t.admit("a", Some(3), t0 + Duration::from_secs(2)),
            Verdict::Early { .. }
        ));
        assert_eq!(t.admit("b", Some(3), t0), Verdict::Allowed);
        assert_eq!(
            t.admit("a", Some(3), t0 + Duration::from_millis(10_500)),
            Verdict::Allowed
        );
        assert_eq!(t.admit("a", None, t0), Verdict::Allowed);
    }
}
