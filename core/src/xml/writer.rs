//! Serialisation: stream headers, elements with as few namespace
//! declarations as the scope allows, and the stream close tag.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::chars::{escape_attr, escape_text};
use super::element::{Element, NodeRef};
use super::namespace::{Namespace, XML_NS};

/// Writes one XML stream: the header, then any number of elements in the
/// scope the header declared, then the close tag.
///
/// Elements are written in the default-namespace style RFC 6120 §4.8.5
/// requires for stanzas: an element in the stream's content namespace gets
/// no prefix and no declaration; an element in the namespace of a prefix
/// the header declared (`stream:features`) uses that prefix; any other
/// element declares its namespace as the default. Namespaced attributes
/// other than `xml:` get a generated prefix.
#[derive(Clone, Debug, Default)]
pub struct StreamWriter {
    /// Declarations on the stream header, as (prefix, namespace); prefix
    /// empty for the default namespace.
    scope: Vec<(String, Namespace)>,
    /// The root's qualified name, for the close tag.
    root_qname: String,
}

impl StreamWriter {
    /// A writer with nothing declared (for elements written on their own).
    pub fn new() -> StreamWriter {
        StreamWriter::default()
    }

    /// Writes the XML declaration and the stream header: `root` (its
    /// children are ignored) with the given namespace declarations, which
    /// then form the scope of everything written until the next header.
    ///
    /// If no declaration covers `root`'s own namespace it is declared as the
    /// default (or, when a default is already declared, under a generated
    /// prefix).
    pub fn open(&mut self, out: &mut String, root: &Element, declarations: &[(&str, Namespace)]) {
        self.scope = declarations.iter().map(|(p, ns)| ((*p).into(), ns.clone())).collect();
        let mut prefix = self.scope.iter().find(|(_, ns)| ns == root.ns()).map(|(p, _)| p.clone());
        if prefix.is_none() {
            let p = if self.scope.iter().any(|(p, _)| p.is_empty()) { self.fresh_prefix() } else { String::new() };
            self.scope.push((p.clone(), root.ns().clone()));
            prefix = Some(p);
        }
        let prefix = prefix.unwrap_or_default();
        self.root_qname = if prefix.is_empty() { root.name().into() } else { format!("{prefix}:{}", root.name()) };

        out.push_str("<?xml version='1.0'?><");
        out.push_str(&self.root_qname);
        for (p, ns) in &self.scope {
            out.push_str(if p.is_empty() { " xmlns='" } else { " xmlns:" });
            if !p.is_empty() {
                out.push_str(p);
                out.push_str("='");
            }
            escape_attr(out, ns);
            out.push('\'');
        }
        let mut bindings = Vec::new();
        write_attributes(out, root, &self.scope, &mut bindings);
        out.push('>');
    }

    fn fresh_prefix(&self) -> String {
        (0..).map(|i| format!("ns{i}")).find(|p| !self.scope.iter().any(|(q, _)| q == p)).unwrap_or_default()
    }

    /// Writes `element` in the header's scope.
    pub fn write(&self, out: &mut String, element: &Element) {
        write_element(out, element, &self.scope);
    }

    /// Writes the close tag of the stream opened last.
    pub fn close(&self, out: &mut String) {
        out.push_str("</");
        out.push_str(&self.root_qname);
        out.push('>');
    }
}

/// The default namespace of `scope` (none if not declared).
fn default_ns(scope: &[(String, Namespace)]) -> &str {
    scope.iter().rev().find(|(p, _)| p.is_empty()).map_or("", |(_, ns)| ns.as_str())
}

/// One element being written: where its children resume, and what to
/// restore when it closes.
#[derive(Clone, Copy)]
struct Frame<'a> {
    element: &'a Element,
    next_child: usize,
    prefix: Option<&'a str>,
    outer_default: &'a str,
    outer_bindings: usize,
}

/// Writes `root` and its descendants without recursion.
fn write_element(out: &mut String, root: &Element, scope: &[(String, Namespace)]) {
    let mut default = default_ns(scope);
    // Prefixes declared inside this element tree, for attributes.
    let mut bindings: Vec<(String, &str)> = Vec::new();
    let mut stack = FrameStack::default();
    let mut next = Some(root);
    loop {
        if let Some(element) = next.take() {
            // Open the element.
            let outer_default = default;
            let outer_bindings = bindings.len();
            let ns = element.ns().as_str();
            let prefix = if ns == default {
                None
            } else if ns == XML_NS {
                // XML-NAMES §3: this namespace only ever goes with `xml:`.
                Some("xml")
            } else {
                scope.iter().find(|(p, n)| !p.is_empty() && n.as_str() == ns).map(|(p, _)| p.as_str())
            };
            out.push('<');
            if let Some(p) = prefix {
                out.push_str(p);
                out.push(':');
            }
            out.push_str(element.name());
            if ns != default && prefix.is_none() {
                out.push_str(" xmlns='");
                escape_attr(out, ns);
                out.push('\'');
                default = ns;
            }
            write_attributes(out, element, scope, &mut bindings);
            if element.is_empty() {
                out.push_str("/>");
                default = outer_default;
                bindings.truncate(outer_bindings);
            } else {
                out.push('>');
                stack.push(Frame { element, next_child: 0, prefix, outer_default, outer_bindings });
            }
        }
        let Some(frame) = stack.last_mut() else {
            return;
        };
        match frame.element.node(frame.next_child) {
            Some(node) => {
                frame.next_child += 1;
                match node {
                    NodeRef::Element(child) => next = Some(child),
                    NodeRef::Text(text) => escape_text(out, text),
                }
            }
            None => {
                out.push_str("</");
                if let Some(p) = frame.prefix {
                    out.push_str(p);
                    out.push(':');
                }
                out.push_str(frame.element.name());
                out.push('>');
                default = frame.outer_default;
                bindings.truncate(frame.outer_bindings);
                stack.pop();
            }
        }
    }
}

/// The open elements: the first few in place, deeper ones on the heap, so
/// writing an ordinary stanza allocates nothing.
#[derive(Default)]
struct FrameStack<'a> {
    inline: [Option<Frame<'a>>; FrameStack::INLINE],
    len: usize,
    deeper: Vec<Frame<'a>>,
}

impl<'a> FrameStack<'a> {
    const INLINE: usize = 16;

    fn push(&mut self, frame: Frame<'a>) {
        match self.inline.get_mut(self.len) {
            Some(slot) => *slot = Some(frame),
            None => self.deeper.push(frame),
        }
        self.len += 1;
    }

    fn last_mut(&mut self) -> Option<&mut Frame<'a>> {
        let top = self.len.checked_sub(1)?;
        match self.inline.get_mut(top) {
            Some(slot) => slot.as_mut(),
            None => self.deeper.last_mut(),
        }
    }

    fn pop(&mut self) {
        let Some(top) = self.len.checked_sub(1) else { return };
        if top >= Self::INLINE {
            self.deeper.pop();
        }
        self.len = top;
    }
}

/// Writes `element`'s attributes, declaring prefixes for namespaced ones
/// that have none in scope.
fn write_attributes<'a>(
    out: &mut String,
    element: &'a Element,
    scope: &[(String, Namespace)],
    bindings: &mut Vec<(String, &'a str)>,
) {
    if let Some(text) = element.attribute_text() {
        // Unprefixed names and verbatim values only, checked when read.
        out.push(' ');
        out.push_str(text);
        return;
    }
    for attr in element.attrs() {
        out.push(' ');
        let ns = attr.ns().as_str();
        if ns.is_empty() {
            // The common case: an unqualified attribute.
        } else if ns == XML_NS {
            out.push_str("xml:");
        } else {
            let known = bindings
                .iter()
                .rev()
                .find(|(_, n)| *n == ns)
                .map(|(p, _)| p.clone())
                .or_else(|| scope.iter().find(|(p, n)| !p.is_empty() && n.as_str() == ns).map(|(p, _)| p.clone()));
            let prefix = match known {
                Some(p) => p,
                None => {
                    let taken = |p: &str| scope.iter().any(|(q, _)| q == p) || bindings.iter().any(|(q, _)| q == p);
                    let p = (bindings.len()..).map(|i| format!("ns{i}")).find(|p| !taken(p)).unwrap_or_default();
                    out.push_str("xmlns:");
                    out.push_str(&p);
                    out.push_str("='");
                    escape_attr(out, ns);
                    out.push_str("' ");
                    bindings.push((p.clone(), ns));
                    p
                }
            };
            out.push_str(&prefix);
            out.push(':');
        }
        out.push_str(attr.name());
        out.push_str("='");
        escape_attr(out, attr.value());
        out.push('\'');
    }
}

impl fmt::Display for Element {
    /// The element as standalone XML, declaring its own namespace.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        write_element(&mut out, self, &[]);
        f.write_str(&out)
    }
}
