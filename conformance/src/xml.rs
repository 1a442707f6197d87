//! The harness's own view of XML streams, on quick-xml: independent of the
//! core's reader, so a bug there cannot hide itself. A stream is cut into
//! items (a stream header, a first-level element, a close tag) that are
//! compared by the rules of FORMAT.md "Matching".

use std::fmt::Write as _;

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

const STREAMS: &str = "http://etherx.jabber.org/streams";

/// An element with resolved names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// Namespace name.
    pub ns: String,
    /// Local name.
    pub name: String,
    /// (namespace, local name, value), namespace declarations excluded.
    pub attrs: Vec<(String, String, String)>,
    /// Children in order.
    pub children: Vec<Child>,
}

/// A child of a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Child {
    /// An element.
    Node(Node),
    /// Character data (adjacent runs merged).
    Text(String),
}

/// A unit of a stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// A stream header: the root start tag.
    Open(Node),
    /// A complete first-level element.
    Element(Node),
    /// The root end tag.
    Close,
}

impl Item {
    /// Every element name in the item, at any depth.
    pub fn names(&self) -> Vec<&str> {
        fn walk<'a>(n: &'a Node, out: &mut Vec<&'a str>) {
            out.push(&n.name);
            for c in &n.children {
                if let Child::Node(c) = c {
                    walk(c, out);
                }
            }
        }
        let mut out = Vec::new();
        match self {
            Item::Open(n) | Item::Element(n) => walk(n, &mut out),
            Item::Close => {}
        }
        out
    }
}

fn resolved(r: ResolveResult<'_>) -> Result<String, String> {
    match r {
        ResolveResult::Bound(ns) => Ok(ns.as_ref().to_string()),
        ResolveResult::Unbound => Ok(String::new()),
        ResolveResult::Unknown(p) => Err(format!("unbound prefix {p:?}")),
    }
}

/// The predefined entities and character references.
fn entity(name: &str) -> Option<char> {
    match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "apos" => Some('\''),
        "quot" => Some('"'),
        _ => {
            let num = name.strip_prefix('#')?;
            let code = match num.strip_prefix('x') {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => num.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

/// Reads the element started by `start` (already read) with its children.
fn node(reader: &NsReader<&[u8]>, start: &quick_xml::events::BytesStart<'_>) -> Result<Node, String> {
    let (ns, local) = reader.resolver().resolve_element(start.name());
    let mut attrs = Vec::new();
    for a in start.attributes() {
        let a = a.map_err(|e| e.to_string())?;
        let key = a.key.as_ref();
        if key == "xmlns" || key.starts_with("xmlns:") {
            continue;
        }
        let (ans, alocal) = reader.resolver().resolve_attribute(a.key);
        let value = a.normalized_value(quick_xml::XmlVersion::Implicit1_0).map_err(|e| e.to_string())?.into_owned();
        attrs.push((resolved(ans)?, alocal.as_ref().to_string(), value));
    }
    Ok(Node { ns: resolved(ns)?, name: local.as_ref().to_string(), attrs, children: Vec::new() })
}

fn push_text(children: &mut Vec<Child>, text: &str) {
    if let Some(Child::Text(t)) = children.last_mut() {
        t.push_str(text);
    } else {
        children.push(Child::Text(text.into()));
    }
}

/// Cuts a stream (or a piece of one) into items, each with the byte offset
/// where it starts. Parsing stops at the first error, with the items read
/// so far; an unfinished trailing element is left out.
pub fn items(text: &str) -> (Vec<(usize, Item)>, Option<String>) {
    items_from(text, 0)
}

/// The element that stands for the stream's context in [`items_in`]; its
/// name cannot be an item's.
const CONTEXT: &str = "sxmpp-conformance-context";

/// [`items`] for a transcript's expected text, read in the stream's
/// context: unprefixed first-level elements are in `content_ns` and the
/// `stream:` prefix is the stream namespace, whether or not the text
/// spells out a header that declares them (a header it does spell out
/// declares its own).
pub fn items_in(text: &str, content_ns: &str) -> (Vec<(usize, Item)>, Option<String>) {
    let context = format!("<{CONTEXT} xmlns='{content_ns}' xmlns:stream='{STREAMS}'>");
    let (items, error) = items_from(&format!("{context}{text}"), 1);
    let shifted = items.into_iter().map(|(at, item)| (at.saturating_sub(context.len()), item)).collect();
    (shifted, error)
}

/// `skip_roots` start tags at the top are context, not items.
fn items_from(text: &str, mut skip_roots: usize) -> (Vec<(usize, Item)>, Option<String>) {
    let mut reader = NsReader::from_str(text);
    let config = reader.config_mut();
    config.check_end_names = false;
    config.allow_unmatched_ends = true;
    let mut out = Vec::new();
    // Open elements of the current first-level element.
    let mut stack: Vec<Node> = Vec::new();
    let mut start_offset = 0;
    loop {
        let before = reader.buffer_position() as usize;
        let event = match reader.read_event() {
            Ok(e) => e,
            Err(e) => return (out, Some(format!("byte {before}: {e}"))),
        };
        match event {
            Event::Start(_) if skip_roots > 0 => skip_roots -= 1,
            Event::Start(s) => {
                let n = match node(&reader, &s) {
                    Ok(n) => n,
                    Err(e) => return (out, Some(e)),
                };
                if n.name == "stream" && n.ns == STREAMS {
                    // A stream header (a restart opens a new one).
                    stack.clear();
                    out.push((before, Item::Open(n)));
                } else {
                    if stack.is_empty() {
                        start_offset = before;
                    }
                    stack.push(n);
                }
            }
            Event::Empty(s) => {
                let n = match node(&reader, &s) {
                    Ok(n) => n,
                    Err(e) => return (out, Some(e)),
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Child::Node(n)),
                    None => out.push((before, Item::Element(n))),
                }
            }
            Event::End(_) => match stack.pop() {
                Some(n) => match stack.last_mut() {
                    Some(parent) => parent.children.push(Child::Node(n)),
                    None => out.push((start_offset, Item::Element(n))),
                },
                None => out.push((before, Item::Close)),
            },
            Event::Text(t) => {
                if let Some(parent) = stack.last_mut() {
                    push_text(&mut parent.children, &t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some(parent) = stack.last_mut() {
                    push_text(&mut parent.children, &t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                if let Some(parent) = stack.last_mut() {
                    match entity(&r) {
                        Some(c) => push_text(&mut parent.children, c.encode_utf8(&mut [0; 4])),
                        None => return (out, Some(format!("unknown entity &{};", &*r))),
                    }
                }
            }
            Event::Eof => return (out, None),
            _ => {} // declarations, comments, PIs: not items
        }
    }
}

/// The default namespace a stream header in `text` declares, if `text`
/// holds one (with any prefix for the stream element).
pub fn header_default_ns(text: &str) -> Option<String> {
    let mut reader = NsReader::from_str(text);
    loop {
        match reader.read_event() {
            Ok(Event::Start(s)) => {
                let (ns, local) = reader.resolver().resolve_element(s.name());
                if local.as_ref() == "stream" && matches!(ns, ResolveResult::Bound(n) if n.as_ref() == STREAMS) {
                    return s.attributes().flatten().find(|a| a.key.as_ref() == "xmlns").and_then(|a| {
                        a.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok().map(|v| v.into_owned())
                    });
                }
                return None;
            }
            Ok(Event::Eof) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

/// `{any}`: any value; `{opt}`: any value or none.
const ANY: &str = "{any}";
const OPT: &str = "{opt}";

/// Whether `s`, with whitespace removed, is well-formed base64: only the
/// alphabet, a length that is a multiple of four, `=` only at the end. Only
/// then is whitespace inside the text ignored, so two words of a body are
/// not taken for wrapped base64.
fn is_base64ish(s: &str) -> bool {
    let stripped: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let body_len = stripped.iter().rposition(|b| *b != b'=').map_or(0, |i| i + 1);
    !stripped.is_empty()
        && stripped.len().is_multiple_of(4)
        && stripped.len() - body_len <= 2
        && stripped[..body_len].iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/'))
}

fn texts_match(expected: &str, actual: &str) -> bool {
    let (e, a) = (expected.trim(), actual.trim());
    if e == ANY || e == a {
        return true;
    }
    // Base64 is compared with whitespace removed (FORMAT.md).
    let strip = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    is_base64ish(e) && is_base64ish(a) && strip(e) == strip(a)
}

fn attrs_match(expected: &Node, actual: &Node) -> Result<(), String> {
    for (ns, name, value) in &expected.attrs {
        let found = actual.attrs.iter().find(|(n2, m2, _)| n2 == ns && m2 == name);
        match (value.as_str(), found) {
            (OPT, _) => {}
            (ANY, Some(_)) => {}
            (v, Some((_, _, got))) if v == got => {}
            (_, Some((_, _, got))) => return Err(format!("attribute {name}: expected {value:?}, got {got:?}")),
            (_, None) => return Err(format!("attribute {name} missing")),
        }
    }
    for (ns, name, got) in &actual.attrs {
        if !expected.attrs.iter().any(|(n2, m2, _)| n2 == ns && m2 == name) {
            return Err(format!("unexpected attribute {name}={got:?}"));
        }
    }
    Ok(())
}

/// Children that matter: elements, and text that is not only whitespace.
fn significant(children: &[Child]) -> Vec<&Child> {
    children.iter().filter(|c| !matches!(c, Child::Text(t) if t.trim().is_empty())).collect()
}

fn nodes_match(expected: &Node, actual: &Node) -> Result<(), String> {
    if expected.name != actual.name || expected.ns != actual.ns {
        return Err(format!(
            "expected <{}> in {:?}, got <{}> in {:?}",
            expected.name, expected.ns, actual.name, actual.ns
        ));
    }
    attrs_match(expected, actual).map_err(|e| format!("<{}>: {e}", expected.name))?;
    let (e, a) = (significant(&expected.children), significant(&actual.children));
    // Expected text {any} also matches no text at all.
    if let ([Child::Text(t)], []) = (e.as_slice(), a.as_slice())
        && t.trim() == ANY
    {
        return Ok(());
    }
    if e.len() != a.len() {
        return Err(format!("<{}>: expected {} children, got {}", expected.name, e.len(), a.len()));
    }
    for (x, y) in e.iter().zip(&a) {
        match (x, y) {
            (Child::Node(x), Child::Node(y)) => nodes_match(x, y)?,
            (Child::Text(x), Child::Text(y)) if texts_match(x, y) => {}
            (Child::Text(x), Child::Text(y)) => {
                return Err(format!("<{}>: expected text {:?}, got {:?}", expected.name, x.trim(), y.trim()));
            }
            _ => return Err(format!("<{}>: element where text was expected, or the reverse", expected.name)),
        }
    }
    Ok(())
}

/// Compares an item the core emitted with the expected one.
pub fn matches(expected: &Item, actual: &Item) -> Result<(), String> {
    match (expected, actual) {
        (Item::Open(e), Item::Open(a)) => {
            if e.name != a.name || e.ns != a.ns {
                return Err("a different stream header".into());
            }
            attrs_match(e, a).map_err(|x| format!("stream header: {x}"))
        }
        (Item::Element(e), Item::Element(a)) => nodes_match(e, a),
        (Item::Close, Item::Close) => Ok(()),
        _ => Err(format!("expected {}, got {}", kind(expected), kind(actual))),
    }
}

fn kind(item: &Item) -> &'static str {
    match item {
        Item::Open(_) => "a stream header",
        Item::Element(_) => "an element",
        Item::Close => "the stream close",
    }
}

/// Writes an item back out as XML with explicit namespaces, for reports.
pub fn render(item: &Item) -> String {
    fn attrs(n: &Node, out: &mut String) {
        for (ns, name, value) in &n.attrs {
            if ns.is_empty() {
                let _ = write!(out, " {name}='{value}'");
            } else {
                let _ = write!(out, " {{{ns}}}{name}='{value}'");
            }
        }
    }
    fn walk(n: &Node, parent_ns: &str, out: &mut String) {
        out.push('<');
        out.push_str(&n.name);
        if n.ns != parent_ns {
            let _ = write!(out, " xmlns='{}'", n.ns);
        }
        attrs(n, out);
        if n.children.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        for c in &n.children {
            match c {
                Child::Node(c) => walk(c, &n.ns, out),
                Child::Text(t) => out.push_str(&t.replace('&', "&amp;").replace('<', "&lt;")),
            }
        }
        let _ = write!(out, "</{}>", n.name);
    }
    let mut out = String::new();
    match item {
        Item::Open(n) => {
            let _ = write!(out, "<stream xmlns='{}'", n.ns);
            attrs(n, &mut out);
            out.push('>');
        }
        Item::Element(n) => walk(n, "", &mut out),
        Item::Close => out.push_str("</stream>"),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only(text: &str) -> Vec<Item> {
        let (items, err) = items(text);
        assert_eq!(err, None);
        items.into_iter().map(|(_, i)| i).collect()
    }

    const HEADER: &str = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='x'>";

    #[test]
    fn streams_are_cut_into_items_with_namespaces_resolved() {
        let items = only(&format!(
            "<?xml version='1.0'?>{HEADER}<stream:features><bind xmlns='urn:b'/></stream:features> <message><body>a &amp; b&#33;</body></message></stream:stream>"
        ));
        assert_eq!(items.len(), 4);
        assert!(
            matches!(&items[0], Item::Open(n) if n.name == "stream" && n.attrs == [(String::new(), "to".into(), "x".into())])
        );
        assert!(matches!(&items[1], Item::Element(n) if n.ns == STREAMS && n.name == "features"));
        let Item::Element(m) = &items[2] else { panic!() };
        assert_eq!(m.ns, "jabber:client");
        assert_eq!(
            m.children,
            [Child::Node(Node {
                ns: "jabber:client".into(),
                name: "body".into(),
                attrs: vec![],
                children: vec![Child::Text("a & b!".into())]
            })]
        );
        assert_eq!(items[3], Item::Close);
    }

    #[test]
    fn expected_text_is_read_in_the_stream_context() {
        let text = "<iq type='result' id='b1'/><stream:features/><cl:message xmlns:cl='jabber:client'/>";
        let (items, err) = items_in(text, "jabber:client");
        assert_eq!(err, None);
        let nodes: Vec<(&str, &str, usize)> = items
            .iter()
            .map(|(at, i)| match i {
                Item::Element(n) => (n.ns.as_str(), n.name.as_str(), *at),
                _ => panic!("{i:?}"),
            })
            .collect();
        assert_eq!(nodes, [("jabber:client", "iq", 0), (STREAMS, "features", 27), ("jabber:client", "message", 45)]);
        // A header in the text declares its own content namespace.
        let (items, _) = items_in(
            &format!("<stream:stream xmlns='jabber:component:accept' xmlns:stream='{STREAMS}'><handshake/>"),
            "jabber:client",
        );
        assert!(matches!(&items[1], (_, Item::Element(n)) if n.ns == "jabber:component:accept"));
        // Without context, an unprefixed element is in no namespace.
        assert!(matches!(&only("<iq/>")[0], Item::Element(n) if n.ns.is_empty()));
    }

    #[test]
    fn matching_rules() {
        let exp = only(&format!(
            "{HEADER}<iq id='{{any}}' type='result' to='{{opt}}'><bind xmlns='urn:b'><jid>  j@x/r \n</jid></bind></iq>"
        ));
        let got = only(&format!(
            "{HEADER}<iq type='result' id='abc'><x:bind xmlns:x='urn:b'><x:jid>j@x/r</x:jid></x:bind></iq>"
        ));
        assert_eq!(matches(&exp[1], &got[1]), Ok(()));
        let extra = only(&format!(
            "{HEADER}<iq type='result' id='abc' from='y'><bind xmlns='urn:b'><jid>j@x/r</jid></bind></iq>"
        ));
        assert!(matches(&exp[1], &extra[1]).unwrap_err().contains("unexpected attribute from"));
        let other =
            only(&format!("{HEADER}<iq type='result' id='abc'><bind xmlns='urn:c'><jid>j@x/r</jid></bind></iq>"));
        assert!(matches(&exp[1], &other[1]).is_err());
        let b64a = only(&format!("{HEADER}<auth xmlns='urn:s'>YWJj\n  ZGVm</auth>"));
        let b64b = only(&format!("{HEADER}<auth xmlns='urn:s'>YWJjZGVm</auth>"));
        assert_eq!(matches(&b64a[1], &b64b[1]), Ok(()));
        // Words are not wrapped base64: their spaces count.
        let words = only(&format!("{HEADER}<body>Neither fair</body>"));
        let joined = only(&format!("{HEADER}<body>Neitherfair</body>"));
        assert!(matches(&words[1], &joined[1]).is_err());
        assert!(matches(&exp[0], &got[1]).is_err());
    }
}
