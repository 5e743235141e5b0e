//! The write path: a pipeline run into a sink, above the executor. Without a `limit`, every
//! worker writes the output of the splits it reads to their own files, in parallel (the sink
//! as the run's collector); with one, the ordered output is written by the calling thread.
//! With a job checkpoint, `checkpointed.rs` skips committed splits and records each one whose
//! files are in place.

mod checkpointed;

use std::sync::Arc;

use crate::error::Result;
use crate::executor::{StatsSlot, execute, execute_collect};
use crate::options::ExecOptions;
use crate::plan::Plan;
use crate::sink::{FileSink, WriteSummary};

/// Run `plan` and write its output with `sink`.
pub fn execute_write(
    plan: &Plan,
    options: &ExecOptions,
    sink: Arc<FileSink>,
    report: Option<StatsSlot>,
) -> Result<WriteSummary> {
    if let Some(checkpoint) = &options.checkpoint {
        return checkpointed::write(plan, options, sink, checkpoint, report);
    }
    sink.prepare(false)?;
    let summary = if plan.first_limit() < plan.stages.len() {
        let mut part = sink.part(0);
        for block in execute(plan, options, report)? {
            part.write(&block?)?;
        }
        sink.summarize(vec![part.finish()?])?
    } else {
        let parts = execute_collect(plan, options, sink.clone(), report)?;
        sink.summarize(parts)?
    };
    sink.commit(summary)
}
