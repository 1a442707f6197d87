//! XML stanzas (RFC 6120 §8) with the RFC 6121 payloads of messages and
//! presences, stanza errors (§8.3) and stream errors (§4.9).
//!
//! Stanza types are plain data with public fields. Reading is lenient
//! where the RFCs allow it: an unknown child element never fails a stanza
//! (it is kept, in order, in `payloads`), an unknown message type is
//! `normal` (RFC 6121 §5.2.2). It is strict where they require it: a JID
//! that does not parse, an IQ without an id or with the wrong number of
//! children, a presence type that does not exist (RFC 6121 §4.7.1) are
//! [`StanzaParseError`]s that name the stanza error to answer with.
//!
//! Writing refuses characters XML cannot carry ([`InvalidXml`]).
//! Stanzas are written in the content namespace the caller names
//! (`jabber:client`, `jabber:server`, `jabber:component:accept`).

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::condition::StanzaErrorCondition;
use crate::jid::{Jid, JidError};
use crate::ns;
use crate::xml::{Element, InvalidXml, Namespace};

mod error;
mod iq;
mod message;
mod presence;
mod stream_error;

pub use error::StanzaError;
pub use iq::{Iq, IqKind};
pub use message::{Message, MessageType, Thread};
pub use presence::{Presence, PresenceType, Show};
pub use stream_error::StreamError;

/// Human-readable text with its language: a message body or subject, a
/// presence status, an error text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Text {
    /// The `xml:lang` of this text, if it has its own.
    pub lang: Option<String>,
    /// The text itself.
    pub text: String,
}

impl Text {
    /// Text without a language of its own.
    pub fn new(text: impl Into<String>) -> Text {
        Text { lang: None, text: text.into() }
    }
}

/// Any of the three stanza kinds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stanza {
    /// `<message/>`
    Message(Message),
    /// `<presence/>`
    Presence(Presence),
    /// `<iq/>`
    Iq(Iq),
}

/// An element refused as a stanza, given back intact with the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    /// Why it was refused.
    pub error: StanzaParseError,
    /// The element, untouched.
    pub element: Element,
}

impl Rejected {
    pub(crate) fn new(error: StanzaParseError, element: Element) -> Box<Rejected> {
        Box::new(Rejected { error, element })
    }
}

/// Why an element is not a valid stanza. Each names the stanza error to
/// answer with (RFC 6120 §8.3.3) via [`StanzaParseError::condition`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StanzaParseError {
    /// Not `message`, `presence` or `iq` in a content namespace.
    #[error("<{name}/> in {ns:?} is not a stanza")]
    NotAStanza {
        /// The element's local name.
        name: String,
        /// Its namespace.
        ns: String,
    },
    /// A `to`, `from` (or other JID-valued attribute) that is not a JID.
    #[error("attribute {attr}: {error}")]
    InvalidJid {
        /// The attribute.
        attr: &'static str,
        /// Why it is not a JID.
        error: JidError,
    },
    /// An IQ without an `id` (RFC 6120 §8.2.3).
    #[error("IQ without an id")]
    MissingId,
    /// An IQ without a `type`.
    #[error("IQ without a type")]
    MissingType,
    /// A `type` value the RFC does not define (for IQ and presence).
    #[error("invalid type {0:?}")]
    InvalidType(String),
    /// A get or set IQ without exactly one child, or a result with more
    /// than one (RFC 6120 §8.2.3).
    #[error("IQ of type {kind} with {children} child elements")]
    IqChildren {
        /// The IQ type.
        kind: &'static str,
        /// How many child elements it had.
        children: usize,
    },
}

impl StanzaParseError {
    /// The stanza error condition to answer with.
    pub fn condition(&self) -> StanzaErrorCondition {
        match self {
            StanzaParseError::InvalidJid { .. } => StanzaErrorCondition::JidMalformed,
            _ => StanzaErrorCondition::BadRequest,
        }
    }
}

/// True for the namespaces stanzas live in (RFC 6120 §4.8.3, XEP-0114).
pub fn is_content_namespace(ns: &str) -> bool {
    matches!(ns, ns::CLIENT | ns::SERVER | ns::COMPONENT_ACCEPT)
}

impl Stanza {
    /// Reads a first-level element as a stanza.
    pub fn from_element(element: Element) -> Result<Stanza, StanzaParseError> {
        Stanza::parse(element).map_err(|rejected| rejected.error)
    }

    /// Like [`from_element`](Stanza::from_element), but a refused element
    /// comes back with the error, untouched, for reporting or answering.
    pub fn parse(element: Element) -> Result<Stanza, Box<Rejected>> {
        if !is_content_namespace(element.ns()) {
            return Err(Rejected::new(not_a_stanza(&element), element));
        }
        match element.name() {
            "message" => Message::parse(element).map(Stanza::Message),
            "presence" => Presence::parse(element).map(Stanza::Presence),
            "iq" => Iq::parse(element).map(Stanza::Iq),
            _ => Err(Rejected::new(not_a_stanza(&element), element)),
        }
    }

    /// Writes the stanza in content namespace `ns`.
    pub fn to_element(&self, ns: &Namespace) -> Result<Element, InvalidXml> {
        match self {
            Stanza::Message(m) => m.to_element(ns),
            Stanza::Presence(p) => p.to_element(ns),
            Stanza::Iq(iq) => iq.to_element(ns),
        }
    }

    /// The stanza's `to`.
    pub fn to(&self) -> Option<&Jid> {
        match self {
            Stanza::Message(m) => m.to.as_ref(),
            Stanza::Presence(p) => p.to.as_ref(),
            Stanza::Iq(iq) => iq.to.as_ref(),
        }
    }

    /// The stanza's `from`.
    pub fn from(&self) -> Option<&Jid> {
        match self {
            Stanza::Message(m) => m.from.as_ref(),
            Stanza::Presence(p) => p.from.as_ref(),
            Stanza::Iq(iq) => iq.from.as_ref(),
        }
    }

    /// The stanza's `id`.
    pub fn id(&self) -> Option<&str> {
        match self {
            Stanza::Message(m) => m.id.as_deref(),
            Stanza::Presence(p) => p.id.as_deref(),
            Stanza::Iq(iq) => Some(&iq.id),
        }
    }
}

fn not_a_stanza(element: &Element) -> StanzaParseError {
    StanzaParseError::NotAStanza { name: element.name().into(), ns: element.ns().to_string() }
}

// ----- shared by the three stanza kinds -----

/// The attributes all stanzas share (RFC 6120 §8.1).
struct Common {
    to: Option<Jid>,
    from: Option<Jid>,
    id: Option<String>,
    lang: Option<String>,
}

fn jid_attr(element: &Element, attr: &'static str) -> Result<Option<Jid>, StanzaParseError> {
    element.attr(attr).map(|v| Jid::new(v).map_err(|error| StanzaParseError::InvalidJid { attr, error })).transpose()
}

fn read_common(element: &Element) -> Result<Common, StanzaParseError> {
    Ok(Common {
        to: jid_attr(element, "to")?,
        from: jid_attr(element, "from")?,
        id: element.attr("id").map(String::from),
        lang: element.attr_ns(ns::XML, "lang").map(String::from),
    })
}

fn write_common(
    element: &mut Element,
    to: Option<&Jid>,
    from: Option<&Jid>,
    id: Option<&str>,
    lang: Option<&str>,
) -> Result<(), InvalidXml> {
    if let Some(to) = to {
        element.set_attr("to", to.as_str())?;
    }
    if let Some(from) = from {
        element.set_attr("from", from.as_str())?;
    }
    if let Some(id) = id {
        element.set_attr("id", id)?;
    }
    if let Some(lang) = lang {
        element.set_attr_ns(Namespace::XML, "lang", lang)?;
    }
    Ok(())
}

/// Reads a `<body/>`-like child as [`Text`].
fn read_text(element: &Element) -> Text {
    Text { lang: element.attr_ns(ns::XML, "lang").map(String::from), text: element.text().into_owned() }
}

/// Writes [`Text`] as a child called `name`.
fn text_element(name: &'static str, ns: &Namespace, text: &Text) -> Result<Element, InvalidXml> {
    let mut child = Element::new(name, ns.clone());
    if let Some(lang) = &text.lang {
        child.set_attr_ns(Namespace::XML, "lang", lang.as_str())?;
    }
    child.append_text(&text.text)?;
    Ok(child)
}

/// Picks the text in `lang` (or without a language of its own), else the
/// first: what a reader expects `body()` to mean (RFC 6121 §5.2.3).
fn preferred<'a>(texts: &'a [Text], lang: Option<&str>) -> Option<&'a str> {
    texts
        .iter()
        .find(|t| t.lang.is_none() || t.lang.as_deref() == lang)
        .or_else(|| texts.first())
        .map(|t| t.text.as_str())
}

/// Moves the children out of `element`: those the stanza kind knows (in
/// its own namespace and named in `known`) go to `on_known`, the rest are
/// kept as payloads, in order.
fn split_children(
    element: &mut Element,
    known: &[&str],
    mut on_known: impl FnMut(Element) -> Option<Element>,
) -> Vec<Element> {
    let ns = element.ns().clone();
    let mut payloads = Vec::new();
    for node in element.take_nodes() {
        if let crate::xml::Node::Element(child) = node {
            if child.ns() == &ns && known.contains(&child.name()) {
                if let Some(unused) = on_known(child) {
                    payloads.push(unused);
                }
            } else {
                payloads.push(child);
            }
        }
    }
    payloads
}

#[cfg(test)]
mod tests;
