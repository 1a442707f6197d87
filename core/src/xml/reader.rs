//! The incremental XML stream reader.
//!
//! `xmlparser` only tokenizes complete text, and cannot tell truncated
//! input from malformed input. So the reader works frame first:
//!
//! 1. [`feed`](StreamReader::feed) validates UTF-8 as bytes arrive, carrying
//!    at most three bytes of an unfinished sequence, so every byte is
//!    validated once;
//! 2. it finds where the next construct (tag, text run, CDATA section)
//!    ends, remembering how far the search got and whether it is inside a
//!    quoted attribute value, so a stanza that arrives in many small chunks
//!    is scanned once;
//! 3. only a complete tag or XML declaration is handed to `xmlparser`, so
//!    any error it reports is real; character data, already delimited by
//!    framing, only needs its characters checked, which is done byte-wise;
//! 4. the reader then does what `xmlparser` does not: namespaces resolved
//!    by scope, duplicate attributes, matching end tags, references, the
//!    RFC 6120 §11.1 restrictions and the size limits.
//!
//! The element under construction is kept on an explicit stack: nothing
//! recurses on depth the peer chooses.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::ops::Range;

use xmlparser::{ElementEnd, Token, Tokenizer};

use super::chars::is_xml_char;
use super::element::{Attribute, Element};
use super::error::{Limit, Restricted, XmlError};
use super::namespace::{Interner, Namespace, XML_NS, XMLNS_NS};

/// Limits on what a peer may make the reader hold. The defaults follow
/// Prosody's c2s settings (256 KiB stanzas) and leave wide margins for
/// legitimate XMPP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes in one first-level element (stanza), counted while it is still
    /// arriving, so one dribbled in forever is caught (HARDENING 5).
    pub max_stanza_bytes: usize,
    /// Bytes in one tag: the stream header, any start or end tag, or the
    /// XML declaration.
    pub max_tag_bytes: usize,
    /// Nesting depth inside a stanza; the stanza element itself is depth 1.
    /// Capped at [`Limits::MAX_DEPTH_CAP`].
    pub max_depth: usize,
    /// Attributes on one element, namespace declarations included.
    pub max_attributes: usize,
    /// Namespace declarations in scope at once (on the stream header and
    /// all open elements together).
    pub max_namespace_declarations: usize,
}

impl Limits {
    /// The largest `max_depth` the reader accepts, so that code walking an
    /// element tree recursively (drop, clone, comparison) stays within any
    /// reasonable stack.
    pub const MAX_DEPTH_CAP: usize = 1024;
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_stanza_bytes: 256 * 1024,
            max_tag_bytes: 32 * 1024,
            max_depth: 64,
            max_attributes: 64,
            max_namespace_declarations: 64,
        }
    }
}

/// The opening tag of the stream: the root element of the XML document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamHeader {
    /// The root element with its resolved name and attributes; never has
    /// children.
    pub root: Element,
    /// The namespace declarations on the root tag, as (prefix, namespace);
    /// the prefix is empty for the default namespace.
    pub namespaces: Vec<(String, Namespace)>,
}

impl StreamHeader {
    /// The default namespace the header declares (RFC 6120 §4.8.2: the
    /// content namespace), if it declares one.
    pub fn default_ns(&self) -> Option<&Namespace> {
        self.namespaces.iter().find(|(p, _)| p.is_empty()).map(|(_, ns)| ns)
    }
}

/// What the reader yields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamEvent {
    /// The stream header (the root start tag) arrived.
    Open(StreamHeader),
    /// A complete first-level child of the stream: a stanza, or a stream
    /// level element such as `<stream:features/>`.
    Element(Element),
    /// The root end tag arrived (`</stream:stream>`).
    Close,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Before the root start tag; `decl_allowed` until anything but
    /// whitespace has been seen.
    Prolog { decl_allowed: bool },
    /// Inside the root element.
    Stream,
    /// After the root end tag.
    Closed,
}

/// A complete construct found by framing, as a range of `buf`.
#[derive(Debug)]
enum Construct {
    Declaration(Range<usize>),
    StartTag(Range<usize>),
    EndTag(Range<usize>),
    Text(Range<usize>),
    CData(Range<usize>),
}

/// An attribute as tokenized, by ranges of `buf` (so `buf` stays free to
/// borrow while the tag is processed).
#[derive(Clone, Debug)]
struct RawAttr {
    prefix: Range<usize>,
    local: Range<usize>,
    value: Range<usize>,
}

/// Namespace bindings in scope, innermost last.
#[derive(Debug, Default)]
struct Scope {
    bindings: Vec<(String, Namespace)>,
    /// `bindings.len()` when each open element was entered.
    marks: Vec<usize>,
    /// The default namespace in force: looked up for nearly every element,
    /// so kept at hand rather than searched for.
    default: Option<Namespace>,
}

impl Scope {
    fn resolve(&self, prefix: &str) -> Option<&Namespace> {
        if prefix.is_empty() {
            // No default namespace declared: elements are in no namespace.
            return Some(self.default.as_ref().unwrap_or(&Namespace::NONE));
        }
        if prefix == "xml" {
            return Some(&Namespace::XML);
        }
        self.bindings.iter().rev().find(|(p, _)| p == prefix).map(|(_, ns)| ns)
    }

    fn bind(&mut self, prefix: String, ns: Namespace) {
        if prefix.is_empty() {
            self.default = Some(ns.clone());
        }
        self.bindings.push((prefix, ns));
    }

    fn enter(&mut self) {
        self.marks.push(self.bindings.len());
    }

    fn leave(&mut self) {
        if let Some(mark) = self.marks.pop() {
            let redeclared_default = self.bindings[mark..].iter().any(|(p, _)| p.is_empty());
            self.bindings.truncate(mark);
            if redeclared_default {
                self.default = self.bindings.iter().rev().find(|(p, _)| p.is_empty()).map(|(_, ns)| ns.clone());
            }
        }
    }

    fn clear(&mut self) {
        self.bindings.clear();
        self.marks.clear();
        self.default = None;
    }
}

/// Reads an XML stream incrementally: feed it bytes as they arrive, split
/// anywhere, and pull [`StreamEvent`]s.
///
/// ```
/// use sxmpp::xml::{StreamReader, StreamEvent, Limits};
///
/// let mut reader = StreamReader::new(Limits::default());
/// reader.feed(b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'><mess");
/// assert!(matches!(reader.next_event(), Ok(Some(StreamEvent::Open(_)))));
/// assert_eq!(reader.next_event(), Ok(None)); // the message is incomplete
/// reader.feed(b"age><body>hi</body></message>");
/// let Ok(Some(StreamEvent::Element(message))) = reader.next_event() else { panic!() };
/// assert!(message.is("message", "jabber:client"));
/// assert_eq!(message.child_text("body", "jabber:client").as_deref(), Some("hi"));
/// ```
///
/// Errors are final: once [`next_event`](StreamReader::next_event) has
/// returned an error it returns the same error forever.
#[derive(Debug)]
pub struct StreamReader {
    limits: Limits,
    /// Validated text; `buf[pos..]` is not consumed yet.
    buf: String,
    pos: usize,
    /// Where the search for the end of the construct at `pos` resumes.
    scan: usize,
    /// Inside which quote the search stopped, while framing a tag.
    scan_quote: Option<u8>,
    /// Stream offset of `buf[0]`.
    base: u64,
    /// An unfinished UTF-8 sequence at the end of the last chunk.
    carry: [u8; 4],
    carry_len: usize,
    /// An encoding fault found in `feed`, raised once the reader has
    /// consumed everything before it, so the outcome does not depend on
    /// how the bytes were chunked.
    deferred_error: Option<XmlError>,
    /// The error the reader stopped with.
    error: Option<XmlError>,
    state: State,
    /// An event produced together with another (the `Close` of an empty
    /// root element).
    queued: Option<StreamEvent>,
    /// Open elements of the stanza being built, outermost first.
    stack: Vec<Element>,
    /// The literal prefix of each open element, root first, to match end
    /// tags (XML 1.0 requires the same qualified name).
    open_prefixes: Vec<String>,
    root_name: String,
    /// Stream offset where the stanza being built began.
    stanza_start: u64,
    scope: Scope,
    interner: Interner,
    attrs: Vec<RawAttr>,
    /// Bytes examined while framing, for the test that work is linear.
    #[cfg(test)]
    pub(super) scanned: core::cell::Cell<u64>,
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

impl StreamReader {
    /// A reader at the start of a stream.
    pub fn new(limits: Limits) -> StreamReader {
        let limits = Limits { max_depth: limits.max_depth.min(Limits::MAX_DEPTH_CAP), ..limits };
        StreamReader {
            limits,
            buf: String::new(),
            pos: 0,
            scan: 0,
            scan_quote: None,
            base: 0,
            carry: [0; 4],
            carry_len: 0,
            deferred_error: None,
            error: None,
            state: State::Prolog { decl_allowed: true },
            queued: None,
            stack: Vec::new(),
            open_prefixes: Vec::new(),
            root_name: String::new(),
            stanza_start: 0,
            scope: Scope::default(),
            interner: Interner::default(),
            attrs: Vec::new(),
            #[cfg(test)]
            scanned: core::cell::Cell::new(0),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Starts a new XML document at the current position, as a stream
    /// restart after STARTTLS or SASL requires (RFC 6120 §4.3.3). Bytes
    /// already received and not consumed stay; an error stays.
    pub fn reset(&mut self) {
        self.state = State::Prolog { decl_allowed: true };
        self.queued = None;
        self.stack.clear();
        self.open_prefixes.clear();
        self.root_name.clear();
        self.scope.clear();
        self.scan = self.pos;
        self.scan_quote = None;
    }

    /// Bytes received but not yet consumed by [`next_event`]. After a
    /// `<proceed/>` this must be zero: anything else arrived in plaintext
    /// where TLS was due (HARDENING 11).
    ///
    /// [`next_event`]: StreamReader::next_event
    pub fn unconsumed_len(&self) -> usize {
        self.buf.len() - self.pos + self.carry_len + usize::from(self.deferred_error.is_some())
    }

    /// True while a first-level element has started but not ended.
    pub fn in_stanza(&self) -> bool {
        !self.stack.is_empty()
    }

    /// Total bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Takes bytes received from the peer. Nothing is parsed until
    /// [`next_event`](StreamReader::next_event) is called.
    pub fn feed(&mut self, mut data: &[u8]) {
        if self.error.is_some() || self.deferred_error.is_some() || data.is_empty() {
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
    fn defer_encoding_error(&mut self, at: usize, first: u8) {
        let offset = self.base + at as u64;
        self.carry_len = 0;
        self.deferred_error = Some(if offset == 0 && (first == 0xFE || first == 0xFF) {
            XmlError::UnsupportedEncoding { offset, detail: "UTF-16 byte order mark".into() }
        } else {
            XmlError::InvalidUtf8 { offset }
        });
    }

    /// Once everything received is consumed, forgets it, and gives back
    /// the capacity a burst left behind, so a connection returns to its
    /// idle size (HARDENING 32).
    fn release_if_drained(&mut self) {
        const KEEP: usize = 4 * 1024;
        if self.pos == self.buf.len() && self.pos > 0 {
            self.base += self.pos as u64;
            self.buf.clear();
            self.pos = 0;
            self.scan = 0;
            if self.buf.capacity() > KEEP {
                self.buf = String::new();
            }
        }
    }

    /// Drops consumed text once it is at least as long as what remains, so
    /// each byte is moved at most once on average.
    fn compact(&mut self) {
        if self.pos > 0 && self.pos >= self.buf.len() - self.pos {
            self.buf.drain(..self.pos);
            self.base += self.pos as u64;
            self.scan -= self.pos;
            self.pos = 0;
        }
    }

    /// The next event, `Ok(None)` if more bytes are needed, or the error
    /// that ended the stream.
    pub fn next_event(&mut self) -> Result<Option<StreamEvent>, XmlError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if let Some(ev) = self.queued.take() {
            return Ok(Some(ev));
        }
        match self.advance() {
            Ok(ev) => Ok(ev),
            Err(e) => {
                self.error = Some(e.clone());
                Err(e)
            }
        }
    }

    fn advance(&mut self) -> Result<Option<StreamEvent>, XmlError> {
        loop {
            let Some(construct) = self.frame()? else {
                self.check_unfinished()?;
                if let Some(e) = self.deferred_error.take() {
                    return Err(e);
                }
                self.release_if_drained();
                return Ok(None);
            };
            if let Some(ev) = self.process(construct)? {
                return Ok(Some(ev));
            }
        }
    }

    /// Where the first byte matching `pred` is in `bytes[from..]`, as an
    /// index into `bytes`. All framing searches go through here.
    #[inline]
    fn search(&self, bytes: &[u8], from: usize, pred: impl Fn(u8) -> bool) -> Option<usize> {
        let found = bytes[from..].iter().position(|&b| pred(b));
        #[cfg(test)]
        self.scanned.set(self.scanned.get() + found.map_or(bytes.len() - from, |i| i + 1) as u64);
        found.map(|i| from + i)
    }

    /// Where `needle` starts in `bytes[from..]`, as an index into `bytes`.
    fn find(&self, bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
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

    fn at(&self, i: usize) -> u64 {
        self.base + i as u64
    }

    /// Where the size of the unit being framed is counted from: the stanza
    /// under construction, or (between stanzas) the construct itself.
    fn stanza_origin(&self) -> Option<u64> {
        if !self.stack.is_empty() {
            Some(self.stanza_start)
        } else if self.state == State::Stream {
            Some(self.at(self.pos))
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
            let offset = self.at(self.pos);
            let error = XmlError::LimitExceeded { offset, limit: Limit::TagBytes(self.limits.max_tag_bytes) };
            (offset.saturating_add(self.limits.max_tag_bytes as u64), error)
        });
        let first = match (stanza, tag) {
            (Some(s), Some(t)) => Some(if s.0 <= t.0 { s } else { t }),
            (s, t) => s.or(t),
        };
        match first {
            Some((cap, error)) if self.at(end) > cap => Err(error),
            _ => Ok(()),
        }
    }

    /// Called when framing found no complete construct: the unfinished one
    /// must already be within the limits.
    fn check_unfinished(&self) -> Result<(), XmlError> {
        if self.pos == self.buf.len() {
            return Ok(());
        }
        // Everything but text and CDATA counts against the tag limit too.
        let bytes = self.buf.as_bytes();
        let is_tag = bytes[self.pos] == b'<' && bytes.get(self.pos + 1) != Some(&b'!');
        self.check_size(self.buf.len(), is_tag)
    }

    /// Finds the next complete construct, skipping whitespace between
    /// stanzas. `None` means more bytes are needed.
    fn frame(&mut self) -> Result<Option<Construct>, XmlError> {
        let bytes = self.buf.as_bytes();
        let len = bytes.len();
        if self.stack.is_empty() {
            // Between stanzas (or before/after the root): only whitespace
            // may stand here (RFC 6120 §11.7).
            let mut pos = self.pos;
            while pos < len && is_ws(bytes[pos]) {
                pos += 1;
            }
            if pos != self.pos {
                self.pos = pos;
                self.scan = pos;
                self.scan_quote = None;
            }
            if pos == len {
                return Ok(None);
            }
            if bytes[pos] != b'<' {
                return Err(self.stray_text(pos));
            }
        }
        let pos = self.pos;
        if pos == len {
            return Ok(None);
        }
        if bytes[pos] != b'<' {
            // Character data inside a stanza runs to the next '<'.
            let from = self.scan.max(pos);
            return Ok(match self.search(bytes, from, |b| b == b'<') {
                Some(end) => {
                    self.check_size(end, false)?;
                    Some(Construct::Text(pos..end))
                }
                None => {
                    self.scan = len;
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
                offset: self.at(pos + 1),
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
                // A start tag ends at the first '>' outside quotes.
                let mut quote = self.scan_quote;
                let mut i = self.scan.max(pos + 1);
                loop {
                    let found = match quote {
                        Some(q) => self.search(bytes, i, |b| b == q),
                        None => self.search(bytes, i, |b| matches!(b, b'>' | b'\'' | b'"')),
                    };
                    let Some(at) = found else { break };
                    i = at + 1;
                    match (quote, bytes[at]) {
                        (Some(_), _) => quote = None,
                        (None, b'>') => {
                            self.check_size(i, true)?;
                            self.scan_quote = None;
                            return Ok(Some(Construct::StartTag(pos..i)));
                        }
                        (None, q) => quote = Some(q),
                    }
                }
                self.scan = len;
                self.scan_quote = quote;
                Ok(None)
            }
        }
    }

    /// Frames the construct at `pos` whose body starts at `body` and which
    /// ends with `terminator`; resumes where the last search stopped.
    fn frame_to(&mut self, body: usize, terminator: &[u8], is_tag: bool) -> Result<Option<Range<usize>>, XmlError> {
        let bytes = self.buf.as_bytes();
        match self.find(bytes, self.scan.max(body), terminator) {
            Some(i) => {
                let end = i + terminator.len();
                self.check_size(end, is_tag)?;
                Ok(Some(self.pos..end))
            }
            None => {
                // The terminator may have begun in the bytes seen last.
                self.scan = bytes.len().saturating_sub(terminator.len() - 1).max(body);
                Ok(None)
            }
        }
    }

    fn restricted(&self, at: usize, what: Restricted) -> XmlError {
        XmlError::Restricted { offset: self.at(at), what }
    }

    /// The error for non-whitespace text at `pos` outside any stanza.
    fn stray_text(&self, pos: usize) -> XmlError {
        let offset = self.at(pos);
        match self.state {
            State::Stream => XmlError::TextOutsideStanza { offset },
            State::Prolog { .. } if self.buf.as_bytes()[pos] == 0 => {
                XmlError::UnsupportedEncoding { offset, detail: "NUL byte in the prolog (UTF-16 or UTF-32)".into() }
            }
            State::Prolog { .. } => XmlError::Malformed { offset, detail: "text before the root element".into() },
            State::Closed => XmlError::Malformed { offset, detail: "text after the root element".into() },
        }
    }

    /// Consumes a complete construct; returns the event it completes, if
    /// any.
    fn process(&mut self, construct: Construct) -> Result<Option<StreamEvent>, XmlError> {
        let (range, ev) = match construct {
            Construct::Declaration(r) => {
                self.declaration(r.clone())?;
                (r, None)
            }
            Construct::StartTag(r) => {
                let ev = self.start_tag(r.clone())?;
                (r, ev)
            }
            Construct::EndTag(r) => {
                let ev = self.end_tag(r.clone())?;
                (r, ev)
            }
            Construct::Text(r) => {
                self.text(r.clone(), false)?;
                (r, None)
            }
            Construct::CData(r) => {
                self.text(r.clone(), true)?;
                (r, None)
            }
        };
        self.pos = range.end;
        self.scan = range.end;
        self.scan_quote = None;
        if let State::Prolog { decl_allowed: true } = self.state {
            self.state = State::Prolog { decl_allowed: false };
        }
        Ok(ev)
    }

    fn malformed(&self, at: usize, detail: &str) -> XmlError {
        XmlError::Malformed { offset: self.at(at), detail: detail.into() }
    }

    /// Maps a tokenizer error, keeping illegal characters apart from other
    /// malformation. The description leaves out `xmlparser`'s text position,
    /// which depends on what else was in the buffer.
    fn tokenizer_error(&self, at: usize, e: xmlparser::Error) -> XmlError {
        use xmlparser::{Error as E, StreamError as S};
        let (construct, cause) = match &e {
            E::InvalidDeclaration(se, _) => ("XML declaration", Some(se)),
            E::InvalidElement(se, _) => ("tag", Some(se)),
            E::InvalidAttribute(se, _) => ("attribute", Some(se)),
            E::InvalidCdata(se, _) => ("CDATA section", Some(se)),
            E::InvalidCharData(se, _) => ("character data", Some(se)),
            _ => ("markup", None),
        };
        let cause = match cause {
            Some(S::NonXmlChar(c, _)) => {
                return XmlError::IllegalChar { offset: self.at(at), ch: *c as u32 };
            }
            Some(S::UnexpectedEndOfStream) => "unexpected end",
            Some(S::InvalidName) => "invalid name",
            Some(S::InvalidChar(..) | S::InvalidCharMultiple(..)) => "unexpected character",
            Some(S::InvalidQuote(..)) => "expected a quote",
            Some(S::InvalidSpace(..)) => "expected whitespace",
            Some(S::InvalidString(..)) => "unexpected text",
            Some(S::InvalidCharacterData) => "']]>' in character data",
            _ => "malformed",
        };
        XmlError::Malformed { offset: self.at(at), detail: format!("bad {construct}: {cause}") }
    }

    /// The XML declaration (XML 1.0 §2.8; RFC 6120 §11.5, §11.6).
    fn declaration(&mut self, r: Range<usize>) -> Result<(), XmlError> {
        let text = &self.buf[r.clone()];
        match Tokenizer::from(text).next() {
            Some(Ok(Token::Declaration { version, encoding, .. })) => {
                if version.as_str() != "1.0" {
                    return Err(self.restricted(r.start, Restricted::XmlVersion(version.as_str().into())));
                }
                if let Some(enc) = encoding
                    && !enc.as_str().eq_ignore_ascii_case("UTF-8")
                {
                    return Err(XmlError::UnsupportedEncoding {
                        offset: self.at(r.start),
                        detail: format!("declared encoding {}", enc.as_str()),
                    });
                }
                // `standalone` has no meaning without DTDs; RFC 6120 §11.5
                // allows ignoring it.
                Ok(())
            }
            Some(Ok(Token::ProcessingInstruction { .. })) => {
                Err(self.restricted(r.start, Restricted::ProcessingInstruction))
            }
            Some(Err(e)) => Err(self.tokenizer_error(r.start, e)),
            _ => Err(self.malformed(r.start, "bad XML declaration")),
        }
    }

    /// Tokenizes a start tag into `self.attrs`; returns the element's
    /// (prefix, local) ranges and whether it is empty (`<x/>`).
    fn tokenize_start_tag(&mut self, r: Range<usize>) -> Result<(Range<usize>, Range<usize>, bool), XmlError> {
        self.attrs.clear();
        let mut name = None;
        for token in Tokenizer::from_fragment(&self.buf, r.clone()) {
            match token {
                Ok(Token::ElementStart { prefix, local, .. }) => name = Some((prefix.range(), local.range())),
                Ok(Token::Attribute { prefix, local, value, .. }) => {
                    if self.attrs.len() == self.limits.max_attributes {
                        return Err(XmlError::LimitExceeded {
                            offset: self.at(r.start),
                            limit: Limit::Attributes(self.limits.max_attributes),
                        });
                    }
                    self.attrs.push(RawAttr { prefix: prefix.range(), local: local.range(), value: value.range() });
                }
                Ok(Token::ElementEnd { end, .. }) => {
                    let Some((prefix, local)) = name else { break };
                    return match end {
                        ElementEnd::Open => Ok((prefix, local, false)),
                        ElementEnd::Empty => Ok((prefix, local, true)),
                        ElementEnd::Close(..) => Err(self.malformed(r.start, "bad start tag")),
                    };
                }
                Ok(_) => break,
                Err(e) => return Err(self.tokenizer_error(r.start, e)),
            }
        }
        Err(self.malformed(r.start, "bad start tag"))
    }

    fn start_tag(&mut self, r: Range<usize>) -> Result<Option<StreamEvent>, XmlError> {
        let offset = self.at(r.start);
        if self.state == State::Closed {
            return Err(XmlError::Malformed { offset, detail: "element after the root element".into() });
        }
        let (prefix_r, local_r, empty) = self.tokenize_start_tag(r.clone())?;
        let is_root = matches!(self.state, State::Prolog { .. });
        if !is_root && self.stack.len() == self.limits.max_depth {
            return Err(XmlError::LimitExceeded {
                offset: self.stanza_start,
                limit: Limit::Depth(self.limits.max_depth),
            });
        }

        // Namespace declarations first: they apply to the tag they are on.
        self.scope.enter();
        let mut declared = Vec::new();
        for i in 0..self.attrs.len() {
            let a = self.attrs[i].clone();
            let (prefix, local) = (&self.buf[a.prefix.clone()], &self.buf[a.local.clone()]);
            let declared_prefix = match (prefix, local) {
                ("", "xmlns") => "",
                ("xmlns", p) => p,
                _ => continue,
            };
            let declared_prefix = declared_prefix.to_owned();
            let uri = self.attr_value(a.value.clone(), r.start)?;
            if let Some(ns) = self.declare(&declared_prefix, &uri, offset)?
                && is_root
            {
                declared.push((declared_prefix, ns));
            }
        }

        let prefix = &self.buf[prefix_r.clone()];
        let Some(ns) = self.scope.resolve(prefix).cloned() else {
            return Err(XmlError::UnboundPrefix { offset, prefix: prefix.into() });
        };
        if ns.as_str() == XMLNS_NS || (prefix == "xmlns") {
            return Err(XmlError::ReservedPrefix { offset, prefix: prefix.into() });
        }

        let mut attributes = Vec::with_capacity(self.attrs.len());
        for i in 0..self.attrs.len() {
            let a = self.attrs[i].clone();
            let (prefix, local) = (&self.buf[a.prefix.clone()], &self.buf[a.local.clone()]);
            if (prefix.is_empty() && local == "xmlns") || prefix == "xmlns" {
                continue;
            }
            let attr_ns = if prefix.is_empty() {
                Namespace::NONE
            } else {
                match self.scope.resolve(prefix) {
                    Some(ns) => ns.clone(),
                    None => {
                        return Err(XmlError::UnboundPrefix { offset, prefix: prefix.into() });
                    }
                }
            };
            // Duplicates are judged on expanded names (XML-NAMES §6.3),
            // which also catches literal repeats.
            if attributes.iter().any(|x: &Attribute| x.name() == local && *x.ns() == attr_ns) {
                let name = if prefix.is_empty() { local.to_owned() } else { format!("{prefix}:{local}") };
                return Err(XmlError::DuplicateAttribute { offset, name });
            }
            let local = local.to_owned();
            let value = self.attr_value(a.value.clone(), r.start)?;
            attributes.push(Element::attribute(attr_ns, local, value));
        }

        let element = Element::from_parts(self.buf[local_r.clone()].to_owned(), ns, attributes);
        // The root needs the name range once more below.
        let local_r = local_r.clone();
        let prefix = self.buf[prefix_r].to_owned();

        if is_root {
            self.state = State::Stream;
            self.root_name = self.buf[local_r].to_owned();
            self.open_prefixes.push(prefix);
            if empty {
                self.queued = Some(StreamEvent::Close);
                self.close_root();
            }
            return Ok(Some(StreamEvent::Open(StreamHeader { root: element, namespaces: declared })));
        }
        if self.stack.is_empty() {
            self.stanza_start = offset;
        }
        if empty {
            self.scope.leave();
            return Ok(self.finish_element(element));
        }
        self.stack.push(element);
        self.open_prefixes.push(prefix);
        Ok(None)
    }

    /// Binds `prefix` (empty for the default namespace) on the element being
    /// opened, enforcing XML-NAMES §3. Returns the namespace bound, or
    /// `None` for the redundant (but legal) declaration of `xml`.
    fn declare(&mut self, prefix: &str, uri: &str, offset: u64) -> Result<Option<Namespace>, XmlError> {
        let mark = self.scope.marks.last().copied().unwrap_or(0);
        if self.scope.bindings[mark..].iter().any(|(p, _)| p == prefix) {
            let name = if prefix.is_empty() { "xmlns".into() } else { format!("xmlns:{prefix}") };
            return Err(XmlError::DuplicateAttribute { offset, name });
        }
        match prefix {
            "xml" if uri == XML_NS => return Ok(None),
            "xml" | "xmlns" => {
                return Err(XmlError::ReservedPrefix { offset, prefix: prefix.into() });
            }
            _ => {}
        }
        if uri == XML_NS || uri == XMLNS_NS {
            return Err(XmlError::ReservedNamespace { offset, uri: uri.into() });
        }
        if uri.is_empty() && !prefix.is_empty() {
            return Err(XmlError::Malformed {
                offset,
                detail: format!("prefix {prefix:?} declared with an empty namespace name"),
            });
        }
        if self.scope.bindings.len() == self.limits.max_namespace_declarations {
            return Err(XmlError::LimitExceeded {
                offset,
                limit: Limit::NamespaceDeclarations(self.limits.max_namespace_declarations),
            });
        }
        let ns = self.interner.intern(uri);
        self.scope.bind(prefix.into(), ns.clone());
        Ok(Some(ns))
    }

    /// Appends a finished element to its parent, or returns it as an event
    /// if it is a stanza.
    fn finish_element(&mut self, element: Element) -> Option<StreamEvent> {
        match self.stack.last_mut() {
            Some(parent) => {
                parent.append_child(element);
                None
            }
            None => Some(StreamEvent::Element(element)),
        }
    }

    fn close_root(&mut self) {
        self.state = State::Closed;
        self.scope.leave();
        self.open_prefixes.clear();
    }

    fn end_tag(&mut self, r: Range<usize>) -> Result<Option<StreamEvent>, XmlError> {
        let offset = self.at(r.start);
        if self.state != State::Stream {
            return Err(XmlError::Malformed { offset, detail: "end tag outside the root element".into() });
        }
        let (prefix, local) = match Tokenizer::from_fragment(&self.buf, r.clone()).next() {
            Some(Ok(Token::ElementEnd { end: ElementEnd::Close(prefix, local), .. })) => {
                (prefix.range(), local.range())
            }
            Some(Err(e)) => return Err(self.tokenizer_error(r.start, e)),
            _ => return Err(self.malformed(r.start, "bad end tag")),
        };
        let (prefix, local) = (&self.buf[prefix], &self.buf[local]);
        let (open_prefix, open_local) = match self.stack.last() {
            Some(el) => (self.open_prefixes.last().map(String::as_str).unwrap_or(""), el.name()),
            None => (self.open_prefixes.first().map(String::as_str).unwrap_or(""), self.root_name.as_str()),
        };
        if prefix != open_prefix || local != open_local {
            let qname = |p: &str, l: &str| {
                if p.is_empty() { l.to_owned() } else { format!("{p}:{l}") }
            };
            return Err(XmlError::MismatchedEndTag {
                offset,
                expected: qname(open_prefix, open_local),
                found: qname(prefix, local),
            });
        }
        self.scope.leave();
        self.open_prefixes.pop();
        match self.stack.pop() {
            Some(element) => Ok(self.finish_element(element)),
            None => {
                self.close_root();
                Ok(Some(StreamEvent::Close))
            }
        }
    }

    /// Character data or a CDATA section inside a stanza.
    fn text(&mut self, r: Range<usize>, cdata: bool) -> Result<(), XmlError> {
        // Framing already delimited the construct exactly, so checking the
        // characters is all that is left: faster byte-wise than a tokenizer
        // decoding every character.
        let raw = if cdata { r.start + 9..r.end - 3 } else { r.clone() };
        let text = &self.buf[raw];
        check_chars(text, !cdata).map_err(|e| e.at(self.at(r.start)))?;
        let mut out = String::new();
        if cdata {
            normalize_newlines(&mut out, text);
        } else {
            unescape(&mut out, text, false).map_err(|e| e.at(self.at(r.start)))?;
        }
        if let Some(parent) = self.stack.last_mut() {
            parent.push_text_node(out);
        }
        Ok(())
    }

    /// Resolves references in an attribute value and normalises its
    /// whitespace (XML 1.0 §3.3.3).
    fn attr_value(&self, raw: Range<usize>, tag_start: usize) -> Result<String, XmlError> {
        let mut out = String::new();
        unescape(&mut out, &self.buf[raw], true).map_err(|e| e.at(self.at(tag_start)))?;
        Ok(out)
    }
}

/// A reference or character fault, before it is placed in the stream.
enum RefError {
    Illegal(u32),
    Restricted(String),
    Malformed(String),
}

impl RefError {
    fn at(self, offset: u64) -> XmlError {
        match self {
            RefError::Illegal(ch) => XmlError::IllegalChar { offset, ch },
            RefError::Restricted(name) => XmlError::Restricted { offset, what: Restricted::EntityReference(name) },
            RefError::Malformed(detail) => XmlError::Malformed { offset, detail },
        }
    }
}

/// Checks character data: every character an XML 1.0 `Char` (only C0
/// controls and U+FFFE/U+FFFF can fail in a Rust string), and, outside
/// CDATA, no `]]>` (XML 1.0 §2.4).
fn check_chars(text: &str, forbid_cdata_end: bool) -> Result<(), RefError> {
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            0x00..=0x08 | 0x0B | 0x0C | 0x0E..=0x1F => return Err(RefError::Illegal(u32::from(b))),
            0xEF if bytes.get(i + 1) == Some(&0xBF) && matches!(bytes.get(i + 2), Some(0xBE | 0xBF)) => {
                return Err(RefError::Illegal(0xFFFE + u32::from(bytes[i + 2] - 0xBE)));
            }
            b'>' if forbid_cdata_end && i >= 2 && &bytes[i - 2..i] == b"]]" => {
                return Err(RefError::Malformed("']]>' in character data".into()));
            }
            _ => {}
        }
    }
    Ok(())
}

/// XML 1.0 §2.11: `\r\n` and lone `\r` become `\n`.
fn normalize_newlines(out: &mut String, raw: &str) {
    let mut rest = raw;
    while let Some(i) = rest.find('\r') {
        out.push_str(&rest[..i]);
        out.push('\n');
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('\n') {
            rest = r;
        }
    }
    out.push_str(rest);
}

/// Resolves the predefined entities and character references in `raw`
/// (whose characters `xmlparser` has already checked), normalising line
/// ends, and for attribute values whitespace (XML 1.0 §2.11, §3.3.3,
/// §4.1, §4.6).
fn unescape(out: &mut String, raw: &str, attr: bool) -> Result<(), RefError> {
    let special = |b: u8| b == b'&' || b == b'\r' || (attr && (b == b'\n' || b == b'\t'));
    if !raw.bytes().any(special) {
        out.push_str(raw);
        return Ok(());
    }
    out.reserve(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.bytes().position(special) {
        out.push_str(&rest[..i]);
        let b = rest.as_bytes()[i];
        rest = &rest[i + 1..];
        match b {
            b'\r' => {
                if let Some(r) = rest.strip_prefix('\n') {
                    rest = r;
                }
                out.push(if attr { ' ' } else { '\n' });
            }
            b'\n' | b'\t' => out.push(' '),
            _ => {
                let Some(end) = rest.find(';') else {
                    return Err(RefError::Malformed("'&' without ';'".into()));
                };
                let name = &rest[..end];
                rest = &rest[end + 1..];
                let ch = match name {
                    "lt" => '<',
                    "gt" => '>',
                    "amp" => '&',
                    "apos" => '\'',
                    "quot" => '"',
                    _ => char_ref(name)?,
                };
                out.push(ch);
            }
        }
    }
    out.push_str(rest);
    Ok(())
}

/// A character reference's name (without `&` and `;`): `#65` or `#x41`.
fn char_ref(name: &str) -> Result<char, RefError> {
    let Some(num) = name.strip_prefix('#') else {
        return Err(if super::chars::is_ncname(name) {
            RefError::Restricted(name.into())
        } else {
            RefError::Malformed(format!("bad reference &{name};"))
        });
    };
    let (digits, radix) = match num.strip_prefix('x') {
        Some(hex) => (hex, 16),
        None => (num, 10),
    };
    let valid_digit = |c: char| c.is_digit(radix);
    if digits.is_empty() || !digits.chars().all(valid_digit) {
        return Err(RefError::Malformed(format!("bad character reference &{name};")));
    }
    // Leading zeros are allowed; anything with more significant digits than
    // U+10FFFF has is out of range.
    let significant = digits.trim_start_matches('0');
    let code = if significant.len() > 8 { u32::MAX } else { u32::from_str_radix(significant, radix).unwrap_or(0) };
    match char::from_u32(code) {
        Some(c) if is_xml_char(c) => Ok(c),
        _ => Err(RefError::Illegal(code)),
    }
}
