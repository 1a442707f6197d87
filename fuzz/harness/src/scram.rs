//! SCRAM message parsing on both sides, and an exchange between the core's
//! two halves with an attacker in the middle.
//!
//! Invariants: the four parsers never panic, and what they split off
//! (GS2 header, bare message, message without proof) is the message's own
//! text; an untouched exchange succeeds exactly when both ends see the
//! same channel-binding data; the server accepts only the client's real
//! proof, and only over the client's own channel; the client accepts only
//! the server's real signature.

use arbitrary::{Arbitrary, Unstructured};
use sxmpp::fuzzing::{ScramSetup, scram_exchange};
use sxmpp::sasl::ScramHash;
use sxmpp::sasl::scram::parse_server_first;
use sxmpp::sasl::scram::{ClientFinal, ServerFinal, parse_client_final, parse_client_first, parse_server_final};

#[derive(Arbitrary, Debug)]
struct Input {
    hash: u8,
    /// The client's binding data, and whether the server sees other data
    /// (a man in the middle terminating TLS).
    binding: Option<(Vec<u8>, bool)>,
    tamper: [Option<Vec<u8>>; 4],
    /// Fed to each parser.
    raw: Vec<u8>,
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else { return };
    parsers(&input.raw);
    exchange(input);
}

fn parsers(raw: &[u8]) {
    if let Ok(first) = parse_client_first(raw) {
        assert_eq!(format!("{}{}", first.gs2_header, first.bare).as_bytes(), raw);
        assert!(first.bare.contains(&first.nonce));
    }
    if let Ok(first) = parse_server_first(raw) {
        assert!(!first.nonce.is_empty());
    }
    if let Ok(fin) = parse_client_final(raw) {
        assert!(raw.starts_with(fin.without_proof.as_bytes()));
    }
    let _ = parse_server_final(raw);
}

fn exchange(input: Input) {
    let hash = [ScramHash::Sha1, ScramHash::Sha256, ScramHash::Sha512][usize::from(input.hash % 3)];
    let (client_binding, server_binding) = match input.binding {
        Some((data, mitm)) => {
            let server = if mitm { [&data[..], b"-mitm"].concat() } else { data.clone() };
            (Some(data), server)
        }
        None => (None, Vec::new()),
    };
    let same_channel = client_binding.as_ref().is_none_or(|c| *c == server_binding);
    let untouched = input.tamper.iter().all(Option::is_none);
    let setup = ScramSetup { hash, client_binding, server_binding, tamper: input.tamper };
    let trace = scram_exchange(&setup);
    let server_accepted = matches!(trace.server_final, Some(Ok(_)));
    let client_accepted = matches!(trace.client_verdict, Some(Ok(())));

    if untouched {
        assert_eq!(server_accepted, same_channel, "untouched exchange: {trace:?}");
        assert_eq!(client_accepted, same_channel, "untouched exchange: {trace:?}");
    }
    if server_accepted {
        assert!(same_channel, "the server accepted a client on another channel: {trace:?}");
        let genuine = match &trace.client_final {
            Some(Ok(m)) => parse_client_final(m).expect("the client writes valid messages"),
            other => panic!("the server accepted a proof the client never made ({other:?})"),
        };
        let delivered = setup.tamper[2].as_deref().map(parse_client_final);
        if let Some(delivered) = delivered {
            let delivered: ClientFinal = delivered.expect("the server accepted an unparsable message");
            assert_eq!(delivered.proof, genuine.proof, "the server accepted a forged proof");
        }
    }
    if client_accepted {
        let genuine = match &trace.server_final {
            Some(Ok(m)) => parse_server_final(m).expect("the server writes valid messages"),
            other => panic!("the client accepted a server that refused it ({other:?})"),
        };
        if let Some(delivered) = setup.tamper[3].as_deref() {
            let delivered = parse_server_final(delivered).expect("the client accepted an unparsable message");
            assert!(matches!(delivered, ServerFinal::Verifier(_)));
            assert_eq!(delivered, genuine, "the client accepted a forged server signature");
        }
    }
}
