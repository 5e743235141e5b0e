//! All-to-all operators (groupby, sort, shuffles, ...): each consumes every block of the
//! pipeline before it, then serves its output as the splits of a new source, which the
//! pipeline after it reads like any other. A pipeline with such operators is a chain of
//! plans, each reading the one before through an [`ExchangeSource`]; nothing runs until the
//! last one is consumed.
//!
//! The first phase runs in the workers of the upstream run (collect mode): each split's
//! blocks go to its own part, which aggregates, partitions or buffers them. What exceeds the
//! memory budget spills to Arrow IPC files in a directory of its own (`spill.rs`), removed
//! when the output is dropped, also after an error.

mod aggregate;
mod rows;
mod saved;
mod spill;
mod zip;

pub use aggregate::HashAggregate;
pub use rows::{RowExchange, RowOp, SortKey};
pub use spill::{LazySpill, SpillDir, SpillFile};
pub use zip::ZipSource;

use std::sync::{Arc, Mutex};

use crate::error::Result;
use crate::options::ExecOptions;
use crate::plan::Plan;
use crate::source::{Source, Split};
use crate::stats::RunStats;
use crate::sync::Recover;

/// Run an exchange's first phase: `input` in collect mode into `collector`, leaving the
/// run's statistics (with the bytes `spill` wrote) in `report`.
pub(crate) fn collect_phase<C: crate::collect::Collector<Made = ()> + 'static>(
    input: &Plan,
    options: &ExecOptions,
    collector: Arc<C>,
    spill: &LazySpill,
    report: &Mutex<Option<RunStats>>,
) -> Result<()> {
    let slot = crate::executor::StatsSlot::default();
    let result = crate::executor::execute_collect(input, options, collector, Some(slot.clone()));
    let mut stats = slot.lock().recover().take();
    if let (Some(stats), Some(dir)) = (&mut stats, spill.made()) {
        stats.spilled_bytes = dir.written();
    }
    *report.lock().recover() = stats;
    result.map(|_| ())
}

/// An all-to-all operator.
pub trait Exchange: Send + Sync {
    /// The operator's name in plans, statistics and messages.
    fn describe(&self) -> String;
    /// Consume every block of `input` and make the output splits.
    fn run(
        &self,
        input: &Plan,
        options: &ExecOptions,
        report: &Mutex<Option<RunStats>>,
    ) -> Result<Vec<Box<dyn Split>>>;
    /// Whether the output splits in order are the output in order (see [`Source::ordered`]).
    fn ordered(&self) -> bool {
        false
    }
}

/// The output of an all-to-all operator over the pipeline before it, as a source.
pub struct ExchangeSource {
    input: Arc<Plan>,
    exchange: Arc<dyn Exchange>,
    /// The statistics of the last run of the input pipeline.
    upstream: Arc<Mutex<Option<RunStats>>>,
}

impl ExchangeSource {
    /// `exchange` over the output of `input`.
    pub fn new(input: Plan, exchange: impl Exchange + 'static) -> Self {
        Self {
            input: Arc::new(input),
            exchange: Arc::new(exchange),
            upstream: Arc::default(),
        }
    }

    /// The pipeline this operator reads.
    pub fn input(&self) -> &Plan {
        &self.input
    }

    /// What identifies this operator's output in a checkpoint: its plans, and the input's
    /// listing when the input reads files (a nested operator is covered by its own plans).
    fn fingerprint(&self, options: &ExecOptions) -> Result<String> {
        let listing = match self.input.source.upstream() {
            Some(_) => String::new(),
            None => self.input.source.listing(options)?.join("\n"),
        };
        Ok(crate::checkpoint::fingerprint(&[
            &self.exchange.describe(),
            &self.input.logical,
            &self.input.physical,
            &self.input.source.describe(),
            &self
                .input
                .stages
                .iter()
                .map(|s| s.name())
                .collect::<Vec<_>>()
                .join("|"),
            &listing,
        ]))
    }

    /// The exchange's phase, a step of its own: the input pipeline runs into the exchange,
    /// which makes the output splits. With a job checkpoint, an output a previous run saved is
    /// read instead, and a new one is saved. Listing this source's splits runs it, so nothing
    /// before an exchange runs until something reads after it.
    pub fn run_phase(&self, options: &ExecOptions) -> Result<Vec<Box<dyn Split>>> {
        let Some(root) = &options.checkpoint else {
            return self.exchange.run(&self.input, options, &self.upstream);
        };
        let dir = crate::checkpoint::Dir::resolve(root)?
            .child(&format!("exchange-{}", &self.fingerprint(options)?[..12]));
        if let Some(saved) = saved::load(&dir)? {
            return Ok(saved);
        }
        let splits = self.exchange.run(&self.input, options, &self.upstream)?;
        saved::save(&dir, splits)
    }

    /// The statistics of the last run of the input pipeline.
    pub fn upstream_stats(&self) -> Option<RunStats> {
        self.upstream.lock().recover().clone()
    }
}

impl Source for ExchangeSource {
    fn describe(&self) -> String {
        self.exchange.describe()
    }

    /// Listing the output's splits runs the phase before it ([`ExchangeSource::run_phase`]).
    fn splits(&self, options: &ExecOptions) -> Result<Vec<Box<dyn Split>>> {
        self.run_phase(options)
    }

    fn ordered(&self) -> bool {
        self.exchange.ordered()
    }

    fn upstream(&self) -> Option<crate::source::Upstream<'_>> {
        Some(crate::source::Upstream {
            plan: &self.input,
            stats: self.upstream_stats(),
        })
    }
}
