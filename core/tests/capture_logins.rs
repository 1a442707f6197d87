//! Full logins driven by the server bytes of real sessions (captured from
//! slixmpp against Prosody 0.12.3 and ejabberd 23.01; see
//! `core/testdata/captures/`), with our client in slixmpp's place.
//!
//! The client is given slixmpp's nonce and stanza ids, so it must produce
//! the same SASL messages byte for byte, and the servers' signatures must
//! verify. Then the server bytes are delivered split at every byte
//! boundary, and every run must give identical events and output.

use std::fmt::Write as _;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use sxmpp::connection::{Client, ClientConfig, Event, Output, TlsInfo};
use sxmpp::entropy::Seeded;
use sxmpp::jid::Jid;
use sxmpp::sasl::{BindingOutcome, ChannelBinding, ChannelBindingPolicy, ChannelBindingType, Credentials, Mechanism};
use sxmpp::time::Timestamp;

#[derive(Debug, Clone, PartialEq)]
enum Dir {
    ToServer,
    ToClient,
}

/// The capture as (direction, payload) segments; `TlsStart` markers are
/// segments with direction `ToClient` and payload `None`.
fn segments(capture: &str) -> Vec<(Dir, Option<String>)> {
    let mut out: Vec<(Dir, Option<String>)> = Vec::new();
    let mut current: Option<(Dir, String)> = None;
    for line in capture.lines() {
        if line.starts_with("<!--") {
            if let Some((dir, text)) = current.take() {
                out.push((dir, Some(text)));
            }
            if line.starts_with("<!-- C->S") {
                current = Some((Dir::ToServer, String::new()));
            } else if line.starts_with("<!-- S->C") {
                current = Some((Dir::ToClient, String::new()));
            } else if line.contains("TLS established") {
                out.push((Dir::ToClient, None));
            }
        } else if let Some((_, text)) = current.as_mut() {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(line);
        }
    }
    if let Some((dir, text)) = current {
        out.push((dir, Some(text)));
    }
    out
}

/// The base64 text of the first `<tag …>…</tag>` in `xml`.
fn sasl_payload(xml: &str, tag: &str) -> Option<String> {
    let start = xml.find(&format!("<{tag} "))?;
    let body = &xml[start..];
    let open_end = body.find('>')? + 1;
    let close = body.find(&format!("</{tag}>"))?;
    Some(body[open_end..close].trim().to_string())
}

struct Login {
    capture: &'static str,
    jid: &'static str,
    password: &'static str,
    nonce: String,
    bind_id: String,
    binding: ChannelBinding,
    policy: ChannelBindingPolicy,
}

/// What a run produced: every event and every byte sent, in order.
fn run(login: &Login, split_at: Option<usize>) -> String {
    let mut entropy = Seeded::new(42);
    entropy.push_nonce(login.nonce.clone()).push_stanza_id(login.bind_id.clone());
    let mut config = ClientConfig::new(Jid::new(login.jid).unwrap(), Credentials::password(login.password));
    config.channel_binding = login.policy;
    let mut now = Timestamp::ZERO;
    let mut client = Client::new(config, Box::new(entropy), now).unwrap();
    let mut log = String::new();
    let drain = |client: &mut Client, log: &mut String| loop {
        match client.poll_output() {
            Output::Transmit(tx) => {
                writeln!(log, "sent {}", std::str::from_utf8(tx).unwrap()).unwrap();
                let n = tx.len();
                client.consume_transmit(n);
            }
            Output::Event(ev) => writeln!(log, "event {ev:?}").unwrap(),
            Output::StartTls(request) => writeln!(log, "tls {request:?}").unwrap(),
            Output::Closed(reason) => writeln!(log, "closed {reason:?}").unwrap(),
            Output::Wait(_) => return,
            _ => panic!("an output this driver does not know"),
        }
    };
    drain(&mut client, &mut log);
    let mut offset = 0;
    for (dir, payload) in segments(login.capture) {
        if dir != Dir::ToClient {
            continue;
        }
        now += Duration::from_millis(1);
        let Some(bytes) = payload else {
            client.handle_tls_established(now, TlsInfo::new().with_channel_binding(login.binding.clone()));
            drain(&mut client, &mut log);
            continue;
        };
        let bytes = bytes.as_bytes();
        let pieces: Vec<&[u8]> = match split_at {
            Some(p) if (offset..offset + bytes.len()).contains(&p) => {
                let (a, b) = bytes.split_at(p - offset);
                vec![a, b]
            }
            _ => vec![bytes],
        };
        offset += bytes.len();
        for mut piece in pieces {
            while !piece.is_empty() {
                let taken = client.handle_input(now, piece);
                piece = &piece[taken..];
                drain(&mut client, &mut log);
            }
        }
        if client.jid().is_some() || client.is_closed() {
            break; // logged in (or failed): the login is what is replayed
        }
    }
    log
}

/// Server bytes up to the end of the login.
fn login_bytes(login: &Login) -> usize {
    let mut total = 0;
    for (dir, payload) in segments(login.capture) {
        if let (Dir::ToClient, Some(p)) = (dir, payload) {
            total += p.len();
            if p.contains("<jid>") {
                break;
            }
        }
    }
    total
}

fn check(login: &Login, mechanism: Mechanism, outcome: BindingOutcome, resource: &str) {
    let baseline = run(login, None);
    // Logged in, with slixmpp's mechanism, and the same SASL messages.
    let online = format!("event {:?}", Event::Online(Jid::new(resource).unwrap()));
    assert!(baseline.contains(&online), "{baseline}");
    assert!(baseline.contains(&format!("mechanism: {mechanism:?}")), "{baseline}");
    assert!(baseline.contains(&format!("channel_binding: {outcome:?}")), "{baseline}");
    let captured: String =
        segments(login.capture).into_iter().filter(|(d, _)| *d == Dir::ToServer).filter_map(|(_, p)| p).collect();
    for tag in ["auth", "response"] {
        let theirs = sasl_payload(&captured, tag).unwrap();
        let ours = sasl_payload(&baseline, tag).unwrap();
        assert_eq!(ours, theirs, "our <{tag}/> differs from slixmpp's");
    }
    // Every byte boundary.
    let total = login_bytes(login);
    assert!(total > 1000);
    for p in 1..total {
        let split = run(login, Some(p));
        assert!(split == baseline, "split at byte {p} changed the outcome:\n{split}\n---\n{baseline}");
    }
}

#[test]
fn prosody_0_12_scram_sha1_login_from_captured_bytes_split_everywhere() {
    let capture = include_str!("../testdata/captures/prosody-c2s-slixmpp.xml");
    let login = Login {
        capture,
        jid: "alice@localhost/verify",
        password: "alicepass",
        nonce: "5060106659190042".into(),
        bind_id: "a6b44726010042fa8707426e127d557c".into(),
        // slixmpp could bind (it sent `y`); so can we: TLS 1.3 gives us
        // tls-exporter, and Prosody offered no -PLUS.
        binding: ChannelBinding::none().with(ChannelBindingType::TlsExporter, vec![0x42; 32]),
        policy: ChannelBindingPolicy::Compatible,
    };
    check(&login, Mechanism::ScramSha1, BindingOutcome::NotOffered, "alice@localhost/verify");
}

#[test]
fn ejabberd_23_01_scram_sha512_plus_login_from_captured_bytes_split_everywhere() {
    let capture = include_str!("../testdata/captures/ejabberd-c2s-slixmpp.xml");
    // slixmpp bound with tls-unique; the captured c= attribute holds the
    // binding data after the GS2 header.
    let response = segments(capture)
        .into_iter()
        .filter_map(|(d, p)| (d == Dir::ToServer).then_some(p).flatten())
        .find(|p| p.starts_with("<response"))
        .unwrap();
    let decoded = B64.decode(sasl_payload(&response, "response").unwrap()).unwrap();
    let c = String::from_utf8(decoded).unwrap();
    let cbind = B64.decode(c.strip_prefix("c=").unwrap().split(',').next().unwrap()).unwrap();
    let data = cbind.strip_prefix(b"p=tls-unique,,").unwrap().to_vec();
    let auth = segments(capture).into_iter().filter_map(|(_, p)| p).find(|p| p.starts_with("<auth")).unwrap();
    let first = String::from_utf8(B64.decode(sasl_payload(&auth, "auth").unwrap()).unwrap()).unwrap();
    let nonce = first.split("r=").nth(1).unwrap().to_string();
    let bind = segments(capture)
        .into_iter()
        .filter_map(|(_, p)| p)
        .find(|p| p.contains("<bind") && p.starts_with("<iq"))
        .unwrap();
    let bind_id = bind.split("id=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let login = Login {
        capture,
        jid: "alice@localhost/verify",
        password: "alicepass",
        nonce,
        bind_id,
        binding: ChannelBinding::none().with(ChannelBindingType::TlsUnique, data),
        // ejabberd lists no channel-binding types; Strict binds anyway.
        policy: ChannelBindingPolicy::Strict,
    };
    check(
        &login,
        Mechanism::ScramSha512Plus,
        BindingOutcome::Bound(ChannelBindingType::TlsUnique),
        "alice@localhost/verify",
    );
}
