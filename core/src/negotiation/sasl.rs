//! SASL negotiation (RFC 6120 §6), both sides: the elements around the
//! XML-free exchanges of [`crate::sasl`].

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::{
    Action, Authenticated, FeatureCx, NegotiationEvent, Progress, SASL_CB, Step, StreamFeatures, StreamState, abort,
    auth, response, sasl_data, sasl_failure, sasl_text,
};
use crate::condition::SaslCondition;
use crate::error::{AuthError, Fault, Violation};
use crate::jid::BareJid;
use crate::ns;
use crate::sasl::scram::{ClientChecks, ClientSecret, ssdp_hash};
use crate::sasl::{
    AuthAnswer, BindingOutcome, Capabilities, ChannelBindingPolicy, Credentials, Mechanism, Offer, SaslClient,
    ScramError, ScramHash, ServerContext, ServerExchange, ServerSecret, ServerStep, Step as SaslStep, select,
};
use crate::xml::{Element, Namespace};

/// How a client authenticates.
#[derive(Clone, Debug)]
pub(crate) struct SaslClientSettings {
    pub(crate) account: BareJid,
    pub(crate) credentials: Credentials,
    pub(crate) mechanisms: Vec<Mechanism>,
    pub(crate) policy: ChannelBindingPolicy,
    pub(crate) plain_without_tls: bool,
    pub(crate) min_iterations: u32,
    pub(crate) max_iterations: u32,
}

struct Running {
    client: SaslClient,
    mechanism: Mechanism,
    outcome: BindingOutcome,
}

/// The client's half.
pub(crate) struct SaslClientFeature {
    pub(crate) settings: SaslClientSettings,
    running: Option<Running>,
}

impl SaslClientFeature {
    pub(crate) const NAME: (&'static str, &'static str) = (ns::SASL, "mechanisms");

    pub(crate) fn new(settings: SaslClientSettings) -> SaslClientFeature {
        SaslClientFeature { settings, running: None }
    }

    pub(crate) fn eligible(&self, state: StreamState) -> bool {
        !state.contains(StreamState::AUTHENTICATED)
    }

    /// Chooses the mechanism and sends `<auth/>` (RFC 6120 §6.4.2).
    pub(crate) fn start(&mut self, cx: &mut FeatureCx, offer: &StreamFeatures) -> Step<bool> {
        let mechanisms = offer.mechanisms();
        let cb_types = offer.channel_binding_types();
        let s = &self.settings;
        let cached: Vec<ScramHash> = s.credentials.scram_keys.iter().map(|k| k.hash).collect();
        let caps = Capabilities {
            allowed: &s.mechanisms,
            binding: &cx.tls.channel_binding,
            secure: cx.state.contains(StreamState::SECURE),
            plain_without_tls: s.plain_without_tls,
            has_password: s.credentials.password.is_some(),
            cached_hashes: &cached,
            policy: s.policy,
        };
        let selection = select(Offer { mechanisms: &mechanisms, cb_types: cb_types.as_deref() }, caps)
            .map_err(AuthError::Select)?;
        let mechanism = selection.mechanism;
        let outcome = selection.outcome;
        let checks = ClientChecks {
            min_iterations: s.min_iterations,
            max_iterations: s.max_iterations,
            expected_ssdp: mechanism
                .scram_hash()
                .map(|h| ssdp_hash(h, &mechanisms, cb_types.as_deref()))
                .unwrap_or_default(),
            require_ssdp: selection.require_ssdp,
        };
        let secret = ClientSecret { password: s.credentials.password.clone(), keys: s.credentials.scram_keys.clone() };
        let username = s.account.local().unwrap_or_default();
        let nonce = if mechanism.scram_hash().is_some() { cx.entropy.scram_nonce() } else { String::new() };
        let (client, initial) =
            SaslClient::start(selection, username, secret, checks, nonce).map_err(AuthError::Scram)?;
        // A mechanism name is a registered token, the data base64.
        let element =
            auth(mechanism.as_str(), Some(&initial)).map_err(|_| AuthError::Scram(ScramError::Malformed("name")))?;
        cx.send(element);
        self.running = Some(Running { client, mechanism, outcome });
        Ok(true)
    }

    /// SASL is needed and not offered.
    pub(crate) fn not_offered(&self) -> Step<()> {
        Err(AuthError::NotOffered.into())
    }

    pub(crate) fn on_element(&mut self, cx: &mut FeatureCx, element: Element) -> Step {
        let Some(running) = self.running.as_mut().filter(|_| element.ns() == ns::SASL) else {
            return Err(Fault::unexpected(&element));
        };
        match element.name() {
            "challenge" => {
                let Ok(data) = sasl_data(&element) else {
                    cx.send(abort());
                    return Err(AuthError::IncorrectEncoding.into());
                };
                match running.client.challenge(&data.unwrap_or_default()) {
                    Ok(SaslStep::Respond(reply)) => {
                        cx.send(response(&reply));
                        Ok(Progress::Continue)
                    }
                    Err(e) => {
                        // RFC 6120 §6.4.4: tell the server we give up.
                        cx.send(abort());
                        Err(AuthError::Scram(e).into())
                    }
                }
            }
            "success" => {
                let data = sasl_data(&element).map_err(|_| AuthError::IncorrectEncoding)?;
                // HARDENING 15: the server must prove it knows the password.
                let scram_keys = running.client.success(data.as_deref()).map_err(AuthError::Scram)?;
                let running = self.running.take().ok_or_else(|| Fault::unexpected(&element))?;
                let account = self.settings.account.clone();
                cx.event(NegotiationEvent::Authenticated(Authenticated {
                    account: account.clone(),
                    mechanism: running.mechanism,
                    channel_binding: running.outcome,
                    scram_keys,
                }));
                cx.act(Action::Authenticated(account));
                // RFC 6120 §6.4.6: the stream restarts.
                cx.act(Action::Restart);
                Ok(Progress::Done)
            }
            "failure" => {
                let (condition, text) = sasl_failure(&element);
                Err(AuthError::Failure { condition, text }.into())
            }
            _ => Err(Fault::unexpected(&element)),
        }
    }
}

/// What a server offers and allows.
#[derive(Clone, Debug)]
pub(crate) struct SaslServerSettings {
    pub(crate) mechanisms: Vec<Mechanism>,
    pub(crate) allow_plain_without_tls: bool,
    pub(crate) advertise_channel_binding: bool,
    pub(crate) downgrade_protection: bool,
    pub(crate) secret: ServerSecret,
    pub(crate) iterations: u32,
    pub(crate) max_attempts: u32,
}

/// The server's half.
pub(crate) struct SaslServerFeature {
    pub(crate) settings: SaslServerSettings,
    /// What this stream offered.
    offered: Vec<String>,
    offered_cb: Option<Vec<String>>,
    exchange: Option<Box<ServerExchange>>,
    failures: u32,
}

/// Why an answer was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct NotWaiting;

impl SaslServerFeature {
    pub(crate) fn new(settings: SaslServerSettings) -> SaslServerFeature {
        SaslServerFeature { settings, offered: Vec::new(), offered_cb: None, exchange: None, failures: 0 }
    }

    /// The elements offering SASL on this stream (RFC 6120 §6.4.1): the
    /// mechanisms this channel allows and, beside a -PLUS one, the
    /// XEP-0440 types (never without a mechanism to use them).
    pub(crate) fn offer(&mut self, state: StreamState, cx: &FeatureCx, tls_required: bool) -> Vec<Element> {
        self.offered.clear();
        self.offered_cb = None;
        let secure = state.contains(StreamState::SECURE);
        if state.contains(StreamState::AUTHENTICATED) || (tls_required && !secure) {
            return Vec::new();
        }
        let binding = &cx.tls.channel_binding;
        let s = &self.settings;
        let offer: Vec<Mechanism> = s
            .mechanisms
            .iter()
            .copied()
            .filter(|m| !m.is_plus() || (secure && !binding.is_empty()))
            .filter(|m| *m != Mechanism::Plain || secure || s.allow_plain_without_tls)
            .filter(|m| *m != Mechanism::External || secure)
            .collect();
        if offer.is_empty() {
            return Vec::new();
        }
        let mut mechs = Element::new("mechanisms", ns::SASL);
        for m in &offer {
            // Mechanism names are registered ASCII tokens.
            if let Ok(m) = Element::new("mechanism", ns::SASL).with_text(m.as_str()) {
                mechs.append_child(m);
            }
        }
        self.offered = offer.iter().map(|m| m.as_str().to_string()).collect();
        let mut out = alloc::vec![mechs];
        if s.advertise_channel_binding && offer.iter().any(|m| m.is_plus()) {
            let types: Vec<String> = binding.types().map(|t| t.as_str().to_string()).collect();
            let mut cb = Element::new("sasl-channel-binding", SASL_CB);
            for t in &types {
                if let Ok(c) = Element::new("channel-binding", SASL_CB).with_attr("type", t.as_str()) {
                    cb.append_child(c);
                }
            }
            out.push(cb);
            self.offered_cb = Some(types);
        }
        out
    }

    fn context<'a>(&'a self, tls: &'a crate::tls::TlsInfo, domain: &'a str) -> ServerContext<'a> {
        ServerContext {
            offered: &self.offered,
            cb_types: self.offered_cb.as_deref(),
            binding: &tls.channel_binding,
            peer_identities: &tls.peer_identities,
            domain,
            secret: &self.settings.secret,
            iterations: self.settings.iterations,
            downgrade_protection: self.settings.downgrade_protection,
        }
    }

    /// Whether an answer from the application is awaited.
    pub(crate) fn awaits_answer(&self) -> bool {
        self.exchange.as_ref().is_some_and(|e| e.awaits_answer())
    }

    /// An element in the SASL namespace arrived.
    pub(crate) fn on_element(&mut self, cx: &mut FeatureCx, element: Element) -> Step<()> {
        match element.name() {
            "auth" if self.exchange.is_none() => {
                let mechanism = element.attr("mechanism").and_then(|m| m.parse::<Mechanism>().ok());
                // HARDENING 18: only what this stream offered.
                let Some(mechanism) = mechanism.filter(|m| self.offered.iter().any(|o| o == m.as_str())) else {
                    return self.failure(cx, SaslCondition::InvalidMechanism);
                };
                let initial = match sasl_data(&element) {
                    Ok(initial) => initial,
                    Err(condition) => return self.failure(cx, condition),
                };
                let (exchange, step) =
                    ServerExchange::start(mechanism, initial.as_deref(), &self.context(cx.tls, cx.domain));
                self.exchange = Some(Box::new(exchange));
                self.step(cx, step)
            }
            "response" if self.exchange.as_ref().is_some_and(|e| !e.awaits_answer()) => {
                let data = match sasl_data(&element) {
                    Ok(d) => d.unwrap_or_default(),
                    Err(condition) => return self.failure(cx, condition),
                };
                let Some(mut exchange) = self.exchange.take() else { return Ok(()) };
                let step = exchange.response(&data, &self.context(cx.tls, cx.domain));
                self.exchange = Some(exchange);
                self.step(cx, step)
            }
            "abort" => self.failure(cx, SaslCondition::Aborted),
            // HARDENING 18: <response/> without <auth/> (or while the
            // application has not answered yet).
            "response" => self.failure(cx, SaslCondition::InvalidMechanism),
            _ => Err(Violation::Unexpected { name: element.name().into(), ns: ns::SASL.into() }.into()),
        }
    }

    /// The application answered the credential request.
    pub(crate) fn answer(&mut self, cx: &mut FeatureCx, answer: AuthAnswer) -> Result<Step<()>, NotWaiting> {
        let mut exchange = self.exchange.take().filter(|e| e.awaits_answer()).ok_or(NotWaiting)?;
        let step = exchange.answer(answer, &self.context(cx.tls, cx.domain), cx.entropy);
        self.exchange = Some(exchange);
        Ok(self.step(cx, step))
    }

    fn step(&mut self, cx: &mut FeatureCx, step: ServerStep) -> Step<()> {
        match step {
            ServerStep::Ask(request) => {
                cx.event(NegotiationEvent::AuthRequested(request));
                Ok(())
            }
            ServerStep::Challenge(data) => {
                let challenge = Element::new("challenge", ns::SASL);
                // Base64 is always legal character data.
                cx.send(challenge.clone().with_text(&sasl_text(&data)).unwrap_or(challenge));
                Ok(())
            }
            ServerStep::Failure(condition) => self.failure(cx, condition),
            ServerStep::Success { account, data } => {
                let mechanism = self.exchange.take().map_or(Mechanism::Plain, |e| e.mechanism());
                let mut success = Element::new("success", ns::SASL);
                if let Some(d) = data {
                    let _ = success.append_text(&sasl_text(&d));
                }
                cx.send(success);
                let channel_binding = match (mechanism.is_plus(), cx.tls.channel_binding.types().next()) {
                    (true, Some(t)) => BindingOutcome::Bound(t),
                    _ => BindingOutcome::NotSupported,
                };
                cx.event(NegotiationEvent::Authenticated(Authenticated {
                    account: account.clone(),
                    mechanism,
                    channel_binding,
                    scram_keys: None,
                }));
                cx.act(Action::Authenticated(account));
                // RFC 6120 §6.4.6: the client restarts the stream.
                cx.act(Action::Restart);
                Ok(())
            }
        }
    }

    /// `<failure/>` with `condition`; the client may try again, a bounded
    /// number of times (RFC 6120 §6.4.5).
    fn failure(&mut self, cx: &mut FeatureCx, condition: SaslCondition) -> Step<()> {
        self.exchange = None;
        let name = Element::try_new(condition.as_str(), Namespace::from_static(ns::SASL))
            .unwrap_or_else(|_| Element::new("not-authorized", ns::SASL));
        cx.send(Element::new("failure", ns::SASL).with_child(name));
        cx.event(NegotiationEvent::AuthAttemptFailed(condition));
        self.failures += 1;
        if self.failures >= self.settings.max_attempts {
            return Err(Violation::TooManyAuthAttempts.into());
        }
        Ok(())
    }
}
