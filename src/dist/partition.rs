//! How the work of a step is divided among ranks: shards and reduction
//! chunks ([`split_range`], [`owned`]), the chunk size both the trainer and
//! the groups use ([`REDUCE_CHUNK`]), and the traffic that follows
//! ([`traffic`]).

/// Parameters per chunk of the parallel reduction and update (64 KiB of
/// `f32`); in a group, owners hold whole chunks ([`owned`]).
pub const REDUCE_CHUNK: usize = 16 * 1024;

/// Part `i` of `n` items cut into `parts` consecutive runs, the first
/// `n % parts` runs one longer: the shards of a rank, the chunks of an owner.
///
/// ```
/// use backprop::dist::split_range;
/// assert_eq!(split_range(5, 2, 0), 0..3);
/// assert_eq!(split_range(5, 2, 1), 3..5);
/// assert_eq!(split_range(2, 3, 2), 2..2); // more ranks than items
/// ```
pub fn split_range(n: usize, parts: usize, i: usize) -> std::ops::Range<usize> {
    let (base, extra) = (n / parts, n % parts);
    let start = i * base + i.min(extra);
    start..start + base + usize::from(i < extra)
}

/// The parameters (of `n`) whose gradients rank `rank` of `size` sums and
/// whose update it applies: a run of whole reduction chunks
/// ([`REDUCE_CHUNK`], so that a chunk's arithmetic is the
/// one-process chunk's), split as [`split_range`] splits them.
pub fn owned(n: usize, size: usize, rank: usize) -> std::ops::Range<usize> {
    let c = split_range(n.div_ceil(REDUCE_CHUNK).max(1), size, rank);
    (c.start * REDUCE_CHUNK).min(n)..(c.end * REDUCE_CHUNK).min(n)
}

/// What one rank sends to and receives from the other ranks in one
/// training step ([`traffic`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Bytes this rank sends to other ranks (not to itself).
    pub sent_bytes: u64,
    /// Bytes it receives from other ranks.
    pub received_bytes: u64,
    /// Collective calls per step (each costs at least one latency).
    pub collectives: u32,
}

/// The traffic of rank `rank` of `ranks` in one step of a batch of `shards`
/// shards, for a network of `params` parameters, with or without clipping,
/// counted as the values each exchange moves between two ranks (an MPI
/// library may route them through other ranks, by trees or rings):
///
/// - gradients, all-to-all: for each other owner, the rank's shards' slices
///   of that owner's parameters (`f32`); it receives, from every other rank,
///   that rank's shards' slices of its own;
/// - losses, all-gather: its shards' losses, its count of rows predicted
///   right and its stop vote (`f64`) to every other rank;
/// - clipping, all-gather: one sum of squares per owned chunk (`f64`);
/// - parameters, all-gather: its owned slice (`f32`) to every other rank.
///
/// ```
/// use backprop::dist::traffic;
/// // L (2 913 290 parameters), 2 shards on 2 ranks: each sends about the
/// // other half of its shard's gradient and its half of the parameters
/// let t = traffic(2_913_290, 2, 2, 0, false);
/// assert_eq!(t.collectives, 3);
/// assert!(t.sent_bytes > 11_000_000 && t.sent_bytes < 12_000_000);
/// ```
pub fn traffic(params: usize, shards: usize, ranks: usize, rank: usize, clip: bool) -> Traffic {
    let shards_of = |r: usize| split_range(shards, ranks, r).len() as u64;
    let slice = |r: usize| owned(params, ranks, r).len() as u64;
    let chunks = |r: usize| slice(r).div_ceil(REDUCE_CHUNK as u64);
    let others = (0..ranks).filter(|&r| r != rank);
    let mut t = Traffic {
        collectives: 3 + u32::from(clip),
        ..Traffic::default()
    };
    for o in others {
        // gradients
        t.sent_bytes += 4 * shards_of(rank) * slice(o);
        t.received_bytes += 4 * shards_of(o) * slice(rank);
        // losses, counts of rows predicted right, votes
        t.sent_bytes += 8 * (shards_of(rank) + 2);
        t.received_bytes += 8 * (shards_of(o) + 2);
        // sums of squares
        if clip {
            t.sent_bytes += 8 * chunks(rank);
            t.received_bytes += 8 * chunks(o);
        }
        // parameters
        t.sent_bytes += 4 * slice(rank);
        t.received_bytes += 4 * slice(o);
    }
    t
}
