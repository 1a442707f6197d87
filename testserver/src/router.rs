//! The server: listeners, one task per connection, and the shared state
//! that routes between them (sessions, rosters, offline messages).

use std::collections::{HashMap, VecDeque};
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use sxmpp::condition::StanzaErrorCondition;
use sxmpp::connection::{AuthAnswer, BindDecision, Event, Server, ServerConfig, ServerSecret, ServerTls};
use sxmpp::jid::{BareJid, FullJid, Jid};
use sxmpp::sasl::{ScramHash, ScramStored};
use sxmpp::stanza::{Iq, IqType, MessageType, Presence, PresenceType, Stanza, StanzaError};
use sxmpp_net::SystemRandom;
use sxmpp_tokio::{Options, TlsSetup};
use tokio::sync::{mpsc, watch};

use crate::roster::{self, Roster};

/// Bounds of the test server.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Limits {
    /// Connections at once; more are refused at accept.
    pub max_connections: usize,
    /// Messages kept per user while none of its resources is available.
    pub max_offline: usize,
    /// Stanzas queued for one session before more are dropped (with an
    /// error to the sender).
    pub session_queue: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_connections: 1000, max_offline: 100, session_queue: 256 }
    }
}

struct User {
    stored: Vec<ScramStored>,
    roster: Roster,
    offline: VecDeque<Stanza>,
}

struct Session {
    /// Boxed: the channel allocates its slots in blocks up front, and a
    /// block of boxes is 32 pointers where a block of stanzas is 5.6 KB,
    /// per session, idle or not.
    tx: mpsc::Sender<Box<Stanza>>,
    /// The last broadcast presence, if available.
    presence: Option<Presence>,
    /// When it became available: the tie-break between equal priorities.
    since: u64,
}

/// Everything shared between connections.
pub(crate) struct State {
    domain: String,
    users: HashMap<String, User>,
    sessions: HashMap<String, Session>,
    limits: Limits,
    channel_binding: bool,
    connections: usize,
    clock: u64,
}

impl State {
    pub(crate) fn new(
        domain: &str,
        users: &[(String, String)],
        limits: Limits,
        channel_binding: bool,
    ) -> io::Result<State> {
        let mut table = HashMap::new();
        for (name, password) in users {
            let salt = format!("sxmpp-testserver-{name}");
            let stored = [ScramHash::Sha1, ScramHash::Sha256, ScramHash::Sha512]
                .into_iter()
                .map(|hash| ScramStored::from_password(hash, password, salt.as_bytes(), 4096))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| io::Error::other(format!("password of {name}: {e}")))?;
            table.insert(name.clone(), User { stored, roster: Roster::default(), offline: VecDeque::new() });
        }
        Ok(State {
            domain: domain.to_owned(),
            users: table,
            sessions: HashMap::new(),
            limits,
            channel_binding,
            connections: 0,
            clock: 0,
        })
    }

    fn local<'a>(&self, jid: &'a Jid) -> Option<&'a str> {
        (jid.domain() == self.domain).then(|| jid.local()).flatten()
    }

    /// The available sessions of `user`, highest priority first.
    fn available(&self, user: &str) -> Vec<(String, i8)> {
        let prefix = format!("{user}@{}/", self.domain);
        let mut found: Vec<(String, i8, u64)> = self
            .sessions
            .iter()
            .filter(|(jid, _)| jid.starts_with(&prefix))
            .filter_map(|(jid, s)| s.presence.as_ref().map(|p| (jid.clone(), p.priority().unwrap_or(0), s.since)))
            .collect();
        found.sort_by(|a, b| b.1.cmp(&a.1).then(b.2.cmp(&a.2)));
        found.into_iter().map(|(jid, priority, _)| (jid, priority)).collect()
    }

    fn push(&self, full: &str, stanza: Stanza) {
        if let Some(session) = self.sessions.get(full) {
            // A session that does not read loses what overflows.
            let _ = session.tx.try_send(Box::new(stanza));
        }
    }

    /// Routes a stanza from a client (RFC 6121 §8.5), `from` already
    /// stamped by the core.
    fn route(&mut self, stanza: Stanza) {
        let Some(to) = stanza.to().cloned() else { return };
        let Some(user) = self.local(&to).map(str::to_owned) else {
            return self.bounce(stanza, StanzaErrorCondition::ServiceUnavailable);
        };
        if !self.users.contains_key(&user) {
            return self.bounce(stanza, StanzaErrorCondition::ServiceUnavailable);
        }
        if to.resource().is_some() && self.sessions.contains_key(to.as_str()) {
            return self.push(to.as_str(), stanza);
        }
        match stanza {
            Stanza::Message(message) if message.type_() != MessageType::Groupchat => {
                let targets = self.available(&user);
                match targets.first() {
                    // §8.5.2.1.1: the highest priority (non-negative).
                    Some((jid, priority)) if *priority >= 0 => {
                        let jid = jid.clone();
                        self.push(&jid, Stanza::Message(message));
                    }
                    _ => {
                        let max = self.limits.max_offline;
                        if let Some(entry) = self.users.get_mut(&user)
                            && entry.offline.len() < max
                        {
                            entry.offline.push_back(Stanza::Message(message));
                        }
                    }
                }
            }
            Stanza::Presence(presence) if to.resource().is_none() => {
                for (jid, _) in self.available(&user) {
                    self.push(&jid, Stanza::Presence(presence.clone()));
                }
            }
            other @ Stanza::Iq(_) => self.bounce(other, StanzaErrorCondition::ServiceUnavailable),
            _ => {}
        }
    }

    /// Sends the sender an error in place of the stanza (never for errors
    /// or IQ results).
    fn bounce(&mut self, stanza: Stanza, condition: StanzaErrorCondition) {
        let Some(from) = stanza.from().map(|f| f.as_str().to_owned()) else { return };
        let error = StanzaError::new(condition);
        let reply = match stanza {
            Stanza::Iq(iq) if iq.is_request() => iq.error_for(&error).ok().map(Stanza::Iq),
            Stanza::Message(mut m) if m.type_() != MessageType::Error => {
                let (to, sender) = (m.to().cloned(), m.from().cloned());
                m.set_to(sender);
                m.set_from(to);
                m.set_error(&error).ok().map(|()| Stanza::Message(m))
            }
            _ => None,
        };
        if let Some(reply) = reply {
            self.push(&from, reply);
        }
    }

    /// A roster push of `item` to every session of `user` (RFC 6121 §2.1.6).
    fn roster_push(&self, user: &str, item: &roster::Item, removed: bool) {
        let query = sxmpp::xml::Element::new("query", roster::NS).with_child(item.to_element(removed));
        let prefix = format!("{user}@{}/", self.domain);
        for jid in self.sessions.keys().filter(|j| j.starts_with(&prefix)) {
            let iq = Iq::set(None, query.clone());
            self.push(jid, Stanza::Iq(iq));
        }
    }

    /// Presence without `to` from `from` (RFC 6121 §4.2, §4.5).
    fn broadcast(&mut self, from: &FullJid, presence: Presence) {
        let user = from.local().unwrap_or_default().to_owned();
        let initial = self.sessions.get(from.as_str()).is_some_and(|s| s.presence.is_none());
        let available = presence.type_() == PresenceType::Available;
        self.clock += 1;
        let since = self.clock;
        if let Some(session) = self.sessions.get_mut(from.as_str()) {
            session.presence = available.then(|| presence.clone());
            session.since = since;
        }
        let Some(entry) = self.users.get(&user) else { return };
        let watchers: Vec<String> =
            entry.roster.items().filter(|i| i.subscription.has_from()).map(|i| i.jid.clone()).collect();
        let watched: Vec<String> =
            entry.roster.items().filter(|i| i.subscription.has_to()).map(|i| i.jid.clone()).collect();
        let mut targets: Vec<String> =
            self.available(&user).into_iter().map(|(j, _)| j).filter(|j| j != from.as_str()).collect();
        for contact in &watchers {
            if let Some(local) = contact.split('@').next() {
                targets.extend(self.available(local).into_iter().map(|(j, _)| j));
            }
        }
        for jid in targets {
            let mut copy = presence.clone();
            copy.set_to(Jid::new(&jid).ok());
            self.push(&jid, Stanza::Presence(copy));
        }
        if initial && available {
            // Probes answered: the contacts' current presence, then what
            // waited offline.
            for contact in &watched {
                let Some(local) = contact.split('@').next() else { continue };
                for (jid, _) in self.available(local) {
                    if let Some(mut current) = self.sessions.get(&jid).and_then(|s| s.presence.clone()) {
                        current.set_from(Jid::new(&jid).ok());
                        current.set_to(Some(Jid::from(from.clone())));
                        self.push(from.as_str(), Stanza::Presence(current));
                    }
                }
            }
            let waiting: Vec<Stanza> =
                self.users.get_mut(&user).map(|u| u.offline.drain(..).collect()).unwrap_or_default();
            for stanza in waiting {
                self.push(from.as_str(), stanza);
            }
        }
    }

    /// A subscription stanza from `from` (RFC 6121 §3): both rosters
    /// change and are pushed; the contact is told.
    fn subscription(&mut self, from: &FullJid, presence: Presence) {
        let Some(to) = presence.to().cloned() else { return };
        let user = from.local().unwrap_or_default().to_owned();
        let user_bare = from.to_bare().to_string();
        let contact = to.to_bare().to_string();
        let contact_local = self.local(&to).map(str::to_owned);
        let kind = presence.type_();
        if let Some(entry) = self.users.get_mut(&user) {
            let item = entry.roster.update(&contact, |item| match kind {
                PresenceType::Subscribe => item.ask = true,
                PresenceType::Unsubscribe => {
                    item.subscription = item.subscription.with_to(false);
                    item.ask = false;
                }
                PresenceType::Subscribed => item.subscription = item.subscription.with_from(true),
                _ => item.subscription = item.subscription.with_from(false),
            });
            self.roster_push(&user, &item, false);
        }
        let Some(local) = contact_local.filter(|l| self.users.contains_key(l)) else { return };
        if let Some(entry) = self.users.get_mut(&local) {
            let changed = match kind {
                PresenceType::Subscribed => Some(entry.roster.update(&user_bare, |item| {
                    item.subscription = item.subscription.with_to(true);
                    item.ask = false;
                })),
                PresenceType::Unsubscribed => Some(entry.roster.update(&user_bare, |item| {
                    item.subscription = item.subscription.with_to(false);
                    item.ask = false;
                })),
                PresenceType::Unsubscribe => {
                    Some(entry.roster.update(&user_bare, |item| item.subscription = item.subscription.with_from(false)))
                }
                _ => None,
            };
            if let Some(item) = changed {
                self.roster_push(&local, &item, false);
            }
        }
        let mut forwarded = presence.clone();
        forwarded.set_from(BareJid::new(&user_bare).ok().map(Jid::from));
        for (jid, _) in self.available(&local) {
            self.push(&jid, Stanza::Presence(forwarded.clone()));
        }
        // A new subscriber sees the user's current presence.
        if kind == PresenceType::Subscribed {
            for (jid, _) in self.available(&user) {
                if let Some(mut current) = self.sessions.get(&jid).and_then(|s| s.presence.clone()) {
                    current.set_from(Jid::new(&jid).ok());
                    for (target, _) in self.available(&local) {
                        current.set_to(Jid::new(&target).ok());
                        self.push(&target, Stanza::Presence(current.clone()));
                    }
                }
            }
        }
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Accepts on both listeners until told to stop.
pub(crate) async fn serve(
    starttls: std::net::TcpListener,
    direct: std::net::TcpListener,
    tls: sxmpp_net::ServerTls,
    state: Arc<Mutex<State>>,
    mut stop: watch::Receiver<bool>,
) {
    let listen = |l: std::net::TcpListener| {
        l.set_nonblocking(true)?;
        tokio::net::TcpListener::from_std(l)
    };
    let (Ok(starttls), Ok(direct)) = (listen(starttls), listen(direct)) else { return };
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        let (accepted, is_direct) = tokio::select! {
            _ = stop.changed() => break,
            a = starttls.accept() => (a, false),
            a = direct.accept() => (a, true),
        };
        let Ok((tcp, peer)) = accepted else { continue };
        {
            let mut shared = lock(&state);
            if shared.connections >= shared.limits.max_connections {
                tracing::warn!(%peer, "connection refused: at the cap");
                continue;
            }
            shared.connections += 1;
        }
        let (state, tls) = (state.clone(), tls.clone());
        tasks.spawn(async move {
            connection(tcp, is_direct, tls, &state).await;
            lock(&state).connections -= 1;
        });
    }
    tasks.shutdown().await;
}

/// One client, from accept to close.
async fn connection(tcp: tokio::net::TcpStream, direct: bool, tls: sxmpp_net::ServerTls, state: &Mutex<State>) {
    let (domain, queue, channel_binding) = {
        let shared = lock(state);
        (shared.domain.clone(), shared.limits.session_queue, shared.channel_binding)
    };
    let mut config = ServerConfig::new(domain, ServerSecret::new(random_secret()));
    if !channel_binding {
        config.mechanisms.retain(|m| !m.as_str().ends_with("-PLUS"));
    }
    config.tls = if direct { ServerTls::Direct } else { ServerTls::Required };
    let Ok(core) = Server::new(config, Box::new(SystemRandom), sxmpp_net::now()) else { return };
    let mut conn = sxmpp_tokio::drive(core, tcp, TlsSetup { client: None, server: Some(tls) }, Options::new());
    let (tx, mut rx) = mpsc::channel::<Box<Stanza>>(queue.max(1));
    let mut tx = Some(tx);
    let mut bound: Option<FullJid> = None;
    loop {
        let event = tokio::select! {
            event = conn.next_event() => event,
            Some(stanza) = rx.recv(), if bound.is_some() => {
                if conn.send(*stanza).await.is_err() {
                    break;
                }
                continue;
            }
        };
        let event = match event {
            Ok(Some(event)) => event,
            Ok(None) | Err(_) => break,
        };
        let now = sxmpp_net::now();
        match event {
            Event::AuthRequested(request) => {
                let stored = {
                    let shared = lock(state);
                    request
                        .account
                        .as_ref()
                        .and_then(|a| a.local())
                        .and_then(|l| shared.users.get(l))
                        .map(|u| u.stored.clone())
                };
                let answer = stored.map_or(AuthAnswer::UnknownUser, AuthAnswer::Scram);
                let _ = conn.core().authenticate(now, answer);
            }
            Event::BindRequested(_) => {
                let _ = conn.core().bind(now, BindDecision::Accept);
            }
            Event::Online(jid) => {
                let Ok(full) = FullJid::new(jid.as_str()) else { break };
                if let Some(tx) = tx.take() {
                    lock(state).sessions.insert(full.to_string(), Session { tx, presence: None, since: 0 });
                }
                bound = Some(full);
            }
            Event::Stanza(stanza) => {
                let Some(from) = bound.clone() else { continue };
                if let Some((request, answer)) = handle(state, &from, stanza) {
                    // Requests to the server are the core's to settle;
                    // those to the account's bare JID are answered in its
                    // name (RFC 6120 §10.3.3).
                    if conn.core().respond(now, &request, answer.clone()).is_err() {
                        let reply = match answer {
                            Ok(payload) => Some(request.result_for(payload)),
                            Err(error) => request.error_for(&error).ok(),
                        };
                        if let Some(mut reply) = reply {
                            reply.set_from(request.to().cloned());
                            let _ = conn.core().send(now, reply);
                        }
                    }
                }
            }
            _ => {}
        }
        let _ = conn.flush().await;
    }
    if let Some(full) = bound {
        let mut shared = lock(state);
        let was_available = shared.sessions.get(full.as_str()).is_some_and(|s| s.presence.is_some());
        if was_available {
            shared.broadcast(&full, Presence::new(PresenceType::Unavailable, None));
        }
        shared.sessions.remove(full.as_str());
    }
}

/// What to answer, for an IQ request addressed to the server itself.
type Answer = (Iq, Result<Option<sxmpp::xml::Element>, StanzaError>);

/// A stanza from `from`: routed, or handled here (presence broadcast and
/// subscriptions, the roster).
fn handle(state: &Mutex<State>, from: &FullJid, stanza: Stanza) -> Option<Answer> {
    let mut shared = lock(state);
    let own_bare = from.to_bare().to_string();
    let to_server = stanza.to().is_none_or(|to| to.as_str() == shared.domain || to.as_str() == own_bare);
    match stanza {
        Stanza::Presence(p)
            if p.to().is_none() && matches!(p.type_(), PresenceType::Available | PresenceType::Unavailable) =>
        {
            shared.broadcast(from, p);
            None
        }
        Stanza::Presence(p)
            if matches!(
                p.type_(),
                PresenceType::Subscribe
                    | PresenceType::Subscribed
                    | PresenceType::Unsubscribe
                    | PresenceType::Unsubscribed
            ) =>
        {
            shared.subscription(from, p);
            None
        }
        Stanza::Iq(iq) if iq.is_request() && to_server => {
            let user = from.local().unwrap_or_default().to_owned();
            let payload = iq.payload().cloned();
            let answer = match (iq.type_(), payload) {
                (IqType::Get, Some(query)) if query.is("query", roster::NS) => {
                    Ok(shared.users.get(&user).and_then(|u| u.roster.query(query.attr("ver"))))
                }
                (IqType::Set, Some(query)) if query.is("query", roster::NS) => {
                    let changed = shared.users.get_mut(&user).map(|u| u.roster.set(&query));
                    match changed {
                        Some(Ok((item, removed))) => {
                            shared.roster_push(&user, &item, removed);
                            Ok(None)
                        }
                        Some(Err(condition)) => Err(StanzaError::new(condition)),
                        None => Err(StanzaError::new(StanzaErrorCondition::ItemNotFound)),
                    }
                }
                // RFC 6120 §10.3.3: the server answers for the account.
                (IqType::Get, Some(ping)) if ping.is("ping", "urn:xmpp:ping") => Ok(None),
                _ => Err(StanzaError::new(StanzaErrorCondition::ServiceUnavailable)),
            };
            Some((iq, answer))
        }
        other => {
            shared.route(other);
            None
        }
    }
}

fn random_secret() -> [u8; 32] {
    let mut secret = [0; 32];
    sxmpp::entropy::Entropy::fill(&mut SystemRandom, &mut secret);
    secret
}
