//! Every log event of the run, as text: a subscriber of our own (a few lines) rather than a
//! crate for it. The cases check that no event carries a secret.

use std::fmt::Write;
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

pub static LOGGED: Mutex<String> = Mutex::new(String::new());

struct Capture;

struct Text<'a>(&'a mut String);

impl Visit for Text<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut logged = LOGGED.lock().unwrap_or_else(|e| e.into_inner());
        span.record(&mut Text(&mut logged));
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, values: &Record<'_>) {
        let mut logged = LOGGED.lock().unwrap_or_else(|e| e.into_inner());
        values.record(&mut Text(&mut logged));
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut logged = LOGGED.lock().unwrap_or_else(|e| e.into_inner());
        let _ = write!(logged, "\n{}:", event.metadata().level());
        event.record(&mut Text(&mut logged));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// Capture every event of the process from now on.
pub fn capture() {
    let _ = tracing::subscriber::set_global_default(Capture);
}
