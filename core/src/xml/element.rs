//! The owned element tree: what the reader yields for each stanza and what
//! the writer serialises.
//!
//! An element read off the wire is held as it was read for as long as
//! nobody changes it: its attributes as the start tag's text (a span of
//! the stanza), a lone run of text in place rather than in a list of
//! children. Reading a typical stanza then allocates for its text once and
//! for little else; the first change to an element makes that part of it a
//! list (owned only when changed).

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::ops::Range;

use super::chars::{InvalidXml, check_ncname, check_text};
use super::name::Str;
use super::namespace::{Namespace, XMLNS_NS};
use super::reader::is_xml_space;
use super::scan::find_byte;

/// An XML element with resolved names: its local name and namespace name,
/// attributes, and children in document order.
///
/// Prefixes are not part of the model (RFC 6120 §11.2: namespaces are
/// compared by name, never by prefix); the writer chooses them. Every way of
/// building an element checks names and character data, so a tree can
/// always be written as well-formed XML.
///
/// Equality ignores attribute order (XML 1.0 §3.1) and how an element is
/// held (as read or as changed), nothing else.
#[derive(Clone)]
pub struct Element {
    name: Str,
    ns: Namespace,
    attrs: Attrs,
    children: Children,
}

/// How an element holds its attributes.
#[derive(Clone)]
enum Attrs {
    /// Built or changed: one entry per attribute.
    List(Vec<OwnedAttribute>),
    /// As read, when every attribute is unprefixed and its value verbatim
    /// (no reference, no whitespace to normalise): the start tag's text
    /// from the first attribute's name to the last value's closing quote,
    /// which the reader has checked (names, characters, no duplicates) and
    /// which holds no namespace declaration. Written as it is.
    Tag(Str),
}

/// How an element holds its children.
#[derive(Clone)]
enum Children {
    /// Any children (often none: no allocation then).
    List(Vec<Node>),
    /// One run of text and nothing else (`<body>…</body>`): held in place.
    /// Never empty.
    Text(CharData),
}

/// An attribute as a list holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OwnedAttribute {
    ns: Namespace,
    name: Str,
    value: Str,
}

impl OwnedAttribute {
    /// Whether this is attribute `name` in namespace `ns`.
    pub(crate) fn is(&self, ns: &str, name: &str) -> bool {
        self.name == name && self.ns.as_str() == ns
    }

    fn view(&self) -> Attribute<'_> {
        Attribute { ns: &self.ns, name: &self.name, value: &self.value }
    }
}

/// The namespace of every unprefixed attribute, to lend out.
static NO_NAMESPACE: Namespace = Namespace::NONE;

/// An attribute of an element: a (namespace, local name) pair and its
/// value, borrowed from the element.
///
/// ```
/// use sxmpp::xml::Element;
///
/// let el = Element::new("message", "jabber:client").with_attr("type", "chat")?;
/// let attr = el.attrs().next().unwrap();
/// assert_eq!((attr.ns().as_str(), attr.name(), attr.value()), ("", "type", "chat"));
/// # Ok::<(), sxmpp::xml::InvalidXml>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attribute<'a> {
    ns: &'a Namespace,
    name: &'a str,
    value: &'a str,
}

impl<'a> Attribute<'a> {
    /// The attribute's namespace ([`Namespace::NONE`] for an unprefixed
    /// attribute).
    pub fn ns(&self) -> &'a Namespace {
        self.ns
    }
    /// The attribute's local name.
    pub fn name(&self) -> &'a str {
        self.name
    }
    /// The attribute's value, with references resolved.
    pub fn value(&self) -> &'a str {
        self.value
    }
}

/// The attributes of an element, in the order they were read or set:
/// what [`Element::attrs`] returns (its example shows them in use).
#[derive(Clone)]
pub struct Attributes<'a>(AttributesRepr<'a>);

#[derive(Clone)]
enum AttributesRepr<'a> {
    List(core::slice::Iter<'a, OwnedAttribute>),
    Tag(TagAttributes<'a>),
}

impl<'a> Iterator for Attributes<'a> {
    type Item = Attribute<'a>;
    fn next(&mut self) -> Option<Attribute<'a>> {
        match &mut self.0 {
            AttributesRepr::List(list) => list.next().map(OwnedAttribute::view),
            AttributesRepr::Tag(tag) => tag.next().map(|(name, value)| Attribute {
                ns: &NO_NAMESPACE,
                name: tag.text_at(name),
                value: tag.text_at(value),
            }),
        }
    }
}

/// The `name='value'` pairs of a start tag's attribute text (`Attrs::Tag`),
/// as ranges of it. The reader checked the text, so this only finds the
/// boundaries (and stops at anything unexpected rather than panic).
#[derive(Clone)]
struct TagAttributes<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> TagAttributes<'a> {
    fn new(text: &'a str) -> TagAttributes<'a> {
        TagAttributes { text, at: 0 }
    }

    fn text_at(&self, range: Range<usize>) -> &'a str {
        self.text.get(range).unwrap_or_default()
    }

    /// The range of the value of attribute `name`.
    fn value_of(self, name: &str) -> Option<Range<usize>> {
        let text = self.text;
        let mut pairs = self;
        pairs.find(|(n, _)| text.get(n.clone()) == Some(name)).map(|(_, value)| value)
    }
}

impl Iterator for TagAttributes<'_> {
    /// The name's range and the value's.
    type Item = (Range<usize>, Range<usize>);
    fn next(&mut self) -> Option<Self::Item> {
        let bytes = self.text.as_bytes();
        let skip_space = |mut i: usize| {
            while bytes.get(i).is_some_and(|&b| is_xml_space(b)) {
                i += 1;
            }
            i
        };
        let name_start = skip_space(self.at);
        let mut i = name_start;
        while bytes.get(i).is_some_and(|&b| b != b'=' && !is_xml_space(b)) {
            i += 1;
        }
        let name_end = i;
        i = skip_space(i);
        let quote_at = skip_space(i + 1);
        let quote = match (bytes.get(i), bytes.get(quote_at)) {
            (Some(b'='), Some(&q @ (b'\'' | b'"'))) => q,
            _ => {
                self.at = bytes.len();
                return None;
            }
        };
        let value_start = quote_at + 1;
        let Some(len) = bytes.get(value_start..).and_then(|rest| find_byte(rest, quote)) else {
            self.at = bytes.len();
            return None;
        };
        self.at = value_start + len + 1;
        Some((name_start..name_end, value_start..value_start + len))
    }
}

/// A tag's attribute text (`Attrs::Tag`) with attribute `name` set to
/// `value`: the old value replaced in place, or else the new pair put
/// after `to` (or first), where a stanza builder puts `from`. `None` if
/// the value cannot stand verbatim in the text (a quote, a reference, `<`,
/// whitespace the reader would normalise).
fn tag_with(tag: &str, name: &str, value: &str) -> Option<String> {
    if value.bytes().any(|b| matches!(b, b'&' | b'<' | b'\'' | b'"' | b'\t' | b'\n' | b'\r')) {
        return None;
    }
    let named = |wanted: &str| TagAttributes::new(tag).find(|(n, _)| tag.get(n.clone()) == Some(wanted));
    let mut text = String::with_capacity(tag.len() + name.len() + value.len() + 4);
    match named(name) {
        Some((_, old)) => {
            text.push_str(tag.get(..old.start)?);
            text.push_str(value);
            text.push_str(tag.get(old.end..)?);
        }
        None => {
            // After the closing quote of `to`'s value, or at the start.
            let at = named("to").map_or(0, |(_, to)| to.end + 1);
            let (before, after) = (tag.get(..at)?, tag.get(at..)?);
            text.push_str(before);
            if !before.is_empty() {
                text.push(' ');
            }
            text.push_str(name);
            text.push_str("='");
            text.push_str(value);
            text.push('\'');
            if !after.is_empty() && before.is_empty() {
                text.push(' ');
            }
            text.push_str(after);
        }
    }
    Some(text)
}

/// A child of an element: an element or a run of character data.
///
/// Adjacent character data is always merged into one `Text` node and empty
/// text is never stored, so the same document always gives the same tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// A child element.
    Element(Element),
    /// Character data, with entity and character references resolved.
    Text(CharData),
}

/// A child of an element, borrowed from it: what [`Element::nodes`]
/// yields (its example walks them). [`to_node`](NodeRef::to_node) makes an
/// owned copy.
///
/// ```
/// use sxmpp::xml::{Element, Node, NodeRef};
///
/// let body = Element::new("body", "jabber:client").with_text("hi")?;
/// let first = body.nodes().next().unwrap();
/// assert!(matches!(first, NodeRef::Text(text) if text.as_str() == "hi"));
/// assert_eq!(first.to_node(), Node::Text("hi".into()));
/// # Ok::<(), sxmpp::xml::InvalidXml>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeRef<'a> {
    /// A child element.
    Element(&'a Element),
    /// Character data, with entity and character references resolved.
    Text(&'a CharData),
}

impl NodeRef<'_> {
    /// The node, owned (a copy).
    pub fn to_node(self) -> Node {
        match self {
            NodeRef::Element(e) => Node::Element(e.clone()),
            NodeRef::Text(t) => Node::Text(t.clone()),
        }
    }
}

impl<'a> From<&'a Node> for NodeRef<'a> {
    fn from(node: &'a Node) -> NodeRef<'a> {
        match node {
            Node::Element(e) => NodeRef::Element(e),
            Node::Text(t) => NodeRef::Text(t),
        }
    }
}

impl PartialEq<Node> for NodeRef<'_> {
    fn eq(&self, other: &Node) -> bool {
        *self == NodeRef::from(other)
    }
}

/// The child nodes of an element, in document order: what
/// [`Element::nodes`] returns (its example walks them); it knows its
/// length and runs both ways.
#[derive(Clone)]
pub struct Nodes<'a>(NodesRepr<'a>);

#[derive(Clone)]
enum NodesRepr<'a> {
    List(core::slice::Iter<'a, Node>),
    Text(Option<&'a CharData>),
}

impl<'a> Iterator for Nodes<'a> {
    type Item = NodeRef<'a>;
    fn next(&mut self) -> Option<NodeRef<'a>> {
        match &mut self.0 {
            NodesRepr::List(list) => list.next().map(NodeRef::from),
            NodesRepr::Text(text) => text.take().map(NodeRef::Text),
        }
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let len = match &self.0 {
            NodesRepr::List(list) => list.len(),
            NodesRepr::Text(text) => usize::from(text.is_some()),
        };
        (len, Some(len))
    }
}

impl DoubleEndedIterator for Nodes<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            NodesRepr::List(list) => list.next_back().map(NodeRef::from),
            NodesRepr::Text(text) => text.take().map(NodeRef::Text),
        }
    }
}

impl ExactSizeIterator for Nodes<'_> {}

impl fmt::Debug for Nodes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

impl fmt::Debug for Attributes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

/// A run of character data. It reads as a `str`; what the reader took
/// verbatim from a stanza is a span of one copy of that stanza's text,
/// shared by all its values, so a stanza costs one allocation for all of
/// its text rather than one per run.
///
/// ```
/// use sxmpp::xml::{CharData, Limits, NodeRef, StreamEvent, StreamReader};
///
/// let mut reader = StreamReader::new(Limits::default());
/// reader.feed(b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>");
/// reader.feed(b"<message><body>wherefore art thou</body></message>");
/// let _header = reader.next_event();
/// let Ok(Some(StreamEvent::Element(message))) = reader.next_event() else { panic!() };
/// let body = message.child("body", "jabber:client").unwrap();
/// let Some(NodeRef::Text(text)) = body.nodes().next() else { panic!() };
/// assert_eq!(text.as_str(), "wherefore art thou");
/// assert_eq!(*text, CharData::from("wherefore art thou"));
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CharData(pub(crate) Str);

impl CharData {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Appends text (the run becomes owned).
    pub(crate) fn push_str(&mut self, text: &str) {
        self.0.make_owned().push_str(text);
    }
}

impl core::ops::Deref for CharData {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<String> for CharData {
    fn from(text: String) -> CharData {
        CharData(Str::Owned(text))
    }
}

impl From<&str> for CharData {
    fn from(text: &str) -> CharData {
        CharData(Str::Owned(text.into()))
    }
}

impl PartialEq<str> for CharData {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for CharData {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for CharData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for CharData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

impl Element {
    /// An empty element named by constants.
    ///
    /// `ns` is the element's own namespace, never inherited: a child built
    /// as `Element::new("body", "")` is in no namespace at all and is
    /// written with `xmlns=''` (servers refuse such stanzas). For a child
    /// in its parent's namespace, the common case, use
    /// [`add_child`](Element::add_child) or
    /// [`with_text_child`](Element::with_text_child):
    ///
    /// ```
    /// use sxmpp::xml::Element;
    ///
    /// let mut query = Element::new("query", "jabber:iq:version");
    /// query.add_child("name").append_text("sxmpp")?;
    /// let query = query.with_text_child("version", "0.1")?;
    /// assert_eq!(
    ///     query.to_string(),
    ///     "<query xmlns='jabber:iq:version'><name>sxmpp</name><version>0.1</version></query>"
    /// );
    /// # Ok::<(), sxmpp::xml::InvalidXml>(())
    /// ```
    ///
    /// # Panics
    ///
    /// If `name` is not an XML `NCName`. Only a string constant can be
    /// passed here, so a panic is a typo in the program, never a reaction
    /// to data; build elements named by data with [`Element::try_new`].
    pub fn new(name: &'static str, ns: impl Into<Namespace>) -> Element {
        let ns = ns.into();
        if let Err(e) = check_ncname(name) {
            panic!("Element::new: {e}");
        }
        assert!(ns.as_str() != XMLNS_NS, "Element::new: no element is in the xmlns namespace");
        Element::from_parts(Str::Static(name), ns, Vec::new())
    }

    /// An empty element named by run-time data; refused if the name is not
    /// an XML `NCName`.
    pub fn try_new(name: impl Into<String>, ns: Namespace) -> Result<Element, InvalidXml> {
        let name = name.into();
        check_ncname(&name)?;
        if ns.as_str() == XMLNS_NS {
            // XML-NAMES §3: reserved for namespace declarations.
            return Err(InvalidXml::Name(name));
        }
        Ok(Element::from_parts(Str::owned_name(name), ns, Vec::new()))
    }

    /// Assembles an element from parts the reader has already checked.
    pub(crate) fn from_parts(name: Str, ns: Namespace, attrs: Vec<OwnedAttribute>) -> Element {
        Element { name, ns, attrs: Attrs::List(attrs), children: Children::List(Vec::new()) }
    }

    /// Assembles an element whose attributes the reader keeps as the start
    /// tag's text (see `Attrs::Tag` for what it has checked).
    pub(crate) fn from_tag(name: Str, ns: Namespace, attrs: Str) -> Element {
        Element { name, ns, attrs: Attrs::Tag(attrs), children: Children::List(Vec::new()) }
    }

    /// Builds an attribute from parts the reader has already checked.
    pub(crate) fn attribute(ns: Namespace, name: Str, value: Str) -> OwnedAttribute {
        OwnedAttribute { ns, name, value }
    }

    /// The local name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The namespace name.
    pub fn ns(&self) -> &Namespace {
        &self.ns
    }

    /// True if this element has the given local name and namespace.
    pub fn is(&self, name: &str, ns: &str) -> bool {
        self.name == name && self.ns.as_str() == ns
    }

    // ----- attributes -----

    /// The value of the unqualified attribute `name` (like `to`, `type`).
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attr_ns("", name)
    }

    /// The value of the attribute `name` in namespace `ns`.
    pub fn attr_ns(&self, ns: &str, name: &str) -> Option<&str> {
        match &self.attrs {
            Attrs::List(list) => list.iter().find(|a| a.is(ns, name)).map(|a| &*a.value),
            Attrs::Tag(tag) if ns.is_empty() => tag.get(TagAttributes::new(tag).value_of(name)?),
            Attrs::Tag(_) => None,
        }
    }

    /// The unqualified attribute `name` as held (a constant, or a span of
    /// the stanza's text), to share it without copying.
    #[cfg(test)]
    pub(crate) fn attr_stored(&self, name: &str) -> Option<Str> {
        let [value] = self.attrs_stored([name]);
        value
    }

    /// [`attr_stored`](Element::attr_stored) for several names, in one
    /// pass over the attributes (the first of a name counts).
    pub(crate) fn attrs_stored<const N: usize>(&self, names: [&str; N]) -> [Option<Str>; N] {
        let mut found: [Option<Str>; N] = core::array::from_fn(|_| None);
        let mut keep = |name: &str, value: &dyn Fn() -> Str| {
            if let Some(i) = names.iter().position(|n| *n == name)
                && found[i].is_none()
            {
                found[i] = Some(value());
            }
        };
        match &self.attrs {
            Attrs::List(list) => {
                list.iter().filter(|a| a.ns.is_none()).for_each(|a| keep(&a.name, &|| a.value.clone()))
            }
            Attrs::Tag(tag) => {
                for (name, value) in TagAttributes::new(tag) {
                    keep(tag.get(name).unwrap_or_default(), &|| tag.slice(value.clone()));
                }
            }
        }
        found
    }

    /// Sets (or replaces) the unqualified attribute `name` to a value
    /// already known to be legal (a prepared JID), without copying it into
    /// a list: an element holding its tag's text gets that text with the
    /// value in it instead (what a server does to every stanza, stamping
    /// `from`), when the value can stand there verbatim.
    pub(crate) fn set_attr_stored(&mut self, name: &'static str, value: Str) {
        if let Attrs::Tag(tag) = &self.attrs
            && let Some(text) = tag_with(tag, name, &value)
        {
            self.attrs = Attrs::Tag(Str::Owned(text));
            return;
        }
        let list = self.attr_list();
        match list.iter_mut().find(|a| a.is("", name)) {
            Some(a) => a.value = value,
            None => list.push(OwnedAttribute { ns: Namespace::NONE, name: Str::name(name), value }),
        }
    }

    /// All attributes, in the order they were set or read (namespace
    /// declarations are not attributes here: the writer makes its own).
    ///
    /// ```
    /// use sxmpp::xml::{Limits, StreamEvent, StreamReader};
    ///
    /// let mut reader = StreamReader::new(Limits::default());
    /// reader.feed(b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>");
    /// reader.feed(b"<presence from='romeo@montague.lit/orchard' type='unavailable'/>");
    /// let _header = reader.next_event();
    /// let Ok(Some(StreamEvent::Element(presence))) = reader.next_event() else { panic!() };
    /// let attrs: Vec<(&str, &str)> = presence.attrs().map(|a| (a.name(), a.value())).collect();
    /// assert_eq!(attrs, [("from", "romeo@montague.lit/orchard"), ("type", "unavailable")]);
    /// ```
    pub fn attrs(&self) -> Attributes<'_> {
        Attributes(match &self.attrs {
            Attrs::List(list) => AttributesRepr::List(list.iter()),
            Attrs::Tag(tag) => AttributesRepr::Tag(TagAttributes::new(tag)),
        })
    }

    /// The attributes' text as read (see `Attrs::Tag`), which the writer
    /// copies as it is.
    pub(crate) fn attribute_text(&self) -> Option<&str> {
        match &self.attrs {
            Attrs::Tag(tag) => Some(tag),
            Attrs::List(_) => None,
        }
    }

    /// The attributes as a list, to change them: an element as read makes
    /// its list here, the first time it is changed.
    fn attr_list(&mut self) -> &mut Vec<OwnedAttribute> {
        if let Attrs::Tag(tag) = &self.attrs {
            let list = TagAttributes::new(tag)
                .map(|(name, value)| OwnedAttribute {
                    ns: Namespace::NONE,
                    name: Str::name(tag.get(name).unwrap_or_default()),
                    value: tag.slice(value),
                })
                .collect();
            self.attrs = Attrs::List(list);
        }
        match &mut self.attrs {
            Attrs::List(list) => list,
            Attrs::Tag(_) => unreachable!("just made a list"),
        }
    }

    /// Sets (or replaces) the unqualified attribute `name`.
    pub fn set_attr(&mut self, name: &str, value: impl Into<String>) -> Result<(), InvalidXml> {
        self.set_attr_ns(Namespace::NONE, name, value)
    }

    /// Sets (or replaces) attribute `name` in namespace `ns`, such as
    /// `xml:lang` in [`Namespace::XML`].
    pub fn set_attr_ns(&mut self, ns: Namespace, name: &str, value: impl Into<String>) -> Result<(), InvalidXml> {
        check_ncname(name)?;
        if ns.as_str() == XMLNS_NS || (ns.is_none() && name == "xmlns") {
            // Namespace declarations are the writer's business, not data.
            return Err(InvalidXml::Name(name.into()));
        }
        let value = value.into();
        check_text(&value)?;
        let value = Str::Owned(value);
        let list = self.attr_list();
        match list.iter_mut().find(|a| a.is(ns.as_str(), name)) {
            Some(a) => a.value = value,
            None => list.push(OwnedAttribute { ns, name: Str::name(name), value }),
        }
        Ok(())
    }

    /// Reorders the attributes by `key`, keeping the order of those with
    /// equal keys (the order is not significant in XML, only in how the
    /// element reads when written). Attributes held as the tag's text keep
    /// the order they were read in.
    pub(crate) fn sort_attrs_by_key(&mut self, key: impl Fn(Attribute<'_>) -> u8) {
        if let Attrs::List(list) = &mut self.attrs {
            list.sort_by_key(|a| key(a.view()));
        }
    }

    /// [`set_attr`](Element::set_attr), for building in one expression.
    pub fn with_attr(mut self, name: &str, value: impl Into<String>) -> Result<Element, InvalidXml> {
        self.set_attr(name, value)?;
        Ok(self)
    }

    /// Removes the unqualified attribute `name`, returning its value.
    pub fn remove_attr(&mut self, name: &str) -> Option<String> {
        self.remove_attr_ns("", name)
    }

    /// Removes attribute `name` in namespace `ns`, returning its value.
    pub fn remove_attr_ns(&mut self, ns: &str, name: &str) -> Option<String> {
        self.attr_ns(ns, name)?;
        let list = self.attr_list();
        let i = list.iter().position(|a| a.is(ns, name))?;
        Some(list.remove(i).value.into_string())
    }

    /// Moves this element, and every descendant in namespace `from`, into
    /// namespace `to` (what a server does to a stanza it passes from a
    /// `jabber:client` stream to a `jabber:server` one, RFC 6120 §4.8.3).
    /// Walks the tree with an explicit stack, however deep it is.
    pub fn rename_namespace(&mut self, from: &Namespace, to: &Namespace) {
        self.ns = to.clone();
        let mut stack: Vec<&mut Element> = Vec::new();
        stack.extend(self.child_elements_mut());
        while let Some(el) = stack.pop() {
            if el.ns == *from {
                el.ns = to.clone();
            }
            stack.extend(el.child_elements_mut());
        }
    }

    // ----- children -----

    /// All child nodes, elements and text, in document order.
    ///
    /// ```
    /// use sxmpp::xml::{Element, NodeRef};
    ///
    /// let p = Element::new("p", "urn:example")
    ///     .with_text("a ")?
    ///     .with_child(Element::new("b", "urn:example").with_text("bold")?)
    ///     .with_text(" word")?;
    /// let mut shape = String::new();
    /// for node in p.nodes() {
    ///     match node {
    ///         NodeRef::Text(text) => shape.push_str(text),
    ///         NodeRef::Element(child) => shape.push_str(&format!("[{}]", child.name())),
    ///     }
    /// }
    /// assert_eq!(shape, "a [b] word");
    /// assert_eq!(p.nodes().len(), 3);
    /// # Ok::<(), sxmpp::xml::InvalidXml>(())
    /// ```
    pub fn nodes(&self) -> Nodes<'_> {
        Nodes(match &self.children {
            Children::List(list) => NodesRepr::List(list.iter()),
            Children::Text(text) => NodesRepr::Text(Some(text)),
        })
    }

    /// The child node at `index` (the writer walks a tree by index).
    pub(crate) fn node(&self, index: usize) -> Option<NodeRef<'_>> {
        match &self.children {
            Children::List(list) => list.get(index).map(NodeRef::from),
            Children::Text(text) => (index == 0).then_some(NodeRef::Text(text)),
        }
    }

    /// True if the element has no children, neither elements nor text
    /// (it is written as `<name/>`).
    ///
    /// ```
    /// use sxmpp::xml::Element;
    ///
    /// let mut ping = Element::new("ping", "urn:xmpp:ping");
    /// assert!(ping.is_empty());
    /// ping.append_text(" ")?;
    /// assert!(!ping.is_empty());
    /// # Ok::<(), sxmpp::xml::InvalidXml>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        matches!(&self.children, Children::List(list) if list.is_empty())
    }

    /// The child elements, in document order.
    pub fn children(&self) -> impl DoubleEndedIterator<Item = &Element> + Clone {
        self.nodes().filter_map(|n| match n {
            NodeRef::Element(e) => Some(e),
            NodeRef::Text(_) => None,
        })
    }

    /// The child elements, mutably (none when the element holds one run of
    /// text in place).
    fn child_elements_mut(&mut self) -> impl Iterator<Item = &mut Element> {
        let list = match &mut self.children {
            Children::List(list) => &mut list[..],
            Children::Text(_) => &mut [],
        };
        list.iter_mut().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// The children as a list, to change them: a lone run of text held in
    /// place becomes the list's first node.
    fn node_list(&mut self) -> &mut Vec<Node> {
        if let Children::Text(_) = &self.children
            && let Children::Text(text) = core::mem::replace(&mut self.children, Children::List(Vec::new()))
        {
            self.children = Children::List(alloc::vec![Node::Text(text)]);
        }
        match &mut self.children {
            Children::List(list) => list,
            Children::Text(_) => unreachable!("just made a list"),
        }
    }

    /// The first child element with this name and namespace.
    pub fn child(&self, name: &str, ns: &str) -> Option<&Element> {
        self.children().find(|e| e.is(name, ns))
    }

    /// The first child element with this name and namespace, mutably.
    pub fn child_mut(&mut self, name: &str, ns: &str) -> Option<&mut Element> {
        self.child_elements_mut().find(|e| e.is(name, ns))
    }

    /// Removes and returns the first child element with this name and
    /// namespace.
    pub fn remove_child(&mut self, name: &str, ns: &str) -> Option<Element> {
        let Children::List(list) = &mut self.children else { return None };
        let i = list.iter().position(|n| matches!(n, Node::Element(e) if e.is(name, ns)))?;
        match list.remove(i) {
            Node::Element(e) => {
                self.merge_text_at(i);
                Some(e)
            }
            Node::Text(_) => None,
        }
    }

    /// Takes all child nodes out, leaving the element empty.
    pub fn take_nodes(&mut self) -> Vec<Node> {
        match core::mem::replace(&mut self.children, Children::List(Vec::new())) {
            Children::List(list) => list,
            Children::Text(text) => alloc::vec![Node::Text(text)],
        }
    }

    /// The child elements, given up, in document order.
    pub fn into_children(self) -> impl Iterator<Item = Element> {
        let list = match self.children {
            Children::List(list) => list,
            Children::Text(_) => Vec::new(),
        };
        list.into_iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// Keeps only the child elements for which `keep` is true (text stays,
    /// merged where a removal made two runs adjacent).
    pub fn retain_children(&mut self, mut keep: impl FnMut(&Element) -> bool) {
        let Children::List(list) = &mut self.children else { return };
        let before = list.len();
        list.retain(|n| match n {
            Node::Element(e) => keep(e),
            Node::Text(_) => true,
        });
        if list.len() != before {
            let nodes = core::mem::take(list);
            for node in nodes {
                match node {
                    Node::Text(t) => self.push_text_node(t),
                    element => self.node_list().push(element),
                }
            }
        }
    }

    /// Appends a child element.
    pub fn append_child(&mut self, child: Element) {
        self.node_list().push(Node::Element(child));
    }

    /// [`append_child`](Element::append_child), for building in one
    /// expression.
    pub fn with_child(mut self, child: Element) -> Element {
        self.append_child(child);
        self
    }

    /// Appends an empty child in this element's namespace and returns it,
    /// to fill in (see [`Element::new`] on namespaces).
    ///
    /// # Panics
    ///
    /// As [`Element::new`]: if `name`, a constant, is not an `NCName`.
    pub fn add_child(&mut self, name: &'static str) -> &mut Element {
        let child = Element::new(name, self.ns.clone());
        let list = self.node_list();
        list.push(Node::Element(child));
        match list.last_mut() {
            Some(Node::Element(child)) => child,
            _ => unreachable!("just pushed an element"),
        }
    }

    /// This element with a child in its own namespace holding `text`
    /// (`<body>…</body>` in a message); refused if `text` holds a character
    /// XML cannot carry.
    pub fn with_text_child(mut self, name: &'static str, text: &str) -> Result<Element, InvalidXml> {
        let child = Element::new(name, self.ns.clone()).with_text(text)?;
        self.append_child(child);
        Ok(self)
    }

    /// Appends character data (merged with text just before it); refused if
    /// it holds a character XML cannot carry.
    pub fn append_text(&mut self, text: &str) -> Result<(), InvalidXml> {
        check_text(text)?;
        self.push_text(text);
        Ok(())
    }

    /// [`append_text`](Element::append_text), for building in one
    /// expression.
    pub fn with_text(mut self, text: &str) -> Result<Element, InvalidXml> {
        self.append_text(text)?;
        Ok(self)
    }

    /// Appends text already known to be legal.
    pub(crate) fn push_text(&mut self, text: &str) {
        if !text.is_empty() {
            self.push_text_node(CharData::from(text));
        }
    }

    /// The reader: the element's children, gathered while it was open.
    pub(crate) fn set_children(&mut self, children: Vec<Node>) {
        self.children = Children::List(children);
    }

    /// The reader: the element's only child, a run of text (not empty).
    pub(crate) fn set_text(&mut self, text: CharData) {
        self.children = Children::Text(text);
    }

    /// Appends a text node, merged into text just before it; an element
    /// with no children holds it in place.
    fn push_text_node(&mut self, text: CharData) {
        match &mut self.children {
            _ if text.0.is_empty() => {}
            Children::Text(run) => run.push_str(&text),
            Children::List(list) if list.is_empty() => self.children = Children::Text(text),
            Children::List(list) => match list.last_mut() {
                Some(Node::Text(run)) => run.push_str(&text),
                _ => list.push(Node::Text(text)),
            },
        }
    }

    /// Points every pending span in this tree into `text`, the stanza's
    /// text (the reader, once the stanza has ended). Recursion is bounded
    /// by the reader's depth cap.
    pub(crate) fn resolve_spans(&mut self, text: &alloc::sync::Arc<str>) {
        match &mut self.attrs {
            Attrs::List(list) => list.iter_mut().for_each(|a| a.value.resolve(text)),
            Attrs::Tag(tag) => tag.resolve(text),
        }
        match &mut self.children {
            Children::Text(run) => run.0.resolve(text),
            Children::List(list) => {
                for node in list {
                    match node {
                        Node::Element(child) => child.resolve_spans(text),
                        Node::Text(run) => run.0.resolve(text),
                    }
                }
            }
        }
    }

    /// After a removal at `i`, merges the text nodes that became adjacent.
    fn merge_text_at(&mut self, i: usize) {
        let Children::List(list) = &mut self.children else { return };
        if i == 0 || i >= list.len() {
            return;
        }
        if let (Node::Text(_), Node::Text(_)) = (&list[i - 1], &list[i])
            && let Node::Text(next) = list.remove(i)
            && let Node::Text(prev) = &mut list[i - 1]
        {
            prev.push_str(&next);
        }
    }

    /// The element's direct character data, concatenated (child elements'
    /// text is not included).
    pub fn text(&self) -> Cow<'_, str> {
        let mut texts = self.nodes().filter_map(|n| match n {
            NodeRef::Text(t) => Some(t.as_str()),
            NodeRef::Element(_) => None,
        });
        let Some(first) = texts.next() else {
            return Cow::Borrowed("");
        };
        match texts.next() {
            None => Cow::Borrowed(first),
            Some(second) => {
                let mut all = String::from(first);
                all.push_str(second);
                texts.for_each(|t| all.push_str(t));
                Cow::Owned(all)
            }
        }
    }

    /// About how many bytes the element takes written out (names, values
    /// and text, without escapes or namespace declarations): what a queue
    /// bounded in bytes counts before the element is serialised. Allocates
    /// nothing for trees of ordinary depth.
    pub fn approx_len(&self) -> usize {
        self.approx_len_from(0)
    }

    /// [`approx_len`](Element::approx_len) by recursion, which allocates
    /// nothing, to a fixed depth; a deeper subtree (only a program builds
    /// one: the reader caps depth lower) is walked with an explicit stack.
    fn approx_len_from(&self, depth: usize) -> usize {
        const RECURSION: usize = 32;
        if depth == RECURSION {
            return self.approx_len_iteratively();
        }
        let mut total = self.own_approx_len();
        for node in self.nodes() {
            total = total.saturating_add(match node {
                NodeRef::Element(child) => child.approx_len_from(depth + 1),
                NodeRef::Text(t) => t.len(),
            });
        }
        total
    }

    fn approx_len_iteratively(&self) -> usize {
        let mut total = 0usize;
        let mut stack: Vec<&Element> = alloc::vec![self];
        while let Some(el) = stack.pop() {
            total = total.saturating_add(el.own_approx_len());
            for node in el.nodes() {
                match node {
                    NodeRef::Element(child) => stack.push(child),
                    NodeRef::Text(t) => total = total.saturating_add(t.len()),
                }
            }
        }
        total
    }

    /// Name and attributes, as `approx_len` counts them.
    fn own_approx_len(&self) -> usize {
        let total = 2 * self.name.len() + 5;
        match &self.attrs {
            // The tag's text is about what the writer writes.
            Attrs::Tag(tag) => total.saturating_add(tag.len() + 1),
            Attrs::List(list) => {
                list.iter().fold(total, |total, a| total.saturating_add(a.name.len() + a.value.len() + 4))
            }
        }
    }

    /// The text of the first child with this name and namespace.
    pub fn child_text(&self, name: &str, ns: &str) -> Option<Cow<'_, str>> {
        self.child(name, ns).map(Element::text)
    }
}

impl PartialEq for Element {
    fn eq(&self, other: &Element) -> bool {
        self.name == other.name
            && self.ns == other.ns
            && self.attrs().count() == other.attrs().count()
            && self.attrs().all(|a| other.attrs().any(|b| a == b))
            && self.nodes().eq(other.nodes())
    }
}
impl Eq for Element {}

impl fmt::Debug for Element {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Element")
            .field("name", &self.name())
            .field("ns", &self.ns)
            .field("attrs", &self.attrs())
            .field("children", &self.nodes())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT: &str = "jabber:client";

    #[test]
    fn building_refuses_what_xml_cannot_carry() {
        let mut el = Element::new("message", CLIENT);
        assert!(el.set_attr("to", "romeo@example.net").is_ok());
        assert!(matches!(el.set_attr("id", "a\u{1}"), Err(InvalidXml::Char { ch: '\u{1}', .. })));
        assert!(matches!(el.set_attr("bad name", "x"), Err(InvalidXml::Name(_))));
        assert!(matches!(el.set_attr("xmlns", "x"), Err(InvalidXml::Name(_))));
        assert!(matches!(el.append_text("\u{FFFF}"), Err(InvalidXml::Char { .. })));
        assert!(Element::try_new("a:b", Namespace::NONE).is_err());
        assert!(Element::try_new("body", Namespace::new(CLIENT).unwrap()).is_ok());
        assert!(Namespace::new("urn:\u{0}").is_err());
    }

    #[test]
    #[should_panic(expected = "not a valid XML name")]
    fn new_panics_only_on_a_bad_constant() {
        let _ = Element::new("no spaces allowed", CLIENT);
    }

    #[test]
    fn attributes_replace_and_lookup_by_namespace() {
        let mut el = Element::new("message", CLIENT);
        el.set_attr("type", "chat").unwrap();
        el.set_attr("type", "normal").unwrap();
        el.set_attr_ns(Namespace::XML, "lang", "en").unwrap();
        assert_eq!(el.attr("type"), Some("normal"));
        assert_eq!(el.attrs().count(), 2);
        assert_eq!(el.attr("lang"), None);
        assert_eq!(el.attr_ns(super::super::namespace::XML_NS, "lang"), Some("en"));
        assert_eq!(el.remove_attr("type"), Some("normal".into()));
        assert_eq!(el.attr("type"), None);
    }

    #[test]
    fn text_merges_and_children_are_found_by_namespace() {
        let el = Element::new("message", CLIENT)
            .with_text("a")
            .unwrap()
            .with_text("")
            .unwrap()
            .with_text("b")
            .unwrap()
            .with_child(Element::new("body", CLIENT).with_text("hi").unwrap())
            .with_child(Element::new("body", "urn:other"))
            .with_text("c")
            .unwrap();
        assert_eq!(el.nodes().len(), 4);
        assert_eq!(el.text(), "abc");
        assert_eq!(el.child_text("body", CLIENT).as_deref(), Some("hi"));
        assert_eq!(el.children().count(), 2);
        assert!(el.child("body", "urn:other").unwrap().is_empty());
        assert!(el.child("body", "").is_none());
    }

    #[test]
    fn removing_a_child_merges_the_text_around_it() {
        let mut el = Element::new("p", CLIENT)
            .with_text("a")
            .unwrap()
            .with_child(Element::new("b", CLIENT))
            .with_text("c")
            .unwrap();
        assert!(el.remove_child("b", CLIENT).is_some());
        assert_eq!(el.nodes().map(NodeRef::to_node).collect::<Vec<_>>(), [Node::Text("ac".into())]);
    }

    #[test]
    fn equality_ignores_attribute_order_only() {
        let a = Element::new("x", CLIENT).with_attr("a", "1").unwrap().with_attr("b", "2").unwrap();
        let b = Element::new("x", CLIENT).with_attr("b", "2").unwrap().with_attr("a", "1").unwrap();
        assert_eq!(a, b);
        let c = Element::new("x", CLIENT).with_attr("b", "2").unwrap().with_attr("a", "3").unwrap();
        assert_ne!(a, c);
        assert_ne!(a, Element::new("x", "urn:other").with_attr("a", "1").unwrap().with_attr("b", "2").unwrap());
    }
}
