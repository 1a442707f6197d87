//! Names and values that are nearly always one of a few constants: held
//! as `'static` strings when they are, owned otherwise, so reading a
//! typical stanza allocates nothing for `message`, `body`, `to` or
//! `type='chat'`, and building one from constants allocates nothing for its
//! names either. (The string type itself, [`Str`], is in
//! `crate::shared_str`: JIDs use it too.)

use alloc::string::String;

pub(crate) use crate::shared_str::Str;

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

    /// A common attribute value as a constant, if it is one.
    pub(crate) fn constant_value(text: &str) -> Option<Str> {
        known_value(text).map(Str::Static)
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
