//! Writes the seed corpora under `fuzz/seeds/<target>/` from the
//! conformance transcripts, the real-server captures, RFC examples and
//! conversations between the targets' own client and server.
//!
//! `cargo run -p sxmpp-fuzz --example make-seeds` (deterministic: the
//! same sources give the same files).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use sxmpp_conformance::replay::strip_wildcards;
use sxmpp_conformance::transcript::{Side, StepKind};
use sxmpp_fuzz::pair::{converse, converse_components};

/// Seeds per target, by file name.
#[derive(Default)]
struct Seeds(BTreeMap<&'static str, BTreeMap<String, Vec<u8>>>);

impl Seeds {
    fn add(&mut self, target: &'static str, name: impl Into<String>, data: Vec<u8>) {
        self.0.entry(target).or_default().insert(name.into(), data);
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `[0, 0]` (no script) + reads joined by NUL: the connection targets'
/// layout.
fn connection_seed(reads: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![0, 0];
    out.extend(reads.join(&0u8));
    out
}

fn main() {
    let mut seeds = Seeds::default();
    transcripts(&mut seeds);
    captures(&mut seeds);
    jids(&mut seeds);
    scram(&mut seeds);
    conversations(&mut seeds);

    let dir = root().join("fuzz/seeds");
    for (target, files) in &seeds.0 {
        let target_dir = dir.join(target);
        let _ = std::fs::remove_dir_all(&target_dir);
        std::fs::create_dir_all(&target_dir).expect("seeds directory");
        for (name, data) in files {
            std::fs::write(target_dir.join(name), data).expect("seed file");
        }
        println!("{target}: {} seeds", files.len());
    }
}

/// Each transcript's data per side: the XML stream for `xml_stream`, the
/// reads for the connection targets, addresses for `jid`, SASL payloads
/// for `scram`.
fn transcripts(seeds: &mut Seeds) {
    let dir = root().join("conformance/transcripts");
    for path in sxmpp_conformance::transcripts(&dir).expect("transcripts") {
        let text = std::fs::read_to_string(&path).expect("transcript");
        let Ok(transcript) = sxmpp_conformance::parse(&text) else { continue };
        let stem = path.file_stem().unwrap().to_string_lossy().replace(['.', ' '], "_");
        let mut reads: BTreeMap<bool, Vec<Vec<u8>>> = BTreeMap::new();
        for step in &transcript.steps {
            if let StepKind::Data { side, raw, bytes, .. } = &step.kind {
                let data = if *raw { bytes.clone() } else { strip_wildcards(bytes) };
                reads.entry(*side == Side::S).or_default().push(data);
            }
        }
        let websocket = transcript.key("framing") == Some("websocket");
        for (from_server, reads) in reads {
            let (target, peer) = if from_server { ("client", "s") } else { ("server", "c") };
            let seed = if websocket {
                // The targets' configuration with `websocket` (its last
                // byte) set, and wss: when the transcript says direct.
                let direct = transcript.key(if from_server { "client.tls" } else { "server.tls" }) == Some("direct");
                let mut config = vec![0u8; if from_server { 10 } else { 13 }];
                config[0] = u8::from(direct);
                *config.last_mut().expect("not empty") = 1;
                with_script(&config, &reads)
            } else {
                connection_seed(&reads)
            };
            seeds.add(target, format!("tx-{stem}-{peer}"), seed);
            let mut stream = vec![0, 7];
            stream.extend(reads.concat());
            seeds.add("xml_stream", format!("tx-{stem}-{peer}"), stream);
        }
        for address in addresses(&text) {
            seeds.add("jid", format!("tx-{}", hex(address.as_bytes())), address.into_bytes());
        }
        for payload in sasl_payloads(&text) {
            // hash 0, no binding, nothing tampered; the rest is `raw`.
            let mut seed = vec![0, 0, 0, 0, 0, 0];
            seed.extend(&payload);
            seeds.add("scram", format!("tx-{}", hex(&payload[..payload.len().min(12)])), seed);
        }
    }
}

/// `to`, `from` and `<jid>` values.
fn addresses(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for marker in ["to='", "from='", "<jid>"] {
        let end = if marker == "<jid>" { '<' } else { '\'' };
        for (i, _) in text.match_indices(marker) {
            let rest = &text[i + marker.len()..];
            if let Some(value) = rest.split(end).next().filter(|v| !v.is_empty() && !v.contains('{')) {
                out.push(value.to_string());
            }
        }
    }
    out
}

/// Base64 contents of `<auth>`, `<challenge>`, `<response>`, `<success>`.
fn sasl_payloads(text: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for tag in ["auth", "challenge", "response", "success"] {
        for (i, _) in text.match_indices(&format!("<{tag} ")) {
            let rest = &text[i..];
            let (Some(open), Some(close)) = (rest.find('>'), rest.find(&format!("</{tag}>"))) else { continue };
            if open >= close {
                continue;
            }
            let b64: String = rest[open + 1..close].split_whitespace().collect();
            if let Ok(data) = base64::engine::general_purpose::STANDARD.decode(b64) {
                out.push(data);
            }
        }
    }
    out
}

/// The raw captures of real Prosody and ejabberd sessions.
fn captures(seeds: &mut Seeds) {
    let dir = root().join("core/testdata/captures");
    for entry in std::fs::read_dir(dir).expect("captures") {
        let path = entry.expect("entry").path();
        let data = std::fs::read(&path).expect("capture");
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        let mut stream = vec![0, 33];
        stream.extend(&data);
        seeds.add("xml_stream", format!("capture-{stem}"), stream);
    }
    // The first stanzas of the benchmark corpus.
    let corpus = std::fs::read(root().join("core/testdata/corpus-10k.xml")).expect("corpus");
    let mut stream = vec![0, 63];
    stream.extend(&corpus[..corpus.len().min(8 * 1024)]);
    seeds.add("xml_stream", "corpus-head", stream);
}

/// RFC 7622 §3.5 examples, valid and invalid, and edge cases.
fn jids(seeds: &mut Seeds) {
    let examples = [
        "juliet@example.com",
        "juliet@example.com/foo",
        "juliet@example.com/foo bar",
        "juliet@example.com/foo@bar",
        "foo\\20bar@example.com",
        "fussball@example.com",
        "fu\u{00DF}ball@example.com",
        "\u{03C0}@example.com",
        "\u{03A3}@example.com/foo",
        "\u{03C3}@example.com/foo",
        "\u{03C2}@example.com/foo",
        "king@example.com/\u{265A}",
        "example.com",
        "example.com/foobar",
        "a.example.com/b@example.net",
        "\"juliet\"@example.com",
        "foo bar@example.com",
        "henry\u{2163}@example.com",
        "\u{265A}@example.com",
        "juliet@",
        "/foobar",
        "node@/server",
        "@example.com",
        "xn--mnchen-3ya.de",
        "m\u{00FC}nchen.de",
        "[::1]",
        "192.0.2.1/r",
        "example.com.",
        "juliet@example.com/ foo",
    ];
    for (i, jid) in examples.iter().enumerate() {
        seeds.add("jid", format!("rfc7622-{i:02}"), jid.as_bytes().to_vec());
    }
}

/// RFC 5802 §5 and RFC 7677 §3 messages as `raw`, and tampering seeds.
fn scram(seeds: &mut Seeds) {
    let messages: [&[u8]; 8] = [
        b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
        b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
        b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
        b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
        b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
        b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        b"p=tls-exporter,a=juliet@example.com,n=juliet,r=abc",
        b"e=invalid-proof",
    ];
    for (i, message) in messages.iter().enumerate() {
        for hash in 0..3u8 {
            let mut seed = vec![hash, 0, 0, 0, 0, 0];
            seed.extend(*message);
            seeds.add("scram", format!("rfc-{i}-{hash}"), seed);
        }
    }
    // With channel binding (Some: 1, eight bytes of data, the MITM flag),
    // then four untampered messages and a message for the parsers.
    for (name, hash, mitm) in [("binding", 0u8, 0u8), ("binding-mitm", 1, 1)] {
        let mut seed = vec![hash, 1];
        seed.extend(b"cbdata-8");
        seed.extend([mitm, 0, 0, 0, 0]);
        seed.extend(messages[0]);
        seeds.add("scram", name, seed);
    }
}

/// Conversations between the targets' own client and server, in several
/// configurations, each side's reads a seed for the other.
fn conversations(seeds: &mut Seeds) {
    // (name, client config bytes, server config bytes): the bytes are
    // decoded exactly as the targets decode their script's first bytes.
    let configs: [(&str, &[u8], &[u8]); 8] = [
        ("rfc6120-9_1", &[], &[]),
        ("plaintext-all-mechanisms", &[2, 0xff, 0x01, 1, 1, 0, 0, 0], &[2, 0xff, 0x01, 1, 0, 0, 0, 0, 0, 0]),
        ("plus-ssdp-strict", &[0, 0xff, 0x01, 2, 0, 0, 0, 0], &[0, 0xff, 0x01, 0, 1, 1, 0, 0, 0, 0, 0]),
        ("optional-tls-plain", &[1, 0x40, 0, 0, 0, 0, 0, 0], &[1, 0x40, 0, 0, 0, 0, 0, 0, 0, 0]),
        ("session-assigned-resource", &[], &[0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1]),
        ("direct-tls-small-limits", &[3, 0, 0, 0, 0, 1, 0, 1], &[3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0]),
        // RFC 7395: ws: and wss: (the last byte is `websocket`).
        ("websocket", &[0, 0, 0, 0, 0, 0, 0, 0, 0, 1], &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
        ("websocket-tls", &[1, 0, 0, 0, 0, 0, 0, 0, 0, 1], &[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
    ];
    for (name, client_config, server_config) in configs {
        let conversation = converse(client_config, server_config);
        println!("conversation {name}: online {}", conversation.online);
        seeds.add("client", format!("pair-{name}"), with_script(client_config, &conversation.to_client));
        seeds.add("server", format!("pair-{name}"), with_script(server_config, &conversation.to_server));
        let mut stream = vec![0, 1];
        stream.extend(conversation.to_client.concat());
        seeds.add("xml_stream", format!("pair-{name}-s"), stream);
    }
    // XEP-0114: (name, component config, server config): small limits,
    // a peer that holds output, subdomains, the wrong secret.
    let components: [(&str, &[u8], &[u8]); 3] =
        [("xep0114-3", &[], &[]), ("subdomains-small-limits", &[1], &[1, 0, 1]), ("wrong-secret", &[0, 0, 0, 1], &[])];
    for (name, component_config, server_config) in components {
        let conversation = converse_components(component_config, server_config);
        println!("components {name}: online {}", conversation.online);
        seeds.add("component", format!("pair-{name}"), with_script(component_config, &conversation.to_client));
        seeds.add("component_server", format!("pair-{name}"), with_script(server_config, &conversation.to_server));
    }
}

/// A connection seed whose script is just the configuration bytes.
fn with_script(config: &[u8], reads: &[Vec<u8>]) -> Vec<u8> {
    let mut out = u16::try_from(config.len()).expect("short").to_le_bytes().to_vec();
    out.extend(config);
    out.extend(&connection_seed(reads)[2..]);
    out
}

fn hex(data: &[u8]) -> String {
    let mut s: String = data.iter().map(|b| format!("{b:02x}")).collect();
    s.truncate(40);
    s
}
