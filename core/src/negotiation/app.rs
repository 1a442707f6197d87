//! Stream features the application defines (as mellium's
//! `StreamFeature`): negotiated by the same negotiators as the built-in
//! ones, with the same prerequisites.

use alloc::boxed::Box;
use alloc::string::{String, ToString};

use super::{FeatureCx, NegotiationEvent, Prerequisites, Progress, Step, StreamState};
use crate::error::NegotiationError;
use crate::xml::{Element, Namespace};

/// What a feature does after an element of its exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FeatureStep {
    /// More is due; send this first, if anything.
    Continue(Option<Element>),
    /// Negotiated; send this last, if anything.
    Done(Option<Element>),
    /// The exchange failed: the stream ends (with `undefined-condition`).
    Fail(String),
}

/// A stream feature the application defines, negotiated like STARTTLS or
/// SASL: offered in `<stream:features/>` when its [`Prerequisites`] hold,
/// then an exchange of elements in its own namespace.
///
/// Register it with the connection's configuration (both sides, if both
/// are this library). The client negotiates it when the server offers it
/// and its turn comes (after the built-in features its prerequisites put
/// before it); the server offers it while its prerequisites hold and hands
/// it the elements in its namespace. Each side gets
/// `Event::FeatureNegotiated` when it is done.
///
/// ```
/// use sxmpp::negotiation::{FeatureStep, StreamFeature};
/// use sxmpp::xml::Element;
///
/// /// `<motd/>`: after authentication the client asks for the message
/// /// of the day and the server sends it.
/// struct Motd;
///
/// impl StreamFeature for Motd {
///     fn namespace(&self) -> &str { "urn:example:motd" }
///     fn name(&self) -> &str { "motd" }
///     fn start(&mut self, _offer: &Element) -> Option<Element> {
///         Some(Element::new("get", "urn:example:motd"))
///     }
///     fn receive(&mut self, element: &Element) -> FeatureStep {
///         match element.name() {
///             // Server side: answer the request.
///             "get" => FeatureStep::Done(Element::new("text", "urn:example:motd").with_text("Welcome").ok()),
///             // Client side: the answer ends it.
///             "text" => FeatureStep::Done(None),
///             _ => FeatureStep::Fail("unexpected element".into()),
///         }
///     }
/// }
/// ```
pub trait StreamFeature: Send {
    /// The namespace of the feature element and of its exchange.
    fn namespace(&self) -> &str;

    /// The local name of the feature element in `<stream:features/>`.
    fn name(&self) -> &str;

    /// When it applies; by default after authentication and before a
    /// resource is bound.
    fn prerequisites(&self) -> Prerequisites {
        Prerequisites::after_auth()
    }

    /// (Server) The element that offers it; by default an empty element
    /// of [`name`](StreamFeature::name). `None` leaves it out.
    fn offer(&mut self) -> Option<Element> {
        Element::try_new(self.name().to_string(), Namespace::new(self.namespace().to_string()).ok()?).ok()
    }

    /// (Client) The server offered it: the first element to send, or
    /// `None` to skip the feature.
    fn start(&mut self, offer: &Element) -> Option<Element>;

    /// (Either side) An element in the feature's namespace arrived.
    fn receive(&mut self, element: &Element) -> FeatureStep;
}

/// An application feature as a negotiator holds it.
pub(crate) struct AppFeature {
    inner: Box<dyn StreamFeature>,
    /// Started (client) or offered (server) on this stream, and not done.
    active: bool,
    done: bool,
}

impl core::fmt::Debug for AppFeature {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AppFeature").field("namespace", &self.inner.namespace()).field("done", &self.done).finish()
    }
}

impl AppFeature {
    pub(crate) fn new(inner: Box<dyn StreamFeature>) -> AppFeature {
        AppFeature { inner, active: false, done: false }
    }

    pub(crate) fn name(&self) -> (&str, &str) {
        (self.inner.namespace(), self.inner.name())
    }

    pub(crate) fn eligible(&self, state: StreamState) -> bool {
        !self.done && self.inner.prerequisites().hold(state)
    }

    /// Whether `element` belongs to this feature's running exchange.
    pub(crate) fn owns(&self, element: &Element) -> bool {
        self.active && element.ns() == self.inner.namespace()
    }

    /// (Client) Offered: start, or skip.
    pub(crate) fn start(&mut self, cx: &mut FeatureCx, offer: &Element) -> Step<bool> {
        match self.inner.start(offer) {
            Some(first) => {
                cx.send(first);
                self.active = true;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// (Server) The element to offer, marking the feature as offered.
    pub(crate) fn offer(&mut self, state: StreamState) -> Option<Element> {
        self.active = false;
        let element = self.eligible(state).then(|| self.inner.offer()).flatten();
        self.active = element.is_some();
        element
    }

    pub(crate) fn on_element(&mut self, cx: &mut FeatureCx, element: &Element) -> Step {
        match self.inner.receive(element) {
            FeatureStep::Continue(send) => {
                if let Some(e) = send {
                    cx.send(e);
                }
                Ok(Progress::Continue)
            }
            FeatureStep::Done(send) => {
                if let Some(e) = send {
                    cx.send(e);
                }
                self.active = false;
                self.done = true;
                cx.event(NegotiationEvent::FeatureNegotiated(self.inner.namespace().to_string()));
                Ok(Progress::Done)
            }
            FeatureStep::Fail(reason) => {
                let namespace = self.inner.namespace().to_string();
                Err(NegotiationError::Feature { namespace, reason }.into())
            }
        }
    }
}
