//! `<iq/>` (RFC 6120 §8.2.3): request and response.

use alloc::boxed::Box;

use super::{Head, Reading, Rejected, StanzaError, StanzaParseError, stanza_head};
use crate::jid::Jid;
use crate::xml::{Element, InvalidXml};

/// The `type` of an IQ (RFC 6120 §8.2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IqType {
    /// A request for information, with one payload.
    Get,
    /// A request to change something, with one payload.
    Set,
    /// A successful response, with at most one payload.
    Result,
    /// An error response.
    Error,
}

impl IqType {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            IqType::Get => "get",
            IqType::Set => "set",
            IqType::Result => "result",
            IqType::Error => "error",
        }
    }

    /// True for get and set: an IQ that must be answered.
    pub fn is_request(self) -> bool {
        matches!(self, IqType::Get | IqType::Set)
    }

    fn parse(value: &str) -> Option<IqType> {
        match value {
            "get" => Some(IqType::Get),
            "set" => Some(IqType::Set),
            "result" => Some(IqType::Result),
            "error" => Some(IqType::Error),
            _ => None,
        }
    }
}

/// An IQ stanza: the element, with views onto it.
///
/// ```
/// use sxmpp::jid::Jid;
/// use sxmpp::stanza::{Iq, IqType};
/// use sxmpp::xml::Element;
///
/// let ping = Iq::get(Some(Jid::new("example.com")?), Element::new("ping", "urn:xmpp:ping"));
/// assert_eq!(ping.type_(), IqType::Get);
/// assert!(ping.payload().is_some_and(|p| p.is("ping", "urn:xmpp:ping")));
/// // The connection gives it an id when it is sent.
/// assert_eq!(ping.id(), Some(""));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Iq {
    pub(super) head: Head,
}

stanza_head!(Iq);

impl Iq {
    fn with_type(type_: IqType, to: Option<Jid>) -> Iq {
        let mut head = Head::new("iq");
        // Constant tokens; an empty id asks the connection for one.
        let _ = head.element.set_attr("id", "");
        let _ = head.element.set_attr("type", type_.as_str());
        head.set_to(to);
        Iq { head }
    }

    /// A get request for `payload`, to `to` (`None`: the sender's own
    /// account or server). Its id is empty until the connection assigns
    /// one (or [`with_id`](Iq::with_id) sets it).
    pub fn get(to: Option<Jid>, payload: Element) -> Iq {
        let mut iq = Iq::with_type(IqType::Get, to);
        iq.head.element.append_child(payload);
        iq
    }

    /// A set request, like [`get`](Iq::get).
    pub fn set(to: Option<Jid>, payload: Element) -> Iq {
        let mut iq = Iq::with_type(IqType::Set, to);
        iq.head.element.append_child(payload);
        iq
    }

    /// The result answering this request: addressed back to its sender,
    /// with its id.
    pub fn result_for(&self, payload: Option<Element>) -> Iq {
        let mut iq = Iq::with_type(IqType::Result, self.from().cloned());
        // The request's id was checked when it was read.
        let _ = iq.head.set_id(self.id());
        if let Some(p) = payload {
            iq.head.element.append_child(p);
        }
        iq.head.set_content_ns(self.head.content_ns());
        iq
    }

    /// The error answering this request (RFC 6120 §8.3.1); refused if XML
    /// cannot carry the error's text.
    pub fn error_for(&self, error: &StanzaError) -> Result<Iq, InvalidXml> {
        let mut iq = Iq::with_type(IqType::Error, self.from().cloned());
        let _ = iq.head.set_id(self.id());
        iq.head.set_content_ns(self.head.content_ns());
        let el = error.to_element(iq.head.content_ns())?;
        iq.head.element.append_child(el);
        Ok(iq)
    }

    /// Reads an `<iq/>` element (in any content namespace), enforcing the
    /// rules of RFC 6120 §8.2.3.
    pub(crate) fn parse(element: Element, reading: Reading<'_>) -> Result<Iq, Box<Rejected>> {
        let [to, from, id, type_] = element.attrs_stored(["to", "from", "id", "type"]);
        if let Err(e) = Iq::check(&element, id.as_deref(), type_.as_deref()) {
            return Err(Rejected::new(e, element));
        }
        Ok(Iq { head: Head::read(element, [to, from], reading)? })
    }

    /// The checks of RFC 6120 §8.2.3 on the element and its `id` and
    /// `type`: both present, the type known, the number of children right
    /// for it.
    fn check(element: &Element, id: Option<&str>, type_: Option<&str>) -> Result<(), StanzaParseError> {
        id.ok_or(StanzaParseError::MissingId)?;
        let value = type_.ok_or(StanzaParseError::MissingType)?;
        let type_ = IqType::parse(value).ok_or_else(|| StanzaParseError::InvalidType(value.into()))?;
        let children = element.children().count();
        let fits = match type_ {
            IqType::Get | IqType::Set => children == 1,
            IqType::Result => children <= 1,
            IqType::Error => true,
        };
        if !fits {
            return Err(StanzaParseError::IqChildren { kind: type_.as_str(), children });
        }
        Ok(())
    }

    /// The IQ type (checked when the stanza was read or built).
    pub fn type_(&self) -> IqType {
        self.head.element.attr("type").and_then(IqType::parse).unwrap_or(IqType::Error)
    }

    /// True for get and set: an IQ that must be answered.
    pub fn is_request(&self) -> bool {
        self.type_().is_request()
    }

    /// The payload: of a get or set its one child, of a result its child if
    /// any, of an error the request it echoes if any.
    pub fn payload(&self) -> Option<&Element> {
        let ns = self.head.content_ns();
        self.head.element.children().find(|c| !c.is("error", ns))
    }

    /// Takes the payload out of the IQ (for handing it on without a copy).
    pub fn into_payload(self) -> Option<Element> {
        let ns = self.head.content_ns().clone();
        self.head.element.into_children().find(|c| !c.is("error", &ns))
    }

    /// The error of an error response; one without `<error/>` reads as
    /// `undefined-condition`.
    pub fn error(&self) -> Option<StanzaError> {
        if self.type_() != IqType::Error {
            return None;
        }
        let ns = self.head.content_ns();
        Some(self.head.element.child("error", ns).map_or_else(StanzaError::missing, StanzaError::from_element))
    }

    /// The id (an IQ always has one; empty until the connection assigns
    /// it, for one built here).
    pub fn request_id(&self) -> &str {
        self.id().unwrap_or_default()
    }
}
