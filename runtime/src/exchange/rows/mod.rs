//! Operators that move whole rows: sort, random_shuffle, map_groups (all three sort: a shuffle
//! sorts by a seeded random key, map_groups by the group key), repartition and
//! randomize_block_order (which keep blocks as they are and only regroup or reorder them).
//!
//! Sorting is out of core: each split's blocks are sorted in runs of bounded size; runs spill
//! past the budget; the output is a k-way merge of the runs (arrow's row format for the
//! comparisons), read one block per run at a time.

mod buffering;
mod merge;
mod ranges;
mod sort;
mod store;

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};

use super::Exchange;
use super::spill::LazySpill;
use crate::budget::Shares;
use crate::error::Result;
use crate::options::ExecOptions;
use crate::plan::{BlockFn, Plan};
use crate::source::Split;
use crate::stats::RunStats;
use crate::sync::Recover;
use buffering::Buffering;
use merge::{Merge, Runs};
use ranges::repartition;
use store::Store;

pub(super) use ranges::{Piece, Ranges, cut};
pub(super) use store::Chunk;

/// Rows per block of sorted output.
pub(super) const BLOCK_ROWS: usize = 8192;

/// The column a shuffle sorts by.
pub(super) const RANDOM_KEY: &str = "__aqueduct_random_key";

/// One column of a sort order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    pub column: String,
    pub descending: bool,
    pub nulls_first: bool,
}

impl SortKey {
    /// Ascending, nulls last.
    pub fn ascending(column: impl Into<String>) -> Self {
        Self {
            column: column.into(),
            descending: false,
            nulls_first: false,
        }
    }
}

/// What a [`RowExchange`] does.
#[derive(Clone)]
pub enum RowOp {
    /// Order rows by these keys.
    Sort(Vec<SortKey>),
    /// Put rows in a random order, the same for the same seed and input.
    RandomShuffle { seed: u64 },
    /// Keep blocks whole, in a random order, the same for the same seed and input.
    RandomizeBlockOrder { seed: u64 },
    /// `n` output splits of nearly equal rows, in order.
    Repartition(usize),
    /// Call `func` once per group of rows with equal `keys`, with the whole group as one block.
    MapGroups {
        keys: Vec<String>,
        func: Arc<BlockFn>,
    },
}

/// An all-to-all operator over rows.
pub struct RowExchange {
    name: String,
    op: RowOp,
}

impl RowExchange {
    /// `op`, named as written.
    pub fn new(name: impl Into<String>, op: RowOp) -> Self {
        Self {
            name: name.into(),
            op,
        }
    }

    /// The sort order this operator's runs and merge use, if it sorts.
    fn order(&self) -> Option<Vec<SortKey>> {
        match &self.op {
            RowOp::Sort(keys) => Some(keys.clone()),
            RowOp::RandomShuffle { .. } => Some(vec![SortKey::ascending(RANDOM_KEY)]),
            RowOp::MapGroups { keys, .. } => Some(keys.iter().map(SortKey::ascending).collect()),
            RowOp::RandomizeBlockOrder { .. } | RowOp::Repartition(_) => None,
        }
    }
}

impl Exchange for RowExchange {
    fn describe(&self) -> String {
        self.name.clone()
    }

    /// A sort's, a shuffle's and map_groups' output is cut into ranges of keys.
    fn ordered(&self) -> bool {
        self.order().is_some()
    }

    fn run(
        &self,
        input: &Plan,
        options: &ExecOptions,
        report: &Mutex<Option<RunStats>>,
    ) -> Result<Vec<Box<dyn Split>>> {
        let order = self.order();
        let seed = match self.op {
            RowOp::RandomShuffle { seed } => Some(seed),
            _ => None,
        };
        let chunks = buffer(&self.name, input, options, order.clone(), seed, report)?;
        let name: Arc<str> = self.name.as_str().into();
        let splits: Vec<Box<dyn Split>> = match &self.op {
            RowOp::Sort(_) | RowOp::RandomShuffle { .. } | RowOp::MapGroups { .. } => {
                let order = order.expect("these sort");
                let merge = Merge {
                    name: name.clone(),
                    split: name.clone(),
                    runs: Runs::All(Mutex::default()),
                    order,
                    schema: input.schema.clone(),
                    op: self.op.clone(),
                    fan_in_bytes: Shares::of(options).merge_fan_in(),
                    spill: LazySpill::new(options.spill_dir.clone()),
                };
                merge.into_ranges(chunks, options.split_bytes, options.threads)?
            }
            RowOp::RandomizeBlockOrder { seed } => {
                let mut chunks: Vec<Arc<Chunk>> = chunks.into_iter().map(Arc::new).collect();
                let mut rng = <rand_pcg::Pcg64 as rand::SeedableRng>::seed_from_u64(*seed);
                rand::seq::SliceRandom::shuffle(chunks.as_mut_slice(), &mut rng);
                chunks
                    .into_iter()
                    .enumerate()
                    .map(|(i, chunk)| {
                        let rows = chunk.rows;
                        Box::new(Ranges {
                            name: format!("{name}[{i}]").into(),
                            pieces: Mutex::new(vec![(chunk, 0..rows)]),
                        }) as Box<dyn Split>
                    })
                    .collect()
            }
            RowOp::Repartition(n) => repartition(&name, chunks, (*n).max(1)),
        };
        Ok(splits)
    }
}

/// Run `input`, buffering its output (spilled past the budget) in chunks sorted by input
/// position; with an `order`, each chunk is a sorted run.
pub(super) fn buffer(
    name: &str,
    input: &Plan,
    options: &ExecOptions,
    order: Option<Vec<SortKey>>,
    seed: Option<u64>,
    report: &Mutex<Option<RunStats>>,
) -> Result<Vec<Chunk>> {
    let shares = Shares::of(options);
    let store = Arc::new(Store {
        chunks: Mutex::default(),
        bytes: AtomicUsize::new(0),
        limit: shares.exchange_held(),
        spill: LazySpill::new(options.spill_dir.clone()),
    });
    let collector = Arc::new(Buffering {
        name: name.to_owned(),
        store: store.clone(),
        order,
        seed,
        run_limit: shares.worker_buffer(64 << 10),
    });
    super::collect_phase(input, options, collector, &store.spill, report)?;
    let mut chunks = std::mem::take(&mut *store.chunks.lock().recover());
    chunks.sort_by_key(|c| c.tag);
    Ok(chunks)
}
