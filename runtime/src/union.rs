//! `union`: the splits of several pipelines of the same record, read lazily. Each input's
//! stages run inside its splits, so the union streams like any source.

use std::sync::Arc;

use arrow::record_batch::RecordBatch;

use crate::error::{BlockId, Result};
use crate::executor::{SplitRun, execute};
use crate::options::ExecOptions;
use crate::plan::{Plan, Stage};
use crate::source::{Source, Split};
use crate::stats::Recorder;

/// The rows of every input, the first input's first.
pub struct UnionSource {
    inputs: Vec<Arc<Plan>>,
}

impl UnionSource {
    /// A union of `inputs`, which must have the same schema.
    pub fn new(inputs: Vec<Arc<Plan>>) -> Self {
        Self { inputs }
    }
}

impl Source for UnionSource {
    fn describe(&self) -> String {
        let inputs: Vec<String> = self.inputs.iter().map(|p| p.source.describe()).collect();
        format!("union({})", inputs.join(", "))
    }

    /// An ordered input (a sort's ranges) keeps its order inside the union.
    fn ordered(&self) -> bool {
        self.inputs.iter().any(|p| p.source.ordered())
    }

    fn splits(&self, options: &ExecOptions) -> Result<Vec<Box<dyn Split>>> {
        let mut splits: Vec<Box<dyn Split>> = Vec::new();
        for plan in &self.inputs {
            if plan.stages.iter().any(|s| matches!(s, Stage::Limit(_))) {
                // A limit needs the input's order: run that input as one split.
                splits.push(Box::new(WholePlan {
                    plan: plan.clone(),
                    options: options.clone(),
                }));
                continue;
            }
            // One pool per input for the whole run, shared by its splits.
            let stages: Arc<[Stage]> = crate::executor::for_run(&plan.stages, options)?.into();
            for split in plan.source.splits(options)? {
                splits.push(Box::new(StagedSplit {
                    split,
                    stages: stages.clone(),
                }));
            }
        }
        Ok(splits)
    }
}

/// A split of an input with the input's stages applied to its blocks.
struct StagedSplit {
    split: Box<dyn Split>,
    stages: Arc<[Stage]>,
}

impl Split for StagedSplit {
    fn name(&self) -> Arc<str> {
        self.split.name()
    }

    fn read(&self, emit: &mut dyn FnMut(RecordBatch) -> Result<bool>) -> Result<()> {
        let mut names = vec![self.split.name().to_string()];
        names.extend(self.stages.iter().map(Stage::name));
        let stats = Recorder::new(names);
        let mut run = SplitRun::new(&self.stages, &stats, 1);
        let name = self.split.name();
        let mut block = 0;
        let mut out = Vec::new();
        let mut go_on = true;
        self.split.read(&mut |batch| {
            let id = BlockId {
                split: name.clone(),
                block,
            };
            block += 1;
            run.push(batch, &id, &mut out)?;
            for batch in out.drain(..) {
                go_on = go_on && emit(batch)?;
            }
            Ok(go_on)
        })?;
        if go_on {
            let id = BlockId {
                split: name,
                block: block.saturating_sub(1),
            };
            run.finish(&id, &mut out)?;
            for batch in out.drain(..) {
                if !emit(batch)? {
                    break;
                }
            }
        }
        Ok(())
    }
}

/// An input with a `limit`, run whole.
struct WholePlan {
    plan: Arc<Plan>,
    options: ExecOptions,
}

impl Split for WholePlan {
    fn name(&self) -> Arc<str> {
        self.plan.source.describe().into()
    }

    fn read(&self, emit: &mut dyn FnMut(RecordBatch) -> Result<bool>) -> Result<()> {
        let mut options = self.options.clone();
        options.progress = false;
        for block in execute(&self.plan, &options, None)? {
            if !emit(block?)? {
                break;
            }
        }
        Ok(())
    }
}
