//! Resource binding (RFC 6120 §7), both sides, and the legacy session
//! establishment of RFC 3921 §3 that some servers still ask for.

use alloc::boxed::Box;
use alloc::string::{String, ToString};

use super::{
    Action, BindDecision, BindRequest, FeatureCx, NegotiationEvent, Progress, Requirement, Step, StreamFeatures,
    StreamState, bind_request, bound_jid, session_request,
};
use crate::condition::StanzaErrorCondition;
use crate::error::{NegotiationError, Violation};
use crate::jid::{BareJid, FullJid};
use crate::ns;
use crate::stanza::{Iq, IqType, StanzaError};
use crate::xml::Element;

/// The client's half of binding.
#[derive(Debug)]
pub(crate) struct BindClient {
    pub(crate) account: BareJid,
    /// The resource to ask for, if any.
    pub(crate) resource: Option<String>,
    /// The request's id, and whether it is the retry without a resource.
    pending: Option<(String, bool)>,
    /// The address bound.
    pub(crate) bound: Option<FullJid>,
}

impl BindClient {
    pub(crate) const NAME: (&'static str, &'static str) = (ns::BIND, "bind");

    pub(crate) fn new(account: BareJid, resource: Option<String>) -> BindClient {
        BindClient { account, resource, pending: None, bound: None }
    }

    pub(crate) fn eligible(&self, state: StreamState) -> bool {
        state.contains(StreamState::AUTHENTICATED) && !state.contains(StreamState::BOUND)
    }

    pub(crate) fn start(&mut self, cx: &mut FeatureCx) -> Step<bool> {
        let resource = self.resource.clone();
        self.request(cx, resource.as_deref(), false);
        Ok(true)
    }

    pub(crate) fn not_offered(&self) -> Step<()> {
        Err(NegotiationError::BindNotOffered.into())
    }

    fn request(&mut self, cx: &mut FeatureCx, resource: Option<&str>, retried: bool) {
        let id = cx.entropy.stanza_id();
        // A configured resource is a prepared JID part, the id base64: both
        // always legal.
        let payload = bind_request(resource).unwrap_or_else(|_| Element::new("bind", ns::BIND));
        if let Ok(iq) = Iq::set(None, payload).with_id(&id) {
            let element = cx.iq(iq);
            cx.send(element);
        }
        self.pending = Some((id, retried));
    }

    /// Whether `element` answers the bind request.
    pub(crate) fn owns(&self, element: &Element, content_ns: &str) -> bool {
        element.is("iq", content_ns) && self.pending.as_ref().is_some_and(|(id, _)| element.attr("id") == Some(id))
    }

    pub(crate) fn on_element(&mut self, cx: &mut FeatureCx, element: Element) -> Step {
        let retried = self.pending.take().is_some_and(|(_, r)| r);
        let iq = Iq::from_element(element)
            .map_err(|e| NegotiationError::BindFailed(Box::new(StanzaError::new(e.condition()))))?;
        match iq.type_() {
            IqType::Result => {
                let jid = bound_jid(iq.payload()).and_then(|j| FullJid::new(&j).ok());
                // The server may pick the resource, and for ANONYMOUS the
                // localpart, but never another domain or account.
                let ours = jid.as_ref().is_some_and(|j| {
                    j.domain() == self.account.domain()
                        && (self.account.local().is_none() || j.local() == self.account.local())
                });
                match jid {
                    Some(jid) if ours => {
                        self.bound = Some(jid.clone());
                        cx.act(Action::Bound(jid));
                        Ok(Progress::Done)
                    }
                    _ => Err(Violation::BadBoundJid.into()),
                }
            }
            IqType::Error => {
                let error = iq.error().unwrap_or_else(|| StanzaError::new(StanzaErrorCondition::UndefinedCondition));
                // RFC 6120 §7.7.2: a submitted resource that conflicts or is
                // malformed; ask the server to choose, once (no loops).
                let retry =
                    matches!(error.condition, StanzaErrorCondition::Conflict | StanzaErrorCondition::BadRequest);
                if retry && !retried && self.resource.is_some() {
                    self.request(cx, None, true);
                    Ok(Progress::Continue)
                } else {
                    Err(NegotiationError::BindFailed(Box::new(error)).into())
                }
            }
            _ => Err(NegotiationError::BindFailed(Box::new(StanzaError::new(StanzaErrorCondition::BadRequest))).into()),
        }
    }
}

/// The server's half of binding.
#[derive(Debug, Default)]
pub(crate) struct BindServer {
    /// The request waiting for the application: its IQ, and the resource
    /// asked for.
    pending: Option<(Iq, Option<String>)>,
}

impl BindServer {
    /// `<bind/>`, offered once authenticated.
    pub(crate) fn offer(&self, state: StreamState) -> Option<Element> {
        let offered = state.contains(StreamState::AUTHENTICATED) && !state.contains(StreamState::BOUND);
        offered.then(|| Element::new("bind", ns::BIND))
    }

    /// Whether `iq` is a bind request.
    pub(crate) fn is_request(iq: &Iq) -> bool {
        iq.type_() == IqType::Set && iq.payload().is_some_and(|p| p.is("bind", ns::BIND))
    }

    /// Whether the application's answer is awaited.
    pub(crate) fn awaits_answer(&self) -> bool {
        self.pending.is_some()
    }

    /// A bind request arrived (RFC 6120 §7.6, §7.7).
    pub(crate) fn on_request(&mut self, cx: &mut FeatureCx, iq: Iq, account: &BareJid) -> Step<()> {
        let requested = iq
            .payload()
            .and_then(|p| p.child_text("resource", ns::BIND))
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty());
        // RFC 6120 §7.7.2.1: a resourcepart that cannot be prepared.
        if let Some(r) = &requested
            && account.with_resource(r).is_err()
        {
            if let Ok(answer) = iq.error_for(&StanzaError::new(StanzaErrorCondition::BadRequest)) {
                let element = cx.iq(answer);
                cx.send(element);
            }
            return Ok(());
        }
        cx.event(NegotiationEvent::BindRequested(BindRequest { resource: requested.clone() }));
        self.pending = Some((iq, requested));
        Ok(())
    }

    /// The application decided; `Err` if nothing was waiting or the
    /// resource is not a resourcepart.
    pub(crate) fn answer(
        &mut self,
        cx: &mut FeatureCx,
        decision: BindDecision,
        account: &BareJid,
    ) -> Result<(), crate::error::ApiError> {
        use crate::error::ApiError;
        let (iq, requested) = self.pending.take().ok_or(ApiError::NotWaiting)?;
        let resource = match decision {
            BindDecision::Reject(error) => {
                let answer = iq.error_for(&error).map_err(ApiError::InvalidXml)?;
                let element = cx.iq(answer);
                cx.send(element);
                return Ok(());
            }
            BindDecision::Assign(r) => r,
            BindDecision::Accept => requested.clone().unwrap_or_else(|| cx.entropy.stanza_id()),
        };
        let jid = match account.with_resource(&resource) {
            Ok(jid) => jid,
            Err(e) => {
                self.pending = Some((iq, requested));
                return Err(ApiError::InvalidResource(e));
            }
        };
        let payload = Element::new("bind", ns::BIND)
            .with_child(Element::new("jid", ns::BIND).with_text(jid.as_str()).map_err(ApiError::InvalidXml)?);
        let element = cx.iq(iq.result_for(Some(payload)));
        cx.send(element);
        cx.act(Action::Bound(jid.clone()));
        cx.act(Action::Online(jid.into()));
        Ok(())
    }
}

/// The client's half of the legacy session (RFC 3921 §3): requested only
/// when the server marks it mandatory.
#[derive(Debug, Default)]
pub(crate) struct SessionClient {
    pending: Option<String>,
    /// Established: never asked for twice.
    done: bool,
}

impl SessionClient {
    pub(crate) const NAME: (&'static str, &'static str) = (ns::SESSION, "session");

    pub(crate) fn eligible(&self, state: StreamState) -> bool {
        state.contains(StreamState::BOUND) && !state.contains(StreamState::READY) && !self.done
    }

    pub(crate) fn start(&mut self, cx: &mut FeatureCx, offer: &StreamFeatures) -> Step<bool> {
        if offer.session() != Some(Requirement::Required) {
            return Ok(false);
        }
        let id = cx.entropy.stanza_id();
        if let Ok(iq) = Iq::set(None, session_request()).with_id(&id) {
            let element = cx.iq(iq);
            cx.send(element);
        }
        self.pending = Some(id);
        Ok(true)
    }

    pub(crate) fn owns(&self, element: &Element, content_ns: &str) -> bool {
        element.is("iq", content_ns) && self.pending.as_deref().is_some_and(|id| element.attr("id") == Some(id))
    }

    pub(crate) fn on_element(&mut self, element: Element) -> Step {
        self.pending = None;
        let failed = |condition| NegotiationError::SessionFailed(Box::new(StanzaError::new(condition)));
        let iq = Iq::from_element(element).map_err(|e| failed(e.condition()))?;
        match (iq.type_(), iq.error()) {
            (IqType::Result, _) => {
                self.done = true;
                Ok(Progress::Done)
            }
            (IqType::Error, Some(error)) => Err(NegotiationError::SessionFailed(Box::new(error)).into()),
            _ => Err(failed(StanzaErrorCondition::BadRequest).into()),
        }
    }
}
