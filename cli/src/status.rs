//! Status lines on stderr: each connection phase as the adapters report
//! it (their `tracing` events: resolving, connecting, TLS, authenticated,
//! online, closed), and a progress line for any wait over a second.

use std::fmt::{self, Write as _};
use std::future::Future;
use std::time::{Duration, Instant};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// Prints the adapters' phase events as `· message (field=value …)`;
/// nothing else (no spans, no trace-level detail, never the console).
struct Phases;

impl Subscriber for Phases {
    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        meta.target().starts_with("sxmpp") && !meta.target().contains("console") && *meta.level() <= Level::DEBUG
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        if fields.rest.is_empty() {
            eprintln!("· {}", fields.message);
        } else {
            eprintln!("· {} ({})", fields.message, fields.rest.trim_start());
        }
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

#[derive(Default)]
struct Fields {
    message: String,
    rest: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_owned();
        } else {
            let _ = write!(self.rest, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            let _ = write!(self.rest, " {}={value:?}", field.name());
        }
    }
}

/// Routes the adapters' events to stderr (once per process).
pub(crate) fn install() {
    let _ = tracing::subscriber::set_global_default(Phases);
}

/// Runs `future`, printing `· waiting for WHAT (N s)` each second after
/// the first while it has not finished.
pub(crate) async fn progress<F: Future>(what: &str, future: F) -> F::Output {
    let started = Instant::now();
    let mut future = std::pin::pin!(future);
    let mut tick =
        tokio::time::interval_at(tokio::time::Instant::now() + Duration::from_secs(1), Duration::from_secs(1));
    loop {
        tokio::select! {
            output = &mut future => return output,
            _ = tick.tick() => eprintln!("· waiting for {what} ({} s)", started.elapsed().as_secs()),
        }
    }
}
