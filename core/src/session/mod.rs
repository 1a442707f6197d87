//! The session: what an XMPP session is beyond the stream carrying it
//! (RFC 6120 §7, §8.2.3): the bound address, the IQ requests in flight both
//! ways, the IQ handlers and service discovery, and the stanzas the
//! application sent, held as values until the transport takes them.
//!
//! It outlives the transport: [`Connection::into_session`] takes it from a
//! connection that ended, and a new connection can carry it on (stanzas
//! queued meanwhile go out once it is online). Stream management (XEP-0198)
//! will keep its counters and unacknowledged stanzas here, so they move to
//! the next connection with the rest.
//!
//! [`Connection::into_session`]: crate::connection::Connection::into_session

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;

use crate::condition::{StanzaErrorCondition, StanzaErrorType};
use crate::jid::{BareJid, FullJid, Jid};
use crate::ns;
use crate::stanza::{Iq, Stanza, StanzaError};
use crate::time::Timestamp;
use crate::xml::Element;

mod handlers;
mod requests;

pub use handlers::{DISCO_INFO, Identity, IqHandlers};
pub use requests::{IqResponse, RequestId, Requests};
pub(crate) use requests::{Owed, Pending, Purpose};

/// How many IQs a session may track, both ways.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionLimits {
    /// Our requests awaiting answers at once.
    pub max_pending_iqs: usize,
    /// The peer's requests we may owe answers for at once; beyond that
    /// they are answered with `resource-constraint`.
    pub max_owed_iqs: usize,
    /// Stanzas the application may queue (as values, before the transport
    /// takes them) while no connection is online.
    pub max_queued_stanzas: usize,
}

impl Default for SessionLimits {
    fn default() -> SessionLimits {
        SessionLimits { max_pending_iqs: 256, max_owed_iqs: 64, max_queued_stanzas: 1024 }
    }
}

/// One XMPP session.
#[derive(Debug)]
pub struct Session {
    account: Option<BareJid>,
    jid: Option<FullJid>,
    requests: Requests,
    owed: Owed,
    handlers: IqHandlers,
    /// Application stanzas not yet written, with their approximate size
    /// (counted once, when queued).
    outbound: VecDeque<(Stanza, usize)>,
    outbound_bytes: usize,
    limits: SessionLimits,
    /// Stanzas written to a transport so far (XEP-0198 counts them).
    written: u64,
}

/// What an IQ response that arrived answers.
#[derive(Debug)]
pub(crate) enum Matched {
    /// One of the application's requests: its event.
    Application(IqResponse),
    /// One of the core's own (a ping).
    Core,
    /// None of ours: the IQ back.
    Nothing(Iq),
}

/// What to do with an IQ request that arrived.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // decided and acted on at once, never stored
pub(crate) enum RequestAction {
    /// Hand it to the application, which owes the answer.
    Deliver,
    /// Answer it on the core's behalf (with the payload, or the error).
    Answer(Result<Option<Element>, StanzaError>),
    /// Nothing: a duplicate of one still owed.
    Ignore,
}

impl Session {
    /// A session with these handlers and limits, not yet bound.
    pub fn new(handlers: IqHandlers, limits: SessionLimits) -> Session {
        Session {
            account: None,
            jid: None,
            requests: Requests::new(limits.max_pending_iqs),
            owed: Owed::new(limits.max_owed_iqs),
            handlers,
            outbound: VecDeque::new(),
            outbound_bytes: 0,
            limits,
            written: 0,
        }
    }

    /// Makes the session ready for a new connection: requests received on
    /// the old one can no longer be answered there (found in review: a
    /// stale entry made the same id on the next connection be ignored).
    pub(crate) fn carry_over(&mut self) {
        self.owed = Owed::new(self.limits.max_owed_iqs);
    }

    /// The account, once authenticated.
    pub fn account(&self) -> Option<&BareJid> {
        self.account.as_ref()
    }

    /// The bound address, once online.
    pub fn jid(&self) -> Option<&FullJid> {
        self.jid.as_ref()
    }

    /// Our IQ requests awaiting answers.
    pub fn requests(&self) -> &Requests {
        &self.requests
    }

    /// The IQ handlers and what service discovery says.
    pub fn handlers(&self) -> &IqHandlers {
        &self.handlers
    }

    /// The IQ handlers, to register more.
    pub fn handlers_mut(&mut self) -> &mut IqHandlers {
        &mut self.handlers
    }

    /// Application stanzas waiting for a transport.
    pub fn queued(&self) -> usize {
        self.outbound.len()
    }

    /// Stanzas written to transports so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    pub(crate) fn set_account(&mut self, account: Option<BareJid>) {
        self.account = account;
    }

    pub(crate) fn set_jid(&mut self, jid: FullJid) {
        // Shared: it is cloned onto every stanza a server stamps.
        let jid = jid.into_shared();
        self.account = Some(jid.to_bare());
        self.jid = Some(jid);
    }

    // ----- outbound -----

    /// Frees the empty queues (the connection is idle).
    pub(crate) fn release_idle(&mut self) {
        if self.outbound.is_empty() && self.outbound.capacity() > 1 {
            self.outbound = VecDeque::new();
        }
        self.requests.release_idle();
        self.owed.release_idle();
    }

    /// Queues an application stanza; `false` if the queue is full.
    pub(crate) fn queue(&mut self, stanza: Stanza) -> bool {
        if self.outbound.len() >= self.limits.max_queued_stanzas {
            return false;
        }
        let size = stanza.element().approx_len();
        self.outbound_bytes += size;
        if self.outbound.capacity() == 0 {
            // Room for one: what a stanza sent at a time needs, kept while
            // idle (`release_idle`).
            self.outbound.reserve_exact(1);
        }
        self.outbound.push_back((stanza, size));
        true
    }

    /// The approximate size of what is queued.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.outbound_bytes
    }

    /// Takes the next queued stanza, to be written.
    pub(crate) fn pop_queued(&mut self) -> Option<Stanza> {
        let (stanza, size) = self.outbound.pop_front()?;
        self.outbound_bytes = self.outbound_bytes.saturating_sub(size);
        self.written += 1;
        Some(stanza)
    }

    // ----- IQ: our requests -----

    /// Checks a request the application sends and assigns its id if it has
    /// none; the caller then tracks it with [`Session::track`].
    pub(crate) fn prepare_request(
        &self,
        iq: &mut Iq,
        new_id: impl FnOnce() -> String,
    ) -> Result<RequestId, crate::error::ApiError> {
        use crate::error::ApiError;
        if !iq.is_request() {
            return Err(ApiError::NotARequest);
        }
        if self.requests.is_full() {
            return Err(ApiError::TooManyPendingIqs);
        }
        if iq.request_id().is_empty() {
            // Generated ids are URL-safe base64.
            let _ = iq.set_id(Some(&new_id()));
        }
        if self.requests.contains_id(iq.request_id()) {
            return Err(ApiError::DuplicateId);
        }
        Ok(RequestId::new(iq.request_id()))
    }

    /// Tracks a request on its way out.
    pub(crate) fn track(&mut self, id: RequestId, to: Option<Jid>, deadline: Timestamp, purpose: Purpose) {
        self.requests.insert(Pending { id, to, deadline, purpose });
    }

    /// Whether a ping of ours is out (and tracked).
    pub(crate) fn ping_pending(&self) -> bool {
        self.requests.has_purpose(Purpose::Ping)
    }

    /// Whether another request can be tracked.
    pub(crate) fn can_track(&self) -> bool {
        !self.requests.is_full()
    }

    /// A response arrived: matched to one of the application's requests
    /// or the core's own (by id and sender, HARDENING 19), or to none of
    /// ours (a server routes it on, a client drops it).
    pub(crate) fn on_response(&mut self, iq: Iq) -> Matched {
        let Some(pending) = self.requests.take(iq.request_id(), iq.from(), self.account.as_ref()) else {
            return Matched::Nothing(iq);
        };
        if pending.purpose != Purpose::Application {
            return Matched::Core;
        }
        let from = iq.from().cloned();
        let result = match iq.error() {
            Some(error) => Err(error),
            None => Ok(iq.into_payload()),
        };
        Matched::Application(IqResponse { id: pending.id, from, result })
    }

    /// The requests that timed out, for the application.
    pub(crate) fn expire(&mut self, now: Timestamp) -> Vec<RequestId> {
        self.requests.expire(now).into_iter().filter(|p| p.purpose == Purpose::Application).map(|p| p.id).collect()
    }

    /// When the next request times out.
    pub(crate) fn next_deadline(&self) -> Option<Timestamp> {
        self.requests.next_deadline()
    }

    // ----- IQ: their requests -----

    /// Decides about a get or set that arrived for this entity (RFC 6120
    /// §8.2.3): pings and `disco#info` are answered by the core, requests
    /// nobody handles get `service-unavailable` (HARDENING 20: results and
    /// errors are never answered, they never get here), a full table gets
    /// `resource-constraint`; the rest go to the application, which then
    /// owes the answer.
    pub(crate) fn on_request(&mut self, iq: &Iq, answer_pings: bool) -> RequestAction {
        let (id, from) = (iq.request_id(), iq.from());
        if self.owed.contains(id, from) {
            return RequestAction::Ignore;
        }
        let payload = iq.payload();
        let payload_ns = payload.map_or("", |p| p.ns().as_str());
        if answer_pings && payload.is_some_and(|p| p.is("ping", ns::PING)) {
            return RequestAction::Answer(Ok(None));
        }
        let disco = payload.is_some_and(|p| p.is("query", DISCO_INFO) && p.attr("node").is_none());
        if disco && self.handlers.answers_disco() && iq.type_() == crate::stanza::IqType::Get {
            let extra: &[&str] = if answer_pings { &[ns::PING] } else { &[] };
            return match self.handlers.disco_info(extra) {
                Ok(info) => RequestAction::Answer(Ok(Some(info))),
                Err(_) => RequestAction::Answer(Err(StanzaError::new(StanzaErrorCondition::InternalServerError))),
            };
        }
        if !self.handlers.delivers(payload_ns) {
            return RequestAction::Answer(Err(StanzaError::new(StanzaErrorCondition::ServiceUnavailable)));
        }
        if !self.owed.insert(id, from) {
            let busy = StanzaError::with_type(StanzaErrorType::Wait, StanzaErrorCondition::ResourceConstraint);
            return RequestAction::Answer(Err(busy));
        }
        RequestAction::Deliver
    }

    /// Whether this request is owed an answer by the application.
    pub(crate) fn owes(&self, request: &Iq) -> bool {
        self.owed.contains(request.request_id(), request.from())
    }

    /// The application answered (or a stanza it sent by hand did).
    pub(crate) fn settle(&mut self, id: &str, peer: Option<&Jid>) {
        self.owed.take(id, peer);
    }
}
