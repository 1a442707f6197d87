//! `<presence/>` (RFC 6120 §8.2.2, RFC 6121 §4.7).

use alloc::borrow::Cow;
use alloc::boxed::Box;

use super::{
    Head, Reading, Rejected, StanzaError, StanzaParseError, Text, is_modelled, preferred, read_text, stanza_head,
};
use crate::jid::Jid;
use crate::xml::{Element, InvalidXml};

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

/// A presence stanza: the element, with views onto it.
///
/// ```
/// use sxmpp::stanza::{Presence, Show};
///
/// let mut p = Presence::available();
/// p.set_show(Some(Show::Away))?;
/// p.set_status(None, "In the orchard")?;
/// assert_eq!(p.show(), Some(Show::Away));
/// assert_eq!(p.status().as_deref(), Some("In the orchard"));
/// # Ok::<(), sxmpp::xml::InvalidXml>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Presence {
    pub(super) head: Head,
}

stanza_head!(Presence);

/// The children a presence models itself (RFC 6121 §4.7.2).
const MODELLED: &[&str] = &["show", "status", "priority", "error"];

impl Presence {
    /// Available presence, with no details.
    pub fn available() -> Presence {
        Presence { head: Head::new("presence") }
    }

    /// Presence of the given type addressed to `to`.
    pub fn new(type_: PresenceType, to: Option<Jid>) -> Presence {
        let mut p = Presence::available();
        if let Some(t) = type_.as_str() {
            // A type is a constant token.
            let _ = p.head.element.set_attr("type", t);
        }
        p.set_to(to);
        p
    }

    /// Reads a `<presence/>` element (in any content namespace).
    pub(crate) fn parse(element: Element, reading: Reading<'_>) -> Result<Presence, Box<Rejected>> {
        let [to, from, type_] = element.attrs_stored(["to", "from", "type"]);
        if let Err(e) = PresenceType::parse(type_.as_deref()) {
            return Err(Rejected::new(e, element));
        }
        Ok(Presence { head: Head::read(element, [to, from], reading)? })
    }

    /// The presence type (checked when the stanza was read).
    pub fn type_(&self) -> PresenceType {
        PresenceType::parse(self.head.element.attr("type")).unwrap_or_default()
    }

    /// The availability sub-state; `None` if absent or not one of the four
    /// values (the element stays in the stanza either way).
    pub fn show(&self) -> Option<Show> {
        self.head.own_children("show").next().and_then(|s| Show::parse(&s.text()))
    }

    /// The status in the stanza's language, else the first.
    pub fn status(&self) -> Option<Cow<'_, str>> {
        preferred(self.head.own_children("status"), self.lang()).map(Element::text)
    }

    /// Every status, with its language.
    pub fn statuses(&self) -> impl Iterator<Item = Text> + '_ {
        self.head.own_children("status").map(read_text)
    }

    /// The resource priority, -128..=127; `None` if absent or not a number
    /// in range (RFC 6121 §4.7.2.3: absent means 0).
    pub fn priority(&self) -> Option<i8> {
        self.head.own_children("priority").next().and_then(|p| p.text().trim().parse().ok())
    }

    /// The error, for type `error` (RFC 6120 §8.3).
    pub fn error(&self) -> Option<StanzaError> {
        self.head.own_children("error").next().map(StanzaError::from_element)
    }

    /// Every other child element, in document order: the extensions.
    pub fn payloads(&self) -> impl Iterator<Item = &Element> {
        let ns = self.head.content_ns();
        self.head.element.children().filter(move |e| !is_modelled(e, ns, MODELLED))
    }

    /// Sets (or removes) `<show/>`.
    pub fn set_show(&mut self, show: Option<Show>) -> Result<(), InvalidXml> {
        let ns = self.head.content_ns().clone();
        self.head.element.retain_children(|c| !c.is("show", &ns));
        match show {
            Some(show) => self.head.push_text_child("show", None, show.as_str()),
            None => Ok(()),
        }
    }

    /// Sets the status in `lang`, replacing the one there was.
    pub fn set_status(&mut self, lang: Option<&str>, status: &str) -> Result<(), InvalidXml> {
        self.head.remove_text_children("status", lang);
        self.head.push_text_child("status", lang, status)
    }

    /// Sets (or removes) `<priority/>`.
    pub fn set_priority(&mut self, priority: Option<i8>) -> Result<(), InvalidXml> {
        let ns = self.head.content_ns().clone();
        self.head.element.retain_children(|c| !c.is("priority", &ns));
        match priority {
            Some(p) => self.head.push_text_child("priority", None, &alloc::format!("{p}")),
            None => Ok(()),
        }
    }
}
