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
//!    any error it reports is real; a common tag (ASCII names, values of
//!    ordinary characters) is read by a byte loop instead ([`lex`]), which
//!    gives any other to `xmlparser`; character data, already delimited by
//!    framing, only needs its characters checked, which is done byte-wise;
//! 4. the reader then does what `xmlparser` does not: namespaces resolved
//!    by scope, duplicate attributes, matching end tags, references, the
//!    RFC 6120 §11.1 restrictions and the size limits.
//!
//! The element under construction is kept on an explicit stack: nothing
//! recurses on depth the peer chooses.
//!
//! By job: [`input`] (the buffer and its UTF-8 carry), [`framing`] (where
//! constructs end, and the size limits), [`lex`] (the common tag),
//! [`scope`] (namespace bindings), [`escape`] (characters and references),
//! [`tree`] (tags into elements); this module ties them into the stream of
//! events.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::ops::Range;

use xmlparser::{Token, Tokenizer};

use self::input::Input;
pub(crate) use self::input::is_xml_space;
use self::scope::Scope;
use super::element::{Element, Node};
use super::error::{Restricted, XmlError};
use super::namespace::{Interner, Namespace};

mod escape;
mod framing;
mod input;
pub(crate) use input::is_xml_whitespace;
mod lex;
mod scope;
mod tree;

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
    /// What has arrived and is not consumed yet.
    input: Input,
    /// The error the reader stopped with.
    error: Option<XmlError>,
    state: State,
    /// An event produced together with another (the `Close` of an empty
    /// root element).
    queued: Option<StreamEvent>,
    /// Open elements of the stanza being built, outermost first.
    stack: Vec<Element>,
    /// The children of each open element, read so far (`children[i]`:
    /// of `stack[i]`): gathered in lists reused from stanza to stanza and
    /// moved into a list of the exact size when the element ends, so an
    /// element's children cost one allocation, no growth, and a leaf's one
    /// text node a small one (glibc recycles small chunks cheaply): the
    /// online client ~9% faster than with each element's list grown. A
    /// wide list is given away whole instead, so none stays wide.
    children: Vec<Vec<Node>>,
    /// The literal prefix of each open element, root first, to match end
    /// tags (XML 1.0 requires the same qualified name).
    open_prefixes: Vec<String>,
    root_name: String,
    /// Stream offset where the stanza being built began.
    stanza_start: u64,
    scope: Scope,
    interner: Interner,
    attrs: Vec<RawAttr>,
    /// The start tag framing has just read (its attributes in `attrs`),
    /// if it was a common one.
    lexed: Option<lex::StartTag>,
    /// What framing found checking the text it has just framed, if it
    /// checked it ([`escape::check_chars`]'s answer).
    checked_text: Option<Result<bool, escape::RefError>>,
    /// Whether the stanza being read has spans to resolve when it ends.
    pending_spans: bool,
}

impl StreamReader {
    /// A reader at the start of a stream.
    pub fn new(limits: Limits) -> StreamReader {
        let limits = Limits { max_depth: limits.max_depth.min(Limits::MAX_DEPTH_CAP), ..limits };
        StreamReader {
            limits,
            input: Input::default(),
            error: None,
            state: State::Prolog { decl_allowed: true },
            queued: None,
            stack: Vec::new(),
            children: Vec::new(),
            open_prefixes: Vec::new(),
            root_name: String::new(),
            stanza_start: 0,
            scope: Scope::default(),
            interner: Interner::default(),
            attrs: Vec::new(),
            lexed: None,
            checked_text: None,
            pending_spans: false,
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
        self.children.clear();
        self.open_prefixes.clear();
        self.root_name.clear();
        self.scope.clear();
        self.input.scan = self.input.pos;
        self.input.scan_quote = None;
        self.input.hold = None;
        self.pending_spans = false;
        self.lexed = None;
        self.checked_text = None;
    }

    /// Bytes received but not yet consumed by [`next_event`]. After a
    /// `<proceed/>` this must be zero: anything else arrived in plaintext
    /// where TLS was due (HARDENING 11).
    ///
    /// [`next_event`]: StreamReader::next_event
    pub fn unconsumed_len(&self) -> usize {
        self.input.unconsumed_len()
    }

    /// Whether what [`unconsumed_len`](StreamReader::unconsumed_len)
    /// counts is only XML whitespace (nothing a peer could inject).
    pub fn unconsumed_is_whitespace(&self) -> bool {
        self.input.unconsumed_is_whitespace()
    }

    /// Between stanzas, frees the buffers a stanza used (the element
    /// stack, the attribute scratch, consumed input): what an idle
    /// connection holds.
    pub(crate) fn release_idle(&mut self) {
        if self.in_stanza() {
            return;
        }
        // Between stanzas the stack is empty, the per-depth lists of
        // children were emptied at their end tags, and the attribute
        // scratch holds only the last tag's (read already).
        self.stack = Vec::new();
        self.children = Vec::new();
        self.attrs = Vec::new();
        self.input.release_if_drained(0);
    }

    /// True while a first-level element has started but not ended.
    pub fn in_stanza(&self) -> bool {
        !self.stack.is_empty()
    }

    /// Total bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.input.offset()
    }

    /// Takes bytes received from the peer. Nothing is parsed until
    /// [`next_event`](StreamReader::next_event) is called.
    pub fn feed(&mut self, data: &[u8]) {
        if self.error.is_none() {
            self.input.feed(data);
        }
    }

    /// True if nothing but whitespace was received after what has been
    /// consumed (message framing: nothing may follow a message's element).
    pub(crate) fn rest_is_blank(&self) -> bool {
        self.input.unconsumed_len() == self.input.buf.len() - self.input.pos
            && is_xml_whitespace(&self.input.buf.as_bytes()[self.input.pos..])
    }

    /// Bytes examined while framing, for the test that work is linear.
    #[cfg(test)]
    pub(super) fn scanned(&self) -> u64 {
        self.input.scanned.get()
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
                if let Some(e) = self.input.deferred_error.take() {
                    return Err(e);
                }
                // Between reads of a burst, a buffer a read fits in stays.
                self.input.release_if_drained(4 * 1024);
                return Ok(None);
            };
            if let Some(ev) = self.process(construct)? {
                return Ok(Some(ev));
            }
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
        self.input.pos = range.end;
        self.input.scan = range.end;
        self.input.scan_quote = None;
        if let State::Prolog { decl_allowed: true } = self.state {
            self.state = State::Prolog { decl_allowed: false };
        }
        Ok(ev)
    }

    fn malformed(&self, at: usize, detail: &str) -> XmlError {
        XmlError::Malformed { offset: self.input.at(at), detail: detail.into() }
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
                return XmlError::IllegalChar { offset: self.input.at(at), ch: *c as u32 };
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
        XmlError::Malformed { offset: self.input.at(at), detail: format!("bad {construct}: {cause}") }
    }

    /// The XML declaration (XML 1.0 §2.8; RFC 6120 §11.5, §11.6).
    fn declaration(&mut self, r: Range<usize>) -> Result<(), XmlError> {
        let text = &self.input.buf[r.clone()];
        match Tokenizer::from(text).next() {
            Some(Ok(Token::Declaration { version, encoding, .. })) => {
                if version.as_str() != "1.0" {
                    return Err(self.restricted(r.start, Restricted::XmlVersion(version.as_str().into())));
                }
                if let Some(enc) = encoding
                    && !enc.as_str().eq_ignore_ascii_case("UTF-8")
                {
                    return Err(XmlError::UnsupportedEncoding {
                        offset: self.input.at(r.start),
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
}
