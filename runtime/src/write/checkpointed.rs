//! A write run with a job checkpoint (`crate::checkpoint`): committed splits are skipped, the
//! leftovers of the others removed, and each split recorded once its files are in place.

use std::sync::Arc;

use arrow::record_batch::RecordBatch;

use crate::checkpoint::{Checkpoint, Committed, Dir, fingerprint};
use crate::error::{Error, Result};
use crate::executor::{StatsSlot, collect_each};
use crate::options::ExecOptions;
use crate::plan::Plan;
use crate::sink::{FileSink, WriteSummary, WrittenPart};
use crate::source::Split;

/// A split whose output is already committed: read as nothing.
struct AlreadyCommitted {
    name: Arc<str>,
}

impl Split for AlreadyCommitted {
    fn name(&self) -> Arc<str> {
        self.name.clone()
    }
    fn read(&self, _: &mut dyn FnMut(RecordBatch) -> Result<bool>) -> Result<()> {
        Ok(())
    }
}

pub(super) fn write(
    plan: &Plan,
    options: &ExecOptions,
    sink: Arc<FileSink>,
    checkpoint: &str,
    report: Option<StatsSlot>,
) -> Result<WriteSummary> {
    let location = sink.describe();
    if plan.first_limit() < plan.stages.len() {
        return Err(Error::Checkpoint {
            location: checkpoint.to_owned(),
            reason: format!(
                "`{location}` follows a `limit`, whose rows depend on the order of a run: it cannot resume"
            ).into(),
        });
    }
    let splits = plan.source.splits(options)?;
    let names: Vec<Arc<str>> = splits.iter().map(|s| s.name()).collect();
    let listing = names.join("\n");
    let print = fingerprint(&[
        &plan.logical,
        &plan.physical,
        &plan.source.describe(),
        &location,
        &format!("{:?}", sink.options()),
        &listing,
    ]);
    // One subdirectory per sink, so that a job's several writes can share a checkpoint.
    let root = Dir::resolve(checkpoint)?;
    let dir = root.child(&fingerprint(&[&location])[..12]);
    // Checked before the checkpoint exists: a refused first run leaves none behind.
    sink.prepare(Checkpoint::started(&dir)?)?;
    let mut checkpoint = Checkpoint::open(dir.clone(), &print)?;
    let done: Vec<bool> = (0..splits.len()).map(|i| checkpoint.is_done(i)).collect();
    sink.remove_uncommitted(&|split| done.get(split).copied().unwrap_or(false))?;
    let skipped = done.iter().filter(|d| **d).count();
    tracing::info!(
        checkpoint = %dir.describe(),
        skipped,
        splits = splits.len(),
        "resuming from a checkpoint"
    );
    let splits: Vec<Box<dyn Split>> = splits
        .into_iter()
        .enumerate()
        .map(|(i, split)| {
            if done[i] {
                Box::new(AlreadyCommitted { name: split.name() }) as Box<dyn Split>
            } else {
                split
            }
        })
        .collect();
    collect_each(
        plan,
        options,
        sink.clone(),
        report,
        splits,
        |split, part| {
            if done[split] {
                return Ok(());
            }
            checkpoint.record(Committed {
                split,
                name: names[split].to_string(),
                files: part.files().to_vec(),
                rows: part.rows(),
            })
        },
    )?;
    let parts: Vec<WrittenPart> = checkpoint
        .committed()
        .map(|c| WrittenPart::new(c.files.clone(), c.rows))
        .collect();
    let summary = sink.commit(sink.summarize(parts)?)?;
    if options.delete_checkpoint_on_success {
        checkpoint.remove()?;
        // Saved all-to-all outputs go too.
        for name in root.list()?.1 {
            if name.starts_with("exchange-") {
                root.child(&name).remove_all()?;
            }
        }
    }
    Ok(summary)
}
