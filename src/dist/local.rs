//! [`LocalGroup`]: the ranks of a job as threads of one process.

use std::sync::{Arc, Barrier, Mutex};

use super::collective::{check_len, Collective};
use crate::error::Result;

/// The ranks of a job as threads of this process, exchanging through shared
/// memory: [`LocalGroup::new`] gives one handle per rank.
///
/// ```
/// use backprop::dist::{Collective, LocalGroup};
/// let ranks = LocalGroup::new(3);
/// let sums: Vec<f64> = std::thread::scope(|s| {
///     let handles: Vec<_> = ranks
///         .iter()
///         .map(|g| {
///             s.spawn(move || {
///                 let mine = [g.rank() as f64];
///                 let mut all = [0.0; 3];
///                 g.all_gather_f64(&mine, &mut all, &[1, 1, 1]).unwrap();
///                 all.iter().sum()
///             })
///         })
///         .collect();
///     handles.into_iter().map(|h| h.join().unwrap()).collect()
/// });
/// assert_eq!(sums, [3.0, 3.0, 3.0]);
/// ```
pub struct LocalGroup {
    rank: usize,
    hub: Arc<Hub>,
}

struct Hub {
    size: usize,
    barrier: Barrier,
    /// What each rank posted for the current collective.
    slots: Mutex<Vec<Posted>>,
}

#[derive(Clone, Default)]
struct Posted {
    f32s: Vec<f32>,
    f64s: Vec<f64>,
    counts: Vec<usize>,
}

impl LocalGroup {
    /// `size` ranks (at least 1), one handle each.
    ///
    /// # Panics
    /// If `size` is 0.
    pub fn new(size: usize) -> Vec<LocalGroup> {
        assert!(size > 0, "a group has at least one rank");
        let hub = Arc::new(Hub {
            size,
            barrier: Barrier::new(size),
            slots: Mutex::new(vec![Posted::default(); size]),
        });
        (0..size)
            .map(|rank| LocalGroup {
                rank,
                hub: Arc::clone(&hub),
            })
            .collect()
    }

    /// Posts this rank's part, waits for all, reads with `read`, and waits
    /// again so that no part is overwritten while another rank reads it.
    fn exchange<R>(&self, post: Posted, read: impl FnOnce(&[Posted]) -> R) -> R {
        self.hub.slots.lock().expect("no rank panicked")[self.rank] = post;
        self.hub.barrier.wait();
        let out = read(&self.hub.slots.lock().expect("no rank panicked"));
        self.hub.barrier.wait();
        out
    }
}

impl LocalGroup {
    /// An all-gather of values that `post` puts into a [`Posted`] and `part`
    /// reads back.
    fn all_gather<T: Copy>(
        &self,
        send: &[T],
        recv: &mut [T],
        counts: &[usize],
        post: impl FnOnce(&[T]) -> Posted,
        part: impl Fn(&Posted) -> &Vec<T>,
    ) -> Result<()> {
        check_len("sent", counts[self.rank], send.len())?;
        check_len("received", counts.iter().sum(), recv.len())?;
        self.exchange(post(send), |slots| {
            let mut at = 0;
            for slot in slots {
                let v = part(slot);
                recv[at..at + v.len()].copy_from_slice(v);
                at += v.len();
            }
        });
        Ok(())
    }
}

impl Collective for LocalGroup {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.hub.size
    }

    fn all_to_all_f32(
        &self,
        send: &[f32],
        send_counts: &[usize],
        recv: &mut [f32],
        recv_counts: &[usize],
    ) -> Result<()> {
        check_len("sent", send_counts.iter().sum(), send.len())?;
        check_len("received", recv_counts.iter().sum(), recv.len())?;
        let me = self.rank;
        let post = Posted {
            f32s: send.to_vec(),
            counts: send_counts.to_vec(),
            ..Posted::default()
        };
        self.exchange(post, |slots| {
            let mut at = 0;
            for (s, slot) in slots.iter().enumerate() {
                let offset: usize = slot.counts[..me].iter().sum();
                let n = slot.counts[me];
                check_len("from a rank", recv_counts[s], n)?;
                recv[at..at + n].copy_from_slice(&slot.f32s[offset..offset + n]);
                at += n;
            }
            Ok(())
        })
    }

    fn all_gather_f32(&self, send: &[f32], recv: &mut [f32], counts: &[usize]) -> Result<()> {
        let post = |v: &[f32]| Posted {
            f32s: v.to_vec(),
            ..Posted::default()
        };
        self.all_gather(send, recv, counts, post, |p| &p.f32s)
    }

    fn all_gather_f64(&self, send: &[f64], recv: &mut [f64], counts: &[usize]) -> Result<()> {
        let post = |v: &[f64]| Posted {
            f64s: v.to_vec(),
            ..Posted::default()
        };
        self.all_gather(send, recv, counts, post, |p| &p.f64s)
    }
}
