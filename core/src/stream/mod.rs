//! The XML stream's framing (RFC 6120 §4): how a stream opens, carries
//! first-level elements, restarts and closes on a byte stream (TCP), with
//! room for RFC 7395's WebSocket framing beside it. The roles above see a
//! typed [`Header`], elements and a close, whatever the framing.

use alloc::string::String;

use crate::condition::StreamErrorCondition;
use crate::ns;
use crate::xml::{Element, Limits, Namespace, StreamEvent, StreamReader, StreamWriter, XmlError};

/// A stream header (RFC 6120 §4.7): the attributes of `<stream:stream>`,
/// read or to be written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Header {
    /// `from`: who opens this stream.
    pub from: Option<String>,
    /// `to`: whom it is for.
    pub to: Option<String>,
    /// `id`: the stream id (set by the receiving entity, §4.7.3).
    pub id: Option<String>,
    /// `version` (§4.7.5).
    pub version: Option<String>,
    /// `xml:lang` (§4.7.4).
    pub lang: Option<String>,
    /// The content namespace the header declares as default (§4.8.2).
    pub content_ns: Option<Namespace>,
}

impl Header {
    /// A header with version 1.0.
    pub fn new() -> Header {
        Header { version: Some("1.0".into()), ..Header::default() }
    }

    /// The major version, if the header states one that parses (§4.7.5).
    pub fn major_version(&self) -> Option<u32> {
        self.version.as_deref()?.split('.').next()?.parse().ok()
    }

    fn from_event(header: crate::xml::StreamHeader) -> Header {
        let attr = |name: &str| header.root.attr(name).map(String::from);
        Header {
            from: attr("from"),
            to: attr("to"),
            id: attr("id"),
            version: attr("version"),
            lang: header.root.attr_ns(ns::XML, "lang").map(String::from),
            content_ns: header.default_ns().cloned(),
        }
    }

    /// The root element written for this header.
    fn to_root(&self, name: &'static str, ns: &'static str) -> Element {
        let mut root = Element::new(name, ns);
        // Header values come from JIDs, ids the entropy made and the
        // configuration, all checked on their way in; one that is not
        // legal XML is left out rather than written.
        for (attr, value) in [("to", &self.to), ("from", &self.from), ("id", &self.id), ("version", &self.version)] {
            if let Some(v) = value {
                let _ = root.set_attr(attr, v.as_str());
            }
        }
        if let Some(lang) = &self.lang {
            let _ = root.set_attr_ns(Namespace::XML, "lang", lang.as_str());
        }
        root
    }
}

/// What the framing reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// The peer opened (or, after a restart, reopened) its stream.
    Open(Header),
    /// A first-level element: a stanza, a negotiation element, a stream
    /// error.
    Element(Element),
    /// The peer closed its stream.
    Close,
    /// A root element that is not `<stream:stream>` in the stream
    /// namespace (RFC 6120 §4.9.3.10, `invalid-namespace`), with what its
    /// attributes say: a receiving entity still answers with a header
    /// addressed to the sender before the error (§4.9.1.2).
    NotAStream(Header),
}

/// Why the framing refused input: always a stream error (RFC 6120 §4.9).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FramingError {
    /// The XML broke the rules.
    #[error("{0}")]
    Xml(XmlError),
    /// The root element is not `<stream>` in the stream namespace.
    #[error("the stream's root element is not <stream:stream>")]
    NotAStream,
}

impl FramingError {
    /// The stream error condition to send.
    pub fn condition(&self) -> StreamErrorCondition {
        match self {
            FramingError::Xml(e) => e.condition(),
            FramingError::NotAStream => StreamErrorCondition::InvalidNamespace,
        }
    }
}

/// The framing of one connection's stream in both directions: the reader,
/// and the writer that turns headers, elements and the close into bytes.
#[derive(Debug)]
pub(crate) struct Framing {
    reader: StreamReader,
    writer: StreamWriter,
    content_ns: Namespace,
}

impl Framing {
    /// TCP framing (RFC 6120 §4.2): `<stream:stream>` … `</stream:stream>`
    /// with `content_ns` as the default namespace.
    pub(crate) fn tcp(limits: Limits, content_ns: Namespace) -> Framing {
        Framing { reader: StreamReader::new(limits), writer: StreamWriter::new(), content_ns }
    }

    /// The stream's content namespace (`jabber:client`, …).
    pub(crate) fn content_ns(&self) -> &Namespace {
        &self.content_ns
    }

    /// Takes bytes from the peer; nothing is parsed until
    /// [`Framing::next`].
    pub(crate) fn feed(&mut self, data: &[u8]) {
        self.reader.feed(data);
    }

    /// The next frame, `Ok(None)` when more bytes are needed.
    pub(crate) fn next(&mut self) -> Result<Option<Frame>, FramingError> {
        match self.reader.next_event().map_err(FramingError::Xml)? {
            None => Ok(None),
            Some(StreamEvent::Open(header)) => {
                let is_stream = header.root.is("stream", ns::STREAMS);
                let header = Header::from_event(header);
                Ok(Some(if is_stream { Frame::Open(header) } else { Frame::NotAStream(header) }))
            }
            Some(StreamEvent::Element(element)) => Ok(Some(Frame::Element(element))),
            Some(StreamEvent::Close) => Ok(Some(Frame::Close)),
        }
    }

    /// Bytes received and not yet consumed (at a TLS hand-off this must be
    /// zero, HARDENING 11 and 29).
    pub(crate) fn unconsumed_len(&self) -> usize {
        self.reader.unconsumed_len()
    }

    /// Total bytes consumed so far.
    pub(crate) fn offset(&self) -> u64 {
        self.reader.offset()
    }

    /// A stream restart after SASL (RFC 6120 §4.3.3): a new document,
    /// keeping bytes already received.
    pub(crate) fn restart(&mut self) {
        self.reader.reset();
    }

    /// The restart over TLS: an empty reader, so nothing that arrived in
    /// plaintext survives the hand-off.
    pub(crate) fn restart_after_tls(&mut self) {
        self.reader = StreamReader::new(*self.reader.limits());
    }

    /// Writes our stream header.
    pub(crate) fn write_open(&mut self, out: &mut String, header: &Header) {
        let decls = [("", self.content_ns.clone()), ("stream", Namespace::from_static(ns::STREAMS))];
        self.writer.open(out, &header.to_root("stream", ns::STREAMS), &decls);
    }

    /// Writes a first-level element in the stream's scope.
    pub(crate) fn write_element(&self, out: &mut String, element: &Element) {
        self.writer.write(out, element);
    }

    /// Writes our close tag.
    pub(crate) fn write_close(&self, out: &mut String) {
        self.writer.close(out);
    }

    /// Whether whitespace keepalives are allowed (RFC 6120 §4.6.1).
    pub(crate) fn allows_whitespace(&self) -> bool {
        true
    }
}
