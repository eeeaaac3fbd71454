//! The one backoff rule of every connector's retries (LDAP, Graph requests, `$batch` items,
//! token requests): exponential from `base`, capped, with "equal jitter" — half the step
//! fixed, half random — so that clients retrying together spread out, yet never retry
//! sooner than half the step.

use std::time::Duration;

use rand::Rng as _;

/// The wait before retry number `attempt` (1 for the first retry): a random duration in
/// `[step / 2, step]`, where `step` is [`step`]`(base, cap, attempt)`.
pub fn backoff(base: Duration, cap: Duration, attempt: u32) -> Duration {
    let step = step(base, cap, attempt);
    let half = step / 2;
    half + rand::rng().random_range(Duration::ZERO..=(step - half))
}

/// The step without jitter: `base * 2^(attempt - 1)`, at most `cap` (attempt 0 counts as 1).
pub fn step(base: Duration, cap: Duration, attempt: u32) -> Duration {
    // 2^16 already exceeds any cap idsync uses; the clamp keeps the shift defined.
    base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: Duration = Duration::from_millis(250);
    const CAP: Duration = Duration::from_secs(4);

    #[test]
    fn the_step_doubles_from_the_base_and_is_capped() {
        // The first retry waits one base step (not two: the exponent starts at 0).
        assert_eq!(step(BASE, CAP, 1), BASE);
        assert_eq!(step(BASE, CAP, 2), Duration::from_millis(500));
        assert_eq!(step(BASE, CAP, 4), Duration::from_secs(2));
        assert_eq!(step(BASE, CAP, 5), CAP);
        assert_eq!(step(BASE, CAP, 9), CAP);
        assert_eq!(step(BASE, CAP, u32::MAX), CAP);
        assert_eq!(step(BASE, CAP, 0), BASE);
        assert_eq!(step(Duration::MAX, CAP, 3), CAP);
    }

    #[test]
    fn jitter_stays_within_half_a_step_and_varies() {
        for attempt in [1, 3, 5, 40] {
            let full = step(BASE, CAP, attempt);
            let waits: Vec<Duration> = (0..200).map(|_| backoff(BASE, CAP, attempt)).collect();
            for w in &waits {
                assert!(
                    *w >= full / 2 && *w <= full,
                    "attempt {attempt}: {w:?} of {full:?}"
                );
            }
            let (min, max) = (waits.iter().min().unwrap(), waits.iter().max().unwrap());
            // 200 draws over a range of 10^8 ns or more: equal draws mean no jitter.
            assert!(min < max, "attempt {attempt}: no jitter ({min:?})");
        }
        assert_eq!(backoff(Duration::ZERO, CAP, 3), Duration::ZERO);
    }
}
