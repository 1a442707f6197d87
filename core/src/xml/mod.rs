//! XML for XMPP streams (RFC 6120 §11, XML 1.0, XML-NAMES): an
//! incremental reader that turns bytes into a stream header, complete
//! first-level elements and a stream close; the element model; and a writer
//! that can only produce well-formed XML.
//!
//! This layer knows XML, not XMPP: it does not care what the root element
//! is called or which namespaces stanzas use. It does know which RFC 6120
//! stream-error condition each of its failures calls for
//! ([`XmlError::condition`]).

/// Matches `$text` against string constants and returns the matching
/// constant itself (`'static`): the lookup behind the tables of common
/// names, values and namespaces.
macro_rules! known_static {
    ($text:ident; $($constant:literal)*) => {
        match $text {
            $($constant => Some($constant),)*
            _ => None,
        }
    };
}
pub(crate) use known_static;

mod chars;
mod element;
mod error;
mod name;
mod namespace;
mod reader;
mod scan;
mod writer;

pub use chars::InvalidXml;
pub use element::{Attribute, Attributes, CharData, Element, Node, NodeRef, Nodes};
pub use error::{Limit, Restricted, XmlError};
pub use namespace::{Namespace, XML_NS, XMLNS_NS};
pub(crate) use reader::is_xml_whitespace;
pub use reader::{Limits, StreamEvent, StreamHeader, StreamReader};
pub use writer::StreamWriter;

#[cfg(test)]
mod tests;
