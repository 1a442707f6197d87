//! Throughput and allocations of the XML stream reader and of online
//! connections on the 10,000-stanza corpus, beside raw `xmlparser`
//! tokenization of the same bytes (the floor the reader is built on: no
//! UTF-8 validation, framing, namespaces or trees).
//!
//! ```text
//! cargo bench -p sxmpp --bench xml_reader [-- CORPUS_PATH]
//! ```
//!
//! Each case runs for about two seconds; the median and best runs are
//! reported in MB/s (10^6 bytes) and stanzas per second, with the heap
//! allocations per stanza of one more run (a counting allocator).

#![allow(missing_docs, clippy::disallowed_methods, clippy::disallowed_types)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use sxmpp::connection::{
    AuthAnswer, BindDecision, Client, ClientConfig, Connection, Event, Output, Role, Server, ServerConfig,
    ServerSecret, ServerTls, TlsMode,
};
use sxmpp::entropy::Seeded;
use sxmpp::jid::Jid;
use sxmpp::sasl::{Credentials, Mechanism};
use sxmpp::stanza::Stanza;
use sxmpp::time::Timestamp;
use sxmpp::xml::{Limits, StreamEvent, StreamReader};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

const STREAMS: &str = "http://etherx.jabber.org/streams";

fn tokenize_raw(text: &str) -> usize {
    let mut n = 0;
    for token in xmlparser::Tokenizer::from(text) {
        black_box(token.expect("corpus is well-formed"));
        n += 1;
    }
    n
}

fn read_stream(bytes: &[u8], chunk: usize) -> usize {
    let mut reader = StreamReader::new(Limits::default());
    let mut stanzas = 0;
    for piece in bytes.chunks(chunk) {
        reader.feed(piece);
        while let Some(ev) = reader.next_event().expect("corpus is well-formed") {
            if let StreamEvent::Element(el) = ev {
                black_box(&el);
                stanzas += 1;
            }
        }
    }
    stanzas
}

/// Polls `conn` until it says wait, as every driver does: bytes are
/// written (here: dropped), each event goes to `react`; returns the number
/// of events.
fn pump<R: Role>(conn: &mut Connection<R>, mut react: impl FnMut(&mut Connection<R>, &Event)) -> usize {
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

/// A client online as juliet (plaintext PLAIN), ready for the corpus body.
fn online_client() -> Client {
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
    client
}

/// A server with juliet online (plaintext PLAIN).
fn online_server() -> Server {
    let mut config = ServerConfig::new("example.com", ServerSecret::new([7; 32]));
    config.tls = ServerTls::Disabled;
    config.allow_plain_without_tls = true;
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
    server
}

/// Feeds `body` to an online client in `chunk`-byte reads, as a driver
/// does; returns the stanza events.
fn client_events(client: &mut Client, body: &[u8], chunk: usize) -> usize {
    let mut events = 0;
    for piece in body.chunks(chunk) {
        let mut rest = piece;
        while !rest.is_empty() {
            rest = &rest[client.handle_input(Timestamp::ZERO, rest)..];
            events += pump(client, |client, event| {
                if let Event::Stanza(Stanza::Iq(iq)) = event
                    && iq.is_request()
                {
                    let _ = client.respond(Timestamp::ZERO, iq, Ok(None));
                }
            });
        }
    }
    events
}

fn server_events(server: &mut Server, body: &[u8], chunk: usize) -> usize {
    let mut events = 0;
    for piece in body.chunks(chunk) {
        let mut rest = piece;
        while !rest.is_empty() {
            rest = &rest[server.handle_input(Timestamp::ZERO, rest)..];
            events += pump(server, |_, _| {});
        }
    }
    events
}

/// Runs `f` repeatedly for about `budget`; returns (median, best).
fn measure(budget: Duration, mut f: impl FnMut()) -> (Duration, Duration) {
    f(); // warm-up
    let mut runs = Vec::new();
    let start = Instant::now();
    while start.elapsed() < budget || runs.len() < 5 {
        let t = Instant::now();
        f();
        runs.push(t.elapsed());
    }
    runs.sort();
    (runs[runs.len() / 2], runs[0])
}

/// Heap allocations (and reallocations) made by one run of `f`.
fn allocations(f: impl FnOnce()) -> usize {
    let region = Region::new(GLOBAL);
    f();
    let change = region.change();
    change.allocations + change.reallocations
}

fn main() {
    let path = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/corpus-10k.xml").into());
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let text = std::str::from_utf8(&bytes).expect("corpus is UTF-8");
    let stanzas = read_stream(&bytes, bytes.len());
    // The stanzas alone, for the online connections: between the corpus's
    // stream header and its close tag.
    let start = text.find("?>").map_or(0, |i| i + 2);
    let start = start + text[start..].find('>').unwrap() + 1;
    let body = text[start..].strip_suffix("</stream:stream>").unwrap().as_bytes();
    let mb = bytes.len() as f64 / 1e6;
    println!("corpus: {path}");
    println!("        {:.2} MB, {stanzas} stanzas, {} xmlparser tokens", mb, tokenize_raw(text));
    println!();
    println!("{:<46} {:>12} {:>12} {:>12} {:>14}", "case", "median MB/s", "best MB/s", "allocs/stanza", "stanzas/s");

    let budget = Duration::from_secs(2);
    let report = |name: &str, (median, best): (Duration, Duration), allocs: usize| {
        println!(
            "{:<46} {:>12.1} {:>12.1} {:>12.1} {:>14.0}",
            name,
            mb / median.as_secs_f64(),
            mb / best.as_secs_f64(),
            allocs as f64 / stanzas as f64,
            stanzas as f64 / median.as_secs_f64()
        );
    };
    report(
        "xmlparser::Tokenizer (raw tokens, &str)",
        measure(budget, || {
            black_box(tokenize_raw(black_box(text)));
        }),
        allocations(|| {
            black_box(tokenize_raw(text));
        }),
    );
    for (name, chunk) in [
        ("sxmpp StreamReader, whole buffer", bytes.len()),
        ("sxmpp StreamReader, 64 KiB chunks", 64 * 1024),
        ("sxmpp StreamReader, 4 KiB chunks", 4096),
        ("sxmpp StreamReader, 64 B chunks", 64),
    ] {
        report(
            name,
            measure(budget, || {
                black_box(read_stream(black_box(&bytes), chunk));
            }),
            allocations(|| {
                black_box(read_stream(&bytes, chunk));
            }),
        );
    }
    for (name, chunk) in
        [("online Client, bytes to events, 4 KiB reads", 4096), ("online Client, one read", body.len())]
    {
        let mut client = online_client();
        report(
            name,
            measure(budget, || {
                black_box(client_events(&mut client, black_box(body), chunk));
            }),
            allocations(|| {
                black_box(client_events(&mut client, body, chunk));
            }),
        );
    }
    let mut server = online_server();
    report(
        "online Server, bytes to events, 4 KiB reads",
        measure(budget, || {
            black_box(server_events(&mut server, black_box(body), 4096));
        }),
        allocations(|| {
            black_box(server_events(&mut server, body, 4096));
        }),
    );
}
