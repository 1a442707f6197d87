//! Namespace names XMPP uses, as constants (RFC 6120, RFC 6121 and XEPs).

/// RFC 6120 §4.8.1: the stream namespace.
pub const STREAMS: &str = "http://etherx.jabber.org/streams";
/// RFC 6120 §4.8.3: the content namespace of client-to-server streams.
pub const CLIENT: &str = "jabber:client";
/// RFC 6120 §4.8.3: the content namespace of server-to-server streams.
pub const SERVER: &str = "jabber:server";
/// XEP-0114: the content namespace of component streams.
pub const COMPONENT_ACCEPT: &str = "jabber:component:accept";
/// RFC 7395 §3.3.2: the framed stream namespace of `<open/>` and
/// `<close/>` (XMPP over WebSocket).
pub const FRAMING: &str = "urn:ietf:params:xml:ns:xmpp-framing";
/// RFC 6120 §4.9.3: stream-error conditions.
pub const XMPP_STREAMS: &str = "urn:ietf:params:xml:ns:xmpp-streams";
/// RFC 6120 §8.3.3: stanza-error conditions.
pub const XMPP_STANZAS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";
/// RFC 6120 §5: STARTTLS.
pub const TLS: &str = "urn:ietf:params:xml:ns:xmpp-tls";
/// RFC 6120 §6: SASL.
pub const SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
/// RFC 6120 §7: resource binding.
pub const BIND: &str = "urn:ietf:params:xml:ns:xmpp-bind";
/// RFC 3921 §3: legacy session establishment.
pub const SESSION: &str = "urn:ietf:params:xml:ns:xmpp-session";
/// RFC 6121 §2: the roster.
pub const ROSTER: &str = "jabber:iq:roster";
/// XEP-0199: XMPP ping.
pub const PING: &str = "urn:xmpp:ping";
/// The `xml:` prefix's namespace, home of `xml:lang`.
pub const XML: &str = crate::xml::XML_NS;
