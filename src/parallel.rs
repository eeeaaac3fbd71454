//! Work spread over the cores: two independent steps at once, a read-only pass over many
//! objects split into ranges whose results come back in order (the same as one thread's), or
//! a stream of objects made on one core and, once the other core is free, consumed there.

use std::ops::Range;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

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
/// the other). A panic on the other thread goes on here. Once `b` is done, `a`'s thread may
/// take this core for a stream of its own ([`pipe_once_spare`]): this thread only waits.
pub(crate) fn both<A: Send, B>(a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B) -> (A, B) {
    if cores() < 2 {
        return (a(), b());
    }
    both_on_two(a, b)
}

/// [`both`] on two threads, however many cores there are.
fn both_on_two<A: Send, B>(a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B) -> (A, B) {
    let spare = std::sync::Arc::new(AtomicBool::new(false));
    std::thread::scope(|s| {
        let told = spare.clone();
        let a = s.spawn(move || {
            SPARE.with_borrow_mut(|s| *s = Some(told));
            a()
        });
        let b = b();
        spare.store(true, Ordering::Relaxed);
        let a = a
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (a, b)
    })
}

thread_local! {
    /// On a thread [`both`] started: set once the other side is done and its core waits.
    static SPARE: std::cell::RefCell<Option<std::sync::Arc<AtomicBool>>> = const {
        std::cell::RefCell::new(None)
    };
}

/// Objects handed over this many at a time: a channel send per object costs more than the
/// work on some of them.
const BATCH: usize = 512;

/// `produce` with each object it hands to its sink consumed in order: inside the sink, until
/// the other side of the [`both`] this thread runs in is done; from then on `consume` runs on
/// a thread of its own while `produce` goes on here (a reader's parse here, its decoding
/// there). Not before: with both cores busy a third thread only adds the cost of handing
/// objects from core to core. The objects are dropped here, where they were made, so that
/// this thread reuses their memory at once. A panic on the other thread goes on here.
pub(crate) fn pipe_once_spare<T: Send, R>(
    produce: impl FnOnce(&mut dyn FnMut(T)) -> R,
    mut consume: impl FnMut(&mut T) + Send,
) -> R {
    let Some(spare) = SPARE.with_borrow(Clone::clone) else {
        return produce(&mut |mut object| consume(&mut object));
    };
    std::thread::scope(|s| {
        let mut consume = Some(consume);
        let mut piped = None;
        let (mut batch, mut made) = (Vec::new(), 0usize);
        let (give_back, given_back) = std::sync::mpsc::channel::<Vec<T>>();
        let result = produce(&mut |mut object| {
            made += 1;
            if piped.is_none() {
                // A look at the flag now and then: it changes once.
                let inline = made % BATCH != 0 || !spare.load(Ordering::Relaxed);
                match consume.take() {
                    Some(mut f) if inline => {
                        f(&mut object);
                        consume = Some(f);
                        return;
                    }
                    Some(mut f) => {
                        // A few batches in flight keep both threads busy, holding little.
                        let (send, receive) = std::sync::mpsc::sync_channel::<Vec<T>>(4);
                        let give_back = give_back.clone();
                        let consumer = s.spawn(move || {
                            for mut batch in receive {
                                batch.iter_mut().for_each(&mut f);
                                // Once the producer is done it takes none back; they drop here.
                                let _ = give_back.send(batch);
                            }
                        });
                        piped = Some((send, consumer));
                        batch.reserve(BATCH);
                    }
                    None => unreachable!("consume is put back or moved to the pipe"),
                }
            }
            batch.push(object);
            if batch.len() == BATCH
                && let Some((send, _)) = &piped
            {
                // Consumed batches come back to be dropped; one of them carries the next.
                let mut next = None;
                for mut done in given_back.try_iter() {
                    done.clear();
                    next = Some(done);
                }
                let next = next.unwrap_or_else(|| Vec::with_capacity(BATCH));
                // A consumer that panicked has stopped listening; its panic goes on below.
                let _ = send.send(std::mem::replace(&mut batch, next));
            }
        });
        if let Some((send, consumer)) = piped {
            if !batch.is_empty() {
                let _ = send.send(batch);
            }
            drop(send);
            consumer
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        }
        drop(given_back);
        result
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

    /// Consumed once each, in order: inline when no [`both`] runs it, and on another thread
    /// from the first whole batch after the other side of the `both` is done.
    #[test]
    fn piped_objects_are_consumed_once_each_in_order() {
        use std::sync::mpsc::{Sender, channel};
        // The other side is done after object `DONE_AT`, or after the last if there are fewer.
        const DONE_AT: usize = 2 * BATCH + 10;
        let run = |n: usize, done: Option<Sender<()>>| {
            let me = std::thread::current().id();
            let mut seen = Vec::new();
            let made = pipe_once_spare(
                |sink| {
                    for k in 0..n {
                        if k == DONE_AT
                            && let Some(done) = &done
                        {
                            let _ = done.send(());
                            std::thread::sleep(std::time::Duration::from_millis(50));
                        }
                        sink(k);
                    }
                    if let Some(done) = &done {
                        let _ = done.send(());
                    }
                    n
                },
                |k| seen.push((*k, std::thread::current().id() != me)),
            );
            let order: Vec<usize> = seen.iter().map(|&(k, _)| k).collect();
            assert_eq!((made, order), (n, (0..n).collect::<Vec<_>>()), "n = {n}");
            seen.iter().filter(|&&(_, elsewhere)| elsewhere).count()
        };
        for n in [0, 1, BATCH, DONE_AT, 5 * BATCH + 5] {
            assert_eq!(run(n, None), 0, "no both: all inline");
            let (tell, told) = channel();
            // Two threads even while another test asks for serial runs.
            let (elsewhere, _) = both_on_two(|| run(n, Some(tell)), || told.recv());
            // Object `3 * BATCH - 1` is the `3 * BATCH`th: the first check after `DONE_AT`.
            let expected = n.saturating_sub(3 * BATCH - 1);
            assert_eq!(elsewhere, expected, "n = {n}");
        }
    }

    #[test]
    fn both_returns_each_side() {
        assert_eq!(both(|| 1, || "two"), (1, "two"));
    }
}
