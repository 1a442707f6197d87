//! Stanza errors (RFC 6120 §8.3): `<error type='…'><condition/><text/>…</error>`.

use alloc::boxed::Box;
use alloc::string::String;
use core::fmt;

use super::{Text, read_text};
use crate::condition::{StanzaErrorCondition, StanzaErrorType};
use crate::jid::Jid;
use crate::ns;
use crate::xml::{Element, InvalidXml, Namespace};

/// A stanza error: the condition, its type, and optional details.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StanzaError {
    /// What the sender should do about it.
    pub type_: StanzaErrorType,
    /// The defined condition (§8.3.3).
    pub condition: StanzaErrorCondition,
    /// The condition element's text: the new address for `gone` and
    /// `redirect` (§8.3.3.5, §8.3.3.14).
    pub condition_text: Option<String>,
    /// The entity that detected the error (§8.3.2).
    pub by: Option<Jid>,
    /// A human-readable description (§8.3.2).
    pub text: Option<Text>,
    /// An application-specific condition element (§8.3.2); boxed, as it
    /// is rare and would double the size of every error (and event).
    pub app_specific: Option<Box<Element>>,
}

impl StanzaError {
    /// An error with `condition` and the type RFC 6120 shows with it.
    pub fn new(condition: StanzaErrorCondition) -> StanzaError {
        StanzaError::with_type(condition.default_type(), condition)
    }

    /// An error with an explicit type.
    pub fn with_type(type_: StanzaErrorType, condition: StanzaErrorCondition) -> StanzaError {
        StanzaError { type_, condition, condition_text: None, by: None, text: None, app_specific: None }
    }

    /// Stands in for an `<error/>` a peer should have sent and did not.
    pub(crate) fn missing() -> StanzaError {
        StanzaError::new(StanzaErrorCondition::UndefinedCondition)
    }

    /// Reads an `<error/>` element leniently: an unknown or missing
    /// condition is `undefined-condition`, a missing or unknown type is
    /// the condition's usual type, an unparsable `by` is dropped.
    pub fn from_element(element: &Element) -> StanzaError {
        let mut condition = None;
        let mut condition_text = None;
        let mut text = None;
        let mut app_specific = None;
        for child in element.children() {
            if child.ns() == ns::XMPP_STANZAS {
                if child.name() == "text" {
                    text.get_or_insert_with(|| read_text(child));
                } else if condition.is_none() {
                    condition = Some(
                        child
                            .name()
                            .parse::<StanzaErrorCondition>()
                            .unwrap_or(StanzaErrorCondition::UndefinedCondition),
                    );
                    let t = child.text();
                    condition_text = (!t.trim().is_empty()).then(|| String::from(t.trim()));
                }
            } else if app_specific.is_none() {
                app_specific = Some(Box::new(child.clone()));
            }
        }
        let condition = condition.unwrap_or(StanzaErrorCondition::UndefinedCondition);
        let type_ =
            element.attr("type").and_then(|t| t.parse::<StanzaErrorType>().ok()).unwrap_or(condition.default_type());
        let by = element.attr("by").and_then(|b| Jid::new(b).ok());
        StanzaError { type_, condition, condition_text, by, text, app_specific }
    }

    /// Writes the `<error/>` element; `ns` is the stanza's content
    /// namespace.
    pub fn to_element(&self, ns: &Namespace) -> Result<Element, InvalidXml> {
        let mut el = Element::new("error", ns.clone());
        el.set_attr("type", self.type_.as_str())?;
        if let Some(by) = &self.by {
            el.set_attr("by", by.as_str())?;
        }
        let mut condition = Element::try_new(self.condition.as_str(), Namespace::from_static(ns::XMPP_STANZAS))?;
        if let Some(t) = &self.condition_text {
            condition.append_text(t)?;
        }
        el.append_child(condition);
        if let Some(text) = &self.text {
            el.append_child(super::text_element(
                "text",
                &Namespace::from_static(ns::XMPP_STANZAS),
                text.lang.as_deref(),
                &text.text,
            )?);
        }
        if let Some(app) = &self.app_specific {
            el.append_child(Element::clone(app));
        }
        Ok(el)
    }
}

impl fmt::Display for StanzaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.condition, self.type_)?;
        if let Some(text) = &self.text {
            write!(f, ": {}", text.text)?;
        }
        Ok(())
    }
}
