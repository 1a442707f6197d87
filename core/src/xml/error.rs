//! What can go wrong while reading an XML stream, and which RFC 6120
//! stream-error condition each failure calls for.

use alloc::string::String;

use crate::condition::StreamErrorCondition;

/// A fault in the XML a peer sent. Each one is fatal to the stream: the
/// reader stops, and [`XmlError::condition`] names the stream error to send
/// back (RFC 6120 §4.9.3).
///
/// `offset` is the position in the stream (bytes since the reader was
/// created) of the construct at fault, so the same input gives the same
/// error however it was split into chunks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum XmlError {
    /// Bytes that are not UTF-8 (RFC 6120 §11.6).
    #[error("byte {offset}: invalid UTF-8")]
    InvalidUtf8 {
        /// Stream offset of the first invalid byte.
        offset: u64,
    },
    /// An encoding other than UTF-8: a UTF-16 byte order mark or NUL bytes
    /// at the start, or an XML declaration naming another encoding (§11.6).
    #[error("byte {offset}: unsupported encoding ({detail})")]
    UnsupportedEncoding {
        /// Stream offset of the evidence.
        offset: u64,
        /// What gave the encoding away.
        detail: String,
    },
    /// A character XML 1.0 does not allow, raw or as a character reference
    /// (XML 1.0 §2.2).
    #[error("byte {offset}: character U+{ch:04X} is not allowed in XML")]
    IllegalChar {
        /// Stream offset of the construct holding it.
        offset: u64,
        /// The code point.
        ch: u32,
    },
    /// Broken markup (XML 1.0 §2.1 well-formedness).
    #[error("byte {offset}: malformed XML: {detail}")]
    Malformed {
        /// Stream offset of the construct at fault.
        offset: u64,
        /// What is wrong.
        detail: String,
    },
    /// An end tag that does not close the element that is open.
    #[error("byte {offset}: end tag </{found}> does not match <{expected}>")]
    MismatchedEndTag {
        /// Stream offset of the end tag.
        offset: u64,
        /// The qualified name of the open element.
        expected: String,
        /// The qualified name in the end tag.
        found: String,
    },
    /// Two attributes with the same expanded name (XML 1.0 §3.1, XML-NAMES
    /// §6.3), or a prefix declared twice on one element.
    #[error("byte {offset}: duplicate attribute {name}")]
    DuplicateAttribute {
        /// Stream offset of the start tag.
        offset: u64,
        /// The attribute's name as written.
        name: String,
    },
    /// A prefix with no namespace declaration in scope (XML-NAMES §5.1).
    #[error("byte {offset}: namespace prefix {prefix:?} is not declared")]
    UnboundPrefix {
        /// Stream offset of the start or end tag.
        offset: u64,
        /// The undeclared prefix.
        prefix: String,
    },
    /// A reserved prefix (`xml`, `xmlns`) declared or bound wrongly
    /// (XML-NAMES §3).
    #[error("byte {offset}: reserved prefix {prefix:?} misused")]
    ReservedPrefix {
        /// Stream offset of the start tag.
        offset: u64,
        /// The prefix.
        prefix: String,
    },
    /// A reserved namespace name bound to a prefix it does not belong to
    /// (XML-NAMES §3).
    #[error("byte {offset}: reserved namespace {uri:?} bound to another prefix")]
    ReservedNamespace {
        /// Stream offset of the start tag.
        offset: u64,
        /// The namespace name.
        uri: String,
    },
    /// XML that RFC 6120 §11.1 prohibits: a comment, a processing
    /// instruction, a DTD, an entity reference other than the five
    /// predefined ones, or an XML version other than 1.0.
    #[error("byte {offset}: restricted XML: {what}")]
    Restricted {
        /// Stream offset of the construct.
        offset: u64,
        /// Which prohibited feature was used.
        what: Restricted,
    },
    /// A configured limit was exceeded (see [`Limits`](super::Limits)).
    #[error("byte {offset}: {limit}")]
    LimitExceeded {
        /// Stream offset where the counted unit (stanza, tag) began.
        offset: u64,
        /// Which limit, and its value.
        limit: Limit,
    },
    /// Character data directly inside the stream element, where only
    /// whitespace may separate the elements (RFC 6120 §11.7).
    #[error("byte {offset}: text between stanzas")]
    TextOutsideStanza {
        /// Stream offset of the text.
        offset: u64,
    },
}

/// An XML feature RFC 6120 §11.1 prohibits.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Restricted {
    /// `<!-- … -->`
    #[error("comment")]
    Comment,
    /// `<? … ?>`, including an XML declaration anywhere but the start of a
    /// stream.
    #[error("processing instruction")]
    ProcessingInstruction,
    /// `<!DOCTYPE …>` or any other markup declaration.
    #[error("document type declaration")]
    Dtd,
    /// `&name;` for a name other than lt, gt, amp, apos, quot.
    #[error("entity reference &{0};")]
    EntityReference(String),
    /// An XML declaration with a version other than 1.0 (§11.8).
    #[error("XML version {0}")]
    XmlVersion(String),
}

/// A limit the reader enforces; the value is the configured maximum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Limit {
    /// Bytes in one stanza, counted while it is still arriving.
    #[error("stanza larger than {0} bytes")]
    StanzaBytes(usize),
    /// Bytes in one tag (start tag, end tag or XML declaration).
    #[error("tag longer than {0} bytes")]
    TagBytes(usize),
    /// Nesting depth within a stanza.
    #[error("elements nested deeper than {0}")]
    Depth(usize),
    /// Attributes (namespace declarations included) on one element.
    #[error("more than {0} attributes on an element")]
    Attributes(usize),
    /// Namespace declarations in scope at once.
    #[error("more than {0} namespace declarations in scope")]
    NamespaceDeclarations(usize),
}

impl XmlError {
    /// The stream-error condition to close the stream with.
    pub fn condition(&self) -> StreamErrorCondition {
        use StreamErrorCondition as C;
        match self {
            XmlError::InvalidUtf8 { .. }
            | XmlError::IllegalChar { .. }
            | XmlError::Malformed { .. }
            | XmlError::MismatchedEndTag { .. }
            | XmlError::DuplicateAttribute { .. }
            | XmlError::UnboundPrefix { .. } => C::NotWellFormed,
            XmlError::UnsupportedEncoding { .. } => C::UnsupportedEncoding,
            XmlError::ReservedPrefix { .. } => C::BadNamespacePrefix,
            XmlError::ReservedNamespace { .. } => C::InvalidNamespace,
            XmlError::Restricted { .. } => C::RestrictedXml,
            XmlError::LimitExceeded { .. } => C::PolicyViolation,
            XmlError::TextOutsideStanza { .. } => C::InvalidXml,
        }
    }

    /// The stream offset of the fault.
    pub fn offset(&self) -> u64 {
        match self {
            XmlError::InvalidUtf8 { offset }
            | XmlError::UnsupportedEncoding { offset, .. }
            | XmlError::IllegalChar { offset, .. }
            | XmlError::Malformed { offset, .. }
            | XmlError::MismatchedEndTag { offset, .. }
            | XmlError::DuplicateAttribute { offset, .. }
            | XmlError::UnboundPrefix { offset, .. }
            | XmlError::ReservedPrefix { offset, .. }
            | XmlError::ReservedNamespace { offset, .. }
            | XmlError::Restricted { offset, .. }
            | XmlError::LimitExceeded { offset, .. }
            | XmlError::TextOutsideStanza { offset } => *offset,
        }
    }
}
