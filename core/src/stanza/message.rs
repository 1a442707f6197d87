//! `<message/>` (RFC 6120 §8.2.1, RFC 6121 §5).

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::string::String;

use super::{
    Head, Reading, Rejected, StanzaError, StanzaParseError, Text, is_modelled, preferred, read_text, stanza_head,
    text_of,
};
use crate::jid::Jid;
use crate::xml::{Element, InvalidXml};

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

/// A message stanza: the element, with views onto it.
///
/// ```
/// use sxmpp::jid::Jid;
/// use sxmpp::stanza::{Message, MessageType};
///
/// let m = Message::chat(Jid::new("romeo@example.net")?, "Art thou not Romeo?")?;
/// assert_eq!(m.type_(), MessageType::Chat);
/// assert_eq!(m.body().as_deref(), Some("Art thou not Romeo?"));
/// assert_eq!(
///     m.to_string(),
///     "<message xmlns='jabber:client' to='romeo@example.net' type='chat'><body>Art thou not Romeo?</body></message>"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub(super) head: Head,
}

stanza_head!(Message);

/// The children a message models itself (RFC 6121 §5.2).
const MODELLED: &[&str] = &["body", "subject", "thread", "error"];

impl Message {
    /// An empty message of this type.
    pub fn new(type_: MessageType) -> Message {
        let mut head = Head::new("message");
        if type_ != MessageType::Normal {
            // A type is a constant token.
            let _ = head.element.set_attr("type", type_.as_str());
        }
        Message { head }
    }

    /// A chat message to `to` with one body; refused if XML cannot carry
    /// the text.
    pub fn chat(to: Jid, body: &str) -> Result<Message, InvalidXml> {
        Message::new(MessageType::Chat).with_to(to).with_body(body)
    }

    /// Reads a `<message/>` element (in any content namespace).
    pub(crate) fn parse(element: Element, reading: Reading<'_>) -> Result<Message, Box<Rejected>> {
        let addresses = element.attrs_stored(["to", "from"]);
        Ok(Message { head: Head::read(element, addresses, reading)? })
    }

    /// The message type; an unknown one reads as `normal` (RFC 6121
    /// §5.2.2), and [`type_attr`](Message::type_attr) keeps what it said.
    pub fn type_(&self) -> MessageType {
        MessageType::parse(self.type_attr())
    }

    /// The `type` attribute as written.
    pub fn type_attr(&self) -> Option<&str> {
        self.head.element.attr("type")
    }

    /// The body in the stanza's language, or without a language of its
    /// own, else the first (RFC 6121 §5.2.3).
    pub fn body(&self) -> Option<Cow<'_, str>> {
        preferred(self.head.own_children("body"), self.lang()).map(text_of)
    }

    /// Every body, with its language.
    pub fn bodies(&self) -> impl Iterator<Item = Text> + '_ {
        self.head.own_children("body").map(read_text)
    }

    /// The subject, chosen like [`body`](Message::body).
    pub fn subject(&self) -> Option<Cow<'_, str>> {
        preferred(self.head.own_children("subject"), self.lang()).map(text_of)
    }

    /// Every subject, with its language.
    pub fn subjects(&self) -> impl Iterator<Item = Text> + '_ {
        self.head.own_children("subject").map(read_text)
    }

    /// The conversation thread (RFC 6121 §5.2.5).
    pub fn thread(&self) -> Option<Thread> {
        self.head
            .own_children("thread")
            .next()
            .map(|t| Thread { id: t.text().into_owned(), parent: t.attr("parent").map(String::from) })
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

    /// Sets the body in `lang` (`None`: without a language of its own),
    /// replacing the one there was.
    pub fn set_body(&mut self, lang: Option<&str>, body: &str) -> Result<(), InvalidXml> {
        self.head.remove_text_children("body", lang);
        self.head.push_text_child("body", lang, body)
    }

    /// Adds a body without a language of its own, for building in one
    /// expression.
    pub fn with_body(mut self, body: &str) -> Result<Message, InvalidXml> {
        self.set_body(None, body)?;
        Ok(self)
    }

    /// Sets the subject in `lang`, replacing the one there was.
    pub fn set_subject(&mut self, lang: Option<&str>, subject: &str) -> Result<(), InvalidXml> {
        self.head.remove_text_children("subject", lang);
        self.head.push_text_child("subject", lang, subject)
    }

    /// Sets the thread, replacing the one there was.
    pub fn set_thread(&mut self, thread: &Thread) -> Result<(), InvalidXml> {
        let ns = self.head.content_ns().clone();
        let mut el = Element::new("thread", ns.clone()).with_text(&thread.id)?;
        if let Some(parent) = &thread.parent {
            el.set_attr("parent", parent.as_str())?;
        }
        self.head.element.retain_children(|c| !c.is("thread", &ns));
        self.head.element.append_child(el);
        Ok(())
    }

    /// Makes this an error message carrying `error` after its payload
    /// (RFC 6120 §8.3.2).
    pub fn set_error(&mut self, error: &StanzaError) -> Result<(), InvalidXml> {
        let ns = self.head.content_ns().clone();
        let el = error.to_element(&ns)?;
        self.head.element.retain_children(|c| !c.is("error", &ns));
        self.head.element.append_child(el);
        // "error" is a constant token.
        let _ = self.head.element.set_attr("type", MessageType::Error.as_str());
        Ok(())
    }
}
