//! Work spread over the cores: two independent steps at once, or a read-only pass over many
//! objects split into ranges whose results come back in order (the same as one thread's).

use std::ops::Range;
use std::sync::OnceLock;

/// Below this many objects a pass stays on the calling thread: starting a thread costs more.
/// Tests split from a few objects on, so the small plans they make take the split paths.
const MIN_PER_THREAD: usize = if cfg!(test) { 4 } else { 16 * 1024 };

fn cores() -> usize {
    // Three parts in tests whatever the machine; one when a test asks for the serial run.
    if cfg!(test) {
        return if serial() { 1 } else { 3 };
    }
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

#[cfg(test)]
fn serial() -> bool {
    SERIAL.load(std::sync::atomic::Ordering::Relaxed)
}

#[cfg(not(test))]
fn serial() -> bool {
    false
}

/// Tests set it to run every pass on one thread, and compare with the split run. (Other
/// tests running meanwhile then run on one thread too, which changes no result of theirs.)
#[cfg(test)]
pub(crate) static SERIAL: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `f` over `0..n`, split into contiguous ranges, one per core; the results in range order.
pub(crate) fn ranges<R: Send>(n: usize, f: impl Fn(Range<usize>) -> R + Sync) -> Vec<R> {
    let parts = cores().min(n / MIN_PER_THREAD).max(1);
    if parts == 1 {
        return vec![f(0..n)];
    }
    let step = n.div_ceil(parts);
    let f = &f;
    std::thread::scope(|s| {
        let rest: Vec<_> = (1..parts)
            .map(|k| s.spawn(move || f((k * step).min(n)..((k + 1) * step).min(n))))
            .collect();
        let mut out = vec![f(0..step)];
        // A panic in a part goes on here, as if one thread had run the pass.
        out.extend(rest.into_iter().map(|h| {
            h.join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        }));
        out
    })
}

/// `a` on a thread of its own and `b` on this one, and both results (on one core, one after
/// the other). A panic on the other thread goes on here.
pub(crate) fn both<A: Send, B>(a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B) -> (A, B) {
    if cores() < 2 {
        return (a(), b());
    }
    std::thread::scope(|s| {
        let a = s.spawn(a);
        let b = b();
        let a = a
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (a, b)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_every_object_once_in_order() {
        for n in [
            0,
            1,
            MIN_PER_THREAD,
            2 * MIN_PER_THREAD + 7,
            3 * MIN_PER_THREAD + 2,
            1_003,
        ] {
            let parts = ranges(n, |r| r.collect::<Vec<_>>());
            let all: Vec<usize> = parts.into_iter().flatten().collect();
            assert_eq!(all, (0..n).collect::<Vec<_>>(), "n = {n}");
        }
    }

    #[test]
    fn both_returns_each_side() {
        assert_eq!(both(|| 1, || "two"), (1, "two"));
    }
}
