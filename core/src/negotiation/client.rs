//! The client's negotiator: takes the features in priority order as
//! their prerequisites come to hold and the server offers them.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use super::app::AppFeature;
use super::bind::{BindClient, SessionClient};
use super::sasl::{SaslClientFeature, SaslClientSettings};
use super::starttls::{StartTlsClient, TlsMode};
use super::{Action, FeatureCx, Progress, Step, StreamFeature, StreamFeatures};
use crate::error::{AuthError, Fault, NegotiationError};
use crate::ns;
use crate::xml::Element;

/// What the client negotiates with.
pub(crate) struct ClientSettings {
    pub(crate) tls: TlsMode,
    /// Never negotiate STARTTLS, whatever the server offers (WebSocket).
    pub(crate) ignore_starttls: bool,
    pub(crate) sasl: SaslClientSettings,
    pub(crate) resource: Option<String>,
    pub(crate) features: Vec<Box<dyn StreamFeature>>,
}

/// A feature, by its place in the priority order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    StartTls,
    Sasl,
    App(usize),
    Bind,
    Session,
}

/// Where negotiation stands after an element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// More is due from the server (an answer, or new features after a
    /// restart).
    Pending,
    /// Nothing is left to negotiate: online.
    Done,
}

pub(crate) struct ClientNegotiator {
    starttls: StartTlsClient,
    pub(crate) sasl: SaslClientFeature,
    bind: BindClient,
    session: SessionClient,
    app: Vec<AppFeature>,
    /// The offer of the current stream; `None` until its features arrive.
    offer: Option<StreamFeatures>,
    active: Option<Slot>,
}

impl ClientNegotiator {
    pub(crate) fn new(settings: ClientSettings) -> ClientNegotiator {
        let account = settings.sasl.account.clone();
        ClientNegotiator {
            starttls: StartTlsClient { mode: settings.tls, ignore_offers: settings.ignore_starttls },
            sasl: SaslClientFeature::new(settings.sasl),
            bind: BindClient::new(account, settings.resource),
            session: SessionClient::default(),
            app: settings.features.into_iter().map(AppFeature::new).collect(),
            offer: None,
            active: None,
        }
    }

    /// A new stream began (after TLS or SASL): what the server offered
    /// before is forgotten (RFC 6120 §5.4.3.3, §6.4.6).
    pub(crate) fn restart(&mut self) {
        self.offer = None;
        self.active = None;
    }

    /// True while the current stream's features are due.
    pub(crate) fn awaits_features(&self) -> bool {
        self.offer.is_none()
    }

    fn order(&self) -> impl Iterator<Item = Slot> + use<> {
        let apps = self.app.len();
        [Slot::StartTls, Slot::Sasl].into_iter().chain((0..apps).map(Slot::App)).chain([Slot::Bind, Slot::Session])
    }

    /// `<stream:features/>` arrived.
    pub(crate) fn on_features(&mut self, cx: &mut FeatureCx, features: &Element) -> Step<Outcome> {
        self.offer = Some(StreamFeatures::from_element(features));
        self.next(cx)
    }

    /// An element of the running exchange arrived.
    pub(crate) fn on_element(&mut self, cx: &mut FeatureCx, element: Element) -> Step<Outcome> {
        let content_ns = cx.content_ns.as_str();
        let progress = match self.active {
            Some(Slot::StartTls) => self.starttls.on_element(cx, element)?,
            Some(Slot::Sasl) => self.sasl.on_element(cx, element)?,
            Some(Slot::Bind) if self.bind.owns(&element, content_ns) => self.bind.on_element(cx, element)?,
            Some(Slot::Session) if self.session.owns(&element, content_ns) => self.session.on_element(element)?,
            Some(Slot::App(i)) if self.app[i].owns(&element) => self.app[i].on_element(cx, &element)?,
            _ => return Err(Fault::unexpected(&element)),
        };
        if progress == Progress::Continue {
            return Ok(Outcome::Pending);
        }
        self.active = None;
        // After TLS or SASL the stream restarts and new features come.
        if cx.actions.iter().any(|a| matches!(a, Action::Restart | Action::StartTls)) {
            return Ok(Outcome::Pending);
        }
        self.next(cx)
    }

    fn eligible(&self, slot: Slot, cx: &FeatureCx) -> bool {
        match slot {
            Slot::StartTls => self.starttls.eligible(cx.state),
            Slot::Sasl => self.sasl.eligible(cx.state),
            Slot::App(i) => self.app[i].eligible(cx.state),
            Slot::Bind => self.bind.eligible(cx.state),
            Slot::Session => self.session.eligible(cx.state),
        }
    }

    /// Negotiates the next feature of the current offer, if any.
    fn next(&mut self, cx: &mut FeatureCx) -> Step<Outcome> {
        let Some(offer) = self.offer.take() else { return Ok(Outcome::Pending) };
        let result = self.choose(cx, &offer);
        self.offer = Some(offer);
        result
    }

    fn choose(&mut self, cx: &mut FeatureCx, offer: &StreamFeatures) -> Step<Outcome> {
        for slot in self.order() {
            if !self.eligible(slot, cx) {
                continue;
            }
            let started = match slot {
                Slot::StartTls if offer.starttls().is_some() => self.starttls.start(cx, offer)?,
                Slot::Sasl if !offer.mechanisms().is_empty() => self.sasl.start(cx, offer)?,
                Slot::Bind if offer.bind() => self.bind.start(cx)?,
                Slot::Session if offer.session().is_some() => self.session.start(cx, offer)?,
                Slot::App(i) => {
                    let (ns, name) = self.app[i].name();
                    match offer.get(ns, name).cloned() {
                        Some(el) => self.app[i].start(cx, &el)?,
                        None => false,
                    }
                }
                // Eligible, needed, and not offered.
                Slot::StartTls => self.starttls.not_offered().map(|()| false)?,
                Slot::Sasl => self.sasl.not_offered().map(|()| false).map_err(|f| self.unsupported(offer, f))?,
                Slot::Bind => self.bind.not_offered().map(|()| false).map_err(|f| self.unsupported(offer, f))?,
                Slot::Session => false,
            };
            if started {
                self.active = Some(slot);
                return Ok(Outcome::Pending);
            }
        }
        if cx.state.contains(super::StreamState::BOUND) {
            if let Some(jid) = self.bind.bound.clone() {
                cx.act(Action::Online(jid.into()));
            }
            return Ok(Outcome::Done);
        }
        Err(self.unsupported(offer, NegotiationError::BindNotOffered.into()))
    }

    /// Nothing left that we can negotiate, but the server insists on a
    /// feature we do not know: that is the reason to give (RFC 6120
    /// §4.9.3.23).
    fn unsupported(&self, offer: &StreamFeatures, fault: Fault) -> Fault {
        let mut known: Vec<(&str, &str)> = alloc::vec![
            StartTlsClient::NAME,
            SaslClientFeature::NAME,
            BindClient::NAME,
            SessionClient::NAME,
            (super::SASL_CB, "sasl-channel-binding"),
        ];
        known.extend(self.app.iter().map(AppFeature::name));
        let stuck = matches!(
            fault,
            Fault::Negotiation(NegotiationError::Auth(AuthError::NotOffered) | NegotiationError::BindNotOffered)
        );
        match offer.unknown_required(&known) {
            Some(feature) if stuck => Fault::Negotiation(NegotiationError::UnsupportedFeature {
                name: feature.name().into(),
                ns: feature.ns().as_str().into(),
            }),
            _ => fault,
        }
    }
}

/// The stream namespace's `features` element.
pub(crate) fn is_features(element: &Element) -> bool {
    element.is("features", ns::STREAMS)
}
