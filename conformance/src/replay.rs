//! Replaying a transcript: the harness plays the peer and the core's
//! application, and drives the core under test through its public API.

use sxmpp::condition::{SaslCondition, StanzaErrorCondition, StreamErrorCondition};
use sxmpp::connection::{
    ApiError, AuthAnswer, AuthError, AuthRequest, BindDecision, Client, ClientConfig, ClientRole, CloseReason,
    Connection, Event, InvalidFrom, NegotiationError, Output, Role, SendFrom, Server, ServerConfig, ServerRole,
    ServerSecret, ServerTls, TimeoutKind, TlsInfo, TlsMode,
};
use sxmpp::entropy::Seeded;
use sxmpp::jid::{BareJid, Jid};
use sxmpp::sasl::{ChannelBinding, ChannelBindingPolicy, ChannelBindingType, Credentials, Mechanism, ScramStored};
use sxmpp::session::{Identity, IqHandlers};
use sxmpp::stanza::{Stanza, StanzaError, StreamError};
use sxmpp::stream::Framing;
use sxmpp::time::Timestamp;
use sxmpp::xml::{Element, Limits, StreamEvent, StreamReader};

use crate::transcript::{Role as Played, Side, StepKind, Transcript};
use crate::xml::{self, Item};

/// How the peer's bytes are cut before they reach the core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chunking {
    /// Each step in one piece.
    Whole,
    /// One byte at a time.
    Bytewise,
    /// Pseudo-random pieces from this seed.
    Random(u64),
}

impl std::fmt::Display for Chunking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Chunking::Whole => f.write_str("whole"),
            Chunking::Bytewise => f.write_str("bytewise"),
            Chunking::Random(seed) => write!(f, "random({seed})"),
        }
    }
}

/// The first step that failed, with what was expected and what happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The step's line.
    pub line: usize,
    /// The step as written.
    pub step: String,
    /// What the step wanted.
    pub expected: String,
    /// What the core did.
    pub actual: String,
    /// Why they differ.
    pub message: String,
}

/// An event as the transcript names it: words, such as
/// `["online", "juliet@im.example.com/balcony"]`. `Closed` may be named
/// several ways; each alternative is listed.
type Named = Vec<Vec<String>>;

fn words(ws: &[&str]) -> Vec<String> {
    ws.iter().map(|w| w.to_string()).collect()
}

/// Names a close reason.
fn closed(reason: &CloseReason) -> Named {
    let closed = |rest: &[&str]| {
        let mut w = vec!["closed".to_string()];
        w.extend(rest.iter().map(|s| s.to_string()));
        w
    };
    let by_condition = |c: Option<StreamErrorCondition>| match c {
        Some(c) => vec![closed(&["error", c.as_str()])],
        None => vec![closed(&["error"])],
    };
    match reason {
        CloseReason::Clean => vec![closed(&["clean"])],
        CloseReason::Eof => vec![closed(&["eof"])],
        CloseReason::StreamError(e) => {
            vec![
                vec!["stream-error".into(), e.condition.to_string()],
                closed(&["error", e.condition.as_str()]),
                closed(&["clean"]),
            ]
        }
        CloseReason::Negotiation(NegotiationError::Auth(AuthError::Failure { condition, .. })) => {
            vec![vec!["auth-failed".into(), condition.to_string()], closed(&["error"]), closed(&["clean"])]
        }
        CloseReason::Negotiation(NegotiationError::Auth(e)) => {
            vec![vec!["auth-failed".into(), format!("{e:?}")], closed(&["error"])]
        }
        CloseReason::Negotiation(e) => by_condition(e.condition()),
        CloseReason::Violation(v) => by_condition(v.condition()),
        // Every deadline but the close handshake's says why it closed.
        CloseReason::Timeout(TimeoutKind::PreAuth | TimeoutKind::Negotiation | TimeoutKind::Ping) => {
            vec![closed(&["error", "connection-timeout"])]
        }
        CloseReason::ClosedWithError(e) => vec![closed(&["error", e.condition.as_str()]), closed(&["clean"])],
        CloseReason::Abandoned => vec![closed(&["abandoned"]), closed(&["clean"])],
        CloseReason::SeeOtherUri(uri) => vec![closed(&["see-other-uri", uri]), closed(&["clean"])],
        _ => vec![closed(&["error"])],
    }
}

/// Names an event: the words `EXPECT` lines use (FORMAT.md), with every
/// name that fits listed.
fn named(event: &Event) -> Named {
    match event {
        Event::Authenticated(a) => vec![
            vec!["authenticated".into(), a.mechanism.to_string()],
            vec!["authenticated".into(), a.account.to_string()],
        ],
        Event::AuthRequested(r) => {
            let user = r.account.as_ref().and_then(|a| a.local()).unwrap_or_default().to_string();
            vec![vec!["auth-requested".into(), r.mechanism.to_string(), user]]
        }
        Event::AuthAttemptFailed(c) => vec![vec!["auth-failed".into(), c.to_string()]],
        Event::BindRequested(b) => {
            let mut w = vec!["bind-requested".to_string()];
            w.extend(b.resource.clone());
            vec![w]
        }
        Event::FeatureNegotiated(ns) => vec![vec!["feature".into(), ns.clone()]],
        Event::Online(j) => vec![vec!["online".into(), j.to_string()]],
        Event::Stanza(s) => vec![vec![
            "stanza".into(),
            match s {
                Stanza::Message(_) => "message".into(),
                Stanza::Presence(_) => "presence".into(),
                Stanza::Iq(_) => "iq".into(),
            },
        ]],
        Event::IqResponse(r) => {
            let mut w = vec!["iq-response".to_string(), r.id.to_string()];
            w.extend(r.from.as_ref().map(|f| f.to_string()));
            // The answer to a request the application sent is also an IQ
            // stanza the application received.
            vec![w, words(&["stanza", "iq"])]
        }
        Event::IqTimeout(id) => vec![vec!["iq-timeout".into(), id.to_string()]],
        Event::InvalidStanza { .. } => vec![words(&["invalid-stanza"])],
        _ => vec![words(&["other"])],
    }
}

/// The core under test, whichever role, as the replay sees it.
trait Core {
    /// Bytes from the peer; returns how many the core took (it takes the
    /// rest once its events are polled).
    fn feed(&mut self, now: Timestamp, bytes: &[u8]) -> usize;
    fn eof(&mut self, now: Timestamp);
    fn timeout(&mut self, now: Timestamp);
    fn next_timeout(&self) -> Option<Timestamp>;
    fn tls(&mut self, now: Timestamp, binding: &[(String, Vec<u8>)]);
    /// The application sends this XML (a stanza, `</stream:stream>`, or a
    /// stream error), read in the stream's content namespace.
    fn send(&mut self, now: Timestamp, xml: &[u8], content_ns: &str) -> Result<(), String>;
    /// Drains the output: the bytes written and the events (the TLS
    /// hand-off and the close among them), after the application reacted
    /// to each.
    fn poll(&mut self, now: Timestamp) -> (Vec<u8>, Vec<Named>);
    /// (WebSocket) The first message the core wrote that was not exactly
    /// one XML element (RFC 7395 §3.3.3).
    fn framing_fault(&self) -> Option<&str>;
}

/// The application's part of a replay: what it answers when the core asks.
trait Application<R: Role> {
    fn react(&mut self, conn: &mut Connection<R>, now: Timestamp, event: &Event);
}

/// A connection of any role driven through the one contract, with the
/// transcript's application beside it.
struct Driven<R: Role, A> {
    conn: Connection<R>,
    app: A,
    /// Which channel-binding types the TLS stack reports (`None`: all the
    /// transcript lists).
    cb_allowed: Option<Vec<String>>,
    framing_fault: Option<String>,
}

/// Why a message the core wrote is not one element, if it is not.
fn not_one_element(message: &[u8]) -> Option<String> {
    let Ok(text) = std::str::from_utf8(message) else { return Some("a message that is not UTF-8".into()) };
    let (items, error) = xml::items(text);
    match (error, items.len()) {
        (Some(e), _) => Some(format!("{e}: {text}")),
        (None, 1) if text.starts_with('<') => None,
        (None, n) => Some(format!("{n} items in one message: {text}")),
    }
}

impl<R: Role, A> Driven<R, A> {
    fn new(conn: Connection<R>, app: A, cb_allowed: Option<Vec<String>>) -> Driven<R, A> {
        Driven { conn, app, cb_allowed, framing_fault: None }
    }
}

impl<R: Role, A: Application<R>> Core for Driven<R, A> {
    fn feed(&mut self, now: Timestamp, bytes: &[u8]) -> usize {
        self.conn.handle_input(now, bytes)
    }
    fn eof(&mut self, now: Timestamp) {
        self.conn.handle_eof(now)
    }
    fn timeout(&mut self, now: Timestamp) {
        self.conn.handle_timeout(now)
    }
    fn next_timeout(&self) -> Option<Timestamp> {
        self.conn.poll_timeout()
    }
    fn tls(&mut self, now: Timestamp, data: &[(String, Vec<u8>)]) {
        let all: Vec<String> = data.iter().map(|(k, _)| k.clone()).collect();
        let allowed = self.cb_allowed.as_ref().unwrap_or(&all);
        self.conn.handle_tls_established(now, TlsInfo::new().with_channel_binding(binding(data, allowed)))
    }
    fn send(&mut self, now: Timestamp, xml: &[u8], content_ns: &str) -> Result<(), String> {
        match api_call(xml, content_ns)? {
            ApiCall::Close => already_closed_is_fine(self.conn.close(now)),
            ApiCall::StreamError(error) => self.conn.close_with_error(now, error).map_err(|e| e.to_string()),
            ApiCall::Send(stanza) => self.conn.send(now, stanza).map_err(|e| e.to_string()),
        }
    }
    fn poll(&mut self, now: Timestamp) -> (Vec<u8>, Vec<Named>) {
        let (mut bytes, mut events) = (Vec::new(), Vec::new());
        for _ in 0..1_000_000 {
            match self.conn.poll_output() {
                Output::Transmit(b) => {
                    bytes.extend_from_slice(b);
                    let n = b.len();
                    self.conn.consume_transmit(n);
                }
                Output::Message(m) => {
                    if self.framing_fault.is_none() {
                        self.framing_fault = not_one_element(m);
                    }
                    bytes.extend_from_slice(m);
                    let n = m.len();
                    self.conn.consume_transmit(n);
                }
                Output::StartTls(_) => events.push(vec![words(&["tls-requested"])]),
                Output::Event(event) => {
                    events.push(named(&event));
                    self.app.react(&mut self.conn, now, &event);
                }
                Output::Closed(reason) => events.push(closed(reason)),
                Output::Wait(_) => break,
                _ => events.push(vec![words(&["other"])]),
            }
        }
        (bytes, events)
    }
    fn framing_fault(&self) -> Option<&str> {
        self.framing_fault.as_deref()
    }
}

fn binding(data: &[(String, Vec<u8>)], allowed: &[String]) -> ChannelBinding {
    data.iter()
        .filter(|(k, _)| allowed.iter().any(|a| a == k))
        .filter_map(|(k, d)| k.parse::<ChannelBindingType>().ok().map(|t| (t, d)))
        .fold(ChannelBinding::none(), |b, (t, d)| b.with(t, d.clone()))
}

/// What the application asks its core for in a `C+:`/`S+:`/`E:` step.
enum ApiCall {
    /// `</stream:stream>`: close the stream.
    Close,
    /// `<stream:error>`: close the stream with this error.
    StreamError(StreamError),
    /// Any stanza: send it.
    Send(Stanza),
}

/// Closing a stream the core has already closed (say, after a stream
/// error) is not a failure: the step's expected output decides.
fn already_closed_is_fine(result: Result<(), ApiError>) -> Result<(), String> {
    match result {
        Ok(()) | Err(ApiError::Closed) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

/// Whether a step is a stream close tag, under any prefix.
fn is_close_tag(xml: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(xml) else { return false };
    let Some(name) = text.trim().strip_prefix("</").and_then(|t| t.strip_suffix('>')) else { return false };
    let local = name.trim_end().rsplit(':').next().unwrap_or_default();
    local == "stream"
}

/// Parses the XML of a `C+:`/`S+:`/`E:` step with the core's own reader
/// (this builds an API call, it judges nothing), dropping `{any}` and
/// `{opt}` attributes for the core to fill in.
fn api_call(xml: &[u8], content_ns: &str) -> Result<ApiCall, String> {
    if is_close_tag(xml) {
        return Ok(ApiCall::Close);
    }
    let parse = |xml: &[u8]| -> Result<Element, String> {
        let mut reader = StreamReader::new(Limits::default());
        reader.feed(
            format!("<stream:stream xmlns='{content_ns}' xmlns:stream='http://etherx.jabber.org/streams'>").as_bytes(),
        );
        reader.feed(xml);
        let mut element: Option<Element> = None;
        loop {
            match reader.next_event() {
                Ok(Some(StreamEvent::Element(e))) => element = Some(e),
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => return Err(format!("step XML: {e}")),
            }
        }
        element.ok_or_else(|| "the step holds no element".into())
    };
    let written = parse(xml)?;
    // RFC 7395 §3.6: over WebSocket the close is <close/>.
    if written.is("close", "urn:ietf:params:xml:ns:xmpp-framing") {
        return Ok(ApiCall::Close);
    }
    if written.is("error", "http://etherx.jabber.org/streams") {
        return Ok(ApiCall::StreamError(StreamError::from_element(&written)));
    }
    // Wildcard attributes are the core's to fill in, at any depth.
    let mut element = parse(&strip_wildcards(xml))?;
    let id_left_to_core = written.attr("id").is_some_and(|v| matches!(v, "{any}" | "{opt}"));
    if id_left_to_core && element.is("iq", content_ns) {
        // An IQ must have an id to parse; an empty one asks the core for one.
        let _ = element.set_attr("id", "");
    }
    Stanza::from_element(element).map(ApiCall::Send).map_err(|e| format!("not a stanza: {e}"))
}

/// The client's application: it answers roster pushes with a result
/// (RFC 6121 §2.1.6).
struct ClientApp;

impl Application<ClientRole> for ClientApp {
    fn react(&mut self, conn: &mut Client, now: Timestamp, event: &Event) {
        if let Event::Stanza(Stanza::Iq(iq)) = event
            && iq.is_request()
            && iq.payload().is_some_and(|p| p.is("query", "jabber:iq:roster"))
        {
            let _ = conn.respond(now, iq, Ok(None));
        }
    }
}

/// The server's application: credentials from `@server.user`, bind
/// decisions from `@server.resource` and `@server.bind-error`.
struct ServerApp {
    users: Vec<(String, String)>,
    domain: String,
    resource: Option<String>,
    anonymous: String,
    /// `@server.auth-failure`: refuse every authentication this way.
    auth_failure: Option<SaslCondition>,
    /// `@server.bind-error`: refuse every bind request this way.
    bind_error: Option<StanzaErrorCondition>,
    /// `@server.salt`, in order: the salts of the users' stored SCRAM
    /// credentials, one per login.
    salts: std::collections::VecDeque<Vec<u8>>,
    /// `@server.iterations`.
    iterations: u32,
}

impl Application<ServerRole> for ServerApp {
    fn react(&mut self, conn: &mut Server, now: Timestamp, event: &Event) {
        match event {
            Event::AuthRequested(r) => {
                let answer = self.credentials(r);
                let _ = conn.authenticate(now, answer);
            }
            Event::BindRequested(requested) => {
                let decision = match (&requested.resource, &self.resource, self.bind_error) {
                    (_, _, Some(c)) => BindDecision::Reject(StanzaError::new(c)),
                    (None, Some(r), None) => BindDecision::Assign(r.clone()),
                    _ => BindDecision::Accept,
                };
                let _ = conn.bind(now, decision);
            }
            _ => {}
        }
    }
}

impl ServerApp {
    fn credentials(&mut self, r: &AuthRequest) -> AuthAnswer {
        if let Some(condition) = self.auth_failure {
            return AuthAnswer::Reject(condition);
        }
        match r.mechanism {
            Mechanism::External => self
                .users
                .first()
                .and_then(|(u, _)| BareJid::from_parts(Some(u), &self.domain).ok())
                .map_or(AuthAnswer::Reject(SaslCondition::NotAuthorized), AuthAnswer::Accept),
            Mechanism::Anonymous => BareJid::from_parts(Some(&self.anonymous), &self.domain)
                .map_or(AuthAnswer::Reject(SaslCondition::NotAuthorized), AuthAnswer::Accept),
            mechanism => {
                let user = self
                    .users
                    .iter()
                    .find(|(u, _)| BareJid::from_parts(Some(u), &self.domain).ok().as_ref() == r.account.as_ref());
                match (user, mechanism.scram_hash()) {
                    // Stored credentials with the transcript's salt and
                    // count, as a real server keeps them.
                    (Some((_, p)), Some(hash)) => {
                        let salt = self.salts.pop_front().unwrap_or_else(|| b"sxmpp-salt".to_vec());
                        ScramStored::from_password(hash, p, &salt, self.iterations)
                            .map_or(AuthAnswer::UnknownUser, |s| AuthAnswer::Scram(vec![s]))
                    }
                    (Some((_, p)), None) => AuthAnswer::Password(p.clone()),
                    (None, _) => AuthAnswer::UnknownUser,
                }
            }
        }
    }
}

/// `@framing`: `tcp` (default) or `websocket` (RFC 7395).
fn framing(t: &Transcript) -> Result<Framing, String> {
    match t.key("framing").unwrap_or("tcp") {
        "tcp" => Ok(Framing::Tcp),
        "websocket" => Ok(Framing::WebSocket),
        other => Err(format!("@framing: {other:?}")),
    }
}

/// (WebSocket) A peer step's messages: each first-level element (with
/// `<open/>` and `<close/>`) on its own; a raw step is one message as
/// written.
fn messages(bytes: &[u8], raw: bool, content_ns: &str) -> Result<Vec<Vec<u8>>, String> {
    if raw {
        return Ok(vec![bytes.to_vec()]);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| "a step that is not UTF-8".to_string())?;
    let (items, error) = xml::items_in(text, content_ns);
    if let Some(e) = error {
        return Err(format!("peer XML: {e}"));
    }
    let starts: Vec<usize> = items.iter().map(|(at, _)| *at).collect();
    Ok(starts
        .iter()
        .enumerate()
        .map(|(i, &start)| {
            let end = starts.get(i + 1).copied().unwrap_or(text.len());
            text[start..end].trim().as_bytes().to_vec()
        })
        .collect())
}

fn tls_mode(value: Option<&str>) -> Result<TlsMode, String> {
    Ok(match value.unwrap_or("required") {
        "required" => TlsMode::Required,
        "optional" => TlsMode::Optional,
        "none" => TlsMode::Disabled,
        "direct" => TlsMode::Direct,
        other => return Err(format!("@client.tls: {other:?}")),
    })
}

fn mechanisms(list: Vec<String>) -> Result<Option<Vec<Mechanism>>, String> {
    if list.is_empty() {
        return Ok(None);
    }
    list.iter().map(|m| m.parse::<Mechanism>().map_err(|e| e.to_string())).collect::<Result<_, _>>().map(Some)
}

fn client_core(t: &Transcript) -> Result<Driven<ClientRole, ClientApp>, String> {
    let jid = Jid::new(t.key("client.jid").ok_or("@client.jid is required")?).map_err(|e| e.to_string())?;
    let jid = match t.key("client.resource") {
        Some(r) => Jid::from_parts(jid.local(), jid.domain(), Some(r)).map_err(|e| e.to_string())?,
        None => jid,
    };
    let credentials = match t.key("client.password") {
        Some(p) => Credentials::password(p),
        None => Credentials::default(),
    };
    let mut config = ClientConfig::new(jid, credentials);
    config.stream.framing = framing(t)?;
    let tls_default = if config.stream.framing == Framing::WebSocket { "none" } else { "required" };
    config.tls = tls_mode(Some(t.key("client.tls").unwrap_or(tls_default)))?;
    if let Some(m) = mechanisms(t.list("client.mechanisms"))? {
        config.mechanisms = m;
    }
    let cb_allowed: Vec<String> = t.list("client.channel-binding").into_iter().filter(|c| c != "none").collect();
    config.channel_binding = match t.key("client.channel-binding-policy") {
        Some("strict") => ChannelBindingPolicy::Strict,
        Some("compatible") => ChannelBindingPolicy::Compatible,
        Some("disabled") => ChannelBindingPolicy::Disabled,
        Some(other) => return Err(format!("@client.channel-binding-policy: {other:?}")),
        None if cb_allowed.is_empty() => ChannelBindingPolicy::Disabled,
        None => ChannelBindingPolicy::Compatible,
    };
    config.send_from = match t.key("client.send-from") {
        None | Some("after-tls") => SendFrom::AfterTls,
        Some("always") => SendFrom::Always,
        Some("never") => SendFrom::Never,
        Some(other) => return Err(format!("@client.send-from: {other:?}")),
    };
    // A transcript that lists PLAIN without TLS means it.
    if config.tls != TlsMode::Required && config.mechanisms.contains(&Mechanism::Plain) {
        config.allow_plain_without_tls = true;
    }
    if t.keys.contains_key("client.iq-namespaces") {
        config.iq_handlers = IqHandlers::only(Identity::new("client", "pc"));
        for namespace in t.list("client.iq-namespaces") {
            config.iq_handlers.register(namespace);
        }
    }
    // Timers only fire when a transcript says TIME.
    config.stream.keepalive_interval = None;
    config.stream.ping_interval = None;
    let mut entropy = Seeded::new(0x5eed);
    for n in t.list("client.nonce") {
        entropy.push_nonce(n);
    }
    for id in t.list("client.ids") {
        entropy.push_stanza_id(id);
    }
    let conn = Client::new(config, Box::new(entropy), Timestamp::ZERO).map_err(|e| e.to_string())?;
    Ok(Driven::new(conn, ClientApp, Some(cb_allowed)))
}

fn server_core(t: &Transcript) -> Result<Driven<ServerRole, ServerApp>, String> {
    use base64::Engine;
    let domain = t.key("server.domain").ok_or("@server.domain is required")?.to_string();
    let mut config = ServerConfig::new(domain.clone(), ServerSecret::new([7; 32]));
    config.stream.framing = framing(t)?;
    let tls_default = if config.stream.framing == Framing::WebSocket { "none" } else { "required" };
    config.tls = match t.key("server.tls").unwrap_or(tls_default) {
        "required" => ServerTls::Required,
        "optional" => ServerTls::Optional,
        "none" => ServerTls::Disabled,
        "direct" => ServerTls::Direct,
        other => return Err(format!("@server.tls: {other:?}")),
    };
    if let Some(m) = mechanisms(t.list("server.mechanisms"))? {
        config.mechanisms = m;
    }
    if config.tls == ServerTls::Disabled {
        config.allow_plain_without_tls = true;
    }
    // RFC transcripts show neither XEP-0440 nor XEP-0474: off unless asked.
    config.advertise_channel_binding = t.keys.contains_key("server.sasl-cb-types");
    config.downgrade_protection = t.key("server.ssdp") == Some("on");
    config.offer_session = t.key("server.session") == Some("optional");
    config.invalid_from = match t.key("server.invalid-from") {
        Some("reject") => InvalidFrom::Reject,
        _ => InvalidFrom::Stamp,
    };
    config.gone_domains = t.list("server.gone-domains");
    if let Some(i) = t.key("server.iterations") {
        config.scram_iterations = i.parse().map_err(|_| "@server.iterations: not a number")?;
    }
    let mut entropy = Seeded::new(0x5e4e);
    for id in t.list("server.stream-ids") {
        entropy.push_stream_id(id);
    }
    for n in t.list("server.nonce") {
        entropy.push_nonce(n);
    }
    let mut salts = std::collections::VecDeque::new();
    for s in t.list("server.salt") {
        salts.push_back(base64::engine::general_purpose::STANDARD.decode(&s).map_err(|_| "@server.salt: not base64")?);
    }
    let iterations = config.scram_iterations;
    let users = t
        .all("server.user")
        .iter()
        .map(|u| {
            let mut parts = u.split_whitespace();
            (parts.next().unwrap_or_default().to_string(), parts.next().unwrap_or_default().to_string())
        })
        .collect();
    let conn = Server::new(config, Box::new(entropy), Timestamp::ZERO).map_err(|e| e.to_string())?;
    let app = ServerApp {
        users,
        domain,
        resource: t.key("server.resource").map(String::from),
        anonymous: t.key("server.anonymous-user").unwrap_or("anon").to_string(),
        auth_failure: match t.key("server.auth-failure") {
            Some(c) => Some(c.parse::<SaslCondition>().ok().ok_or(format!("@server.auth-failure: {c:?}"))?),
            None => None,
        },
        bind_error: match t.key("server.bind-error") {
            Some(c) => Some(c.parse::<StanzaErrorCondition>().ok().ok_or(format!("@server.bind-error: {c:?}"))?),
            None => None,
        },
        salts,
        iterations,
    };
    Ok(Driven::new(conn, app, None))
}

/// Peer data with its `{any}`/`{opt}` attributes removed: the choice
/// points of a core-side step mean nothing when the harness plays that
/// side, so the peer simply leaves those attributes out. Public for tools
/// that feed transcript data to a core themselves (the fuzz seed maker).
pub fn strip_wildcards(bytes: &[u8]) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(bytes) else { return bytes.to_vec() };
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let next = ["='{any}'", "=\"{any}\"", "='{opt}'", "=\"{opt}\""]
            .iter()
            .filter_map(|w| rest.find(w).map(|i| (i, w.len())))
            .min();
        let Some((at, len)) = next else { break };
        // Back up over the attribute name and the space before it.
        let name_start = rest[..at].rfind(|c: char| c.is_whitespace()).unwrap_or(at);
        out.push_str(&rest[..name_start]);
        rest = &rest[at + len..];
    }
    out.push_str(rest);
    out.into_bytes()
}

/// Cuts `bytes` into the pieces a chunking delivers.
fn pieces(bytes: &[u8], chunking: Chunking, rng: &mut u64) -> Vec<Vec<u8>> {
    match chunking {
        Chunking::Whole => vec![bytes.to_vec()],
        Chunking::Bytewise => bytes.iter().map(|b| vec![*b]).collect(),
        Chunking::Random(_) => {
            let mut out = Vec::new();
            let mut rest = bytes;
            while !rest.is_empty() {
                *rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let n = (((*rng >> 33) % 17) as usize + 1).min(rest.len());
                out.push(rest[..n].to_vec());
                rest = &rest[n..];
            }
            out
        }
    }
}

/// The stream's content namespace: what the first stream header in the
/// transcript (either side's) declares as default, else `jabber:client`.
fn content_namespace(t: &Transcript) -> String {
    t.steps
        .iter()
        .find_map(|step| match &step.kind {
            StepKind::Data { bytes, .. } => std::str::from_utf8(bytes).ok().and_then(xml::header_default_ns),
            _ => None,
        })
        .unwrap_or_else(|| "jabber:client".into())
}

/// The expected items of each core-side step, from the core-side text of
/// the whole transcript read as one stream, in the stream's context (so a
/// step means the same whether or not the header before it is spelled
/// out).
fn expected_items(t: &Transcript, role: Played) -> Result<Vec<Option<Vec<Item>>>, String> {
    let mut text = String::new();
    let mut ranges = Vec::new();
    for step in &t.steps {
        match &step.kind {
            StepKind::Data { side, entity, raw, bytes, .. } if is_core_side(role, *side, *entity) => {
                if *raw {
                    return Err(format!("line {}: raw steps are for the peer only", step.line));
                }
                let body = String::from_utf8(bytes.clone()).map_err(|_| format!("line {}: not UTF-8", step.line))?;
                if body.trim() == "{any}" {
                    ranges.push(None);
                } else {
                    let start = text.len();
                    text.push_str(&body);
                    ranges.push(Some(start..text.len()));
                }
            }
            _ => ranges.push(None),
        }
    }
    let (items, error) = xml::items_in(&text, &content_namespace(t));
    if let Some(e) = error {
        return Err(format!("expected XML: {e}"));
    }
    let mut out = Vec::new();
    for (step, range) in t.steps.iter().zip(&ranges) {
        out.push(match range {
            Some(r) => {
                let mine: Vec<Item> = items.iter().filter(|(o, _)| r.contains(o)).map(|(_, i)| i.clone()).collect();
                if mine.is_empty() {
                    return Err(format!("line {}: no complete XML in the step", step.line));
                }
                Some(mine)
            }
            None => None,
        });
    }
    Ok(out)
}

/// Is a data step the core's (rather than the peer's)?
fn is_core_side(role: Played, side: Side, entity: bool) -> bool {
    match role {
        Played::Client => side == Side::C && !entity,
        // E: is the server's application sending.
        Played::Server => side == Side::S,
    }
}

/// An `EXPECT` whose first word is `name` matched event `i`: events
/// before it are passed over, and the event keeps its other names, so one
/// event can satisfy one `EXPECT` per name (a received stream error is
/// `stream-error <condition>`, then still `closed …`, the last event).
fn consume(events: &mut Vec<Named>, i: usize, name: &str) {
    events.drain(..i);
    events[0].retain(|alt| alt.first().map(String::as_str) != Some(name));
    if events[0].is_empty() {
        events.remove(0);
    }
}

/// Replays `t` with the core in `role`.
pub fn replay(t: &Transcript, role: Played, chunking: Chunking) -> Result<(), Failure> {
    let setup = |message: String| Failure {
        line: 0,
        step: String::new(),
        expected: String::new(),
        actual: String::new(),
        message,
    };
    let expected = expected_items(t, role).map_err(setup)?;
    let content_ns = content_namespace(t);
    let websocket = framing(t).map_err(setup)? == Framing::WebSocket;
    let mut core: Box<dyn Core> = match role {
        Played::Client => Box::new(client_core(t).map_err(setup)?),
        Played::Server => Box::new(server_core(t).map_err(setup)?),
    };
    let mut rng = match chunking {
        Chunking::Random(seed) => seed,
        _ => 0,
    };
    let mut now = Timestamp::ZERO;
    let mut output: Vec<u8> = Vec::new();
    let mut matched = 0usize;
    let mut events: Vec<Named> = Vec::new();
    let mut never: Vec<(String, usize, usize)> = Vec::new();

    let collect = |core: &mut Box<dyn Core>, output: &mut Vec<u8>, events: &mut Vec<Named>, now: Timestamp| {
        let (bytes, new) = core.poll(now);
        output.extend(bytes);
        events.extend(new);
    };
    collect(&mut core, &mut output, &mut events, now);

    let parse_output = |output: &[u8]| -> Result<Vec<Item>, String> {
        let text = String::from_utf8(output.to_vec()).map_err(|_| "the core emitted invalid UTF-8".to_string())?;
        let (items, error) = xml::items(&text);
        match error {
            Some(e) => Err(format!("the core emitted XML the harness cannot read: {e}")),
            None => Ok(items.into_iter().map(|(_, i)| i).collect()),
        }
    };

    let framing_failure = |core: &dyn Core, line: usize, step: &str| {
        core.framing_fault().map(|fault| Failure {
            line,
            step: step.into(),
            expected: "one element per WebSocket message".into(),
            actual: fault.into(),
            message: "the core broke RFC 7395 framing".into(),
        })
    };
    for (index, step) in t.steps.iter().enumerate() {
        let fail = |expected: String, actual: String, message: String| Failure {
            line: step.line,
            step: step.source.clone(),
            expected,
            actual,
            message,
        };
        if let Some(failure) = framing_failure(core.as_ref(), step.line, &step.source) {
            return Err(failure);
        }
        match &step.kind {
            StepKind::Data { side, entity, raw, bytes, .. } if !is_core_side(role, *side, *entity) => {
                let bytes = if *raw { bytes.clone() } else { strip_wildcards(bytes) };
                let units = if websocket {
                    // Messages are whole: there is nothing to chunk.
                    messages(&bytes, *raw, &content_ns).map_err(|e| fail(String::new(), String::new(), e))?
                } else {
                    pieces(&bytes, chunking, &mut rng)
                };
                for piece in units {
                    let mut rest = piece.as_slice();
                    let mut refused = 0;
                    while !rest.is_empty() {
                        let taken = core.feed(now, rest);
                        rest = &rest[taken..];
                        collect(&mut core, &mut output, &mut events, now);
                        refused = if taken == 0 { refused + 1 } else { 0 };
                        if refused > 1 {
                            return Err(fail(String::new(), String::new(), "the core takes no more input".into()));
                        }
                    }
                }
            }
            StepKind::Data { api, entity, bytes, .. } => {
                if *api || (*entity && role == Played::Server) {
                    core.send(now, bytes, &content_ns)
                        .map_err(|e| fail(String::new(), String::new(), format!("API call refused: {e}")))?;
                    collect(&mut core, &mut output, &mut events, now);
                }
                let items = parse_output(&output).map_err(|e| fail(String::new(), String::new(), e))?;
                match &expected[index] {
                    None => {
                        // {any}: up to what the next core-side step matches.
                        let next =
                            t.steps[index + 1..].iter().zip(&expected[index + 1..]).find_map(|(s, e)| match &s.kind {
                                StepKind::Data { side, entity, .. } if is_core_side(role, *side, *entity) => {
                                    Some(e.clone())
                                }
                                StepKind::Data { .. } | StepKind::Tls(_) | StepKind::Eof(_) | StepKind::Time(_) => {
                                    Some(None)
                                }
                                _ => None,
                            });
                        match next.flatten().and_then(|e| e.into_iter().next()) {
                            Some(first) => {
                                while matched < items.len() && xml::matches(&first, &items[matched]).is_err() {
                                    matched += 1;
                                }
                            }
                            None => matched = items.len(),
                        }
                    }
                    Some(want) => {
                        for item in want {
                            let Some(got) = items.get(matched) else {
                                return Err(fail(
                                    xml::render(item),
                                    "(nothing)".into(),
                                    "the core did not emit this".into(),
                                ));
                            };
                            xml::matches(item, got).map_err(|e| fail(xml::render(item), xml::render(got), e))?;
                            matched += 1;
                        }
                    }
                }
            }
            StepKind::Tls(binding) => {
                core.tls(now, binding);
                collect(&mut core, &mut output, &mut events, now);
            }
            StepKind::Eof(side) => {
                if *side != role.side() {
                    core.eof(now);
                    collect(&mut core, &mut output, &mut events, now);
                }
            }
            StepKind::Time(d) => {
                let until = now + *d;
                while let Some(t) = core.next_timeout().filter(|t| *t <= until) {
                    now = now.max(t);
                    core.timeout(now);
                    collect(&mut core, &mut output, &mut events, now);
                }
                now = until;
            }
            StepKind::Expect(_, Some(only)) | StepKind::Never(_, Some(only)) if *only != role => {}
            StepKind::Expect(want, _) => {
                let found = events
                    .iter()
                    .position(|named| named.iter().any(|alt| alt.len() >= want.len() && alt[..want.len()] == want[..]));
                match found {
                    Some(i) => consume(&mut events, i, &want[0]),
                    None => {
                        let seen: Vec<String> = events
                            .iter()
                            .map(|n| n.iter().map(|w| w.join(" ")).collect::<Vec<_>>().join(" | "))
                            .collect();
                        return Err(fail(
                            want.join(" "),
                            seen.join("; "),
                            "the core did not produce this event".into(),
                        ));
                    }
                }
            }
            StepKind::Never(name, _) => {
                let count = parse_output(&output).map(|i| i.len()).unwrap_or(0);
                never.push((name.clone(), count, step.line));
            }
        }
    }
    if let Some(failure) = framing_failure(core.as_ref(), 0, "(end)") {
        return Err(failure);
    }
    let items = parse_output(&output).map_err(|e| Failure {
        line: 0,
        step: "(end)".into(),
        expected: String::new(),
        actual: String::new(),
        message: e,
    })?;
    for (name, from, line) in &never {
        if let Some(item) = items[(*from).min(items.len())..].iter().find(|i| i.names().contains(&name.as_str())) {
            return Err(Failure {
                line: *line,
                step: format!("NEVER: {name}"),
                expected: format!("no <{name}/>"),
                actual: xml::render(item),
                message: "the core emitted a forbidden element".into(),
            });
        }
    }
    if matched < items.len() {
        return Err(Failure {
            line: 0,
            step: "(end)".into(),
            expected: "(nothing more)".into(),
            actual: xml::render(&items[matched]),
            message: format!("the core emitted {} item(s) no step accounts for", items.len() - matched),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_data_loses_its_wildcard_attributes() {
        assert_eq!(strip_wildcards(b"<a from='{opt}' to='x' id=\"{any}\"/>"), b"<a to='x'/>");
        assert_eq!(strip_wildcards(b"<a>{any}</a>"), b"<a>{any}</a>");
    }
}
