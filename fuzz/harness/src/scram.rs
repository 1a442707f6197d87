//! SCRAM message parsing on both sides, and an exchange between the core's
//! two halves with an attacker in the middle.
//!
//! Invariants: the four parsers never panic and never accept what the
//! grammar forbids (a nonce must be printable, a proof present); an
//! untouched exchange succeeds exactly when both ends see the same
//! channel-binding data; the client refuses a server-first whose nonce
//! does not extend its own or whose count is out of bounds (HARDENING 13,
//! 14); the server accepts only the client's real proof, and only over the
//! client's own channel (17); the client accepts only the server's real
//! signature (15).

use arbitrary::{Arbitrary, Unstructured};
use sxmpp::fuzzing::{
    SCRAM_CLIENT_NONCE, SCRAM_MAX_ITERATIONS, SCRAM_MIN_ITERATIONS, ScramSetup, ScramTrace, scram_exchange,
};
use sxmpp::sasl::ScramHash;
use sxmpp::sasl::scram::{ServerFinal, parse_client_final, parse_client_first, parse_server_final, parse_server_first};

/// Seeds: `[hash, 0, 0, 0, 0, 0]` + a SCRAM message puts the message in
/// `raw` untouched (each `None` is one even byte; `raw` takes the rest).
#[derive(Arbitrary, Debug)]
struct Input<'a> {
    hash: u8,
    /// The client's binding data, and whether the server sees other data
    /// (a man in the middle terminating TLS).
    binding: Option<([u8; 8], bool)>,
    tamper: [Option<&'a [u8]>; 4],
    /// Fed to each parser.
    raw: &'a [u8],
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else { return };
    parsers(input.raw);
    exchange(&input);
}

fn printable(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| (0x21..=0x7E).contains(&b) && b != b',')
}

fn parsers(raw: &[u8]) {
    if let Ok(first) = parse_client_first(raw) {
        assert_eq!(format!("{}{}", first.gs2_header, first.bare).as_bytes(), raw);
        assert!(printable(&first.nonce), "client nonce {:?}", first.nonce);
    }
    if let Ok(first) = parse_server_first(raw) {
        assert!(printable(&first.nonce), "server nonce {:?}", first.nonce);
    }
    if let Ok(fin) = parse_client_final(raw) {
        assert!(raw.starts_with(fin.without_proof.as_bytes()));
        assert!(printable(&fin.nonce), "final nonce {:?}", fin.nonce);
        assert!(!fin.proof.is_empty(), "empty proof accepted");
    }
    let _ = parse_server_final(raw);
}

fn exchange(input: &Input<'_>) {
    let hash = [ScramHash::Sha1, ScramHash::Sha256, ScramHash::Sha512][usize::from(input.hash % 3)];
    let (client_binding, server_binding) = match input.binding {
        Some((data, mitm)) => {
            let server = if mitm { [&data[..], b"-mitm"].concat() } else { data.to_vec() };
            (Some(data.to_vec()), server)
        }
        None => (None, Vec::new()),
    };
    let same_channel = client_binding.as_ref().is_none_or(|c| *c == server_binding);
    let tamper = input.tamper.map(|t| t.map(<[u8]>::to_vec));
    let untouched = tamper.iter().all(Option::is_none);
    let setup = ScramSetup { hash, client_binding, server_binding, tamper };
    let trace = scram_exchange(&setup);
    let server_accepted = matches!(trace.server_final, Some(Ok(_)));
    let client_accepted = matches!(trace.client_verdict, Some(Ok(())));

    if untouched {
        assert_eq!(server_accepted, same_channel, "untouched exchange: {trace:?}");
        assert_eq!(client_accepted, same_channel, "untouched exchange: {trace:?}");
    }
    client_checks_server_first(&setup, &trace);
    if server_accepted {
        assert!(same_channel, "the server accepted a client on another channel: {trace:?}");
        let genuine = match &trace.client_final {
            Some(Ok(m)) => parse_client_final(m).expect("the client writes valid messages"),
            other => panic!("the server accepted a proof the client never made ({other:?})"),
        };
        if let Some(delivered) = &setup.tamper[2] {
            let delivered = parse_client_final(delivered).expect("the server accepted an unparsable message");
            assert_eq!(delivered.proof, genuine.proof, "the server accepted a forged proof");
        }
    }
    if client_accepted {
        let genuine = match &trace.server_final {
            Some(Ok(m)) => parse_server_final(m).expect("the server writes valid messages"),
            other => panic!("the client accepted a server that refused it ({other:?})"),
        };
        if let Some(delivered) = &setup.tamper[3] {
            let delivered = parse_server_final(delivered).expect("the client accepted an unparsable message");
            assert!(matches!(delivered, ServerFinal::Verifier(_)));
            assert_eq!(delivered, genuine, "the client accepted a forged server signature");
        }
    }
}

/// HARDENING 13 and 14: whatever server-first reached the client, it
/// answered only one whose nonce extends its own and whose count is
/// within its bounds.
fn client_checks_server_first(setup: &ScramSetup, trace: &ScramTrace) {
    let Some(Ok(_)) = &trace.client_final else { return };
    let delivered = match (&setup.tamper[1], &trace.server_first) {
        (Some(tampered), _) => tampered.clone(),
        (None, Some(Ok(genuine))) => genuine.clone(),
        (None, _) => panic!("the client answered a server-first that was never sent"),
    };
    let first = parse_server_first(&delivered).expect("the client answered an unparsable server-first");
    assert!(
        first.nonce.starts_with(SCRAM_CLIENT_NONCE) && first.nonce.len() > SCRAM_CLIENT_NONCE.len(),
        "the client accepted a nonce that does not extend its own: {:?}",
        first.nonce
    );
    assert!(
        (SCRAM_MIN_ITERATIONS..=SCRAM_MAX_ITERATIONS).contains(&first.iterations),
        "the client accepted {} iterations",
        first.iterations
    );
    assert!(!delivered.starts_with(b"m="), "the client accepted a mandatory extension");
}
