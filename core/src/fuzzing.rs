//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`, never
//! on by default): they drive internals that are not public API, so the
//! targets can test them without the API growing. Not covered by semver.

use alloc::string::String;
use alloc::vec::Vec;

use crate::sasl::ChannelBindingType;
use crate::sasl::scram::{
    ClientBinding, ClientChecks, ClientSecret, Gs2Flag, ScramClient, ScramError, ScramHash, ScramServer, ScramStored,
    parse_client_first,
};

/// The account both sides of [`scram_exchange`] use.
pub const SCRAM_USER: &str = "juliet";
/// Its password.
pub const SCRAM_PASSWORD: &str = "r0m30myr0m30";

/// How [`scram_exchange`] is set up, and what an attacker in the middle
/// substitutes for each message (`None`: delivered as sent).
#[derive(Clone, Debug)]
pub struct ScramSetup {
    /// The hash.
    pub hash: ScramHash,
    /// The client uses `tls-exporter` binding with this data; the server
    /// checks against `server_binding`.
    pub client_binding: Option<Vec<u8>>,
    /// This channel's binding data as the server sees it.
    pub server_binding: Vec<u8>,
    /// Substitutes for client-first, server-first, client-final and
    /// server-final.
    pub tamper: [Option<Vec<u8>>; 4],
}

/// What happened in [`scram_exchange`]: each message as its author wrote
/// it and each side's verdict. `None`: the exchange stopped before.
#[derive(Clone, Debug, Default)]
pub struct ScramTrace {
    /// As the client wrote it.
    pub client_first: Vec<u8>,
    /// As the server wrote it, or why it refused the client-first.
    pub server_first: Option<Result<Vec<u8>, ScramError>>,
    /// As the client wrote it, or why it refused the server-first.
    pub client_final: Option<Result<Vec<u8>, ScramError>>,
    /// As the server wrote it, or why it refused the client-final.
    pub server_final: Option<Result<Vec<u8>, ScramError>>,
    /// The client's verdict on the server-final: `Ok` means "server
    /// verified, logged in".
    pub client_verdict: Option<Result<(), ScramError>>,
}

/// The iteration count the server stores; the client accepts
/// `SCRAM_MIN_ITERATIONS..=SCRAM_MAX_ITERATIONS`, so a run costs
/// microseconds while the client's bounds (HARDENING 14) stay testable.
pub const SCRAM_ITERATIONS: u32 = 4;
/// The smallest count the client accepts.
pub const SCRAM_MIN_ITERATIONS: u32 = 2;
/// The largest count the client accepts.
pub const SCRAM_MAX_ITERATIONS: u32 = 16;
/// The client nonce.
pub const SCRAM_CLIENT_NONCE: &str = "fyko+d2lbbFgONRv9qkxdawL";

/// Runs one SCRAM exchange between the core's client and server halves,
/// delivering the substitutes of `setup.tamper` instead of the real
/// messages.
pub fn scram_exchange(setup: &ScramSetup) -> ScramTrace {
    let binding = match &setup.client_binding {
        Some(data) => ClientBinding::used(ChannelBindingType::TlsExporter, data),
        None => ClientBinding { flag: Gs2Flag::NotSupported, data: Vec::new() },
    };
    let secret = ClientSecret { password: Some(String::from(SCRAM_PASSWORD)), keys: Vec::new() };
    let checks =
        ClientChecks { min_iterations: 1, max_iterations: 16, expected_ssdp: String::new(), require_ssdp: false };
    let nonce = String::from("fyko+d2lbbFgONRv9qkxdawL");
    let (mut client, client_first) = ScramClient::start(setup.hash, SCRAM_USER, binding, nonce, secret, checks);
    let mut trace = ScramTrace { client_first, ..ScramTrace::default() };
    let deliver = |i: usize, genuine: &[u8]| setup.tamper[i].clone().unwrap_or_else(|| genuine.to_vec());

    let Ok(stored) = ScramStored::from_password(setup.hash, SCRAM_PASSWORD, b"salt", SCRAM_ITERATIONS) else {
        return trace;
    };
    let first = match parse_client_first(&deliver(0, &trace.client_first)) {
        Ok(first) => first,
        Err(e) => {
            trace.server_first = Some(Err(e));
            return trace;
        }
    };
    let (server, server_first) = ScramServer::start(&first, stored, "3rfcNHYJY1ZVvWVs7j", &setup.server_binding, None);
    trace.server_first = Some(Ok(server_first.clone()));

    let client_final = client.server_first(&deliver(1, &server_first));
    trace.client_final = Some(client_final.clone());
    let Ok(client_final) = client_final else { return trace };

    let server_final = server.finish(&deliver(2, &client_final));
    trace.server_final = Some(server_final.clone());
    // A server that refused still sends something (`e=`); the attacker
    // may substitute a forged verifier for it.
    let server_final = server_final.unwrap_or_else(|_| b"e=invalid-proof".to_vec());
    trace.client_verdict = Some(client.server_final(&deliver(3, &server_final)).map(|_| ()));
    trace
}
