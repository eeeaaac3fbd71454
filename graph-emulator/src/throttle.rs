//! Per-app request budget: N requests in any 10-second window (sliding), as Graph's
//! "requests per 10 seconds per app" limits are stated
//! (<https://learn.microsoft.com/graph/throttling-limits>).
//!
//! Every request inside a `Retry-After` period is answered 429, but only one the client sent
//! *after it was told to wait* counts as early. The server cannot see when the client read the
//! 429, so it infers it: a request arriving later on the connection that carried the 429 was
//! necessarily sent after it was read (HTTP/1.1 sends the next request on a connection only
//! after the previous answer); on another connection, only a request arriving [`IN_FLIGHT`]
//! or more after the 429 counts, since one sent before the client could know may reach the
//! server a little after the 429 left it. Requests of the `$batch` that got the 429 arrived
//! with it and are never early.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

pub const WINDOW: Duration = Duration::from_secs(10);

/// How long after a 429 a request on another connection may still have been in flight.
pub const IN_FLIGHT: Duration = Duration::from_millis(250);

/// Where and when a request reached the server (a `$batch`'s requests share their batch's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// The TCP connection, numbered by the server.
    pub conn: u64,
    /// When the HTTP request arrived, before any injected latency.
    pub arrived: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Over budget: answer 429 with this `Retry-After` (seconds).
    Throttled {
        retry_after: u64,
    },
    /// Inside a `Retry-After` period: answered 429 again. `early` when the client sent the
    /// request after it had been told to wait (see the module documentation).
    Blocked {
        retry_after: u64,
        early: bool,
    },
}

/// A `Retry-After` period given to an app.
#[derive(Debug, Clone, Copy)]
struct Block {
    until: Instant,
    /// When the 429 was given, and on which connection.
    at: Instant,
    conn: u64,
}

#[derive(Debug, Default)]
struct AppState {
    accepted: VecDeque<Instant>,
    /// Until when the app was told to wait.
    blocked: Option<Block>,
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
    pub fn admit(
        &mut self,
        app: &str,
        limit: Option<u32>,
        now: Instant,
        origin: Origin,
    ) -> Verdict {
        let Some(limit) = limit else {
            return Verdict::Allowed;
        };
        let st = self.apps.entry(app.to_string()).or_default();
        if let Some(block) = st.blocked {
            if now < block.until {
                let told = origin.arrived > block.at
                    && (origin.conn == block.conn
                        || origin.arrived.duration_since(block.at) >= IN_FLIGHT);
                return Verdict::Blocked {
                    retry_after: ceil_secs(block.until - now),
                    early: told,
                };
            }
            st.blocked = None;
        }
        while st
            .accepted
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            st.accepted.pop_front();
        }
        if st.accepted.len() >= limit as usize {
            // Cannot fail: the queue is full and the limit is at least 1, so it is not empty.
            let oldest = *st.accepted.front().expect("limit >= 1 when full");
            let wait = ceil_secs(WINDOW.saturating_sub(now.duration_since(oldest)));
            st.blocked = Some(Block {
                until: now + Duration::from_secs(wait),
                at: now,
                conn: origin.conn,
            });
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

    fn at(conn: u64, arrived: Instant) -> Origin {
        Origin { conn, arrived }
    }

    #[test]
    fn budget_then_retry_after_then_room() {
        let mut t = Throttle::default();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(t.admit("a", Some(3), t0, at(1, t0)), Verdict::Allowed);
        }
        let t1 = t0 + Duration::from_millis(500);
        let v = t.admit("a", Some(3), t1, at(1, t1));
        assert_eq!(v, Verdict::Throttled { retry_after: 10 });
        let t2 = t0 + Duration::from_secs(2);
        assert!(matches!(
            t.admit("a", Some(3), t2, at(1, t2)),
            Verdict::Blocked { early: true, .. }
        ));
        assert_eq!(t.admit("b", Some(3), t0, at(2, t0)), Verdict::Allowed);
        let t3 = t0 + Duration::from_millis(10_500);
        assert_eq!(t.admit("a", Some(3), t3, at(1, t3)), Verdict::Allowed);
        assert_eq!(t.admit("a", None, t0, at(1, t0)), Verdict::Allowed);
    }

    #[test]
    fn only_requests_sent_after_the_429_are_early() {
        let mut t = Throttle::default();
        let t0 = Instant::now();
        assert_eq!(t.admit("a", Some(1), t0, at(1, t0)), Verdict::Allowed);
        let t1 = t0 + Duration::from_millis(100);
        // A batch: its second request gets the 429, the third arrived with it.
        let batch = at(1, t1);
        assert!(matches!(
            t.admit("a", Some(1), t1, batch),
            Verdict::Throttled { .. }
        ));
        let blocked = |v| matches!(v, Verdict::Blocked { early, .. } if early);
        assert!(!blocked(t.admit("a", Some(1), t1, batch)));
        // In flight on another connection: arrived just after the 429 was given.
        let t2 = t1 + Duration::from_millis(5);
        assert!(!blocked(t.admit("a", Some(1), t2, at(2, t2))));
        // Sent after reading it: on its connection at once, on another one a little later.
        assert!(blocked(t.admit("a", Some(1), t2, at(1, t2))));
        let t3 = t1 + IN_FLIGHT;
        assert!(blocked(t.admit("a", Some(1), t3, at(3, t3))));
    }
}
