//! Names and values that are nearly always one of a few constants: held
//! as `'static` strings when they are, owned otherwise, so reading a
//! typical stanza allocates nothing for `message`, `body`, `to` or
//! `type='chat'`, and building one from constants allocates nothing for its
//! names either. Values and text the reader takes verbatim from a stanza
//! are spans of one shared copy of that stanza's text: one allocation per
//! stanza, not one per value.

use alloc::string::String;
use alloc::sync::Arc;
use core::fmt;
use core::hash::{Hash, Hasher};
use core::ops::Deref;

/// A string that is usually a constant (an element or attribute name, a
/// common attribute value). Compared, hashed and shown as the text it
/// holds, however it holds it.
#[derive(Clone)]
pub(crate) enum Str {
    Static(&'static str),
    Owned(String),
    /// `text[start..end]`: a span of the stanza text it was read from.
    Shared {
        text: Arc<str>,
        start: u32,
        end: u32,
    },
    /// A span of the stanza being read, relative to its first byte, while
    /// the stanza is still arriving; the reader turns every one into
    /// `Shared` before the stanza leaves it (reads as empty until then).
    Pending {
        start: u32,
        end: u32,
    },
}

impl Str {
    /// An element or attribute name: a constant when it is a common one.
    pub(crate) fn name(text: &str) -> Str {
        match known_name(text) {
            Some(name) => Str::Static(name),
            None => Str::Owned(text.into()),
        }
    }

    /// [`Str::name`] for a name already owned (kept as it is if uncommon).
    pub(crate) fn owned_name(text: String) -> Str {
        match known_name(&text) {
            Some(name) => Str::Static(name),
            None => Str::Owned(text),
        }
    }

    /// Whether the text is empty; unlike `str::is_empty` through `Deref`,
    /// also right for a `Pending` span.
    pub(crate) fn is_empty(&self) -> bool {
        match self {
            Str::Pending { start, end } => start == end,
            other => other.len() == 0,
        }
    }

    /// A common attribute value as a constant, if it is one.
    pub(crate) fn constant_value(text: &str) -> Option<Str> {
        known_value(text).map(Str::Static)
    }

    /// The text, owned (no copy if it already is).
    pub(crate) fn into_string(self) -> String {
        match self {
            Str::Owned(s) => s,
            other => String::from(&*other),
        }
    }

    /// Makes the text owned, to change it.
    pub(crate) fn make_owned(&mut self) -> &mut String {
        if !matches!(self, Str::Owned(_)) {
            *self = Str::Owned(String::from(&**self));
        }
        match self {
            Str::Owned(s) => s,
            _ => unreachable!("just made owned"),
        }
    }

    /// Turns a `Pending` span into a span of `text`, the stanza's text.
    pub(crate) fn resolve(&mut self, text: &Arc<str>) {
        if let Str::Pending { start, end } = *self {
            *self = Str::Shared { text: Arc::clone(text), start, end };
        }
    }
}

impl Deref for Str {
    type Target = str;
    fn deref(&self) -> &str {
        match self {
            Str::Static(s) => s,
            Str::Owned(s) => s,
            // The reader made the span from this text; `get` cannot fail.
            Str::Shared { text, start, end } => text.get(*start as usize..*end as usize).unwrap_or_default(),
            Str::Pending { .. } => "",
        }
    }
}

impl PartialEq for Str {
    fn eq(&self, other: &Str) -> bool {
        **self == **other
    }
}

impl Eq for Str {}

impl PartialEq<str> for Str {
    fn eq(&self, other: &str) -> bool {
        &**self == other
    }
}

impl PartialEq<&str> for Str {
    fn eq(&self, other: &&str) -> bool {
        &**self == *other
    }
}

impl Hash for Str {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (**self).hash(state);
    }
}

impl fmt::Debug for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// The element and attribute names of RFC 6120/6121 and the common XEPs
/// (the 10,000-stanza benchmark corpus is made of them).
fn known_name(name: &str) -> Option<&'static str> {
    crate::xml::known_static! { name;
        // RFC 6120/6121 stanzas and their children.
        "message" "presence" "iq" "body" "subject" "thread" "show" "status" "priority" "error" "text"
        "query" "item" "group"
        // Stream negotiation.
        "stream" "features" "bind" "jid" "resource" "session" "starttls" "proceed" "required" "mechanisms"
        "mechanism" "auth" "challenge" "response" "success" "failure" "abort"
        // Common XEPs: chat states, receipts, delay, caps, disco, MUC, ids,
        // carbons, forwarding, ping, avatars, nicknames.
        "active" "composing" "paused" "inactive" "gone" "request" "received" "delay" "c" "identity" "feature"
        "x" "photo" "nick" "origin-id" "stanza-id" "sent" "forwarded" "ping" "markable" "displayed"
        // Attributes.
        "to" "from" "id" "type" "lang" "version" "xmlns" "var" "ver" "node" "hash" "name" "subscription" "ask"
        "by" "category" "stamp" "code" "role" "affiliation" "action" "reason" "parent"
    }
}

/// The attribute values that recur in nearly every stanza.
fn known_value(value: &str) -> Option<&'static str> {
    crate::xml::known_static! { value;
        // Stanza types (RFC 6120 §8.2.3, RFC 6121 §4.7.1, §5.2.2).
        "chat" "groupchat" "normal" "headline" "error" "get" "set" "result" "unavailable" "subscribe"
        "subscribed" "unsubscribe" "unsubscribed" "probe"
        // Roster subscriptions, error types, caps hashes, disco categories.
        "none" "to" "from" "both" "remove" "cancel" "modify" "wait" "continue" "sha-1" "client" "pc" "phone"
        "server" "im" "1.0" "en"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_names_and_values_are_constants_and_compare_as_text() {
        assert!(matches!(Str::name("message"), Str::Static(_)));
        assert!(matches!(Str::name("x-unknown"), Str::Owned(_)));
        assert!(matches!(Str::constant_value("chat"), Some(Str::Static(_))));
        assert!(Str::constant_value("juliet@im.example.com").is_none());
        assert_eq!(Str::name("body"), Str::Owned("body".into()));
        assert_eq!(Str::owned_name("query".into()), "query");
    }
}
