//! Stream errors (RFC 6120 §4.9): `<stream:error><condition/><text/>…</stream:error>`.

use alloc::boxed::Box;
use alloc::string::String;
use core::fmt;

use super::{Text, read_text};
use crate::condition::StreamErrorCondition;
use crate::ns;
use crate::xml::{Element, InvalidXml, Namespace};

/// A stream error: always fatal to the stream (§4.9.1.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamError {
    /// The defined condition (§4.9.3).
    pub condition: StreamErrorCondition,
    /// The condition element's text: the host (and port) to reconnect to
    /// for `see-other-host` (§4.9.3.19).
    pub condition_text: Option<String>,
    /// A human-readable description (§4.9.2).
    pub text: Option<Text>,
    /// An application-specific condition element (§4.9.4).
    pub app_specific: Option<Box<Element>>,
}

impl StreamError {
    /// A stream error with only its condition.
    pub fn new(condition: StreamErrorCondition) -> StreamError {
        StreamError { condition, condition_text: None, text: None, app_specific: None }
    }

    /// A stream error with a description.
    pub fn with_text(condition: StreamErrorCondition, text: impl Into<String>) -> StreamError {
        StreamError { text: Some(Text { lang: None, text: text.into() }), ..StreamError::new(condition) }
    }

    /// `see-other-host` naming where to reconnect (§4.9.3.19).
    pub fn see_other_host(host: impl Into<String>) -> StreamError {
        StreamError { condition_text: Some(host.into()), ..StreamError::new(StreamErrorCondition::SeeOtherHost) }
    }

    /// Reads a `<stream:error/>` element leniently: an unknown or missing
    /// condition is `undefined-condition`.
    pub fn from_element(element: &Element) -> StreamError {
        let mut error = StreamError::new(StreamErrorCondition::UndefinedCondition);
        let mut found = false;
        for child in element.children() {
            if child.ns() == ns::XMPP_STREAMS {
                if child.name() == "text" {
                    error.text.get_or_insert_with(|| read_text(child));
                } else if !found {
                    found = true;
                    error.condition = child
                        .name()
                        .parse::<StreamErrorCondition>()
                        .unwrap_or(StreamErrorCondition::UndefinedCondition);
                    let t = child.text();
                    error.condition_text = (!t.trim().is_empty()).then(|| String::from(t.trim()));
                }
            } else if error.app_specific.is_none() {
                error.app_specific = Some(Box::new(child.clone()));
            }
        }
        error
    }

    /// Writes the `<stream:error/>` element.
    pub fn to_element(&self) -> Result<Element, InvalidXml> {
        let streams = Namespace::from_static(ns::XMPP_STREAMS);
        let mut el = Element::new("error", ns::STREAMS);
        let mut condition = Element::try_new(self.condition.as_str(), streams.clone())?;
        if let Some(t) = &self.condition_text {
            condition.append_text(t)?;
        }
        el.append_child(condition);
        if let Some(text) = &self.text {
            el.append_child(super::text_element("text", &streams, text.lang.as_deref(), &text.text)?);
        }
        if let Some(app) = &self.app_specific {
            el.append_child(Element::clone(app));
        }
        Ok(el)
    }
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.condition.as_str())?;
        if let Some(t) = &self.condition_text {
            write!(f, " ({t})")?;
        }
        if let Some(text) = &self.text {
            write!(f, ": {}", text.text)?;
        }
        Ok(())
    }
}
