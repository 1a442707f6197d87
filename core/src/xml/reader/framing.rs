//! Framing: where the next complete construct (tag, text run, CDATA
//! section, declaration) ends, resuming the search where it stopped and
//! remembering an open quote, so a stanza arriving in many small chunks is
//! scanned once; and the size limits, checked as constructs are framed.

use core::ops::Range;

use super::super::error::{Limit, Restricted, XmlError};
use super::input::is_xml_space;
use super::{Construct, State, StreamReader, escape, lex};

impl StreamReader {
    /// Where the size of the unit being framed is counted from: the stanza
    /// under construction, or (between stanzas) the construct itself.
    fn stanza_origin(&self) -> Option<u64> {
        if !self.stack.is_empty() {
            Some(self.stanza_start)
        } else if self.state == State::Stream {
            Some(self.input.at(self.input.pos))
        } else {
            None
        }
    }

    /// Enforces the size limits on a construct that ends at `end` (or has
    /// not ended, with `end` the end of the data so far).
    ///
    /// When both limits are passed, the one a byte-by-byte arrival would
    /// have hit first is reported, so the error does not depend on
    /// chunking.
    fn check_size(&self, end: usize, is_tag: bool) -> Result<(), XmlError> {
        let stanza = self.stanza_origin().map(|origin| {
            let error =
                XmlError::LimitExceeded { offset: origin, limit: Limit::StanzaBytes(self.limits.max_stanza_bytes) };
            (origin.saturating_add(self.limits.max_stanza_bytes as u64), error)
        });
        let tag = is_tag.then(|| {
            let offset = self.input.at(self.input.pos);
            let error = XmlError::LimitExceeded { offset, limit: Limit::TagBytes(self.limits.max_tag_bytes) };
            (offset.saturating_add(self.limits.max_tag_bytes as u64), error)
        });
        let first = match (stanza, tag) {
            (Some(s), Some(t)) => Some(if s.0 <= t.0 { s } else { t }),
            (s, t) => s.or(t),
        };
        match first {
            Some((cap, error)) if self.input.at(end) > cap => Err(error),
            _ => Ok(()),
        }
    }

    /// Called when framing found no complete construct: the unfinished one
    /// must already be within the limits.
    pub(super) fn check_unfinished(&self) -> Result<(), XmlError> {
        if self.input.pos == self.input.buf.len() {
            return Ok(());
        }
        // Everything but text and CDATA counts against the tag limit too.
        let bytes = self.input.buf.as_bytes();
        let is_tag = bytes[self.input.pos] == b'<' && bytes.get(self.input.pos + 1) != Some(&b'!');
        self.check_size(self.input.buf.len(), is_tag)
    }

    /// Finds the next complete construct, skipping whitespace between
    /// stanzas. `None` means more bytes are needed.
    pub(super) fn frame(&mut self) -> Result<Option<Construct>, XmlError> {
        let bytes = self.input.buf.as_bytes();
        let len = bytes.len();
        if self.stack.is_empty() {
            // Between stanzas (or before/after the root): only whitespace
            // may stand here (RFC 6120 §11.7).
            let mut pos = self.input.pos;
            while pos < len && is_xml_space(bytes[pos]) {
                pos += 1;
            }
            if pos != self.input.pos {
                self.input.pos = pos;
                self.input.scan = pos;
                self.input.scan_quote = None;
            }
            if pos == len {
                return Ok(None);
            }
            if bytes[pos] != b'<' {
                return Err(self.stray_text(pos));
            }
        }
        let pos = self.input.pos;
        if pos == len {
            return Ok(None);
        }
        if bytes[pos] != b'<' {
            // Character data inside a stanza runs to the next '<'; met for
            // the first time, it is checked in the same pass.
            if self.input.scan <= pos {
                let scanned = escape::scan_text(bytes, pos);
                self.input.examined(scanned.as_ref().map_or(len, |(end, _)| end + 1) - pos);
                return Ok(match scanned {
                    Some((end, checked)) => {
                        self.check_size(end, false)?;
                        self.checked_text = Some(checked);
                        Some(Construct::Text(pos..end))
                    }
                    None => {
                        self.input.scan = len;
                        None
                    }
                });
            }
            let from = self.input.scan.max(pos);
            return Ok(match self.input.search(bytes, from, |b| b == b'<') {
                Some(end) => {
                    self.check_size(end, false)?;
                    Some(Construct::Text(pos..end))
                }
                None => {
                    self.input.scan = len;
                    None
                }
            });
        }
        let Some(&second) = bytes.get(pos + 1) else {
            return Ok(None);
        };
        if let State::Prolog { .. } = self.state
            && second == 0
        {
            return Err(XmlError::UnsupportedEncoding {
                offset: self.input.at(pos + 1),
                detail: "NUL byte in the prolog (UTF-16 or UTF-32)".into(),
            });
        }
        match second {
            b'/' => Ok(self.frame_to(pos + 2, b">", true)?.map(Construct::EndTag)),
            b'?' => {
                if !matches!(self.state, State::Prolog { decl_allowed: true }) {
                    return Err(self.restricted(pos, Restricted::ProcessingInstruction));
                }
                Ok(self.frame_to(pos + 2, b"?>", true)?.map(Construct::Declaration))
            }
            b'!' => {
                const CDATA: &[u8] = b"<![CDATA[";
                let avail = &bytes[pos..len.min(pos + CDATA.len())];
                if self.stack.is_empty() || !CDATA.starts_with(avail) {
                    // A comment, a DTD, or CDATA where no text may stand.
                    return match avail.get(2) {
                        None => Ok(None),
                        Some(b'-') => Err(self.restricted(pos, Restricted::Comment)),
                        Some(b'[') if self.stack.is_empty() => Err(self.stray_text(pos)),
                        Some(_) => Err(self.restricted(pos, Restricted::Dtd)),
                    };
                }
                if avail.len() < CDATA.len() {
                    return Ok(None);
                }
                Ok(self.frame_to(pos + CDATA.len(), b"]]>", false)?.map(Construct::CData))
            }
            _ => {
                // A common tag, met for the first time, is read as it is
                // framed: one pass over its bytes, not two. If it is not
                // read and still ends in these bytes, it is not a common
                // one: the tokenizer reads it.
                let first_look = self.input.scan <= pos;
                let max = self.limits.max_attributes;
                if first_look {
                    self.attrs.clear();
                    let lexed = lex::start_tag_at(bytes, pos, &mut self.attrs, max);
                    // At most to the end of the bytes so far.
                    self.input.examined(lexed.as_ref().map_or(len, |(_, end)| *end) - pos);
                    if let Some((tag, end)) = lexed {
                        self.check_size(end, true)?;
                        self.lexed = Some(tag);
                        return Ok(Some(Construct::StartTag(pos..end)));
                    }
                }
                // A start tag ends at the first '>' outside quotes.
                let mut quote = self.input.scan_quote;
                let mut i = self.input.scan.max(pos + 1);
                loop {
                    let found = match quote {
                        Some(q) => self.input.search(bytes, i, |b| b == q),
                        None => self.input.search(bytes, i, |b| matches!(b, b'>' | b'\'' | b'"')),
                    };
                    let Some(at) = found else { break };
                    i = at + 1;
                    match (quote, bytes[at]) {
                        (Some(_), _) => quote = None,
                        (None, b'>') => {
                            self.check_size(i, true)?;
                            self.input.scan_quote = None;
                            if !first_look {
                                // It arrived in pieces: read now it is whole.
                                self.attrs.clear();
                                self.input.examined(i - pos);
                                self.lexed = lex::start_tag(bytes, pos..i, &mut self.attrs, max);
                            }
                            return Ok(Some(Construct::StartTag(pos..i)));
                        }
                        (None, q) => quote = Some(q),
                    }
                }
                self.input.scan = len;
                self.input.scan_quote = quote;
                Ok(None)
            }
        }
    }

    /// Frames the construct at `pos` whose body starts at `body` and which
    /// ends with `terminator`; resumes where the last search stopped.
    fn frame_to(&mut self, body: usize, terminator: &[u8], is_tag: bool) -> Result<Option<Range<usize>>, XmlError> {
        let bytes = self.input.buf.as_bytes();
        match self.input.find(bytes, self.input.scan.max(body), terminator) {
            Some(i) => {
                let end = i + terminator.len();
                self.check_size(end, is_tag)?;
                Ok(Some(self.input.pos..end))
            }
            None => {
                // The terminator may have begun in the bytes seen last.
                self.input.scan = bytes.len().saturating_sub(terminator.len() - 1).max(body);
                Ok(None)
            }
        }
    }

    pub(super) fn restricted(&self, at: usize, what: Restricted) -> XmlError {
        XmlError::Restricted { offset: self.input.at(at), what }
    }

    /// The error for non-whitespace text at `pos` outside any stanza.
    fn stray_text(&self, pos: usize) -> XmlError {
        let offset = self.input.at(pos);
        match self.state {
            State::Stream => XmlError::TextOutsideStanza { offset },
            State::Prolog { .. } if self.input.buf.as_bytes()[pos] == 0 => {
                XmlError::UnsupportedEncoding { offset, detail: "NUL byte in the prolog (UTF-16 or UTF-32)".into() }
            }
            State::Prolog { .. } => XmlError::Malformed { offset, detail: "text before the root element".into() },
            State::Closed => XmlError::Malformed { offset, detail: "text after the root element".into() },
        }
    }
}
