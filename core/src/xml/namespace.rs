//! Namespace names (XML-NAMES §2): cheap to clone, compared by value.

use alloc::string::String;
use alloc::sync::Arc;
use core::fmt;
use core::hash::{Hash, Hasher};
use core::ops::Deref;

use super::chars::{InvalidXml, check_text};

/// A namespace name (a URI), or the empty string for "no namespace".
///
/// Every element the reader builds carries its resolved namespace, so the
/// type is made to be cloned freely: names written in code are `'static`
/// strings, names read off the wire are shared between all the elements in
/// their scope.
#[derive(Clone)]
pub struct Namespace(Repr);

#[derive(Clone)]
enum Repr {
    Static(&'static str),
    Shared(Arc<str>),
}

/// The namespace bound to the `xml` prefix (XML-NAMES §3), home of
/// `xml:lang`.
pub const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
/// The namespace of namespace declarations themselves (XML-NAMES §3); it can
/// never qualify an element or an ordinary attribute.
pub const XMLNS_NS: &str = "http://www.w3.org/2000/xmlns/";

impl Namespace {
    /// No namespace: for unqualified attributes, and elements under `xmlns=''`.
    pub const NONE: Namespace = Namespace(Repr::Static(""));
    /// The `xml` prefix's namespace.
    pub const XML: Namespace = Namespace(Repr::Static(XML_NS));

    /// A namespace named by a string constant.
    ///
    /// # Panics
    ///
    /// If `uri` holds a character XML cannot carry. Only constants reach
    /// this constructor, so a panic here is a typo in the program; use
    /// [`Namespace::new`] for names that come from data.
    pub const fn from_static(uri: &'static str) -> Namespace {
        let bytes = uri.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            assert!(b >= 0x20 || b == b'\t' || b == b'\n' || b == b'\r', "control character in a namespace constant");
            i += 1;
        }
        Namespace(Repr::Static(uri))
    }

    /// A namespace named by run-time data; refused if XML cannot carry it.
    pub fn new(uri: impl Into<String>) -> Result<Namespace, InvalidXml> {
        let uri = uri.into();
        check_text(&uri)?;
        Ok(Namespace::from_checked(uri.as_str()))
    }

    /// Wraps a name already known to hold only legal characters.
    pub(crate) fn from_checked(uri: &str) -> Namespace {
        if uri.is_empty() {
            Namespace::NONE
        } else if uri == XML_NS {
            Namespace::XML
        } else {
            Namespace(Repr::Shared(Arc::from(uri)))
        }
    }

    /// The namespace name as a string.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Static(s) => s,
            Repr::Shared(s) => s,
        }
    }

    /// True for "no namespace".
    pub fn is_none(&self) -> bool {
        self.as_str().is_empty()
    }
}

impl Deref for Namespace {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Namespace {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<&'static str> for Namespace {
    /// See [`Namespace::from_static`] (this panics where it panics).
    fn from(uri: &'static str) -> Namespace {
        Namespace::from_static(uri)
    }
}

impl PartialEq for Namespace {
    fn eq(&self, other: &Namespace) -> bool {
        self.as_str() == other.as_str()
    }
}
impl Eq for Namespace {}

impl PartialEq<str> for Namespace {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}
impl PartialEq<&str> for Namespace {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Hash for Namespace {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl fmt::Debug for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A small cache that hands out one shared allocation per namespace name a
/// peer uses, so a stream of stanzas does not allocate its namespaces again
/// and again. Bounded: once full, further names are allocated per use.
#[derive(Debug, Default)]
pub(crate) struct Interner {
    names: alloc::vec::Vec<Namespace>,
}

impl Interner {
    const CAPACITY: usize = 64;

    pub(crate) fn intern(&mut self, uri: &str) -> Namespace {
        if let Some(known) = known(uri) {
            return Namespace::from_static(known);
        }
        if let Some(ns) = self.names.iter().find(|ns| ns.as_str() == uri) {
            return ns.clone();
        }
        let ns = Namespace::from_checked(uri);
        if self.names.len() < Self::CAPACITY && matches!(ns.0, Repr::Shared(_)) {
            self.names.push(ns.clone());
        }
        ns
    }
}

/// Namespaces nearly every XMPP stream uses: `'static` from the start, so
/// they cost no allocation and no slot in the cache.
fn known(uri: &str) -> Option<&'static str> {
    crate::xml::known_static! { uri;
        "jabber:client" "jabber:server" "jabber:component:accept" "http://etherx.jabber.org/streams"
        "urn:ietf:params:xml:ns:xmpp-streams" "urn:ietf:params:xml:ns:xmpp-stanzas"
        "urn:ietf:params:xml:ns:xmpp-tls" "urn:ietf:params:xml:ns:xmpp-sasl" "urn:ietf:params:xml:ns:xmpp-bind"
        "urn:ietf:params:xml:ns:xmpp-session" "urn:ietf:params:xml:ns:xmpp-framing" "jabber:iq:roster"
        "jabber:iq:version" "urn:xmpp:ping" "urn:xmpp:delay" "urn:xmpp:receipts" "urn:xmpp:sid:0"
        "urn:xmpp:carbons:2" "urn:xmpp:forward:0" "urn:xmpp:mam:2" "urn:xmpp:chat-markers:0"
        "http://jabber.org/protocol/chatstates" "http://jabber.org/protocol/caps"
        "http://jabber.org/protocol/disco#info" "http://jabber.org/protocol/disco#items"
        "http://jabber.org/protocol/muc" "http://jabber.org/protocol/muc#user" "http://jabber.org/protocol/nick"
        "vcard-temp:x:update"
    }
}
