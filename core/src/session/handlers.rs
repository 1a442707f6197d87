//! Which IQ requests the application handles (RFC 6120 §8.2.3: the rest
//! are answered with `service-unavailable`), and the service discovery
//! (XEP-0030) `disco#info` answer that says so.

use alloc::string::String;
use alloc::vec::Vec;

use crate::xml::{Element, InvalidXml};

/// XEP-0030: the namespace of `disco#info`.
pub const DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";

/// An identity in a `disco#info` answer (XEP-0030 §3.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The category (`client`, `server`, `component`, …).
    pub category: String,
    /// The type within it (`pc`, `im`, `generic`, …).
    pub type_: String,
    /// A human-readable name.
    pub name: Option<String>,
}

impl Identity {
    /// An identity without a name.
    pub fn new(category: impl Into<String>, type_: impl Into<String>) -> Identity {
        Identity { category: category.into(), type_: type_.into(), name: None }
    }
}

/// The registry of IQ payload namespaces the application answers, and
/// what service discovery advertises. The core answers a `disco#info`
/// query addressed to this entity itself, from what is registered here.
#[derive(Clone, Debug)]
pub struct IqHandlers {
    /// `None`: every request is delivered; else only these namespaces.
    delivered: Option<Vec<String>>,
    /// Features advertised besides the delivered namespaces.
    features: Vec<String>,
    identities: Vec<Identity>,
    /// Whether the core answers `disco#info` itself.
    answer_disco: bool,
}

impl IqHandlers {
    /// Every request is delivered to the application, which answers each;
    /// `disco#info` is answered by the core with `identity`.
    pub fn all(identity: Identity) -> IqHandlers {
        IqHandlers { delivered: None, features: Vec::new(), identities: alloc::vec![identity], answer_disco: true }
    }

    /// Only requests in namespaces [`register`](IqHandlers::register)ed
    /// later are delivered; the core answers the rest with
    /// `service-unavailable`.
    pub fn only(identity: Identity) -> IqHandlers {
        IqHandlers { delivered: Some(Vec::new()), ..IqHandlers::all(identity) }
    }

    /// Delivers requests whose payload is in `namespace`, and advertises it
    /// as a feature.
    pub fn register(&mut self, namespace: impl Into<String>) -> &mut IqHandlers {
        let namespace = namespace.into();
        if let Some(list) = &mut self.delivered
            && !list.contains(&namespace)
        {
            list.push(namespace.clone());
        }
        self.advertise(namespace)
    }

    /// Advertises a feature handled elsewhere (in messages, say: chat
    /// states, receipts).
    pub fn advertise(&mut self, feature: impl Into<String>) -> &mut IqHandlers {
        let feature = feature.into();
        if !self.features.contains(&feature) {
            self.features.push(feature);
        }
        self
    }

    /// Adds an identity.
    pub fn identity(&mut self, identity: Identity) -> &mut IqHandlers {
        self.identities.push(identity);
        self
    }

    /// Leaves `disco#info` to the application (it is then delivered like
    /// any request).
    pub fn answer_disco_myself(&mut self) -> &mut IqHandlers {
        self.answer_disco = false;
        self
    }

    /// Whether a request with a payload in `namespace` goes to the
    /// application.
    pub fn delivers(&self, namespace: &str) -> bool {
        self.delivered.as_ref().is_none_or(|list| list.iter().any(|n| n == namespace))
    }

    /// Whether the core answers `disco#info` itself.
    pub(crate) fn answers_disco(&self) -> bool {
        self.answer_disco
    }

    /// The `disco#info` answer (XEP-0030 §3.1): identities, then the
    /// features, `disco#info` itself and `extra` (what the core answers
    /// itself, such as `urn:xmpp:ping`) first.
    pub(crate) fn disco_info(&self, extra: &[&str]) -> Result<Element, InvalidXml> {
        let mut query = Element::new("query", DISCO_INFO);
        for identity in &self.identities {
            let mut el = Element::new("identity", DISCO_INFO)
                .with_attr("category", identity.category.as_str())?
                .with_attr("type", identity.type_.as_str())?;
            if let Some(name) = &identity.name {
                el.set_attr("name", name.as_str())?;
            }
            query.append_child(el);
        }
        let mut features: Vec<&str> = Vec::new();
        for f in [DISCO_INFO].iter().chain(extra).copied().chain(self.features.iter().map(String::as_str)) {
            if !features.contains(&f) {
                features.push(f);
            }
        }
        for f in features {
            query.append_child(Element::new("feature", DISCO_INFO).with_attr("var", f)?);
        }
        Ok(query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn xep0030_disco_info_lists_identities_and_what_is_registered() {
        let mut h = IqHandlers::only(Identity::new("client", "pc"));
        assert!(!h.delivers("jabber:iq:version"));
        h.register("jabber:iq:version").advertise("http://jabber.org/protocol/chatstates");
        assert!(h.delivers("jabber:iq:version"));
        assert!(!h.delivers("jabber:iq:last"));
        let info = h.disco_info(&["urn:xmpp:ping"]).unwrap();
        assert_eq!(
            info.to_string(),
            "<query xmlns='http://jabber.org/protocol/disco#info'><identity category='client' type='pc'/>\
             <feature var='http://jabber.org/protocol/disco#info'/><feature var='urn:xmpp:ping'/>\
             <feature var='jabber:iq:version'/><feature var='http://jabber.org/protocol/chatstates'/></query>"
        );
        assert!(IqHandlers::all(Identity::new("client", "pc")).delivers("anything"));
    }
}
