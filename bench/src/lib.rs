//! The sxmpp side of the comparison bench (`cargo bench -p sxmpp-bench`):
//! the corpus, online connections of both roles ready for it, and the
//! loops a driver runs, so each row measures what an application gets.
//!
//! The peers (xmlparser, quick-xml, rxml, tokio-xmpp, xmpp-parsers) live in
//! the bench target only, as dev-dependencies.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::hint::black_box;

use sxmpp::connection::{
    AuthAnswer, BindDecision, Client, ClientConfig, Connection, Event, Output, Role, Server, ServerConfig,
    ServerSecret, ServerTls, TlsMode,
};
use sxmpp::entropy::Seeded;
use sxmpp::jid::Jid;
use sxmpp::sasl::{Credentials, Mechanism};
use sxmpp::stanza::Stanza;
use sxmpp::time::Timestamp;
use sxmpp::xml::{Element, Limits, StreamEvent, StreamReader};

const STREAMS: &str = "http://etherx.jabber.org/streams";

/// The benchmark corpus: a whole XML stream as a server sends it to a
/// client, and where its stanzas start and end.
pub struct Corpus {
    /// The stream as received: declaration, header, stanzas, close tag.
    pub bytes: Vec<u8>,
    /// `bytes[body]` is the stanzas alone (what follows the header of an
    /// already negotiated stream).
    pub body: std::ops::Range<usize>,
    /// First-level elements in the stream.
    pub stanzas: usize,
}

impl Corpus {
    /// Reads the corpus at `path` (default: the copy in `core/testdata`).
    pub fn load(path: Option<&str>) -> Corpus {
        let path = path.map_or_else(
            || concat!(env!("CARGO_MANIFEST_DIR"), "/../core/testdata/corpus-10k.xml").into(),
            String::from,
        );
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let text = std::str::from_utf8(&bytes).expect("the corpus is UTF-8");
        let start = text.find("?>").map_or(0, |i| i + 2);
        let start = start + text[start..].find('>').expect("a stream header") + 1;
        let end = text.rfind("</stream:stream>").expect("a stream close tag");
        let stanzas = read_stream(&bytes, bytes.len()).len();
        Corpus { bytes, body: start..end, stanzas }
    }

    /// The stanzas alone.
    pub fn body(&self) -> &[u8] {
        &self.bytes[self.body.clone()]
    }

    /// The corpus's stanzas as elements.
    pub fn elements(&self) -> Vec<Element> {
        read_stream(&self.bytes, self.bytes.len())
    }
}

/// The corpus through the XML reader alone, in `chunk`-byte reads.
pub fn read_stream(bytes: &[u8], chunk: usize) -> Vec<Element> {
    let mut out = Vec::new();
    read_stream_with(bytes, chunk, |el| out.push(el));
    out
}

/// [`read_stream`] handing each element to `each` (dropped there, so
/// nothing accumulates while timing).
pub fn read_stream_with(bytes: &[u8], chunk: usize, mut each: impl FnMut(Element)) {
    let mut reader = StreamReader::new(Limits { max_stanza_bytes: 4 << 20, ..Limits::default() });
    for piece in bytes.chunks(chunk) {
        reader.feed(piece);
        while let Some(ev) = reader.next_event().expect("the corpus is well-formed") {
            if let StreamEvent::Element(el) = ev {
                each(el);
            }
        }
    }
}

/// Polls `conn` until it says wait, as every driver does: bytes are
/// "written" (counted and dropped), each event goes to `react`; returns
/// the number of events.
pub fn pump<R: Role>(conn: &mut Connection<R>, mut react: impl FnMut(&mut Connection<R>, &Event)) -> usize {
    let mut events = 0;
    loop {
        match conn.poll_output() {
            Output::Transmit(bytes) => {
                let n = black_box(bytes).len();
                conn.consume_transmit(n);
            }
            Output::Event(event) => {
                react(conn, &event);
                black_box(&event);
                events += 1;
            }
            Output::Closed(reason) => panic!("closed: {reason:?}"),
            _ => return events,
        }
    }
}

/// What a driver does while nothing arrives: honours the deadlines due
/// within a second (the release of idle buffers, `release_after`), then
/// polls until the connection says wait.
pub fn settle<R: Role>(conn: &mut Connection<R>) {
    let second = Timestamp::ZERO + std::time::Duration::from_secs(1);
    if let Some(deadline) = conn.poll_timeout().filter(|t| *t <= second) {
        conn.handle_timeout(deadline);
    }
    pump(conn, |_, _| {});
}

/// A client online as juliet (plaintext PLAIN, no timers), idle, ready for
/// the corpus body.
pub fn online_client() -> Client {
    let mut config = ClientConfig::new(Jid::new("juliet@example.com/balcony").unwrap(), Credentials::password("pass"));
    config.tls = TlsMode::Disabled;
    config.allow_plain_without_tls = true;
    config.mechanisms = vec![Mechanism::Plain];
    config.stream.keepalive_interval = None;
    config.stream.ping_interval = None;
    config.stream.session.max_owed_iqs = usize::MAX;
    let mut client = Client::new(config, Box::new(Seeded::new(2)), Timestamp::ZERO).unwrap();
    let header = format!(
        "<stream:stream from='example.com' id='s' version='1.0' xmlns='jabber:client' xmlns:stream='{STREAMS}'>"
    );
    for input in [
        header.as_str(),
        "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>",
        "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>",
        header.as_str(),
        "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>",
    ] {
        let _ = client.handle_input(Timestamp::ZERO, input.as_bytes());
    }
    let out = String::from_utf8(client.transmit().to_vec()).unwrap();
    let id = out[out.rfind("<iq").unwrap()..].split("id='").nth(1).unwrap().split('\'').next().unwrap().to_string();
    let result = format!(
        "<iq id='{id}' type='result'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>juliet@example.com/balcony.Xq3f</jid></bind></iq>"
    );
    let _ = client.handle_input(Timestamp::ZERO, result.as_bytes());
    pump(&mut client, |_, _| {});
    assert!(client.is_online());
    settle(&mut client);
    client
}

/// A server with juliet online (plaintext PLAIN, no timers), idle.
pub fn online_server() -> Server {
    let mut config = ServerConfig::new("example.com", ServerSecret::new([7; 32]));
    config.tls = ServerTls::Disabled;
    config.allow_plain_without_tls = true;
    config.stream.keepalive_interval = None;
    config.stream.ping_interval = None;
    let mut server = Server::new(config, Box::new(Seeded::new(1)), Timestamp::ZERO).unwrap();
    let header =
        format!("<stream:stream to='example.com' version='1.0' xmlns='jabber:client' xmlns:stream='{STREAMS}'>");
    let _ = server.handle_input(Timestamp::ZERO, header.as_bytes());
    let _ = server.handle_input(
        Timestamp::ZERO,
        b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGp1bGlldABwYXNz</auth>",
    );
    pump(&mut server, |_, _| {});
    server.authenticate(Timestamp::ZERO, AuthAnswer::Password("pass".into())).unwrap();
    let _ = server.handle_input(Timestamp::ZERO, header.as_bytes());
    let _ = server
        .handle_input(Timestamp::ZERO, b"<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>");
    pump(&mut server, |_, _| {});
    server.bind(Timestamp::ZERO, BindDecision::Accept).unwrap();
    pump(&mut server, |_, _| {});
    assert!(server.is_online());
    settle(&mut server);
    server
}

/// Feeds `body` to an online connection in `chunk`-byte reads, as a driver
/// does, answering IQ requests as an application must; returns the
/// stanza events.
pub fn feed<R: Role>(conn: &mut Connection<R>, body: &[u8], chunk: usize) -> usize {
    let mut events = 0;
    for piece in body.chunks(chunk) {
        let mut rest = piece;
        while !rest.is_empty() {
            rest = &rest[conn.handle_input(Timestamp::ZERO, rest)..];
            events += pump(conn, |conn, event| {
                if let Event::Stanza(Stanza::Iq(iq)) = event
                    && iq.is_request()
                {
                    let _ = conn.respond(Timestamp::ZERO, iq, Ok(None));
                }
            });
        }
    }
    events
}

/// Sends every stanza through an online connection and writes (drops) the
/// bytes, as an application sending them does; returns the bytes written.
pub fn send_all<R: Role>(conn: &mut Connection<R>, stanzas: Vec<Stanza>) -> usize {
    let mut written = 0;
    for stanza in stanzas {
        conn.send(Timestamp::ZERO, stanza).expect("online");
        while let Output::Transmit(bytes) = conn.poll_output() {
            let n = black_box(bytes).len();
            written += n;
            conn.consume_transmit(n);
        }
    }
    written
}

/// One stanza of about `size` bytes: a message whose body is plain text
/// with a reference every so often.
pub fn big_stanza(size: usize) -> Vec<u8> {
    let mut s = String::from("<message to='juliet@example.com' type='chat' id='big'><body>");
    while s.len() < size {
        s.push_str("the quick brown fox jumps over the lazy dog &amp; ");
    }
    s.push_str("</body></message>");
    s.into_bytes()
}
