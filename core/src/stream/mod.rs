//! The XML stream's framing: how a stream opens, carries first-level
//! elements, restarts and closes, on a byte stream (TCP, RFC 6120 §4) or
//! in WebSocket messages (RFC 7395). The roles above see a typed
//! [`Header`], elements and a close, whatever the framing.

use alloc::string::String;

use crate::condition::StreamErrorCondition;
use crate::ns;
use crate::xml::{Element, Limits, Namespace, StreamEvent, StreamReader, StreamWriter, XmlError};

/// How a stream is framed on its transport.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Framing {
    /// One XML document on a byte stream (RFC 6120 §4.2):
    /// `<stream:stream>` … `</stream:stream>`, restarted in place. Input
    /// comes in any pieces, output is a run of bytes
    /// ([`Output::Transmit`](crate::connection::Output::Transmit)).
    #[default]
    Tcp,
    /// XMPP over WebSocket (RFC 7395): every `<open/>`, `<close/>` and
    /// first-level element is a WebSocket text message of its own, a
    /// standalone XML document with all its namespace declarations. Each
    /// `handle_input` call carries exactly one message, and output comes as
    /// one [`Output::Message`](crate::connection::Output::Message) per
    /// message. TLS is the WebSocket's (`wss:`, `TlsMode::Direct`), never
    /// STARTTLS; there are no whitespace keepalives.
    WebSocket,
}

/// A stream header (RFC 6120 §4.7): the attributes of `<stream:stream>`
/// (or of RFC 7395's `<open/>`), read or to be written.
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
        let content_ns = header.default_ns().cloned();
        Header { content_ns, ..Header::from_attributes(&header.root) }
    }

    /// The attributes of a header element (`<stream:stream>` or `<open/>`).
    fn from_attributes(root: &Element) -> Header {
        let attr = |name: &str| root.attr(name).map(String::from);
        Header {
            from: attr("from"),
            to: attr("to"),
            id: attr("id"),
            version: attr("version"),
            lang: root.attr_ns(ns::XML, "lang").map(String::from),
            content_ns: None,
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
    /// (WebSocket) The peer closed its stream and names another endpoint to
    /// connect to (RFC 7395 §3.6.1, `see-other-uri`).
    SeeOtherUri(String),
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
    /// (WebSocket) A message that is not one complete XML element (RFC
    /// 7395 §3.3.3).
    #[error("not one complete element per WebSocket message: {0}")]
    Message(&'static str),
}

impl FramingError {
    /// The stream error condition to send.
    pub fn condition(&self) -> StreamErrorCondition {
        match self {
            FramingError::Xml(e) => e.condition(),
            FramingError::Message(_) => StreamErrorCondition::BadFormat,
        }
    }
}

/// The framing of one connection's stream in both directions: the reader,
/// and the writer that turns headers, elements and the close into bytes.
#[derive(Debug)]
pub(crate) struct Framer {
    framing: Framing,
    reader: StreamReader,
    writer: StreamWriter,
    content_ns: Namespace,
    /// (WebSocket) A message is fed and not yet read to its end.
    in_message: bool,
    /// (WebSocket) Elements read from the current message.
    elements_in_message: u32,
}

/// (WebSocket) An XML declaration leading a message: version 1.0, UTF-8.
fn check_declaration(declaration: &[u8]) -> Result<(), FramingError> {
    let text =
        core::str::from_utf8(declaration).map_err(|_| FramingError::Message("a declaration that is not UTF-8"))?;
    match xmlparser::Tokenizer::from(text).next() {
        Some(Ok(xmlparser::Token::Declaration { version, encoding, .. }))
            if version.as_str() == "1.0" && encoding.is_none_or(|e| e.as_str().eq_ignore_ascii_case("UTF-8")) =>
        {
            Ok(())
        }
        _ => Err(FramingError::Message("an XML declaration other than version 1.0 in UTF-8")),
    }
}

/// (WebSocket) The document every message is read inside: no namespace
/// declarations, so each message must carry its own (RFC 7395 §3.3.3).
const MESSAGE_ROOT: &[u8] = b"<messages>";

impl Framer {
    /// A framer of `framing` for a stream with `content_ns` (`jabber:client`,
    /// …) as its content namespace.
    pub(crate) fn new(framing: Framing, limits: Limits, content_ns: Namespace) -> Framer {
        let mut framer = Framer {
            framing,
            reader: StreamReader::new(limits),
            writer: StreamWriter::new(),
            content_ns,
            in_message: false,
            elements_in_message: 0,
        };
        framer.start_reader();
        framer
    }

    fn start_reader(&mut self) {
        self.reader = StreamReader::new(*self.reader.limits());
        if self.framing == Framing::WebSocket {
            self.reader.feed(MESSAGE_ROOT);
        }
    }

    /// Frees the reader's empty buffers (the connection is idle).
    pub(crate) fn release_idle(&mut self) {
        self.reader.release_idle();
    }

    /// True when input and output come in messages (WebSocket).
    pub(crate) fn is_message_based(&self) -> bool {
        self.framing == Framing::WebSocket
    }

    /// The stream's content namespace (`jabber:client`, …).
    pub(crate) fn content_ns(&self) -> &Namespace {
        &self.content_ns
    }

    /// (TCP) Takes bytes from the peer; nothing is parsed until
    /// [`Framer::next`].
    pub(crate) fn feed(&mut self, data: &[u8]) {
        self.reader.feed(data);
    }

    /// (WebSocket) Takes one whole message from the peer. It must begin
    /// with `<` (RFC 7395 §3.3.3; an XML declaration first is tolerated),
    /// and must hold exactly one element, which [`Framer::next`] checks.
    pub(crate) fn feed_message(&mut self, message: &[u8]) -> Result<(), FramingError> {
        let mut message = message;
        let declaration = message.starts_with(b"<?xml") && message.get(5).is_some_and(|b| b.is_ascii_whitespace());
        if declaration && let Some(end) = message.windows(2).position(|w| w == b"?>") {
            // NOT RECOMMENDED, but allowed: a declaration of version 1.0
            // in UTF-8, as on a TCP stream (RFC 6120 §11.5, §11.6).
            check_declaration(&message[..end + 2])?;
            message = &message[end + 2..];
            let text = message.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(message.len());
            message = &message[text..];
        }
        if message.first() != Some(&b'<') {
            return Err(FramingError::Message("a message must begin with '<' (no whitespace keepalives)"));
        }
        self.reader.feed(message);
        self.in_message = true;
        self.elements_in_message = 0;
        Ok(())
    }

    /// (WebSocket) A message is fed and not yet read to its end.
    pub(crate) fn message_pending(&self) -> bool {
        self.in_message
    }

    /// The next frame, `Ok(None)` when more input is needed.
    pub(crate) fn next(&mut self) -> Result<Option<Frame>, FramingError> {
        match self.framing {
            Framing::Tcp => self.next_tcp(),
            Framing::WebSocket => self.next_message_frame(),
        }
    }

    fn next_tcp(&mut self) -> Result<Option<Frame>, FramingError> {
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

    fn next_message_frame(&mut self) -> Result<Option<Frame>, FramingError> {
        loop {
            let event = self.reader.next_event().map_err(FramingError::Xml)?;
            let element = match event {
                // The document the messages are read in.
                Some(StreamEvent::Open(_)) => continue,
                Some(StreamEvent::Element(element)) => element,
                // An end tag for the document: no message may hold one.
                Some(StreamEvent::Close) => return Err(FramingError::Message("an end tag without its element")),
                None => {
                    if self.in_message {
                        if self.reader.in_stanza() || self.reader.unconsumed_len() > 0 {
                            return Err(FramingError::Message("the message ends inside an element"));
                        }
                        if self.elements_in_message == 0 {
                            return Err(FramingError::Message("a message without an element"));
                        }
                        self.in_message = false;
                    }
                    return Ok(None);
                }
            };
            self.elements_in_message += 1;
            // Checked before the element takes effect: nothing may follow
            // it in its message (found in review: the first of two elements
            // was acted on before the second was seen).
            if self.elements_in_message > 1 || !self.in_message || !self.reader.rest_is_blank() {
                return Err(FramingError::Message("more than one element in one message"));
            }
            return Ok(Some(match (element.name(), element.ns().as_str() == ns::FRAMING) {
                ("open", true) => Frame::Open(Header::from_attributes(&element)),
                ("close", true) => match element.attr("see-other-uri") {
                    Some(uri) => Frame::SeeOtherUri(uri.into()),
                    None => Frame::Close,
                },
                // RFC 7395 §3.3.2: headers in another namespace.
                ("open" | "close", false) => Frame::NotAStream(Header::from_attributes(&element)),
                _ => Frame::Element(element),
            }));
        }
    }

    /// Whether the bytes received and not yet consumed are only XML
    /// whitespace (at a TLS hand-off anything else is injected plaintext,
    /// HARDENING 11 and 29).
    pub(crate) fn unconsumed_is_whitespace(&self) -> bool {
        self.reader.unconsumed_is_whitespace()
    }

    /// Total bytes consumed so far.
    pub(crate) fn offset(&self) -> u64 {
        self.reader.offset()
    }

    /// A stream restart after SASL (RFC 6120 §4.3.3; RFC 7395 §3.7): a new
    /// document on TCP, keeping bytes already received; nothing to do for
    /// WebSocket, where the peer's next `<open/>` starts the new stream.
    pub(crate) fn restart(&mut self) {
        if self.framing == Framing::Tcp {
            self.reader.reset();
        }
    }

    /// The restart over TLS: an empty reader, so nothing that arrived in
    /// plaintext survives the hand-off.
    pub(crate) fn restart_after_tls(&mut self) {
        self.in_message = false;
        self.start_reader();
    }

    /// Writes our stream header.
    pub(crate) fn write_open(&mut self, out: &mut String, header: &Header) {
        match self.framing {
            Framing::Tcp => {
                let decls = [("", self.content_ns.clone()), ("stream", Namespace::from_static(ns::STREAMS))];
                self.writer.open(out, &header.to_root("stream", ns::STREAMS), &decls);
            }
            Framing::WebSocket => self.writer.write(out, &header.to_root("open", ns::FRAMING)),
        }
    }

    /// Writes a first-level element in the stream's scope (TCP) or as a
    /// document of its own, declaring its namespaces (WebSocket).
    pub(crate) fn write_element(&self, out: &mut String, element: &Element) {
        self.writer.write(out, element);
    }

    /// Writes our close tag (TCP) or `<close/>` (WebSocket).
    pub(crate) fn write_close(&self, out: &mut String) {
        match self.framing {
            Framing::Tcp => self.writer.close(out),
            Framing::WebSocket => self.writer.write(out, &Element::new("close", ns::FRAMING)),
        }
    }

    /// Whether whitespace keepalives are allowed (RFC 6120 §4.6.1; never
    /// over WebSocket, RFC 7395 §3.8).
    pub(crate) fn allows_whitespace(&self) -> bool {
        self.framing == Framing::Tcp
    }
}
