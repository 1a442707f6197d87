//! Stream negotiation (RFC 6120 §4.3): stream features as values, and the
//! elements of each feature's exchange (STARTTLS §5, SASL §6, resource
//! binding §7, legacy session establishment RFC 3921 §3).
//!
//! This layer builds and reads the XML of negotiation; it owns no sockets
//! and no connection state. The connection state machines decide what to
//! send when.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::condition::SaslCondition;
use crate::ns;
use crate::xml::{Element, InvalidXml, Namespace, Node};

/// XEP-0440: the channel-binding types a server supports.
pub const SASL_CB: &str = "urn:xmpp:sasl-cb:0";

/// What a server offers in `<stream:features/>` (RFC 6120 §4.3.2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamFeatures {
    /// STARTTLS (§5.4.1), and whether the server requires it.
    pub starttls: Option<Requirement>,
    /// SASL mechanisms (§6.4.1), in the server's order; empty if SASL is
    /// not offered.
    pub mechanisms: Vec<String>,
    /// XEP-0440 channel-binding types, if the server lists them.
    pub channel_binding_types: Option<Vec<String>>,
    /// Resource binding (§7.4).
    pub bind: bool,
    /// Legacy session establishment (RFC 3921 §3; `<optional/>` per
    /// draft-cridland-xmpp-session-01).
    pub session: Option<Requirement>,
    /// Every other feature element, in order.
    pub others: Vec<Element>,
}

/// Whether an offered feature is mandatory to negotiate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// Must be negotiated.
    Required,
    /// May be skipped.
    Optional,
}

impl StreamFeatures {
    /// Reads `<stream:features/>`; unknown children are kept in `others`.
    pub fn from_element(features: &Element) -> StreamFeatures {
        let mut out = StreamFeatures::default();
        for child in features.children() {
            match (child.ns().as_str(), child.name()) {
                (ns::TLS, "starttls") => {
                    let required = child.child("required", ns::TLS).is_some();
                    out.starttls = Some(if required { Requirement::Required } else { Requirement::Optional });
                }
                (ns::SASL, "mechanisms") => {
                    out.mechanisms = child
                        .children()
                        .filter(|m| m.is("mechanism", ns::SASL))
                        .map(|m| m.text().trim().to_string())
                        .filter(|m| !m.is_empty())
                        .collect();
                }
                (SASL_CB, "sasl-channel-binding") => {
                    out.channel_binding_types = Some(
                        child
                            .children()
                            .filter(|c| c.is("channel-binding", SASL_CB))
                            .filter_map(|c| c.attr("type").map(String::from))
                            .collect(),
                    );
                }
                (ns::BIND, "bind") => out.bind = true,
                (ns::SESSION, "session") => {
                    let optional = child.child("optional", ns::SESSION).is_some();
                    out.session = Some(if optional { Requirement::Optional } else { Requirement::Required });
                }
                _ => out.others.push(child.clone()),
            }
        }
        out
    }

    /// The first feature we do not know that the peer marks mandatory
    /// (a `<required/>` child in the feature's namespace, RFC 6120 §4.3.2).
    pub fn unknown_required(&self) -> Option<&Element> {
        self.others.iter().find(|f| f.child("required", f.ns().as_str()).is_some())
    }

    /// Writes `<stream:features/>`.
    pub fn to_element(&self) -> Element {
        let mut el = Element::new("features", ns::STREAMS);
        if let Some(req) = self.starttls {
            let mut tls = Element::new("starttls", ns::TLS);
            if req == Requirement::Required {
                tls.append_child(Element::new("required", ns::TLS));
            }
            el.append_child(tls);
        }
        if !self.mechanisms.is_empty() {
            let mut mechs = Element::new("mechanisms", ns::SASL);
            for m in &self.mechanisms {
                // Mechanism names are registered ASCII tokens.
                if let Ok(m) = Element::new("mechanism", ns::SASL).with_text(m) {
                    mechs.append_child(m);
                }
            }
            el.append_child(mechs);
        }
        if let Some(types) = &self.channel_binding_types {
            let mut cb = Element::new("sasl-channel-binding", SASL_CB);
            for t in types {
                if let Ok(c) = Element::new("channel-binding", SASL_CB).with_attr("type", t.as_str()) {
                    cb.append_child(c);
                }
            }
            el.append_child(cb);
        }
        if self.bind {
            el.append_child(Element::new("bind", ns::BIND));
        }
        if let Some(req) = self.session {
            let mut s = Element::new("session", ns::SESSION);
            if req == Requirement::Optional {
                s.append_child(Element::new("optional", ns::SESSION));
            }
            el.append_child(s);
        }
        for other in &self.others {
            el.append_child(other.clone());
        }
        el
    }
}

// ----- STARTTLS (RFC 6120 §5.4.2) -----

/// `<starttls/>`.
pub fn starttls() -> Element {
    Element::new("starttls", ns::TLS)
}

// ----- SASL (RFC 6120 §6.4) -----

/// Encodes SASL data for an element's text: base64, or `=` for empty data
/// (§6.4.2).
pub fn sasl_text(data: &[u8]) -> String {
    if data.is_empty() { "=".into() } else { B64.encode(data) }
}

/// Decodes the text of `<auth/>`, `<challenge/>`, `<response/>` or
/// `<success/>`: `None` for no text, empty for `=`, `Err` for bad base64
/// (§6.4.2: whitespace is not allowed, but line breaks from wrapping are
/// common and harmless, so they are skipped).
pub fn sasl_data(element: &Element) -> Result<Option<alloc::vec::Vec<u8>>, SaslCondition> {
    let text = element.text();
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    match compact.as_str() {
        "" => Ok(None),
        "=" => Ok(Some(Vec::new())),
        b64 => B64.decode(b64).map(Some).map_err(|_| SaslCondition::IncorrectEncoding),
    }
}

/// `<auth mechanism='…'>initial response</auth>`.
pub fn auth(mechanism: &str, initial: Option<&[u8]>) -> Result<Element, InvalidXml> {
    let mut el = Element::new("auth", ns::SASL).with_attr("mechanism", mechanism)?;
    if let Some(data) = initial {
        el.append_text(&sasl_text(data))?;
    }
    Ok(el)
}

/// `<response>data</response>`; empty data makes an empty element.
pub fn response(data: &[u8]) -> Element {
    let el = Element::new("response", ns::SASL);
    // Base64 is always legal character data.
    if data.is_empty() { el } else { el.clone().with_text(&B64.encode(data)).unwrap_or(el) }
}

/// `<abort/>` (§6.4.4).
pub fn abort() -> Element {
    Element::new("abort", ns::SASL)
}

/// A SASL `<failure/>`: the condition (unknown ones read as
/// `not-authorized`, the generic failure) and the text, if any.
pub fn sasl_failure(element: &Element) -> (SaslCondition, Option<String>) {
    let mut condition = None;
    let mut text = None;
    for child in element.children().filter(|c| c.ns() == ns::SASL) {
        if child.name() == "text" {
            text.get_or_insert_with(|| child.text().into_owned());
        } else if condition.is_none() {
            condition = Some(SaslCondition::from_str(child.name()).unwrap_or(SaslCondition::NotAuthorized));
        }
    }
    (condition.unwrap_or(SaslCondition::NotAuthorized), text)
}

// ----- resource binding (RFC 6120 §7) and sessions (RFC 3921 §3) -----

/// The payload of a bind request; `None` asks the server to choose the
/// resource (§7.6), `Some` submits one (§7.7).
pub fn bind_request(resource: Option<&str>) -> Result<Element, InvalidXml> {
    let mut bind = Element::new("bind", ns::BIND);
    if let Some(r) = resource {
        bind.append_child(Element::new("resource", ns::BIND).with_text(r)?);
    }
    Ok(bind)
}

/// The JID in a bind result's `<bind><jid/></bind>`.
pub fn bound_jid(payload: Option<&Element>) -> Option<String> {
    let jid = payload?.child("jid", ns::BIND)?.text();
    let jid = jid.trim();
    (!jid.is_empty()).then(|| jid.to_string())
}

/// The payload of a session request.
pub fn session_request() -> Element {
    Element::new("session", ns::SESSION)
}

/// True if `element` (in the stream namespace) is `<stream:error/>`.
pub fn is_stream_error(element: &Element) -> bool {
    element.is("error", ns::STREAMS)
}

/// The namespace of stream-level elements.
pub fn streams_ns() -> Namespace {
    Namespace::from_static(ns::STREAMS)
}

/// True if an element has no child elements and only whitespace text:
/// how `<proceed/>` and `<success/>` without data look.
pub fn is_empty_element(element: &Element) -> bool {
    element.nodes().iter().all(|n| matches!(n, Node::Text(t) if t.trim().is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{Limits, StreamEvent, StreamReader};
    use alloc::format;

    fn parse(xml: &str) -> Element {
        let mut r = StreamReader::new(Limits::default());
        r.feed(format!("<stream:stream xmlns='jabber:client' xmlns:stream='{}'>{xml}", ns::STREAMS).as_bytes());
        r.next_event().unwrap();
        match r.next_event().unwrap() {
            Some(StreamEvent::Element(e)) => e,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rfc6120_4_3_2_features_are_read() {
        let f = StreamFeatures::from_element(&parse(
            "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>\
             <mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1-PLUS</mechanism>\
             <mechanism> SCRAM-SHA-1 </mechanism><mechanism>PLAIN</mechanism></mechanisms>\
             <sasl-channel-binding xmlns='urn:xmpp:sasl-cb:0'><channel-binding type='tls-server-end-point'/>\
             <channel-binding type='tls-exporter'/></sasl-channel-binding>\
             <bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session>\
             <sm xmlns='urn:xmpp:sm:3'/></stream:features>",
        ));
        assert_eq!(f.starttls, Some(Requirement::Required));
        assert_eq!(f.mechanisms, ["SCRAM-SHA-1-PLUS", "SCRAM-SHA-1", "PLAIN"]);
        assert_eq!(
            f.channel_binding_types.as_deref(),
            Some(&["tls-server-end-point".into(), "tls-exporter".into()][..])
        );
        assert!(f.bind);
        assert_eq!(f.session, Some(Requirement::Optional));
        assert_eq!(f.others.len(), 1);
        // Writing and reading back gives the same features.
        assert_eq!(StreamFeatures::from_element(&parse(&f.to_element().to_string())), f);
    }

    #[test]
    fn rfc6120_6_4_sasl_data_and_failures() {
        assert_eq!(sasl_data(&parse("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")), Ok(None));
        assert_eq!(
            sasl_data(&parse("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>=</success>")),
            Ok(Some(Vec::new()))
        );
        assert_eq!(
            sasl_data(&parse("<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\n  cj1h\n  YmM=\n</challenge>")),
            Ok(Some(b"r=abc".to_vec()))
        );
        assert_eq!(
            sasl_data(&parse("<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>!!!</challenge>")),
            Err(SaslCondition::IncorrectEncoding)
        );
        let (c, text) = sasl_failure(&parse(
            "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><account-disabled/><text xml:lang='en'>Call 212-555-1212.</text></failure>",
        ));
        assert_eq!(c, SaslCondition::AccountDisabled);
        assert_eq!(text.as_deref(), Some("Call 212-555-1212."));
        assert_eq!(
            sasl_failure(&parse("<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")).0,
            SaslCondition::NotAuthorized
        );
        assert_eq!(auth("PLAIN", Some(b"")).unwrap().text(), "=");
        assert_eq!(response(b"").nodes().len(), 0);
    }

    #[test]
    fn rfc6120_7_bind_payloads() {
        assert_eq!(bind_request(Some("balcony")).unwrap().child_text("resource", ns::BIND).as_deref(), Some("balcony"));
        assert!(bind_request(None).unwrap().nodes().is_empty());
        let result = parse(
            "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>\n juliet@im.example.com/balcony\n</jid></bind>",
        );
        assert_eq!(bound_jid(Some(&result)).as_deref(), Some("juliet@im.example.com/balcony"));
        assert_eq!(bound_jid(None), None);
    }
}
