//! The server's negotiator: offers every feature whose prerequisites hold,
//! and hands each element to the feature it belongs to.

use alloc::boxed::Box;
use alloc::vec::Vec;

use super::app::AppFeature;
use super::bind::BindServer;
use super::sasl::{NotWaiting, SaslServerFeature, SaslServerSettings};
use super::starttls::{ServerTls, StartTlsServer};
use super::{AuthAnswer, BindDecision, FeatureCx, Step, StreamFeature, StreamFeatures, StreamState};
use crate::error::ApiError;
use crate::error::{Fault, Violation};
use crate::jid::BareJid;
use crate::ns;
use crate::stanza::Iq;
use crate::xml::Element;

/// What the server offers.
pub(crate) struct ServerSettings {
    pub(crate) tls: ServerTls,
    pub(crate) sasl: SaslServerSettings,
    /// Offer the legacy session (RFC 3921 §3) as optional.
    pub(crate) offer_session: bool,
    pub(crate) features: Vec<Box<dyn StreamFeature>>,
}

pub(crate) struct ServerNegotiator {
    starttls: StartTlsServer,
    sasl: SaslServerFeature,
    bind: BindServer,
    offer_session: bool,
    app: Vec<AppFeature>,
    /// What this stream offered.
    offered: StreamFeatures,
}

impl ServerNegotiator {
    pub(crate) fn new(settings: ServerSettings) -> ServerNegotiator {
        ServerNegotiator {
            starttls: StartTlsServer { mode: settings.tls },
            sasl: SaslServerFeature::new(settings.sasl),
            bind: BindServer::default(),
            offer_session: settings.offer_session,
            app: settings.features.into_iter().map(AppFeature::new).collect(),
            offered: StreamFeatures::default(),
        }
    }

    /// The `<stream:features/>` for a stream that just opened (RFC 6120
    /// §4.3.2): every feature whose prerequisites hold now.
    pub(crate) fn features(&mut self, cx: &FeatureCx) -> Element {
        let state = cx.state;
        let mut offer = StreamFeatures::default();
        if let Some(tls) = self.starttls.offer(state) {
            offer.push(tls);
        }
        for el in self.sasl.offer(state, cx, self.starttls.mode == ServerTls::Required) {
            offer.push(el);
        }
        for app in &mut self.app {
            if let Some(el) = app.offer(state) {
                offer.push(el);
            }
        }
        if let Some(bind) = self.bind.offer(state) {
            offer.push(bind);
            if self.offer_session {
                let mut session = Element::new("session", ns::SESSION);
                session.append_child(Element::new("optional", ns::SESSION));
                offer.push(session);
            }
        }
        let element = offer.to_element();
        self.offered = offer;
        element
    }

    /// Whether bind was offered on this stream.
    pub(crate) fn offers_bind(&self) -> bool {
        self.offered.bind()
    }

    /// A first-level element arrived before the stream is ready; it comes
    /// back if it is not negotiation (a stanza, most likely).
    pub(crate) fn on_element(&mut self, cx: &mut FeatureCx, element: Element) -> Step<Option<Element>> {
        let ns = element.ns().as_str();
        if ns == ns::TLS {
            let offered = self.offered.starttls().is_some();
            self.starttls.on_element(cx, element, offered)?;
            return Ok(None);
        }
        if ns == ns::SASL {
            if cx.state.contains(StreamState::AUTHENTICATED) {
                return Err(Fault::unexpected(&element));
            }
            self.sasl.on_element(cx, element)?;
            return Ok(None);
        }
        if let Some(app) = self.app.iter_mut().find(|a| a.owns(&element)) {
            app.on_element(cx, &element)?;
            return Ok(None);
        }
        Ok(Some(element))
    }

    /// A bind request arrived (the role checked it is one, and that the
    /// stream is authenticated).
    pub(crate) fn on_bind_request(&mut self, cx: &mut FeatureCx, iq: Iq, account: &BareJid) -> Step<()> {
        if !self.offers_bind() {
            return Err(Violation::NotAuthorized.into());
        }
        self.bind.on_request(cx, iq, account)
    }

    /// Whether the application's credentials are awaited.
    pub(crate) fn awaits_credentials(&self) -> bool {
        self.sasl.awaits_answer()
    }

    /// Whether the application's bind decision is awaited.
    pub(crate) fn awaits_bind(&self) -> bool {
        self.bind.awaits_answer()
    }

    /// The application answered the credential request.
    pub(crate) fn authenticate(&mut self, cx: &mut FeatureCx, answer: AuthAnswer) -> Result<Step<()>, ApiError> {
        self.sasl.answer(cx, answer).map_err(|NotWaiting| ApiError::NotWaiting)
    }

    /// The application answered the bind request.
    pub(crate) fn bind(
        &mut self,
        cx: &mut FeatureCx,
        decision: BindDecision,
        account: &BareJid,
    ) -> Result<(), ApiError> {
        self.bind.answer(cx, decision, account)
    }
}
