//! Tree building: start tags (their namespace declarations bound, names
//! resolved, attributes checked), end tags matched to their start, text
//! appended; the element under construction on an explicit stack, so
//! nothing recurses on depth the peer chooses, its children gathered
//! beside it until it ends.

use alloc::borrow::{Cow, ToOwned};
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ops::Range;

use xmlparser::{ElementEnd, Token, Tokenizer};

use super::super::element::{CharData, Element, Node, OwnedAttribute};
use super::super::error::{Limit, XmlError};
use super::super::name::Str;
use super::super::namespace::Interner;
use super::super::namespace::{Namespace, XML_NS, XMLNS_NS};
use super::escape::{check_chars, is_verbatim_value, normalize_newlines, unescape, unescape_attr};
use super::lex;
use super::scope::Scope;
use super::{RawAttr, State, StreamEvent, StreamHeader, StreamReader};

/// Up to how many children an element's scratch list is copied out of
/// (and kept for the next element at its depth); a longer one is given
/// away whole and its depth starts a list of this many again. What stays
/// between stanzas is then at most this many nodes per depth (under 2 KiB;
/// 64 measured no faster and would let a deep, wide stanza leave 480 KiB
/// behind, found in review).
const KEEP_GATHERED: usize = 16;

impl StreamReader {
    /// Tokenizes a start tag framing did not read (not a common one) into
    /// `self.attrs`; returns the element's (prefix, local) ranges and
    /// whether it is empty (`<x/>`). The tokenizer reports any fault.
    fn tokenize_start_tag(&mut self, r: Range<usize>) -> Result<(Range<usize>, Range<usize>, bool), XmlError> {
        self.attrs.clear();
        let mut name = None;
        for token in Tokenizer::from_fragment(&self.input.buf, r.clone()) {
            match token {
                Ok(Token::ElementStart { prefix, local, .. }) => name = Some((prefix.range(), local.range())),
                Ok(Token::Attribute { prefix, local, value, .. }) => {
                    if self.attrs.len() == self.limits.max_attributes {
                        return Err(XmlError::LimitExceeded {
                            offset: self.input.at(r.start),
                            limit: Limit::Attributes(self.limits.max_attributes),
                        });
                    }
                    self.attrs.push(RawAttr { prefix: prefix.range(), local: local.range(), value: value.range() });
                }
                Ok(Token::ElementEnd { end, .. }) => {
                    let Some((prefix, local)) = name else { break };
                    return match end {
                        ElementEnd::Open => Ok((prefix, local, false)),
                        ElementEnd::Empty => Ok((prefix, local, true)),
                        ElementEnd::Close(..) => Err(self.malformed(r.start, "bad start tag")),
                    };
                }
                Ok(_) => break,
                Err(e) => return Err(self.tokenizer_error(r.start, e)),
            }
        }
        Err(self.malformed(r.start, "bad start tag"))
    }

    pub(super) fn start_tag(&mut self, r: Range<usize>) -> Result<Option<StreamEvent>, XmlError> {
        let offset = self.input.at(r.start);
        if self.state == State::Closed {
            return Err(XmlError::Malformed { offset, detail: "element after the root element".into() });
        }
        let (prefix_r, local_r, empty) = match self.lexed.take() {
            Some(tag) => tag,
            None => self.tokenize_start_tag(r.clone())?,
        };
        let is_root = matches!(self.state, State::Prolog { .. });
        if !is_root && self.stack.len() == self.limits.max_depth {
            return Err(XmlError::LimitExceeded {
                offset: self.stanza_start,
                limit: Limit::Depth(self.limits.max_depth),
            });
        }
        if !is_root && self.stack.is_empty() {
            // A stanza begins: its text stays buffered until it ends, and
            // verbatim values become spans of it.
            self.stanza_start = offset;
            self.input.hold = Some(r.start);
        }

        // Namespace declarations first: they apply to the tag they are on.
        self.scope.enter();
        let mut declared = Vec::new();
        let mut plain_attrs = 0;
        for i in 0..self.attrs.len() {
            let a = self.attrs[i].clone();
            let (prefix, local) = (&self.input.buf[a.prefix.clone()], &self.input.buf[a.local.clone()]);
            let Some(declared_prefix) = declared_prefix(prefix, local) else {
                plain_attrs += 1;
                continue;
            };
            let uri = unescape_attr(&self.input.buf[a.value.clone()]).map_err(|e| e.at(offset))?;
            let max = self.limits.max_namespace_declarations;
            if let Some(ns) = declare(&mut self.scope, &mut self.interner, max, declared_prefix, &uri, offset)?
                && is_root
            {
                declared.push((declared_prefix.to_owned(), ns));
            }
        }

        let prefix = &self.input.buf[prefix_r.clone()];
        let Some(ns) = self.scope.resolve(prefix).cloned() else {
            return Err(XmlError::UnboundPrefix { offset, prefix: prefix.into() });
        };
        if ns.as_str() == XMLNS_NS || (prefix == "xmlns") {
            return Err(XmlError::ReservedPrefix { offset, prefix: prefix.into() });
        }

        let name = Str::name(&self.input.buf[local_r.clone()]);
        let element = match self.attribute_span(plain_attrs) {
            Some(tag) => {
                self.pending_spans = true;
                Element::from_tag(name, ns, tag)
            }
            None => Element::from_parts(name, ns, self.attribute_list(plain_attrs, offset)?),
        };
        // The root needs the name range once more below.
        let local_r = local_r.clone();
        let prefix = self.input.buf[prefix_r].to_owned();

        if is_root {
            self.state = State::Stream;
            self.root_name = self.input.buf[local_r].to_owned();
            self.open_prefixes.push(prefix);
            if empty {
                self.queued = Some(StreamEvent::Close);
                self.close_root();
            }
            return Ok(Some(StreamEvent::Open(StreamHeader { root: element, namespaces: declared })));
        }
        if empty {
            self.scope.leave();
            return Ok(self.finish_element(element, r.end));
        }
        if self.children.len() == self.stack.len() {
            self.children.push(Vec::new());
        }
        self.stack.push(element);
        self.open_prefixes.push(prefix);
        Ok(None)
    }

    /// The plain attributes' text as one span of the stanza, when an
    /// element can keep them so (`Element::from_tag`): every one
    /// unprefixed, every value verbatim (no reference, no whitespace to
    /// normalise), no name twice, no namespace declaration between two of
    /// them (so the span holds attributes only). `None` sends them the long
    /// way ([`attribute_list`](Self::attribute_list)), which also reports
    /// any fault.
    fn attribute_span(&self, plain_attrs: usize) -> Option<Str> {
        if plain_attrs == 0 {
            return None;
        }
        let buf = self.input.buf.as_bytes();
        let (mut first, mut last, mut declaration_after_first) = (None, 0, false);
        for (i, a) in self.attrs.iter().enumerate() {
            let (prefix, local) = (&buf[a.prefix.clone()], &buf[a.local.clone()]);
            if declared_prefix(prefix, local).is_some() {
                declaration_after_first |= first.is_some();
                continue;
            }
            if declaration_after_first
                || !prefix.is_empty()
                || !is_verbatim_value(&buf[a.value.clone()])
                || self.attrs[..i].iter().any(|b| b.prefix.is_empty() && &buf[b.local.clone()] == local)
            {
                return None;
            }
            first.get_or_insert(a.local.start);
            // Through the value's closing quote.
            last = a.value.end + 1;
        }
        span(self.input.hold, first?..last)
    }

    /// The plain attributes, one by one: names resolved, duplicates
    /// refused, values unescaped (verbatim ones spans of the stanza).
    fn attribute_list(&mut self, plain_attrs: usize, offset: u64) -> Result<Vec<OwnedAttribute>, XmlError> {
        let mut attributes = Vec::with_capacity(plain_attrs);
        for i in 0..self.attrs.len() {
            let a = self.attrs[i].clone();
            let (prefix, local) = (&self.input.buf[a.prefix.clone()], &self.input.buf[a.local.clone()]);
            if declared_prefix(prefix, local).is_some() {
                continue;
            }
            let attr_ns = if prefix.is_empty() {
                Namespace::NONE
            } else {
                match self.scope.resolve(prefix) {
                    Some(ns) => ns.clone(),
                    None => {
                        return Err(XmlError::UnboundPrefix { offset, prefix: prefix.into() });
                    }
                }
            };
            // Duplicates are judged on expanded names (XML-NAMES §6.3),
            // which also catches literal repeats.
            if attributes.iter().any(|x: &OwnedAttribute| x.is(attr_ns.as_str(), local)) {
                let name = if prefix.is_empty() { local.to_owned() } else { format!("{prefix}:{local}") };
                return Err(XmlError::DuplicateAttribute { offset, name });
            }
            let local = Str::name(local);
            let value = match unescape_attr(&self.input.buf[a.value.clone()]).map_err(|e| e.at(offset))? {
                Cow::Borrowed(value) => match Str::constant_value(value) {
                    Some(constant) => constant,
                    None => match span(self.input.hold, a.value.clone()) {
                        Some(span) => {
                            self.pending_spans = true;
                            span
                        }
                        None => Str::Owned(value.into()),
                    },
                },
                Cow::Owned(value) => Str::Owned(value),
            };
            attributes.push(Element::attribute(attr_ns, local, value));
        }

        Ok(attributes)
    }

    /// Appends a finished element to its parent, or returns it as an event
    /// if it is a stanza (`end`: where its text ends in the buffer), its
    /// spans now pointing into one shared copy of its text.
    fn finish_element(&mut self, mut element: Element, end: usize) -> Option<StreamEvent> {
        match self.stack.len().checked_sub(1) {
            Some(parent) => {
                self.children[parent].push(Node::Element(element));
                None
            }
            None => {
                if let Some(hold) = self.input.hold.take()
                    && core::mem::take(&mut self.pending_spans)
                {
                    let text: Arc<str> = Arc::from(&self.input.buf[hold..end]);
                    element.resolve_spans(&text);
                }
                Some(StreamEvent::Element(element))
            }
        }
    }

    fn close_root(&mut self) {
        self.state = State::Closed;
        self.scope.leave();
        self.open_prefixes.clear();
    }

    pub(super) fn end_tag(&mut self, r: Range<usize>) -> Result<Option<StreamEvent>, XmlError> {
        let offset = self.input.at(r.start);
        if self.state != State::Stream {
            return Err(XmlError::Malformed { offset, detail: "end tag outside the root element".into() });
        }
        let (prefix, local) = match lex::end_tag(self.input.buf.as_bytes(), r.clone()) {
            Some(names) => names,
            // Not a common tag: the tokenizer reads it, and reports any fault.
            None => match Tokenizer::from_fragment(&self.input.buf, r.clone()).next() {
                Some(Ok(Token::ElementEnd { end: ElementEnd::Close(prefix, local), .. })) => {
                    (prefix.range(), local.range())
                }
                Some(Err(e)) => return Err(self.tokenizer_error(r.start, e)),
                _ => return Err(self.malformed(r.start, "bad end tag")),
            },
        };
        let (prefix, local) = (&self.input.buf[prefix], &self.input.buf[local]);
        let (open_prefix, open_local) = match self.stack.last() {
            Some(el) => (self.open_prefixes.last().map(String::as_str).unwrap_or(""), el.name()),
            None => (self.open_prefixes.first().map(String::as_str).unwrap_or(""), self.root_name.as_str()),
        };
        if prefix != open_prefix || local != open_local {
            let qname = |p: &str, l: &str| {
                if p.is_empty() { l.to_owned() } else { format!("{p}:{l}") }
            };
            return Err(XmlError::MismatchedEndTag {
                offset,
                expected: qname(open_prefix, open_local),
                found: qname(prefix, local),
            });
        }
        self.scope.leave();
        self.open_prefixes.pop();
        match self.stack.pop() {
            Some(mut element) => {
                let children = &mut self.children[self.stack.len()];
                if let [Node::Text(_)] = children.as_slice()
                    && let Some(Node::Text(text)) = children.pop()
                {
                    // A lone run of text is held in place: no list.
                    element.set_text(text);
                } else if children.len() > KEEP_GATHERED {
                    // A wide list is given away whole, so no depth keeps
                    // a wide list from stanza to stanza (found in review);
                    // its successor starts at the width kept, not at none
                    // (growing from none again cost four allocations).
                    element.set_children(core::mem::replace(children, Vec::with_capacity(KEEP_GATHERED)));
                } else if !children.is_empty() {
                    // Moved out exactly, the scratch list kept for the next.
                    let mut exact = Vec::with_capacity(children.len());
                    exact.append(children);
                    element.set_children(exact);
                }
                Ok(self.finish_element(element, r.end))
            }
            None => {
                self.close_root();
                Ok(Some(StreamEvent::Close))
            }
        }
    }

    /// Character data or a CDATA section inside a stanza.
    pub(super) fn text(&mut self, r: Range<usize>, cdata: bool) -> Result<(), XmlError> {
        // Framing already delimited the construct exactly, so checking the
        // characters is all that is left: faster byte-wise than a tokenizer
        // decoding every character.
        let raw = if cdata { r.start + 9..r.end - 3 } else { r.clone() };
        let text = &self.input.buf[raw.clone()];
        let checked = match self.checked_text.take() {
            Some(checked) if !cdata => checked,
            _ => check_chars(text, !cdata),
        };
        let verbatim = checked.map_err(|e| e.at(self.input.at(r.start)))? && !cdata;
        let Some(parent) = self.stack.len().checked_sub(1) else {
            return Ok(());
        };
        let children = &mut self.children[parent];
        let follows_text = matches!(children.last(), Some(Node::Text(_)));
        if verbatim
            && !follows_text
            && let Some(span) = span(self.input.hold, raw.clone())
        {
            self.pending_spans = true;
            children.push(Node::Text(CharData(span)));
            return Ok(());
        }
        // Unescaped text is never longer than its source: one allocation.
        let mut out = String::with_capacity(text.len());
        if cdata {
            normalize_newlines(&mut out, text);
        } else {
            unescape(&mut out, text, false).map_err(|e| e.at(self.input.at(r.start)))?;
        }
        match children.last_mut() {
            _ if out.is_empty() => {}
            Some(Node::Text(run)) => {
                // Merging into a run still pending: make that run owned first.
                if let (Str::Pending { start, end }, Some(hold)) = (&run.0, self.input.hold) {
                    let stanza = &self.input.buf[hold..];
                    run.0 = Str::Owned(stanza.get(*start as usize..*end as usize).unwrap_or_default().into());
                }
                run.push_str(&out);
            }
            _ => children.push(Node::Text(CharData::from(out))),
        }
        Ok(())
    }
}

/// The prefix an attribute named (`prefix`, `local`) declares, if it is a
/// namespace declaration: `xmlns` the default (`""`), `xmlns:p` for `p`.
fn declared_prefix<'a, T: AsRef<[u8]> + ?Sized>(prefix: &'a T, local: &'a T) -> Option<&'a T> {
    let (p, l) = (prefix.as_ref(), local.as_ref());
    match (p.is_empty(), p == b"xmlns") {
        (true, _) if l == b"xmlns" => Some(prefix),
        (false, true) => Some(local),
        _ => None,
    }
}

/// A span of the stanza being read (which starts at `hold` in the buffer)
/// for `r`, if a stanza is being read and the span fits.
fn span(hold: Option<usize>, r: Range<usize>) -> Option<Str> {
    let hold = hold?;
    let start = u32::try_from(r.start.checked_sub(hold)?).ok()?;
    let end = u32::try_from(r.end - hold).ok()?;
    Some(Str::Pending { start, end })
}

/// Binds `prefix` (empty for the default namespace) on the element being
/// opened, enforcing XML-NAMES §3. Returns the namespace bound, or
/// `None` for the redundant (but legal) declaration of `xml`.
fn declare(
    scope: &mut Scope,
    interner: &mut Interner,
    max_declarations: usize,
    prefix: &str,
    uri: &str,
    offset: u64,
) -> Result<Option<Namespace>, XmlError> {
    let mark = scope.marks.last().copied().unwrap_or(0);
    if scope.bindings[mark..].iter().any(|(p, _)| p == prefix) {
        let name = if prefix.is_empty() { "xmlns".into() } else { format!("xmlns:{prefix}") };
        return Err(XmlError::DuplicateAttribute { offset, name });
    }
    match prefix {
        "xml" if uri == XML_NS => return Ok(None),
        "xml" | "xmlns" => {
            return Err(XmlError::ReservedPrefix { offset, prefix: prefix.into() });
        }
        _ => {}
    }
    if uri == XML_NS || uri == XMLNS_NS {
        return Err(XmlError::ReservedNamespace { offset, uri: uri.into() });
    }
    if uri.is_empty() && !prefix.is_empty() {
        return Err(XmlError::Malformed {
            offset,
            detail: format!("prefix {prefix:?} declared with an empty namespace name"),
        });
    }
    if scope.bindings.len() == max_declarations {
        return Err(XmlError::LimitExceeded { offset, limit: Limit::NamespaceDeclarations(max_declarations) });
    }
    let ns = interner.intern(uri);
    scope.bind(prefix.into(), ns.clone());
    Ok(Some(ns))
}
