//! The counting global allocator of the allocation tests (`alloc`, `parsers`,
//! `model_io`): it forwards every call to the system allocator and keeps
//! three meters on the way.
//!
//! - Process-wide, all threads: [`ALLOCS`] (calls to `alloc`, `alloc_zeroed`
//!   and `realloc`), [`BYTES`] (bytes they asked for) and [`LARGEST`] (the
//!   largest single request).
//! - Per thread, while [`peak_alloc`] runs: the largest single request.
//! - Per thread, always: the bytes held, whose high-water mark during a call
//!   is [`peak_heap`]'s answer.
//!
//! Not part of `common/mod.rs` (a crate that does not count must not pay for
//! it). A test crate that counts includes it and installs it itself:
//!
//! ```ignore
//! #[path = "common/counting_alloc.rs"]
//! mod counting_alloc;
//! #[global_allocator]
//! static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;
//! ```
//!
//! The bookkeeping allocates nothing (atomics and const-initialised `Cell`s
//! without destructors), so it never counts itself.
#![allow(dead_code)] // each test binary reads a subset of the meters

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// The allocator: the system's, metered.
pub struct Counting;

/// Calls to `alloc`, `alloc_zeroed` and `realloc`, on every thread.
pub static ALLOCS: AtomicU64 = AtomicU64::new(0);
/// Bytes asked for by `alloc`, `alloc_zeroed` and `realloc` (new sizes).
pub static BYTES: AtomicU64 = AtomicU64::new(0);
/// The largest single allocation (or new size of a reallocation).
pub static LARGEST: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Whether [`peak_alloc`] is running on this thread.
    static TRACKING: Cell<bool> = const { Cell::new(false) };
    /// The largest single request since [`peak_alloc`] started.
    static PEAK_REQUEST: Cell<usize> = const { Cell::new(0) };
    /// Bytes allocated minus bytes freed by this thread.
    static LIVE: Cell<usize> = const { Cell::new(0) };
    /// The high-water mark of `LIVE` since [`peak_heap`] started.
    static PEAK_LIVE: Cell<usize> = const { Cell::new(0) };
}

/// A request for `size` bytes (a new allocation or a reallocation's new size).
fn note_request(size: usize) {
    ALLOCS.fetch_add(1, Ordering::Relaxed);
    BYTES.fetch_add(size as u64, Ordering::Relaxed);
    LARGEST.fetch_max(size as u64, Ordering::Relaxed);
    // `try_with`: the thread-locals may be gone while a thread shuts down;
    // those allocations are not tracked per thread.
    let _ = TRACKING.try_with(|t| {
        if t.get() {
            let _ = PEAK_REQUEST.try_with(|p| p.set(p.get().max(size)));
        }
    });
}

fn grow(n: usize) {
    let _ = LIVE.try_with(|l| {
        let v = l.get().saturating_add(n);
        l.set(v);
        let _ = PEAK_LIVE.try_with(|p| p.set(p.get().max(v)));
    });
}

fn shrink(n: usize) {
    let _ = LIVE.try_with(|l| l.set(l.get().saturating_sub(n)));
}

// SAFETY: forwards every call unchanged to the system allocator; the
// counters (atomics and const-initialised thread-local `Cell`s, no
// allocation) have no effect on the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_request(layout.size());
        grow(layout.size());
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        shrink(layout.size());
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_request(layout.size());
        grow(layout.size());
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_request(new_size);
        grow(new_size);
        shrink(layout.size());
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Runs `f`, returning its result and the largest single allocation this
/// thread requested meanwhile.
pub fn peak_alloc<R>(f: impl FnOnce() -> R) -> (R, usize) {
    PEAK_REQUEST.with(|p| p.set(0));
    TRACKING.with(|t| t.set(true));
    let r = f();
    TRACKING.with(|t| t.set(false));
    (r, PEAK_REQUEST.with(Cell::get))
}

/// The result of `f` and the most heap it held at once on this thread.
pub fn peak_heap<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let start = LIVE.with(Cell::get);
    PEAK_LIVE.with(|p| p.set(start));
    let out = f();
    (out, PEAK_LIVE.with(Cell::get) - start)
}
