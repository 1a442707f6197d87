//! Reads an XMPP stream (a capture, a log, the benchmark corpus) through
//! the sans-IO XML reader in small chunks, the way a connection would, and
//! reports what it found, or the stream error a peer sending it would get.
//!
//! ```text
//! cargo run -p sxmpp --example read_stream -- core/testdata/corpus-10k.xml
//! cargo run -p sxmpp --example read_stream < capture.xml
//! ```

// An example is a driver, not the core: it may open files.
#![allow(clippy::disallowed_types)]

use std::collections::BTreeMap;
use std::io::Read;

use sxmpp::stanza::{Stanza, StanzaParseError};
use sxmpp::xml::{Limits, StreamEvent, StreamReader};

fn main() -> std::io::Result<()> {
    let mut input: Box<dyn Read> = match std::env::args().nth(1) {
        Some(path) => Box::new(std::fs::File::open(path)?),
        None => Box::new(std::io::stdin()),
    };
    let mut reader = StreamReader::new(Limits::default());
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = input.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        reader.feed(&chunk[..n]);
        loop {
            match reader.next_event() {
                Ok(Some(StreamEvent::Open(header))) => {
                    println!("stream header: <{}> in {}", header.root.name(), header.root.ns());
                }
                Ok(Some(StreamEvent::Element(el))) => {
                    let kind = match Stanza::from_element(el.clone()) {
                        Ok(Stanza::Message(m)) => format!("message ({})", m.type_().as_str()),
                        Ok(Stanza::Presence(p)) => format!("presence ({})", p.type_().as_str().unwrap_or("available")),
                        Ok(Stanza::Iq(iq)) => format!("iq ({})", iq.type_().as_str()),
                        Err(StanzaParseError::NotAStanza { .. }) => format!("<{}/> in {}", el.name(), el.ns()),
                        Err(e) => format!("invalid stanza: {e} (answer: {})", e.condition()),
                    };
                    *counts.entry(kind).or_default() += 1;
                }
                Ok(Some(StreamEvent::Close)) => println!("stream closed"),
                Ok(None) => break,
                Err(e) => {
                    println!("stream error <{}/>: {e}", e.condition());
                    print_counts(&counts);
                    std::process::exit(1);
                }
            }
        }
    }
    print_counts(&counts);
    Ok(())
}

fn print_counts(counts: &BTreeMap<String, usize>) {
    for (kind, n) in counts {
        println!("{n:>8}  {kind}");
    }
}
