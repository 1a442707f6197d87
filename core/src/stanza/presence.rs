//! `<presence/>` (RFC 6120 §8.2.2, RFC 6121 §4.7).

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use super::{
    Common, Rejected, StanzaError, StanzaParseError, Text, preferred, read_common, read_text, split_children,
    text_element, write_common,
};
use crate::jid::Jid;
use crate::xml::{Element, InvalidXml, Namespace};

/// The `type` of a presence (RFC 6121 §4.7.1); `Available` is the absence
/// of the attribute.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PresenceType {
    /// No `type`: available for communication.
    #[default]
    Available,
    /// An error about a presence sent earlier.
    Error,
    /// A request for current presence (servers only).
    Probe,
    /// A subscription request.
    Subscribe,
    /// A subscription approval.
    Subscribed,
    /// No longer available.
    Unavailable,
    /// Unsubscribing from the recipient's presence.
    Unsubscribe,
    /// A subscription denied or cancelled.
    Unsubscribed,
}

impl PresenceType {
    /// The attribute value (`None` for available).
    pub fn as_str(self) -> Option<&'static str> {
        Some(match self {
            PresenceType::Available => return None,
            PresenceType::Error => "error",
            PresenceType::Probe => "probe",
            PresenceType::Subscribe => "subscribe",
            PresenceType::Subscribed => "subscribed",
            PresenceType::Unavailable => "unavailable",
            PresenceType::Unsubscribe => "unsubscribe",
            PresenceType::Unsubscribed => "unsubscribed",
        })
    }

    fn parse(value: Option<&str>) -> Result<PresenceType, StanzaParseError> {
        Ok(match value {
            None => PresenceType::Available,
            Some("error") => PresenceType::Error,
            Some("probe") => PresenceType::Probe,
            Some("subscribe") => PresenceType::Subscribe,
            Some("subscribed") => PresenceType::Subscribed,
            Some("unavailable") => PresenceType::Unavailable,
            Some("unsubscribe") => PresenceType::Unsubscribe,
            Some("unsubscribed") => PresenceType::Unsubscribed,
            // RFC 6121 §4.7.1: answered with <bad-request/>.
            Some(other) => return Err(StanzaParseError::InvalidType(other.into())),
        })
    }
}

/// The availability sub-state (RFC 6121 §4.7.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Show {
    /// Temporarily away.
    Away,
    /// Interested in chatting.
    Chat,
    /// Do not disturb.
    Dnd,
    /// Extended away.
    Xa,
}

impl Show {
    /// The element text.
    pub fn as_str(self) -> &'static str {
        match self {
            Show::Away => "away",
            Show::Chat => "chat",
            Show::Dnd => "dnd",
            Show::Xa => "xa",
        }
    }

    fn parse(value: &str) -> Option<Show> {
        match value.trim() {
            "away" => Some(Show::Away),
            "chat" => Some(Show::Chat),
            "dnd" => Some(Show::Dnd),
            "xa" => Some(Show::Xa),
            _ => None,
        }
    }
}

/// A presence stanza.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Presence {
    /// The recipient (none: broadcast to subscribers).
    pub to: Option<Jid>,
    /// The sender (stamped by the server).
    pub from: Option<Jid>,
    /// Stanza id.
    pub id: Option<String>,
    /// The presence type.
    pub type_: PresenceType,
    /// The stanza's default language (`xml:lang`).
    pub lang: Option<String>,
    /// The availability sub-state.
    pub show: Option<Show>,
    /// Status texts, at most one per language.
    pub statuses: Vec<Text>,
    /// Resource priority, -128..=127; `None` means 0 (RFC 6121 §4.7.2.3).
    pub priority: Option<i8>,
    /// The error, for type `error`.
    pub error: Option<StanzaError>,
    /// Every other child element, in document order, including a `<show/>`
    /// or `<priority/>` whose value is not valid (so nothing is lost).
    pub payloads: Vec<Element>,
}

impl Presence {
    /// Available presence, with no details.
    pub fn available() -> Presence {
        Presence::default()
    }

    /// Presence of the given type addressed to `to`.
    pub fn new(type_: PresenceType, to: Option<Jid>) -> Presence {
        Presence { type_, to, ..Presence::default() }
    }

    /// The status in the stanza's language, else the first.
    pub fn status(&self) -> Option<&str> {
        preferred(&self.statuses, self.lang.as_deref())
    }

    /// Reads a `<presence/>` element (in any content namespace).
    pub fn from_element(element: Element) -> Result<Presence, StanzaParseError> {
        Presence::parse(element).map_err(|rejected| rejected.error)
    }

    /// Like [`from_element`](Presence::from_element), returning a refused
    /// element with the error. Everything that can fail is checked before
    /// the element is taken apart.
    pub(crate) fn parse(mut element: Element) -> Result<Presence, Box<Rejected>> {
        let header = read_common(&element).and_then(|c| Ok((c, PresenceType::parse(element.attr("type"))?)));
        let (Common { to, from, id, lang }, type_) = match header {
            Ok(h) => h,
            Err(e) => return Err(Rejected::new(e, element)),
        };
        let (mut show, mut statuses, mut priority, mut error) = (None, Vec::new(), None, None);
        let payloads = split_children(&mut element, &["show", "status", "priority", "error"], |child| {
            match child.name() {
                "status" => statuses.push(read_text(&child)),
                "show" if show.is_none() => match Show::parse(&child.text()) {
                    Some(s) => show = Some(s),
                    None => return Some(child),
                },
                "priority" if priority.is_none() => match child.text().trim().parse::<i8>() {
                    Ok(p) => priority = Some(p),
                    Err(_) => return Some(child),
                },
                "error" if error.is_none() => error = Some(StanzaError::from_element(&child)),
                _ => return Some(child),
            }
            None
        });
        Ok(Presence { to, from, id, type_, lang, show, statuses, priority, error, payloads })
    }

    /// Writes the presence in content namespace `ns`.
    pub fn to_element(&self, ns: &Namespace) -> Result<Element, InvalidXml> {
        let mut el = Element::new("presence", ns.clone());
        write_common(&mut el, self.to.as_ref(), self.from.as_ref(), self.id.as_deref(), self.lang.as_deref())?;
        if let Some(type_) = self.type_.as_str() {
            el.set_attr("type", type_)?;
        }
        if let Some(show) = self.show {
            el.append_child(Element::new("show", ns.clone()).with_text(show.as_str())?);
        }
        for status in &self.statuses {
            el.append_child(text_element("status", ns, status)?);
        }
        if let Some(priority) = self.priority {
            el.append_child(Element::new("priority", ns.clone()).with_text(&alloc::format!("{priority}"))?);
        }
        for payload in &self.payloads {
            el.append_child(payload.clone());
        }
        // RFC 6120 §8.3.2: the original payload, then the error.
        if let Some(error) = &self.error {
            el.append_child(error.to_element(ns)?);
        }
        Ok(el)
    }
}
