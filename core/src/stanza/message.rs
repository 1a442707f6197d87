//! `<message/>` (RFC 6120 §8.2.1, RFC 6121 §5).

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use super::{
    Common, Rejected, StanzaError, StanzaParseError, Text, preferred, read_common, read_text, split_children,
    text_element, write_common,
};
use crate::jid::Jid;
use crate::xml::{Element, InvalidXml, Namespace};

/// The `type` of a message (RFC 6121 §5.2.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// One-to-one chat.
    Chat,
    /// An error about a message sent earlier.
    Error,
    /// A multi-user chat message.
    Groupchat,
    /// An alert or notice that expects no reply.
    Headline,
    /// A standalone message; the default, and what an unknown type means.
    #[default]
    Normal,
}

impl MessageType {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::Chat => "chat",
            MessageType::Error => "error",
            MessageType::Groupchat => "groupchat",
            MessageType::Headline => "headline",
            MessageType::Normal => "normal",
        }
    }

    /// RFC 6121 §5.2.2: a missing or unknown type means `normal`.
    fn parse(value: Option<&str>) -> MessageType {
        match value {
            Some("chat") => MessageType::Chat,
            Some("error") => MessageType::Error,
            Some("groupchat") => MessageType::Groupchat,
            Some("headline") => MessageType::Headline,
            _ => MessageType::Normal,
        }
    }
}

/// A conversation thread (RFC 6121 §5.2.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Thread {
    /// The thread identifier.
    pub id: String,
    /// The thread this one branched from.
    pub parent: Option<String>,
}

/// A message stanza.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Message {
    /// The intended recipient.
    pub to: Option<Jid>,
    /// The sender (stamped by the server).
    pub from: Option<Jid>,
    /// Stanza id, for tracking.
    pub id: Option<String>,
    /// The message type.
    pub type_: MessageType,
    /// The stanza's default language (`xml:lang`).
    pub lang: Option<String>,
    /// Bodies, at most one per language (RFC 6121 §5.2.3).
    pub bodies: Vec<Text>,
    /// Subjects, at most one per language (RFC 6121 §5.2.4).
    pub subjects: Vec<Text>,
    /// The conversation thread.
    pub thread: Option<Thread>,
    /// The error, for type `error`.
    pub error: Option<StanzaError>,
    /// Every other child element, in document order.
    pub payloads: Vec<Element>,
}

impl Message {
    /// A chat message with one body.
    pub fn chat(to: Jid, body: impl Into<String>) -> Message {
        Message { to: Some(to), type_: MessageType::Chat, bodies: alloc::vec![Text::new(body)], ..Message::default() }
    }

    /// The body in the stanza's language, or without a language of its
    /// own, else the first.
    pub fn body(&self) -> Option<&str> {
        preferred(&self.bodies, self.lang.as_deref())
    }

    /// The subject, chosen like [`body`](Message::body).
    pub fn subject(&self) -> Option<&str> {
        preferred(&self.subjects, self.lang.as_deref())
    }

    /// Reads a `<message/>` element (in any content namespace).
    pub fn from_element(element: Element) -> Result<Message, StanzaParseError> {
        Message::parse(element).map_err(|rejected| rejected.error)
    }

    /// Like [`from_element`](Message::from_element), returning a refused
    /// element with the error. Everything that can fail is checked before
    /// the element is taken apart.
    pub(crate) fn parse(mut element: Element) -> Result<Message, Box<Rejected>> {
        let Common { to, from, id, lang } = match read_common(&element) {
            Ok(common) => common,
            Err(e) => return Err(Rejected::new(e, element)),
        };
        let type_ = MessageType::parse(element.attr("type"));
        let (mut bodies, mut subjects, mut thread, mut error) = (Vec::new(), Vec::new(), None, None);
        let payloads = split_children(&mut element, &["body", "subject", "thread", "error"], |child| {
            match child.name() {
                "body" => bodies.push(read_text(&child)),
                "subject" => subjects.push(read_text(&child)),
                "thread" if thread.is_none() => {
                    thread =
                        Some(Thread { id: child.text().into_owned(), parent: child.attr("parent").map(String::from) })
                }
                "error" if error.is_none() => error = Some(StanzaError::from_element(&child)),
                _ => return Some(child),
            }
            None
        });
        Ok(Message { to, from, id, type_, lang, bodies, subjects, thread, error, payloads })
    }

    /// Writes the message in content namespace `ns`.
    pub fn to_element(&self, ns: &Namespace) -> Result<Element, InvalidXml> {
        let mut el = Element::new("message", ns.clone());
        write_common(&mut el, self.to.as_ref(), self.from.as_ref(), self.id.as_deref(), self.lang.as_deref())?;
        if self.type_ != MessageType::Normal {
            el.set_attr("type", self.type_.as_str())?;
        }
        for subject in &self.subjects {
            el.append_child(text_element("subject", ns, subject)?);
        }
        for body in &self.bodies {
            el.append_child(text_element("body", ns, body)?);
        }
        if let Some(thread) = &self.thread {
            let mut t = Element::new("thread", ns.clone()).with_text(&thread.id)?;
            if let Some(parent) = &thread.parent {
                t.set_attr("parent", parent.as_str())?;
            }
            el.append_child(t);
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
