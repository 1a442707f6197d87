//! STARTTLS (RFC 6120 §5.4), both sides.

use super::{Action, FeatureCx, Progress, Requirement, Step, StreamFeatures, StreamState};
use crate::error::{Fault, NegotiationError};
use crate::ns;
use crate::xml::Element;

/// When to use TLS (client).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsMode {
    /// STARTTLS is mandatory: without it the client stops before sending
    /// any credentials (HARDENING 10).
    #[default]
    Required,
    /// STARTTLS when the server offers it, plaintext otherwise.
    Optional,
    /// Never negotiate TLS (tests, loopback, transports secured otherwise).
    Disabled,
    /// The transport is TLS from its first byte (XEP-0368, or a secure
    /// WebSocket): the connection's first output is the TLS hand-off.
    Direct,
}

/// When to offer and require TLS (server).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerTls {
    /// Offer STARTTLS as `<required/>`; offer SASL only after it.
    #[default]
    Required,
    /// Offer STARTTLS; also offer SASL before it.
    Optional,
    /// No TLS (tests, loopback).
    Disabled,
    /// The transport is TLS from its first byte (XEP-0368, or a secure
    /// WebSocket): the connection's first output is the TLS hand-off.
    Direct,
}

/// The client's half.
#[derive(Debug)]
pub(crate) struct StartTlsClient {
    pub(crate) mode: TlsMode,
    /// RFC 7395 §3.9: over WebSocket a TLS feature offered is ignored.
    pub(crate) ignore_offers: bool,
}

impl StartTlsClient {
    pub(crate) const NAME: (&'static str, &'static str) = (ns::TLS, "starttls");

    /// Eligible until the stream is secure.
    pub(crate) fn eligible(&self, state: StreamState) -> bool {
        !state.contains(StreamState::SECURE) && !self.ignore_offers
    }

    /// The server offers STARTTLS: ask for it, unless TLS is disabled here.
    pub(crate) fn start(&mut self, cx: &mut FeatureCx, offer: &StreamFeatures) -> Step<bool> {
        match self.mode {
            TlsMode::Disabled | TlsMode::Direct if offer.starttls() == Some(Requirement::Required) => {
                Err(NegotiationError::TlsRequiredByServer.into())
            }
            TlsMode::Disabled | TlsMode::Direct => Ok(false),
            _ => {
                cx.send(Element::new("starttls", ns::TLS));
                Ok(true)
            }
        }
    }

    /// The server does not offer it: with TLS required, stop here, before
    /// any credentials (HARDENING 10).
    pub(crate) fn not_offered(&self) -> Step<()> {
        match self.mode {
            TlsMode::Required => Err(NegotiationError::TlsUnavailable.into()),
            _ => Ok(()),
        }
    }

    pub(crate) fn on_element(&mut self, cx: &mut FeatureCx, element: Element) -> Step {
        match element.name() {
            "proceed" if element.ns() == ns::TLS => {
                cx.act(Action::StartTls);
                Ok(Progress::Done)
            }
            "failure" if element.ns() == ns::TLS => Err(NegotiationError::TlsRefused.into()),
            _ => Err(Fault::unexpected(&element)),
        }
    }
}

/// The server's half.
#[derive(Debug)]
pub(crate) struct StartTlsServer {
    pub(crate) mode: ServerTls,
}

impl StartTlsServer {
    /// The `<starttls/>` to offer, if any.
    pub(crate) fn offer(&self, state: StreamState) -> Option<Element> {
        let offered =
            !state.contains(StreamState::SECURE) && matches!(self.mode, ServerTls::Required | ServerTls::Optional);
        offered.then(|| {
            let mut tls = Element::new("starttls", ns::TLS);
            if self.mode == ServerTls::Required {
                tls.append_child(Element::new("required", ns::TLS));
            }
            tls
        })
    }

    /// `<starttls/>` arrived; `offered` says whether this stream offered
    /// it.
    pub(crate) fn on_element(&mut self, cx: &mut FeatureCx, element: Element, offered: bool) -> Step {
        if !element.is("starttls", ns::TLS) {
            return Err(Fault::unexpected(&element));
        }
        if !offered {
            // RFC 6120 §5.4.2.2: the failure case; the server closes.
            cx.send(Element::new("failure", ns::TLS));
            return Err(NegotiationError::TlsRefused.into());
        }
        cx.send(Element::new("proceed", ns::TLS));
        cx.act(Action::StartTls);
        Ok(Progress::Done)
    }
}
