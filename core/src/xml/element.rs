//! The owned element tree: what the reader yields for each stanza and what
//! the writer serialises.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;

use super::chars::{InvalidXml, check_ncname, check_text};
use super::name::Str;
use super::namespace::{Namespace, XMLNS_NS};

/// An XML element with resolved names: its local name and namespace name,
/// attributes, and children in document order.
///
/// Prefixes are not part of the model (RFC 6120 §11.2: namespaces are
/// compared by name, never by prefix); the writer chooses them. Every way of
/// building an element checks names and character data, so a tree can
/// always be written as well-formed XML.
///
/// Equality ignores attribute order (XML 1.0 §3.1) and nothing else.
#[derive(Clone, Debug)]
pub struct Element {
    name: Str,
    ns: Namespace,
    attrs: Vec<Attribute>,
    children: Vec<Node>,
}

/// An attribute: a (namespace, local name) pair and its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute {
    ns: Namespace,
    name: Str,
    value: Str,
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

/// A run of character data. It reads as a `str`; what the reader took
/// verbatim from a stanza is a span of one copy of that stanza's text,
/// shared by all its values, so a stanza costs one allocation for all of
/// its text rather than one per run.
///
/// ```
/// use sxmpp::xml::{CharData, Limits, Node, StreamEvent, StreamReader};
///
/// let mut reader = StreamReader::new(Limits::default());
/// reader.feed(b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>");
/// reader.feed(b"<message><body>wherefore art thou</body></message>");
/// let _header = reader.next_event();
/// let Ok(Some(StreamEvent::Element(message))) = reader.next_event() else { panic!() };
/// let body = message.child("body", "jabber:client").unwrap();
/// let Some(Node::Text(text)) = body.nodes().first() else { panic!() };
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

impl core::fmt::Debug for CharData {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl core::fmt::Display for CharData {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self)
    }
}

impl Attribute {
    /// The attribute's namespace ([`Namespace::NONE`] for an unprefixed
    /// attribute).
    pub fn ns(&self) -> &Namespace {
        &self.ns
    }
    /// The attribute's local name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The attribute's value, with references resolved.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// How the value is held (a span, a constant, owned).
    pub(crate) fn stored(&self) -> &Str {
        &self.value
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
    pub(crate) fn from_parts(name: Str, ns: Namespace, attrs: Vec<Attribute>) -> Element {
        Element { name, ns, attrs, children: Vec::new() }
    }

    /// Builds an attribute from parts the reader has already checked.
    pub(crate) fn attribute(ns: Namespace, name: Str, value: Str) -> Attribute {
        Attribute { ns, name, value }
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
        self.attrs.iter().find(|a| a.name == name && a.ns.as_str() == ns).map(|a| &*a.value)
    }

    /// The unqualified attribute `name` as held, to share it.
    pub(crate) fn attr_stored(&self, name: &str) -> Option<&Str> {
        self.attrs.iter().find(|a| a.name == name && a.ns.is_none()).map(Attribute::stored)
    }

    /// Sets (or replaces) the unqualified attribute `name` to a value
    /// already known to be legal (a prepared JID), without copying it.
    pub(crate) fn set_attr_stored(&mut self, name: &'static str, value: Str) {
        match self.attrs.iter_mut().find(|a| a.name == name && a.ns.is_none()) {
            Some(a) => a.value = value,
            None => self.attrs.push(Attribute { ns: Namespace::NONE, name: Str::name(name), value }),
        }
    }

    /// All attributes, in the order they were set or read.
    pub fn attrs(&self) -> &[Attribute] {
        &self.attrs
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
        match self.attrs.iter_mut().find(|a| a.name == name && a.ns == ns) {
            Some(a) => a.value = value,
            None => self.attrs.push(Attribute { ns, name: Str::name(name), value }),
        }
        Ok(())
    }

    /// Reorders the attributes by `key`, keeping the order of those with
    /// equal keys (the order is not significant in XML, only in how the
    /// element reads when written).
    pub(crate) fn sort_attrs_by_key(&mut self, key: impl Fn(&Attribute) -> u8) {
        self.attrs.sort_by_key(key);
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
        let i = self.attrs.iter().position(|a| a.name == name && a.ns.as_str() == ns)?;
        Some(self.attrs.remove(i).value.into_string())
    }

    /// Moves this element, and every descendant in namespace `from`, into
    /// namespace `to` (what a server does to a stanza it passes from a
    /// `jabber:client` stream to a `jabber:server` one, RFC 6120 §4.8.3).
    /// Walks the tree with an explicit stack, however deep it is.
    pub fn rename_namespace(&mut self, from: &Namespace, to: &Namespace) {
        self.ns = to.clone();
        let mut stack: Vec<&mut Element> = Vec::new();
        stack.extend(self.children.iter_mut().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        }));
        while let Some(el) = stack.pop() {
            if el.ns == *from {
                el.ns = to.clone();
            }
            stack.extend(el.children.iter_mut().filter_map(|n| match n {
                Node::Element(e) => Some(e),
                Node::Text(_) => None,
            }));
        }
    }

    // ----- children -----

    /// All child nodes, elements and text, in document order.
    pub fn nodes(&self) -> &[Node] {
        &self.children
    }

    /// The child elements, in document order.
    pub fn children(&self) -> impl Iterator<Item = &Element> + Clone {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// The first child element with this name and namespace.
    pub fn child(&self, name: &str, ns: &str) -> Option<&Element> {
        self.children().find(|e| e.is(name, ns))
    }

    /// The first child element with this name and namespace, mutably.
    pub fn child_mut(&mut self, name: &str, ns: &str) -> Option<&mut Element> {
        self.children.iter_mut().find_map(|n| match n {
            Node::Element(e) if e.is(name, ns) => Some(e),
            _ => None,
        })
    }

    /// Removes and returns the first child element with this name and
    /// namespace.
    pub fn remove_child(&mut self, name: &str, ns: &str) -> Option<Element> {
        let i = self.children.iter().position(|n| matches!(n, Node::Element(e) if e.is(name, ns)))?;
        match self.children.remove(i) {
            Node::Element(e) => {
                self.merge_text_at(i);
                Some(e)
            }
            Node::Text(_) => None,
        }
    }

    /// Takes all child nodes out, leaving the element empty.
    pub fn take_nodes(&mut self) -> Vec<Node> {
        core::mem::take(&mut self.children)
    }

    /// The child elements, given up, in document order.
    pub fn into_children(self) -> impl Iterator<Item = Element> {
        self.children.into_iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// Keeps only the child elements for which `keep` is true (text stays,
    /// merged where a removal made two runs adjacent).
    pub fn retain_children(&mut self, mut keep: impl FnMut(&Element) -> bool) {
        let before = self.children.len();
        self.children.retain(|n| match n {
            Node::Element(e) => keep(e),
            Node::Text(_) => true,
        });
        if self.children.len() != before {
            let nodes = core::mem::take(&mut self.children);
            for node in nodes {
                match node {
                    Node::Text(t) => self.push_text_node(t),
                    element => self.children.push(element),
                }
            }
        }
    }

    /// Appends a child element.
    pub fn append_child(&mut self, child: Element) {
        self.children.push(Node::Element(child));
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
        self.children.push(Node::Element(child));
        match self.children.last_mut() {
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
        if text.is_empty() {
            return;
        }
        match self.children.last_mut() {
            Some(Node::Text(t)) => t.push_str(text),
            _ => self.children.push(Node::Text(text.into())),
        }
    }

    /// The reader: the element's children, gathered while it was open.
    pub(crate) fn set_children(&mut self, children: Vec<Node>) {
        self.children = children;
    }

    /// Appends a text node, merged into text just before it.
    fn push_text_node(&mut self, text: CharData) {
        match self.children.last_mut() {
            Some(Node::Text(t)) => t.push_str(&text),
            _ if text.0.is_empty() => {}
            _ => self.children.push(Node::Text(text)),
        }
    }

    /// Points every pending span in this tree into `text`, the stanza's
    /// text (the reader, once the stanza has ended). Recursion is bounded
    /// by the reader's depth cap.
    pub(crate) fn resolve_spans(&mut self, text: &alloc::sync::Arc<str>) {
        for a in &mut self.attrs {
            a.value.resolve(text);
        }
        for node in &mut self.children {
            match node {
                Node::Element(child) => child.resolve_spans(text),
                Node::Text(run) => run.0.resolve(text),
            }
        }
    }

    /// After a removal at `i`, merges the text nodes that became adjacent.
    fn merge_text_at(&mut self, i: usize) {
        if i == 0 || i >= self.children.len() {
            return;
        }
        if let (Node::Text(_), Node::Text(_)) = (&self.children[i - 1], &self.children[i])
            && let Node::Text(next) = self.children.remove(i)
            && let Node::Text(prev) = &mut self.children[i - 1]
        {
            prev.push_str(&next);
        }
    }

    /// The element's direct character data, concatenated (child elements'
    /// text is not included).
    pub fn text(&self) -> Cow<'_, str> {
        let mut texts = self.children.iter().filter_map(|n| match n {
            Node::Text(t) => Some(t.as_str()),
            Node::Element(_) => None,
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
        for node in &self.children {
            total = total.saturating_add(match node {
                Node::Element(child) => child.approx_len_from(depth + 1),
                Node::Text(t) => t.len(),
            });
        }
        total
    }

    fn approx_len_iteratively(&self) -> usize {
        let mut total = 0usize;
        let mut stack: Vec<&Element> = alloc::vec![self];
        while let Some(el) = stack.pop() {
            total = total.saturating_add(el.own_approx_len());
            for node in &el.children {
                match node {
                    Node::Element(child) => stack.push(child),
                    Node::Text(t) => total = total.saturating_add(t.len()),
                }
            }
        }
        total
    }

    /// Name and attributes, as `approx_len` counts them.
    fn own_approx_len(&self) -> usize {
        let mut total = 2 * self.name.len() + 5;
        for a in &self.attrs {
            total = total.saturating_add(a.name.len() + a.value.len() + 4);
        }
        total
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
            && self.attrs.len() == other.attrs.len()
            && self.attrs.iter().all(|a| other.attrs.contains(a))
            && self.children == other.children
    }
}
impl Eq for Element {}

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
        assert_eq!(el.attrs().len(), 2);
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
        assert!(el.child("body", "urn:other").unwrap().nodes().is_empty());
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
        assert_eq!(el.nodes(), &[Node::Text("ac".into())]);
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
