//! The input buffer: bytes validated as UTF-8 as they arrive (carrying at
//! most three bytes of an unfinished sequence, so every byte is validated
//! once), consumed text dropped as the reader moves on, and the searches
//! framing runs over it.

use alloc::string::String;

use super::super::error::XmlError;

/// What has been received and not yet consumed, as validated text.
#[derive(Debug, Default)]
pub(super) struct Input {
    /// Validated text; `buf[pos..]` is not consumed yet.
    pub(super) buf: String,
    pub(super) pos: usize,
    /// Where the search for the end of the construct at `pos` resumes.
    pub(super) scan: usize,
    /// Inside which quote the search stopped, while framing a tag.
    pub(super) scan_quote: Option<u8>,
    /// Stream offset of `buf[0]`.
    pub(super) base: u64,
    /// While a stanza is being read: where it starts in `buf`. Its text
    /// stays in the buffer until it ends (its values are spans of it), so
    /// compaction keeps it.
    pub(super) hold: Option<usize>,
    /// An unfinished UTF-8 sequence at the end of the last chunk.
    carry: [u8; 4],
    carry_len: usize,
    /// An encoding fault found in `feed`, raised once the reader has
    /// consumed everything before it, so the outcome does not depend on
    /// how the bytes were chunked.
    pub(super) deferred_error: Option<XmlError>,
    /// Bytes examined while framing, for the test that work is linear.
    #[cfg(test)]
    pub(in crate::xml) scanned: core::cell::Cell<u64>,
}

impl Input {
    /// Bytes received but not yet consumed.
    pub(super) fn unconsumed_len(&self) -> usize {
        self.buf.len() - self.pos + self.carry_len + usize::from(self.deferred_error.is_some())
    }

    /// Whether everything received and not consumed is XML whitespace.
    pub(super) fn unconsumed_is_whitespace(&self) -> bool {
        self.carry_len == 0 && self.deferred_error.is_none() && is_xml_whitespace(&self.buf.as_bytes()[self.pos..])
    }

    /// Total bytes consumed so far.
    pub(super) fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Takes bytes received from the peer, validating them as UTF-8.
    pub(super) fn feed(&mut self, mut data: &[u8]) {
        if self.deferred_error.is_some() || data.is_empty() {
            return;
        }
        self.compact();
        if self.carry_len > 0 {
            let total = match self.carry[0] {
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                _ => 4,
            };
            let take = (total - self.carry_len).min(data.len());
            self.carry[self.carry_len..self.carry_len + take].copy_from_slice(&data[..take]);
            self.carry_len += take;
            data = &data[take..];
            match core::str::from_utf8(&self.carry[..self.carry_len]) {
                Ok(s) => {
                    self.buf.push_str(s);
                    self.carry_len = 0;
                }
                Err(e) if e.error_len().is_none() && self.carry_len < total => return,
                Err(_) => {
                    let bad = self.carry;
                    self.defer_encoding_error(self.buf.len(), bad[0]);
                    return;
                }
            }
        }
        match core::str::from_utf8(data) {
            Ok(s) => self.buf.push_str(s),
            Err(e) => {
                let (valid, rest) = data.split_at(e.valid_up_to());
                // `valid` was just checked; this cannot fail.
                self.buf.push_str(core::str::from_utf8(valid).unwrap_or_default());
                if e.error_len().is_none() {
                    self.carry[..rest.len()].copy_from_slice(rest);
                    self.carry_len = rest.len();
                } else {
                    self.defer_encoding_error(self.buf.len(), rest[0]);
                }
            }
        }
    }

    /// Records invalid UTF-8 at `buf[at]`, whose first byte is `first`. A
    /// byte of a UTF-16 byte order mark at the very start of the stream
    /// means another encoding rather than noise (RFC 6120 §11.6).
    pub(super) fn defer_encoding_error(&mut self, at: usize, first: u8) {
        let offset = self.base + at as u64;
        self.carry_len = 0;
        self.deferred_error = Some(if offset == 0 && (first == 0xFE || first == 0xFF) {
            XmlError::UnsupportedEncoding { offset, detail: "UTF-16 byte order mark".into() }
        } else {
            XmlError::InvalidUtf8 { offset }
        });
    }

    /// Once everything received is consumed (and no stanza holds its
    /// text), forgets it, and gives back capacity over `keep` bytes, so a
    /// connection returns to its idle size (HARDENING 32).
    pub(super) fn release_if_drained(&mut self, keep: usize) {
        if self.pos == self.buf.len() && self.hold.is_none() {
            self.base += self.pos as u64;
            self.buf.clear();
            self.pos = 0;
            self.scan = 0;
            if self.buf.capacity() > keep {
                self.buf = String::new();
            }
        }
    }

    /// Drops consumed text once it is at least as long as what remains, so
    /// each byte is moved at most once on average.
    pub(super) fn compact(&mut self) {
        let keep = self.hold.map_or(self.pos, |hold| hold.min(self.pos));
        if keep > 0 && keep >= self.buf.len() - keep {
            self.buf.drain(..keep);
            self.base += keep as u64;
            self.scan -= keep;
            self.pos -= keep;
            if let Some(hold) = &mut self.hold {
                *hold -= keep;
            }
        }
    }

    /// Counts `n` bytes framing read other than through
    /// [`search`](Input::search) (a first look that reads a construct as it
    /// frames it), for the test that framing's work is linear.
    #[inline]
    pub(super) fn examined(&self, n: usize) {
        #[cfg(test)]
        self.scanned.set(self.scanned.get() + n as u64);
        #[cfg(not(test))]
        let _ = n;
    }

    /// Where the first byte matching `pred` is in `bytes[from..]`, as an
    /// index into `bytes`. Every framing search goes through here or
    /// reports what it read to [`examined`](Input::examined).
    #[inline]
    pub(super) fn search(&self, bytes: &[u8], from: usize, pred: impl Fn(u8) -> bool) -> Option<usize> {
        let found = bytes[from..].iter().position(|&b| pred(b));
        #[cfg(test)]
        self.scanned.set(self.scanned.get() + found.map_or(bytes.len() - from, |i| i + 1) as u64);
        found.map(|i| from + i)
    }

    /// Where `needle` starts in `bytes[from..]`, as an index into `bytes`.
    pub(super) fn find(&self, bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
        let mut at = from;
        while let Some(i) = self.search(bytes, at, |b| b == needle[0]) {
            if bytes[i..].starts_with(needle) {
                return Some(i);
            }
            if bytes.len() - i < needle.len() {
                return None;
            }
            at = i + 1;
        }
        None
    }

    pub(super) fn at(&self, i: usize) -> u64 {
        self.base + i as u64
    }
}

/// XML's `S` (space, tab, CR, LF): bytes that carry nothing between
/// elements.
pub(crate) fn is_xml_whitespace(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| is_xml_space(b))
}

/// One byte of XML's `S`.
pub(crate) fn is_xml_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}
