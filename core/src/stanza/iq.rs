//! `<iq/>` (RFC 6120 §8.2.3): request and response.

use alloc::boxed::Box;
use alloc::string::String;

use super::{Common, Rejected, StanzaError, StanzaParseError, read_common, write_common};
use crate::jid::Jid;
use crate::xml::{Element, InvalidXml, Namespace, Node};

/// What an IQ is, with what it carries.
// The error variant is the largest; IQs are few and short-lived, so a
// flat enum reads better than boxing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IqKind {
    /// A request for information, with its one payload.
    Get(Element),
    /// A request to change something, with its one payload.
    Set(Element),
    /// A successful response, with at most one payload.
    Result(Option<Element>),
    /// An error response, with the request's payload if the responder
    /// included it.
    Error {
        /// What went wrong.
        error: StanzaError,
        /// The payload of the request, echoed back.
        request: Option<Element>,
    },
}

impl IqKind {
    /// The `type` attribute value.
    pub fn as_str(&self) -> &'static str {
        match self {
            IqKind::Get(_) => "get",
            IqKind::Set(_) => "set",
            IqKind::Result(_) => "result",
            IqKind::Error { .. } => "error",
        }
    }

    /// True for get and set: an IQ that must be answered.
    pub fn is_request(&self) -> bool {
        matches!(self, IqKind::Get(_) | IqKind::Set(_))
    }

    /// The payload of a get, set or result.
    pub fn payload(&self) -> Option<&Element> {
        match self {
            IqKind::Get(p) | IqKind::Set(p) => Some(p),
            IqKind::Result(p) => p.as_ref(),
            IqKind::Error { request, .. } => request.as_ref(),
        }
    }
}

/// An IQ stanza.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Iq {
    /// The entity asked (none: the sender's own account or server).
    pub to: Option<Jid>,
    /// The sender (stamped by the server).
    pub from: Option<Jid>,
    /// Correlates a response with its request; required.
    pub id: String,
    /// The stanza's default language (`xml:lang`).
    pub lang: Option<String>,
    /// Type and payload.
    pub kind: IqKind,
}

impl Iq {
    /// A get request.
    pub fn get(to: Option<Jid>, id: impl Into<String>, payload: Element) -> Iq {
        Iq { to, from: None, id: id.into(), lang: None, kind: IqKind::Get(payload) }
    }

    /// A set request.
    pub fn set(to: Option<Jid>, id: impl Into<String>, payload: Element) -> Iq {
        Iq { to, from: None, id: id.into(), lang: None, kind: IqKind::Set(payload) }
    }

    /// The result answering this request: addressed back to its sender,
    /// with its id.
    pub fn result_for(&self, payload: Option<Element>) -> Iq {
        Iq { to: self.from.clone(), from: None, id: self.id.clone(), lang: None, kind: IqKind::Result(payload) }
    }

    /// The error answering this request.
    pub fn error_for(&self, error: StanzaError) -> Iq {
        Iq {
            to: self.from.clone(),
            from: None,
            id: self.id.clone(),
            lang: None,
            kind: IqKind::Error { error, request: None },
        }
    }

    /// Reads an `<iq/>` element (in any content namespace), enforcing the
    /// rules of RFC 6120 §8.2.3.
    pub fn from_element(element: Element) -> Result<Iq, StanzaParseError> {
        Iq::parse(element).map_err(|rejected| rejected.error)
    }

    /// Like [`from_element`](Iq::from_element), returning a refused
    /// element with the error. Everything that can fail is checked before
    /// the element is taken apart.
    pub(crate) fn parse(mut element: Element) -> Result<Iq, Box<Rejected>> {
        let (Common { to, from, lang, .. }, id, kind) = match Iq::check(&element) {
            Ok(checked) => checked,
            Err(e) => return Err(Rejected::new(e, element)),
        };
        let ns = element.ns().clone();
        let mut children = element.take_nodes().into_iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        });
        let (first, second) = (children.next(), children.next());
        let kind = match (kind, first) {
            ("get", Some(p)) => IqKind::Get(p),
            ("set", Some(p)) => IqKind::Set(p),
            ("result", p) => IqKind::Result(p),
            (_, first) => {
                // The <error/> child, and optionally the request payload,
                // in either order.
                let (error, request) = match (first, second) {
                    (Some(a), b) if a.is("error", &ns) => (Some(a), b),
                    (Some(a), Some(b)) if b.is("error", &ns) => (Some(b), Some(a)),
                    (a, _) => (None, a),
                };
                let error = error.map_or_else(StanzaError::missing, |e| StanzaError::from_element(&e));
                IqKind::Error { error, request }
            }
        };
        Ok(Iq { to, from, id, lang, kind })
    }

    /// The checks of RFC 6120 §8.2.3, on the intact element: addresses,
    /// id, type, and the number of children for each type.
    fn check(element: &Element) -> Result<(Common, String, &'static str), StanzaParseError> {
        let common = read_common(element)?;
        let id = common.id.clone().ok_or(StanzaParseError::MissingId)?;
        let kind: &'static str = match element.attr("type").ok_or(StanzaParseError::MissingType)? {
            "get" => "get",
            "set" => "set",
            "result" => "result",
            "error" => "error",
            other => return Err(StanzaParseError::InvalidType(other.into())),
        };
        let children = element.children().count();
        let fits = match kind {
            "get" | "set" => children == 1,
            "result" => children <= 1,
            _ => true,
        };
        if !fits {
            return Err(StanzaParseError::IqChildren { kind, children });
        }
        Ok((common, id, kind))
    }

    /// Writes the IQ in content namespace `ns`.
    pub fn to_element(&self, ns: &Namespace) -> Result<Element, InvalidXml> {
        let mut el = Element::new("iq", ns.clone());
        write_common(&mut el, self.to.as_ref(), self.from.as_ref(), Some(&self.id), self.lang.as_deref())?;
        el.set_attr("type", self.kind.as_str())?;
        match &self.kind {
            IqKind::Get(p) | IqKind::Set(p) | IqKind::Result(Some(p)) => el.append_child(p.clone()),
            IqKind::Result(None) => {}
            IqKind::Error { error, request } => {
                if let Some(request) = request {
                    el.append_child(request.clone());
                }
                el.append_child(error.to_element(ns)?);
            }
        }
        Ok(el)
    }
}
