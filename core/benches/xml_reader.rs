//! Throughput of the XML stream reader on the 10,000-stanza corpus, beside
//! raw `xmlparser` tokenization of the same bytes (the floor the reader is
//! built on: no UTF-8 validation, framing, namespaces or trees).
//!
//! ```text
//! cargo bench -p sxmpp --bench xml_reader [-- CORPUS_PATH]
//! ```
//!
//! Each case runs for about two seconds; the median and best runs are
//! reported in MB/s (10^6 bytes) and stanzas per second.

#![allow(missing_docs, clippy::disallowed_methods, clippy::disallowed_types)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use sxmpp::xml::{Limits, StreamEvent, StreamReader};

fn tokenize_raw(text: &str) -> usize {
    let mut n = 0;
    for token in xmlparser::Tokenizer::from(text) {
        black_box(token.expect("corpus is well-formed"));
        n += 1;
    }
    n
}

fn read_stream(bytes: &[u8], chunk: usize) -> usize {
    let mut reader = StreamReader::new(Limits::default());
    let mut stanzas = 0;
    for piece in bytes.chunks(chunk) {
        reader.feed(piece);
        while let Some(ev) = reader.next_event().expect("corpus is well-formed") {
            if let StreamEvent::Element(el) = ev {
                black_box(&el);
                stanzas += 1;
            }
        }
    }
    stanzas
}

/// Runs `f` repeatedly for about `budget`; returns (median, best).
fn measure(budget: Duration, mut f: impl FnMut()) -> (Duration, Duration) {
    f(); // warm-up
    let mut runs = Vec::new();
    let start = Instant::now();
    while start.elapsed() < budget || runs.len() < 5 {
        let t = Instant::now();
        f();
        runs.push(t.elapsed());
    }
    runs.sort();
    (runs[runs.len() / 2], runs[0])
}

fn main() {
    let path = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/corpus-10k.xml").into());
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let text = std::str::from_utf8(&bytes).expect("corpus is UTF-8");
    let stanzas = read_stream(&bytes, bytes.len());
    let mb = bytes.len() as f64 / 1e6;
    println!("corpus: {path}");
    println!("        {:.2} MB, {stanzas} stanzas, {} xmlparser tokens", mb, tokenize_raw(text));
    println!();
    println!("{:<44} {:>12} {:>12} {:>14}", "case", "median MB/s", "best MB/s", "stanzas/s");

    let budget = Duration::from_secs(2);
    let report = |name: &str, (median, best): (Duration, Duration)| {
        println!(
            "{:<44} {:>12.1} {:>12.1} {:>14.0}",
            name,
            mb / median.as_secs_f64(),
            mb / best.as_secs_f64(),
            stanzas as f64 / median.as_secs_f64()
        );
    };
    report(
        "xmlparser::Tokenizer (raw tokens, &str)",
        measure(budget, || {
            black_box(tokenize_raw(black_box(text)));
        }),
    );
    for (name, chunk) in [
        ("sxmpp StreamReader, whole buffer", bytes.len()),
        ("sxmpp StreamReader, 64 KiB chunks", 64 * 1024),
        ("sxmpp StreamReader, 4 KiB chunks", 4096),
        ("sxmpp StreamReader, 64 B chunks", 64),
    ] {
        report(
            name,
            measure(budget, || {
                black_box(read_stream(black_box(&bytes), chunk));
            }),
        );
    }
}
