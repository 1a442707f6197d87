//! The XML stream reader under random chunk splits.
//!
//! Input: byte 0 picks the limits, byte 1 seeds the split points, the rest
//! is the stream. Invariants: the events (and the error that ends them, if
//! any) are the same whole and chunked; every element read, written back
//! with the core's writer and read again, is the same tree.

use sxmpp::xml::{Element, Limits, Namespace, StreamEvent, StreamReader, StreamWriter, XmlError};

const STREAMS: &str = "http://etherx.jabber.org/streams";

/// Runs one input.
pub fn run(data: &[u8]) {
    let [limits_byte, split_byte, body @ ..] = data else { return };
    let limits = limits_for(*limits_byte);
    let whole = read(limits, &[body]);
    let chunks = split(body, *split_byte);
    let chunked = read(limits, &chunks);
    assert_eq!(whole, chunked, "chunking changed the events ({} chunks)", chunks.len());
    for event in &whole.0 {
        if let StreamEvent::Element(element) = event {
            assert_round_trip(element);
        }
    }
}

/// Low bits off: the defaults. Otherwise small limits, so the fuzzer
/// reaches every limit with short inputs.
fn limits_for(byte: u8) -> Limits {
    if byte & 1 == 0 {
        return Limits::default();
    }
    let small = |bits: u8, floor: usize| floor + usize::from(bits & 7) * floor;
    Limits {
        max_stanza_bytes: small(byte >> 1, 64),
        max_tag_bytes: small(byte >> 2, 32),
        max_depth: small(byte >> 3, 2),
        max_attributes: small(byte >> 4, 2),
        max_namespace_declarations: small(byte >> 5, 2),
    }
}

/// Chunks of 1 to `1 + seed % 64` bytes, lengths drawn from a generator
/// seeded by `seed`: seed 0 is byte-at-a-time.
fn split(body: &[u8], seed: u8) -> Vec<&[u8]> {
    let max = 1 + usize::from(seed % 64);
    let mut state = u32::from(seed).wrapping_mul(0x9E37_79B9) | 1;
    let mut chunks = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let n = (1 + state as usize % max).min(rest.len());
        let (chunk, tail) = rest.split_at(n);
        chunks.push(chunk);
        rest = tail;
    }
    chunks
}

/// Events until the input runs out or the first error.
fn read(limits: Limits, chunks: &[&[u8]]) -> (Vec<StreamEvent>, Option<XmlError>) {
    let mut reader = StreamReader::new(limits);
    let mut events = Vec::new();
    for chunk in chunks {
        reader.feed(chunk);
        loop {
            match reader.next_event() {
                Ok(Some(event)) => events.push(event),
                Ok(None) => break,
                Err(e) => return (events, Some(e)),
            }
        }
    }
    (events, None)
}

/// Writes `element` in a stream scope and reads it back.
fn assert_round_trip(element: &Element) {
    let mut out = String::new();
    let mut writer = StreamWriter::new();
    let declarations = [("", Namespace::from_static("jabber:client")), ("stream", Namespace::from_static(STREAMS))];
    writer.open(&mut out, &Element::new("stream", STREAMS), &declarations);
    writer.write(&mut out, element);
    writer.close(&mut out);
    let limits = Limits {
        max_stanza_bytes: usize::MAX,
        max_tag_bytes: usize::MAX,
        max_depth: Limits::MAX_DEPTH_CAP,
        max_attributes: usize::MAX,
        max_namespace_declarations: usize::MAX,
    };
    let (events, error) = read(limits, &[out.as_bytes()]);
    assert_eq!(error, None, "our own output does not read back: {out}");
    let read_back: Vec<&Element> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Element(el) => Some(el),
            _ => None,
        })
        .collect();
    assert_eq!(read_back, [element], "parse ∘ write changed the tree: {out}");
}
