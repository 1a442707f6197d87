//! The opt-in XML console: a tee of the plaintext in both directions
//! (after TLS, before parsing), like mellium's `TeeIn`/`TeeOut`, with
//! credentials redacted: the text of SASL elements (`auth`, `response`,
//! `challenge`, `success`, SASL2's `initial-response` and
//! `additional-data`), a component's `handshake`, and any `password` or
//! FAST `token` never reaches the sink.

use std::fmt;

/// Which way the bytes went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Received from the peer.
    In,
    /// Sent to the peer.
    Out,
}

/// Where the console's text goes.
pub type Sink = Box<dyn FnMut(Direction, &str) + Send>;

/// Elements whose text is a credential or derived from one.
const SECRET_ELEMENTS: &[&str] = &[
    "auth",
    "response",
    "challenge",
    "success",
    "initial-response",
    "additional-data",
    "handshake",
    "password",
    "token",
];

/// What replaces a secret's text.
pub const REDACTED: &str = "[redacted]";

/// A tee of both directions into a sink, redacting credentials.
pub struct Console {
    sink: Sink,
    inbound: Redactor,
    outbound: Redactor,
}

impl Console {
    /// A console writing to `sink`.
    pub fn new(sink: impl FnMut(Direction, &str) + Send + 'static) -> Console {
        Console { sink: Box::new(sink), inbound: Redactor::default(), outbound: Redactor::default() }
    }

    /// A console printing to standard error, `<<` for input, `>>` for
    /// output.
    pub fn stderr() -> Console {
        Console::new(|direction, text| {
            let arrow = if direction == Direction::In { "<<" } else { ">>" };
            eprintln!("{arrow} {text}");
        })
    }

    /// A console emitting `tracing` events (target `sxmpp::console`, level
    /// TRACE).
    pub fn tracing() -> Console {
        Console::new(|direction, text| tracing::trace!(target: "sxmpp::console", ?direction, "{text}"))
    }

    /// Passes `bytes` (a chunk of the stream, split anywhere) to the sink.
    pub fn tee(&mut self, direction: Direction, bytes: &[u8]) {
        let redactor = match direction {
            Direction::In => &mut self.inbound,
            Direction::Out => &mut self.outbound,
        };
        let text = redactor.redact(bytes);
        if !text.is_empty() {
            (self.sink)(direction, &text);
        }
    }
}

impl fmt::Debug for Console {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Console").finish_non_exhaustive()
    }
}

/// Finds the text of secret elements in a byte stream split anywhere:
/// a small scanner over tags, with its state carried between chunks.
#[derive(Default)]
struct Redactor {
    /// Inside a tag: its bytes so far (bounded: only the name matters).
    tag: Option<Vec<u8>>,
    /// Inside a secret element's text.
    secret: bool,
    /// The secret's text was already replaced by [`REDACTED`].
    marked: bool,
    /// Bytes of an incomplete UTF-8 sequence from the last chunk.
    partial: Vec<u8>,
}

impl Redactor {
    fn redact(&mut self, bytes: &[u8]) -> String {
        let mut out = Vec::with_capacity(bytes.len());
        for &b in bytes {
            if let Some(tag) = &mut self.tag {
                out.push(b);
                if b == b'>' {
                    let tag = self.tag.take().unwrap_or_default();
                    self.secret = opens_secret(&tag);
                    self.marked = false;
                } else if tag.len() < 64 {
                    tag.push(b);
                }
            } else if b == b'<' {
                self.tag = Some(Vec::new());
                self.secret = false;
                out.push(b);
            } else if self.secret {
                if !self.marked {
                    out.extend_from_slice(REDACTED.as_bytes());
                    self.marked = true;
                }
            } else {
                out.push(b);
            }
        }
        let mut bytes = std::mem::take(&mut self.partial);
        bytes.extend_from_slice(&out);
        match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(error) => {
                let valid = error.utf8_error().valid_up_to();
                let bytes = error.into_bytes();
                if bytes.len() - valid < 4 {
                    self.partial = bytes[valid..].to_vec();
                    String::from_utf8_lossy(&bytes[..valid]).into_owned()
                } else {
                    String::from_utf8_lossy(&bytes).into_owned()
                }
            }
        }
    }
}

/// Whether a tag's bytes (between `<` and `>`) open a secret element.
fn opens_secret(tag: &[u8]) -> bool {
    if tag.first().is_some_and(|b| matches!(b, b'/' | b'?' | b'!')) || tag.last() == Some(&b'/') {
        return false;
    }
    let name_end = tag.iter().position(|b| b.is_ascii_whitespace()).unwrap_or(tag.len());
    let name = &tag[..name_end];
    let local = name.iter().rposition(|&b| b == b':').map_or(name, |colon| &name[colon + 1..]);
    SECRET_ELEMENTS.iter().any(|secret| secret.as_bytes() == local)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    fn run(chunks: &[&[u8]]) -> String {
        let seen = Arc::new(Mutex::new(String::new()));
        let sink = seen.clone();
        let mut console = Console::new(move |_, text| sink.lock().unwrap().push_str(text));
        for chunk in chunks {
            console.tee(Direction::Out, chunk);
        }
        seen.lock().unwrap().clone()
    }

    #[test]
    fn sasl_payloads_are_redacted_and_the_rest_is_kept() {
        let stream = b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>biwsbj1qdWxpZXQ=</auth><message to='a@b'><body>hi</body></message>";
        let text = run(&[stream]);
        assert_eq!(
            text,
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>[redacted]</auth><message to='a@b'><body>hi</body></message>"
        );
    }

    #[test]
    fn a_secret_split_across_chunks_is_still_redacted() {
        let stream: &[u8] =
            b"<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>Yz1iaXdzLHI9c2VjcmV0</response><body>ok</body>";
        for split in 1..stream.len() {
            let text = run(&[&stream[..split], &stream[split..]]);
            assert!(!text.contains("Yz1i") && !text.contains("c2VjcmV0"), "split at {split}: {text}");
            assert!(text.ends_with("</response><body>ok</body>"), "split at {split}: {text}");
        }
    }

    #[test]
    fn prefixed_and_empty_secret_elements() {
        assert_eq!(
            run(&[b"<sasl:success xmlns:sasl='x'>dj1yb290</sasl:success>"]),
            "<sasl:success xmlns:sasl='x'>[redacted]</sasl:success>"
        );
        assert_eq!(run(&[b"<success xmlns='x'/><b>t</b>"]), "<success xmlns='x'/><b>t</b>");
        assert_eq!(run(&[b"<handshake>aaf4c61d</handshake>"]), "<handshake>[redacted]</handshake>");
    }

    #[test]
    fn multibyte_text_split_inside_a_character_is_not_mangled() {
        let text = "<body>caf\u{e9} \u{1f600}</body>".as_bytes();
        for split in 1..text.len() {
            assert_eq!(run(&[&text[..split], &text[split..]]), "<body>caf\u{e9} \u{1f600}</body>", "split at {split}");
        }
    }
}
