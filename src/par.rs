//! A small order-keeping parallel map over both cores, shared by the stages that hash,
//! read or judge many independent items.

/// `items.iter().map(f)` on up to `threads` scoped threads (contiguous chunks), results in
/// input order. Runs inline for fewer than two items or threads. A panic in `f` is
/// re-raised on the caller's thread.
pub(crate) fn par_map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    if items.len() < 2 || threads < 2 {
        return items.iter().map(f).collect();
    }
    par_chunks(items, threads, |part| {
        part.iter().map(&f).collect::<Vec<R>>()
    })
    .into_iter()
    .flatten()
    .collect()
}

/// `f` over up to `threads` contiguous chunks of `items` on scoped threads, one result per
/// chunk in input order: for work that keeps per-worker state (buffers, timings) across
/// the items of its chunk. Runs inline for fewer than two items or threads. A panic in
/// `f` is re-raised on the caller's thread.
pub(crate) fn par_chunks<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&[T]) -> R + Sync,
) -> Vec<R> {
    if items.len() < 2 || threads < 2 {
        return vec![f(items)];
    }
    let chunk = items.len().div_ceil(threads).max(1);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || f(part)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

/// The available cores, capped so that each thread gets at least `per_thread` items.
pub(crate) fn threads_for(items: usize, per_thread: usize) -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.div_ceil(per_thread.max(1)).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn par_map_keeps_the_input_order_on_any_thread_count() {
        let items: Vec<u32> = (0..1000).collect();
        for threads in [0, 1, 2, 3, 7, 2000] {
            let out = par_map(&items, threads, |x| x * 2);
            assert_eq!(out, items.iter().map(|x| x * 2).collect::<Vec<_>>());
        }
    }

    #[test]
    fn par_chunks_covers_every_item_once_in_order() {
        let items: Vec<u32> = (0..1001).collect();
        for threads in [0, 1, 2, 3, 8] {
            let parts = par_chunks(&items, threads, |p| p.to_vec());
            assert!(parts.len() <= threads.max(1), "{threads}");
            assert_eq!(parts.concat(), items);
        }
        assert_eq!(par_chunks::<u32, usize>(&[], 4, <[u32]>::len), vec![0]);
    }

    #[test]
    fn threads_for_gives_each_thread_enough_items() {
        assert_eq!(threads_for(10, 256), 1);
        assert!(threads_for(100_000, 256) >= 1);
    }
}
