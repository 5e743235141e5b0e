//! Standalone binaries: `aqueduct::main!` wraps a program's pipelines in a standard command
//! line — `run` (the default), `explain [--graph mermaid|dot]`, `stats [--json]` — with flags
//! to override named inputs and outputs (`--input NAME=URL`, `--output NAME=URL`), `--threads`,
//! `--memory`, `--preserve-order`, `--progress/--no-progress`, `--checkpoint LOCATION`
//! (`--delete-checkpoint-on-success`) and remote stores' settings (`--store-option KEY=VALUE`,
//! `--store-retries`, `--store-retry-timeout`). Errors print as readable
//! messages with their causes, and the exit code is non-zero.

use std::collections::BTreeMap;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::dataset::{Dataset, Write};
use crate::error::Result;
use crate::graph::GraphFormat;
use crate::options::{ExecOptions, parse_bytes};
use crate::record::Record;
use crate::sink::WriteSummary;
use crate::stats::RunStats;
use crate::storage::AsLocation;

#[derive(Parser, Debug)]
#[command(about = "A data pipeline compiled with aqueduct.")]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Read input NAME from URL instead of its default (repeatable).
    #[arg(long = "input", value_name = "NAME=URL", global = true)]
    inputs: Vec<String>,
    /// Write output NAME to URL instead of its default (repeatable).
    #[arg(long = "output", value_name = "NAME=URL", global = true)]
    outputs: Vec<String>,
    /// Worker threads.
    #[arg(long, global = true)]
    threads: Option<usize>,
    /// Memory budget for blocks in flight, such as 512MiB or 2GiB.
    #[arg(long, value_name = "BYTES", global = true)]
    memory: Option<String>,
    /// Deliver blocks in source order.
    #[arg(long, global = true)]
    preserve_order: bool,
    /// Show a progress bar per operator (default: when stderr is a terminal).
    #[arg(long, global = true, overrides_with = "no_progress")]
    progress: bool,
    /// Never show progress bars.
    #[arg(long, global = true)]
    no_progress: bool,
    /// Checkpoint the writes' progress in this directory or object-store URL: a run killed
    /// part-way and started again with the same checkpoint resumes where it stopped.
    #[arg(long, value_name = "LOCATION", global = true)]
    checkpoint: Option<String>,
    /// Remove the checkpoint once the run has succeeded.
    #[arg(long, global = true, requires = "checkpoint")]
    delete_checkpoint_on_success: bool,
    /// What every write does with a directory that already holds files, instead of what the
    /// program says: error_if_exists, overwrite (once the new output is complete) or append.
    #[arg(long, value_name = "MODE", global = true)]
    mode: Option<crate::sink::WriteMode>,
    /// An object_store setting for remote stores, such as `timeout=30s`, `aws_region=eu-west-1`
    /// or `proxy_url=...` (repeatable; over the environment's).
    #[arg(long = "store-option", value_name = "KEY=VALUE", global = true)]
    store_options: Vec<String>,
    /// How many times a remote store retries a failed request (object_store's default: 10).
    #[arg(long, value_name = "N", global = true)]
    store_retries: Option<usize>,
    /// Seconds after a request's first try that a remote store stops retrying it.
    #[arg(long, value_name = "SECONDS", global = true)]
    store_retry_timeout: Option<f64>,
}

#[derive(Subcommand, Debug, Clone, Default)]
enum Command {
    /// Run the pipelines (the default).
    #[default]
    Run,
    /// Print the plans without running anything.
    Explain {
        /// Print the physical plan as a graph instead.
        #[arg(long, value_name = "mermaid|dot")]
        graph: Option<GraphFormat>,
    },
    /// Run the pipelines and print per-operator statistics.
    Stats {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
}

/// What a program's pipelines are run with: the command, the overrides and the options.
pub struct Job {
    command: Command,
    inputs: BTreeMap<String, String>,
    outputs: BTreeMap<String, String>,
    asked: Vec<(String, &'static str)>,
    options: ExecOptions,
    progress: Option<bool>,
    stats: Vec<(String, RunStats)>,
    mode: Option<crate::sink::WriteMode>,
    /// The pipelines `run` was given, run in order once the program's body has returned.
    queued: Vec<Box<dyn Runnable>>,
}

impl Job {
    /// The URL of input `name`: `--input name=URL`, else `default` (a path or URL).
    pub fn input(&mut self, name: &str, default: impl AsLocation) -> String {
        self.asked.push((name.to_owned(), "input"));
        self.inputs
            .get(name)
            .cloned()
            .unwrap_or_else(|| default.as_location())
    }

    /// The URL of output `name`: `--output name=URL`, else `default` (a path or URL).
    pub fn output(&mut self, name: &str, default: impl AsLocation) -> String {
        self.asked.push((name.to_owned(), "output"));
        self.outputs
            .get(name)
            .cloned()
            .unwrap_or_else(|| default.as_location())
    }

    /// The execution options the command line asked for.
    pub fn options(&self) -> ExecOptions {
        let mut options = self.options.clone();
        if let Some(progress) = self.progress {
            options.progress = progress;
        }
        options
    }

    /// Queue `pipeline` for the command: it is run (or explained, or run and reported on)
    /// after the program's body returns, in the order the body queued it. Why not at once:
    /// every `--input`/`--output` the command line names must be checked against those the
    /// body asks for before anything runs, and the body must run only once. What the body
    /// does itself (a preprocessor's `fit`, a `take_all`) happens as it declares the job.
    pub fn run(&mut self, pipeline: impl Runnable + 'static) -> Result<()> {
        self.queued.push(Box::new(pipeline));
        Ok(())
    }

    /// Do the command on each queued pipeline, in order.
    fn run_queued(&mut self) -> Result<()> {
        for mut pipeline in std::mem::take(&mut self.queued) {
            if let Some(mode) = self.mode {
                pipeline.set_mode(mode);
            }
            match &self.command {
                Command::Explain { graph: None } => println!("{}\n", pipeline.explain()),
                Command::Explain {
                    graph: Some(format),
                } => println!("{}", pipeline.graph(*format)),
                Command::Run | Command::Stats { .. } => {
                    pipeline.execute(self.options())?;
                    if let Some(stats) = pipeline.stats() {
                        self.stats.push((pipeline.name(), stats));
                    }
                }
            }
        }
        Ok(())
    }

    /// Refuse overrides of inputs or outputs the program does not have.
    fn check_overrides(&self, asked: &[(String, &'static str)]) -> std::result::Result<(), String> {
        for (kind, given) in [("input", &self.inputs), ("output", &self.outputs)] {
            for name in given.keys() {
                if !asked.iter().any(|(n, k)| n == name && *k == kind) {
                    let known: Vec<&str> = asked
                        .iter()
                        .filter(|(_, k)| *k == kind)
                        .map(|(n, _)| n.as_str())
                        .collect();
                    return Err(format!(
                        "this program has no {kind} `{name}`; its {kind}s: {}",
                        known.join(", ")
                    ));
                }
            }
        }
        Ok(())
    }

    fn finish(&self) -> Result<()> {
        if let Command::Stats { json } = self.command {
            if json {
                let report: BTreeMap<&str, &RunStats> =
                    self.stats.iter().map(|(n, s)| (n.as_str(), s)).collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).expect("stats serialize")
                );
            } else {
                for (name, stats) in &self.stats {
                    println!("{name}\n{stats}\n");
                }
            }
        }
        Ok(())
    }
}

/// A pipeline a [`Job`] can run: a [`Write`] (ends in a sink) or a [`Dataset`] (its rows are
/// counted and the first ones shown).
pub trait Runnable {
    /// How reports name it.
    fn name(&self) -> String;
    /// Its plans.
    fn explain(&self) -> String;
    /// Its physical plan as a graph.
    fn graph(&self, format: GraphFormat) -> String;
    /// Run it with `options`.
    fn execute(&self, options: ExecOptions) -> Result<()>;
    /// The statistics of its last run.
    fn stats(&self) -> Option<RunStats>;
    /// Write with `mode` (`--mode`); nothing for a pipeline that does not write.
    fn set_mode(&mut self, _mode: crate::sink::WriteMode) {}
}

impl<R: Record> Runnable for Write<R> {
    fn name(&self) -> String {
        self.sink_name()
    }
    fn explain(&self) -> String {
        Write::explain(self)
    }
    fn graph(&self, format: GraphFormat) -> String {
        self.explain_graph(format)
    }
    fn execute(&self, options: ExecOptions) -> Result<()> {
        let WriteSummary { files, rows } = self.run_with(options)?;
        eprintln!(
            "wrote {rows} rows to {} file(s) in {}",
            files.len(),
            self.location()
        );
        Ok(())
    }
    fn stats(&self) -> Option<RunStats> {
        self.dataset().stats()
    }
    fn set_mode(&mut self, mode: crate::sink::WriteMode) {
        Write::set_mode(self, mode);
    }
}

impl<R: Record> Runnable for Dataset<R> {
    fn name(&self) -> String {
        "output".to_owned()
    }
    fn explain(&self) -> String {
        Dataset::explain(self)
    }
    fn graph(&self, format: GraphFormat) -> String {
        self.explain_graph(format)
    }
    fn execute(&self, options: ExecOptions) -> Result<()> {
        // One run: the first rows are kept for display while every block is counted.
        let dataset = self.clone().with_options(options);
        let (mut first, mut shown, mut rows) = (Vec::new(), 0, 0);
        for block in dataset.iter_blocks()? {
            let block = block?;
            rows += block.num_rows();
            if shown < SHOWN_ROWS {
                let take = block.num_rows().min(SHOWN_ROWS - shown);
                first.push(block.slice(0, take));
                shown += take;
            }
        }
        println!("{}", arrow::util::pretty::pretty_format_batches(&first)?);
        println!("{rows} rows");
        Ok(())
    }
    fn stats(&self) -> Option<RunStats> {
        Dataset::stats(self)
    }
}

/// Rows a `run` of a dataset (not a sink) prints.
const SHOWN_ROWS: usize = 20;

/// Parse the command line, let `build` create and run the program's pipelines through the
/// [`Job`], and turn the outcome into an exit code: 0, 1 for a failed run, 2 for a usage error.
/// `build` is called once; the pipelines it queues run after it returns. Used by
/// `aqueduct::main!`.
pub fn main(build: impl FnOnce(&mut Job) -> Result<()>) -> ExitCode {
    let args = Args::parse();
    let usage = |message: String| {
        eprintln!("error: {message}");
        ExitCode::from(2)
    };
    let mut job = match Job::from_args(args) {
        Ok(job) => job,
        Err(message) => return usage(message),
    };
    // The body declares the job: the inputs and outputs it names, the pipelines it queues.
    // An unknown override is refused before anything runs.
    let declared = build(&mut job);
    let asked = std::mem::take(&mut job.asked);
    if let Err(message) = job.check_overrides(&asked) {
        return usage(message);
    }
    match declared
        .and_then(|()| job.run_queued())
        .and_then(|()| job.finish())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", error.report());
            ExitCode::FAILURE
        }
    }
}

impl Job {
    fn from_args(args: Args) -> std::result::Result<Self, String> {
        let pairs = |given: &[String],
                     flag: &str,
                     form: &str|
         -> std::result::Result<BTreeMap<String, String>, String> {
            given
                .iter()
                .map(|pair| match pair.split_once('=') {
                    Some((name, url)) if !name.is_empty() && !url.is_empty() => {
                        Ok((name.to_owned(), url.to_owned()))
                    }
                    _ => Err(format!("--{flag} takes {form}, got `{pair}`")),
                })
                .collect()
        };
        let mut options = ExecOptions::default();
        if let Some(threads) = args.threads {
            options.threads = threads.max(1);
        }
        if let Some(memory) = &args.memory {
            options.memory_budget = parse_bytes(memory)
                .ok_or_else(|| format!("--memory takes a size such as 512MiB, got `{memory}`"))?;
        }
        options.preserve_order |= args.preserve_order;
        options.checkpoint = args.checkpoint.clone();
        options.delete_checkpoint_on_success = args.delete_checkpoint_on_success;
        let retry_timeout = args
            .store_retry_timeout
            .map(|s| {
                std::time::Duration::try_from_secs_f64(s)
                    .map_err(|_| format!("--store-retry-timeout takes seconds, got `{s}`"))
            })
            .transpose()?;
        crate::storage::set_store_options(crate::storage::StoreOptions {
            config: pairs(&args.store_options, "store-option", "KEY=VALUE")?
                .into_iter()
                .collect(),
            max_retries: args.store_retries,
            retry_timeout,
            ..Default::default()
        });
        Ok(Job {
            command: args.command.unwrap_or_default(),
            inputs: pairs(&args.inputs, "input", "NAME=URL")?,
            outputs: pairs(&args.outputs, "output", "NAME=URL")?,
            asked: Vec::new(),
            options,
            progress: if args.no_progress {
                Some(false)
            } else if args.progress {
                Some(true)
            } else {
                None
            },
            stats: Vec::new(),
            mode: args.mode,
            queued: Vec::new(),
        })
    }
}
