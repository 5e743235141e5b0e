//! Progress bars: one line per operator on stderr, redrawn from the run's statistics until the
//! run stops, for runs that last more than half a second. A stalled operator shows whether it
//! waits on input or is blocked on output.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Shared;

/// Draw the bars of `shared`'s run on a thread of their own.
pub(super) fn show(shared: Arc<Shared>) {
    let spawned = std::thread::Builder::new().name("aqueduct-progress".into()).spawn(move || {
        // Short runs draw nothing: bars appear once a run has lasted half a second.
        for _ in 0..10 {
            if shared.cancelled.load(Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let bars = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
        let style = ProgressStyle::with_template("{spinner} {prefix:<42!} {msg}").expect("a valid template");
        let lines: Vec<ProgressBar> = shared
            .stats
            .snapshot(0)
            .operators
            .iter()
            .map(|op| {
                let bar = bars.add(ProgressBar::new_spinner().with_style(style.clone()));
                bar.set_prefix(op.name.clone());
                bar
            })
            .collect();
        loop {
            let stopped = shared.cancelled.load(Ordering::Relaxed);
            let stats = shared.stats.snapshot(shared.budget.high_water());
            let seconds = stats.wall.as_secs_f64().max(1e-9);
            for (bar, op) in lines.iter().zip(&stats.operators) {
                bar.set_message(format!(
                    "{} rows ({:.0}/s), {} blocks, waiting on input {:.1}s, blocked on output {:.1}s",
                    op.rows_out,
                    op.rows_out as f64 / seconds,
                    op.blocks_out,
                    op.waiting_on_input.as_secs_f64(),
                    op.blocked_on_output.as_secs_f64()
                ));
                bar.tick();
            }
            if stopped {
                lines.iter().for_each(ProgressBar::finish);
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    // Without a thread there are no bars; the run itself is unaffected.
    drop(spawned);
}
