//! Ranged attribute values, as Windows AD answers a large `member`: the first answer holds
//! `member;range=0-1499` (MaxValRange values), and each base-scope search asking for
//! `member;range=1500-*` gives the next range, until one ends in `*` (`member;range=3000-*`).
//! Samba answers whole (measured: DESIGN.md), so this is proven here without a server.
//!
//! The bookkeeping refuses what would read as a shorter list than the group has: a range
//! that does not start where the last one ended (a gap or an overlap), a range holding another
//! number of values than it says, an answer without the range asked for. A hostile server
//! that never ends the ranges is stopped after [`MAX_ROUNDS`] answers.

use crate::directory::ldif::{parse_range, split_range};

/// Follow-up answers per attribute: at AD's default of 1,500 values a range, 15 million
/// values, far above any real group (AD's own limit for a non-linked group is 5,000 values
/// in a single write; linked `member` lists of millions are possible but unheard of).
pub(super) const MAX_ROUNDS: usize = 10_000;

/// The values of one ranged attribute read so far.
#[derive(Debug)]
pub(super) struct Ranged {
    /// The attribute without the range option (`member`).
    pub base: String,
    pub values: Vec<Vec<u8>>,
    /// The first value the next answer must start at; `None` once a range ended in `*`.
    next: Option<u64>,
    rounds: usize,
}

/// A ranged attribute description read: the description without the range option, the
/// first value's index, and the last one's (`None` for `*`).
pub(super) type RangeName = (String, u64, Option<u64>);

/// An attribute description with a range option, read; an error for a range option that
/// does not read; `None` without one.
pub(super) fn ranged_name(name: &str) -> Option<Result<RangeName, String>> {
    let (base, option) = split_range(name)?;
    Some(
        parse_range(option)
            .map(|(first, last)| (base, first, last))
            .ok_or_else(|| format!("AD answered an attribute {name:?} whose range does not read")),
    )
}

impl Ranged {
    /// Starts with nothing read: the first answer must start at 0.
    pub fn new(base: &str) -> Self {
        Ranged {
            base: base.to_owned(),
            values: Vec::new(),
            next: Some(0),
            rounds: 0,
        }
    }

    /// The attribute description to ask for next (`member;range=1500-*`); `None` once a
    /// range ended in `*` and every value is read.
    pub fn request(&self) -> Option<String> {
        self.next.map(|n| format!("{};range={n}-*", self.base))
    }

    /// Takes one answer's range; the error says what is wrong with it.
    pub fn take(
        &mut self,
        first: u64,
        last: Option<u64>,
        values: Vec<Vec<u8>>,
    ) -> Result<(), String> {
        let base = &self.base;
        let Some(expected) = self.next else {
            return Err(format!("AD sent more of {base} after its last range"));
        };
        self.rounds += 1;
        if self.rounds > MAX_ROUNDS {
            return Err(format!(
                "AD sent more than {MAX_ROUNDS} ranges of {base} without ending them; stopped reading"
            ));
        }
        let shown = |last: Option<u64>| {
            last.map_or_else(
                || format!("{base};range={first}-*"),
                |l| format!("{base};range={first}-{l}"),
            )
        };
        if first != expected {
            let what = if first > expected {
                format!("values {expected}-{} are missing", first - 1)
            } else {
                format!("values {first}-{} were already read", expected - 1)
            };
            return Err(format!(
                "AD answered {} where {base};range={expected}-* was asked for ({what})",
                shown(last)
            ));
        }
        match last {
            None => self.next = None,
            Some(last) => {
                let size = last.checked_sub(first).and_then(|d| d.checked_add(1));
                if size != Some(values.len() as u64) {
                    return Err(format!(
                        "AD answered {} holding {} values",
                        shown(Some(last)),
                        values.len()
                    ));
                }
                self.next = Some(last + 1);
            }
        }
        self.values.extend(values);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize) -> Vec<Vec<u8>> {
        (0..n).map(|i| format!("CN=u{i}").into_bytes()).collect()
    }

    #[test]
    fn range_names_read_with_their_bounds() {
        assert_eq!(
            ranged_name("member;range=0-1499"),
            Some(Ok(("member".into(), 0, Some(1499))))
        );
        assert_eq!(
            ranged_name("Member;Range=1500-*"),
            Some(Ok(("Member".into(), 1500, None)))
        );
        assert_eq!(ranged_name("member"), None);
        assert!(matches!(ranged_name("member;range=a-*"), Some(Err(_))));
    }

    #[test]
    fn ranges_follow_in_order_to_the_star() {
        let mut r = Ranged::new("member");
        assert_eq!(r.request().as_deref(), Some("member;range=0-*"));
        r.take(0, Some(1499), values(1500)).unwrap();
        assert_eq!(r.request().as_deref(), Some("member;range=1500-*"));
        r.take(1500, Some(2999), values(1500)).unwrap();
        r.take(3000, None, values(12)).unwrap();
        assert_eq!(r.request(), None);
        assert_eq!(r.values.len(), 3012);
        assert!(
            r.take(3012, None, values(1))
                .unwrap_err()
                .contains("after its last range")
        );
    }

    #[test]
    fn gaps_overlaps_and_wrong_counts_are_refused() {
        let mut r = Ranged::new("member");
        r.take(0, Some(1499), values(1500)).unwrap();
        let gap = r.take(1600, None, values(1)).unwrap_err();
        assert!(gap.contains("values 1500-1599 are missing"), "{gap}");
        let mut r = Ranged::new("member");
        r.take(0, Some(1499), values(1500)).unwrap();
        let overlap = r.take(1000, Some(2499), values(1500)).unwrap_err();
        assert!(
            overlap.contains("values 1000-1499 were already read"),
            "{overlap}"
        );
        let mut r = Ranged::new("member");
        let short = r.take(0, Some(1499), values(10)).unwrap_err();
        assert!(short.contains("holding 10 values"), "{short}");
        let mut r = Ranged::new("member");
        assert!(
            r.take(5, Some(3), vec![]).is_err(),
            "a range that ends before it starts"
        );
        assert!(
            Ranged::new("member").take(1, None, values(1)).is_err(),
            "not from 0"
        );
    }

    #[test]
    fn a_server_that_never_ends_the_ranges_is_stopped() {
        let mut r = Ranged::new("member");
        let mut next = 0;
        let error = loop {
            match r.take(next, Some(next), values(1)) {
                Ok(()) => next += 1,
                Err(e) => break e,
            }
        };
        assert_eq!(next as usize, MAX_ROUNDS);
        assert!(error.contains("without ending them"), "{error}");
    }
}
