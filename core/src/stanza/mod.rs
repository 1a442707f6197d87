//! XML stanzas (RFC 6120 §8) with the RFC 6121 payloads of messages and
//! presences, stanza errors (§8.3) and stream errors (§4.9).
//!
//! A stanza *is* its element: [`Message`], [`Presence`] and [`Iq`] keep the
//! element as it arrived (or as it was built), and their accessors are
//! views onto it. Nothing the library does not model is lost: an unknown
//! message type, attributes in other namespaces and the order of children
//! all survive, so a server can route a stanza unchanged but for the
//! addresses it stamps (RFC 6120 §8.4). The addresses are parsed once and
//! kept beside the element.
//!
//! Reading is lenient where the RFCs allow it (an unknown child never fails
//! a stanza; an unknown message type reads as `normal`, RFC 6121 §5.2.2)
//! and strict where they require it: a JID that does not parse, an IQ
//! without an id or with the wrong number of children, a presence type
//! that does not exist (RFC 6121 §4.7.1) are [`StanzaParseError`]s that name
//! the stanza error to answer with.
//!
//! Building checks every name and character as it goes ([`InvalidXml`]), so
//! a stanza can always be written; writing borrows the element (no copy).
//! Stanzas are built in `jabber:client`; a connection moves them into its
//! stream's content namespace ([`Stanza::set_content_ns`]) when they are
//! sent.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::string::{String, ToString};

use crate::condition::StanzaErrorCondition;
use crate::jid::{Jid, JidError};
use crate::ns;
use crate::shared_str::Str;
use crate::xml::{Element, InvalidXml, Namespace};

mod error;
mod iq;
mod message;
mod presence;
mod stream_error;

pub use error::StanzaError;
pub use iq::{Iq, IqType};
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
        Stanza::parse_with(element, Reading::default())
    }

    /// [`parse`](Stanza::parse), knowing a JID the stream often names (the
    /// client's own address, in the `to` of nearly every stanza it gets):
    /// a `to` or `from` that is its very text is that JID, shared, not
    /// prepared again.
    pub(crate) fn parse_knowing(element: Element, known: Option<&Jid>) -> Result<Stanza, Box<Rejected>> {
        Stanza::parse_with(element, Reading { known, from_overwritten: false })
    }

    /// [`parse`](Stanza::parse), for a server that overwrites the `from`
    /// of every stanza its client sends (RFC 6120 §8.1.2.1: it MUST add or
    /// override it): that `from` is not read at all (no preparation of an
    /// address about to be replaced, and no error for a malformed one).
    pub(crate) fn parse_overwriting_from(element: Element) -> Result<Stanza, Box<Rejected>> {
        Stanza::parse_with(element, Reading { known: None, from_overwritten: true })
    }

    fn parse_with(element: Element, reading: Reading<'_>) -> Result<Stanza, Box<Rejected>> {
        if !is_content_namespace(element.ns()) {
            return Err(Rejected::new(not_a_stanza(&element), element));
        }
        match element.name() {
            "message" => Message::parse(element, reading).map(Stanza::Message),
            "presence" => Presence::parse(element, reading).map(Stanza::Presence),
            "iq" => Iq::parse(element, reading).map(Stanza::Iq),
            _ => Err(Rejected::new(not_a_stanza(&element), element)),
        }
    }

    /// The element, as it will be written.
    pub fn element(&self) -> &Element {
        &self.head().element
    }

    /// The element, given up.
    pub fn into_element(self) -> Element {
        match self {
            Stanza::Message(m) => m.into_element(),
            Stanza::Presence(p) => p.into_element(),
            Stanza::Iq(iq) => iq.into_element(),
        }
    }

    /// The stanza's `to`.
    pub fn to(&self) -> Option<&Jid> {
        self.head().to.as_ref()
    }

    /// The stanza's `from`.
    pub fn from(&self) -> Option<&Jid> {
        self.head().from.as_ref()
    }

    /// The stanza's `id`.
    pub fn id(&self) -> Option<&str> {
        self.head().element.attr("id")
    }

    /// Sets (or, with `None`, removes) `to`.
    pub fn set_to(&mut self, to: Option<Jid>) {
        self.head_mut().set_to(to);
    }

    /// Sets (or removes) `from`: what a server stamps (RFC 6120 §8.1.2.1).
    pub fn set_from(&mut self, from: Option<Jid>) {
        self.head_mut().set_from(from);
    }

    /// Moves the stanza into content namespace `ns` (`jabber:client`,
    /// `jabber:server`, `jabber:component:accept`), with every descendant
    /// that was in its old content namespace (RFC 6120 §4.8.3): what a
    /// stream does with a stanza it sends.
    pub fn set_content_ns(&mut self, ns: &Namespace) {
        self.head_mut().set_content_ns(ns);
    }

    fn head(&self) -> &Head {
        match self {
            Stanza::Message(m) => &m.head,
            Stanza::Presence(p) => &p.head,
            Stanza::Iq(iq) => &iq.head,
        }
    }

    fn head_mut(&mut self) -> &mut Head {
        match self {
            Stanza::Message(m) => &mut m.head,
            Stanza::Presence(p) => &mut p.head,
            Stanza::Iq(iq) => &mut iq.head,
        }
    }
}

impl From<Message> for Stanza {
    fn from(m: Message) -> Stanza {
        Stanza::Message(m)
    }
}
impl From<Presence> for Stanza {
    fn from(p: Presence) -> Stanza {
        Stanza::Presence(p)
    }
}
impl From<Iq> for Stanza {
    fn from(iq: Iq) -> Stanza {
        Stanza::Iq(iq)
    }
}

fn not_a_stanza(element: &Element) -> StanzaParseError {
    StanzaParseError::NotAStanza { name: element.name().into(), ns: element.ns().to_string() }
}

// ----- shared by the three stanza kinds -----

/// What every stanza is: its element, with the addresses parsed once
/// (RFC 6120 §8.1.1, §8.1.2).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Head {
    element: Element,
    to: Option<Jid>,
    from: Option<Jid>,
}

impl Head {
    /// A new, empty stanza element in `jabber:client`.
    fn new(name: &'static str) -> Head {
        Head { element: Element::new(name, ns::CLIENT), to: None, from: None }
    }

    /// Checks the addresses of an element read off the wire (`to` and
    /// `from` as it holds them: each kind reads its attributes in one pass).
    fn read(element: Element, [to, from]: [Option<Str>; 2], reading: Reading<'_>) -> Result<Head, Box<Rejected>> {
        let to = jid_attr(to, "to", reading.known);
        let from = match reading.from_overwritten {
            true => Ok(None),
            false => jid_attr(from, "from", reading.known),
        };
        match (to, from) {
            (Ok(to), Ok(from)) => Ok(Head { element, to, from }),
            (Err(e), _) | (_, Err(e)) => Err(Rejected::new(e, element)),
        }
    }

    fn set_to(&mut self, to: Option<Jid>) {
        set_jid_attr(&mut self.element, "to", to.as_ref());
        self.to = to;
        self.order_attrs();
    }

    fn set_from(&mut self, from: Option<Jid>) {
        set_jid_attr(&mut self.element, "from", from.as_ref());
        self.from = from;
        self.order_attrs();
    }

    fn set_id(&mut self, id: Option<&str>) -> Result<(), InvalidXml> {
        match id {
            Some(id) => self.element.set_attr("id", id)?,
            None => {
                self.element.remove_attr("id");
            }
        }
        self.order_attrs();
        Ok(())
    }

    /// Keeps the addressing attributes first, in the order RFC 6120's
    /// examples write them (`to`, `from`, `id`, `type`), so a stanza reads
    /// the same however it was built.
    fn order_attrs(&mut self) {
        self.element.sort_attrs_by_key(|a| match (a.ns().is_none(), a.name()) {
            (true, "to") => 0,
            (true, "from") => 1,
            (true, "id") => 2,
            (true, "type") => 3,
            _ => 4,
        });
    }

    fn set_lang(&mut self, lang: Option<&str>) -> Result<(), InvalidXml> {
        match lang {
            Some(lang) => self.element.set_attr_ns(Namespace::XML, "lang", lang),
            None => {
                self.element.remove_attr_ns(ns::XML, "lang");
                Ok(())
            }
        }
    }

    fn lang(&self) -> Option<&str> {
        self.element.attr_ns(ns::XML, "lang")
    }

    fn content_ns(&self) -> &Namespace {
        self.element.ns()
    }

    fn set_content_ns(&mut self, ns: &Namespace) {
        if self.element.ns() != ns {
            let old = self.element.ns().clone();
            self.element.rename_namespace(&old, ns);
        }
    }

    /// The stanza's own children (in its content namespace) named `name`.
    fn own_children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + Clone + 'a {
        let ns = self.content_ns().as_str();
        self.element.children().filter(move |c| c.name() == name && c.ns() == ns)
    }

    /// Appends a child in the stanza's namespace holding `text`.
    fn push_text_child(&mut self, name: &'static str, lang: Option<&str>, text: &str) -> Result<(), InvalidXml> {
        let child = text_element(name, self.content_ns(), lang, text)?;
        self.element.append_child(child);
        Ok(())
    }

    /// Removes the stanza's own children named `name` with language `lang`
    /// (`None`: those without a language of their own).
    fn remove_text_children(&mut self, name: &str, lang: Option<&str>) {
        let ns = self.content_ns().clone();
        self.element.retain_children(|c| !(c.is(name, &ns) && c.attr_ns(ns::XML, "lang") == lang));
    }
}

/// How a connection reads the addresses of the stanzas it receives.
#[derive(Clone, Copy, Default)]
pub(crate) struct Reading<'a> {
    /// A JID the stream often names: an address that is its very text is
    /// that JID, not prepared again.
    known: Option<&'a Jid>,
    /// The `from` is overwritten right after (a server's stamp): not read.
    from_overwritten: bool,
}

/// The JID an address attribute holds (`value`, as the element held it).
fn jid_attr(value: Option<Str>, attr: &'static str, known: Option<&Jid>) -> Result<Option<Jid>, StanzaParseError> {
    let read = |value: Str| match known {
        // A prepared JID prepares to itself.
        Some(jid) if jid.as_str() == &*value => Ok(jid.clone()),
        _ => Jid::from_value(value).map_err(|error| StanzaParseError::InvalidJid { attr, error }),
    };
    value.map(read).transpose()
}

fn set_jid_attr(element: &mut Element, attr: &'static str, jid: Option<&Jid>) {
    match jid {
        // A parsed JID holds only characters XML can carry; its text is
        // shared, not copied.
        Some(jid) => element.set_attr_stored(attr, jid.shared_text().clone()),
        None => {
            element.remove_attr(attr);
        }
    }
}

/// Reads a `<body/>`-like child as [`Text`].
fn read_text(element: &Element) -> Text {
    Text { lang: element.attr_ns(ns::XML, "lang").map(String::from), text: element.text().into_owned() }
}

/// A child called `name` holding `text`, with its own `xml:lang` if given.
fn text_element(name: &'static str, ns: &Namespace, lang: Option<&str>, text: &str) -> Result<Element, InvalidXml> {
    let mut child = Element::new(name, ns.clone());
    if let Some(lang) = lang {
        child.set_attr_ns(Namespace::XML, "lang", lang)?;
    }
    child.append_text(text)?;
    Ok(child)
}

/// Picks the child in `lang` (or without a language of its own), else the
/// first: what a reader expects `body()` to mean (RFC 6121 §5.2.3).
fn preferred<'a>(mut children: impl Iterator<Item = &'a Element> + Clone, lang: Option<&str>) -> Option<&'a Element> {
    children
        .clone()
        .find(|c| {
            let own = c.attr_ns(ns::XML, "lang");
            own.is_none() || own == lang
        })
        .or_else(|| children.next())
}

/// The direct text of `element`, borrowed when it is one run (as a body
/// usually is).
fn text_of(element: &Element) -> Cow<'_, str> {
    element.text()
}

/// Whether `node` is an element the stanza kind models itself.
fn is_modelled(element: &Element, ns: &Namespace, names: &[&str]) -> bool {
    element.ns() == ns && names.contains(&element.name())
}

/// Accessors every stanza kind shares, written once.
macro_rules! stanza_head {
    ($kind:ident) => {
        impl $kind {
            /// Reads the element (in any content namespace), checking what
            /// RFC 6120 §8 requires of this kind of stanza.
            pub fn from_element(element: Element) -> Result<Self, StanzaParseError> {
                Self::parse(element, $crate::stanza::Reading::default()).map_err(|rejected| rejected.error)
            }
            /// The element, as it will be written.
            pub fn element(&self) -> &Element {
                &self.head.element
            }
            /// The element, given up.
            pub fn into_element(self) -> Element {
                self.head.element
            }
            /// The intended recipient.
            pub fn to(&self) -> Option<&Jid> {
                self.head.to.as_ref()
            }
            /// The sender (stamped by the sender's server).
            pub fn from(&self) -> Option<&Jid> {
                self.head.from.as_ref()
            }
            /// The stanza's `id`.
            pub fn id(&self) -> Option<&str> {
                self.head.element.attr("id")
            }
            /// The stanza's default language (`xml:lang`).
            pub fn lang(&self) -> Option<&str> {
                self.head.lang()
            }
            /// Sets (or, with `None`, removes) `to`.
            pub fn set_to(&mut self, to: Option<Jid>) {
                self.head.set_to(to);
            }
            /// Sets (or removes) `from`.
            pub fn set_from(&mut self, from: Option<Jid>) {
                self.head.set_from(from);
            }
            /// Sets (or removes) the `id`; refused if XML cannot carry it.
            pub fn set_id(&mut self, id: Option<&str>) -> Result<(), InvalidXml> {
                self.head.set_id(id)
            }
            /// Sets (or removes) `xml:lang`.
            pub fn set_lang(&mut self, lang: Option<&str>) -> Result<(), InvalidXml> {
                self.head.set_lang(lang)
            }
            /// [`set_to`](Self::set_to), for building in one expression.
            pub fn with_to(mut self, to: Jid) -> Self {
                self.set_to(Some(to));
                self
            }
            /// [`set_from`](Self::set_from), for building in one expression.
            pub fn with_from(mut self, from: Jid) -> Self {
                self.set_from(Some(from));
                self
            }
            /// [`set_id`](Self::set_id), for building in one expression.
            pub fn with_id(mut self, id: &str) -> Result<Self, InvalidXml> {
                self.set_id(Some(id))?;
                Ok(self)
            }
            /// Appends a payload element (an extension, in its own
            /// namespace), after what is there.
            pub fn push_payload(&mut self, payload: Element) {
                self.head.element.append_child(payload);
            }
            /// [`push_payload`](Self::push_payload), for building in one
            /// expression.
            pub fn with_payload(mut self, payload: Element) -> Self {
                self.push_payload(payload);
                self
            }
        }

        impl From<$kind> for Element {
            fn from(stanza: $kind) -> Element {
                stanza.into_element()
            }
        }

        impl core::fmt::Display for $kind {
            /// The stanza as XML (with its namespace declared).
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                core::fmt::Display::fmt(&self.head.element, f)
            }
        }
    };
}
use stanza_head;

#[cfg(test)]
mod tests;
