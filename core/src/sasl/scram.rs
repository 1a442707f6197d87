//! SCRAM (RFC 5802, RFC 7677): key derivation, the four messages, and the
//! client side of the exchange.
//!
//! Parsing is strict and shared by both roles (and the fuzz targets):
//! attributes in the RFC's order, base64 checked, a mandatory extension
//! (`m=`) refused. The client refuses to compute anything for a server
//! nonce that does not extend its own or an iteration count outside
//! `[min, max]` (PBKDF2 never runs on a hostile count), verifies the server
//! signature before it reports success, and checks the XEP-0474 downgrade
//! protection hash when the server sends one.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

use super::{ChannelBindingType, SaslprepError, saslprep};

/// The hash function a SCRAM mechanism is built on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScramHash {
    /// SHA-1 (SCRAM-SHA-1).
    Sha1,
    /// SHA-256 (SCRAM-SHA-256).
    Sha256,
    /// SHA-512 (SCRAM-SHA-512).
    Sha512,
}

impl ScramHash {
    /// The hash's name as SCRAM mechanism names spell it (`SHA-256`).
    pub const fn name(self) -> &'static str {
        match self {
            ScramHash::Sha1 => "SHA-1",
            ScramHash::Sha256 => "SHA-256",
            ScramHash::Sha512 => "SHA-512",
        }
    }

    /// `H(data)`.
    pub fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramHash::Sha1 => Sha1::digest(data).to_vec(),
            ScramHash::Sha256 => Sha256::digest(data).to_vec(),
            ScramHash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    /// `HMAC(key, data)`.
    pub fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        fn mac<M: Mac + KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
            // HMAC accepts keys of any length.
            let mut m = <M as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        match self {
            ScramHash::Sha1 => mac::<Hmac<Sha1>>(key, data),
            ScramHash::Sha256 => mac::<Hmac<Sha256>>(key, data),
            ScramHash::Sha512 => mac::<Hmac<Sha512>>(key, data),
        }
    }

    /// `Hi(password, salt, i)`: PBKDF2 with HMAC (RFC 5802 §2.2).
    pub fn hi(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        let mut out = alloc::vec![0u8; self.output_len()];
        match self {
            ScramHash::Sha1 => pbkdf2::pbkdf2_hmac::<Sha1>(password, salt, iterations, &mut out),
            ScramHash::Sha256 => pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out),
            ScramHash::Sha512 => pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out),
        }
        out
    }

    /// Output length in bytes.
    pub const fn output_len(self) -> usize {
        match self {
            ScramHash::Sha1 => 20,
            ScramHash::Sha256 => 32,
            ScramHash::Sha512 => 64,
        }
    }
}

/// Keys derived from a password for one salt and iteration count: what a
/// client needs to log in again without the password or PBKDF2, and (via
/// [`ScramKeys::stored_key`]) what a server stores.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramKeys {
    /// The hash these keys belong to.
    pub hash: ScramHash,
    /// The salt the server chose.
    pub salt: Vec<u8>,
    /// The iteration count the server chose.
    pub iterations: u32,
    /// `ClientKey = HMAC(SaltedPassword, "Client Key")`.
    pub client_key: Vec<u8>,
    /// `ServerKey = HMAC(SaltedPassword, "Server Key")`.
    pub server_key: Vec<u8>,
}

impl ScramKeys {
    /// Derives the keys from a password (prepared with SASLprep first).
    pub fn derive(hash: ScramHash, password: &str, salt: &[u8], iterations: u32) -> Result<ScramKeys, SaslprepError> {
        let password = saslprep(password)?;
        let salted = hash.hi(password.as_bytes(), salt, iterations);
        Ok(ScramKeys {
            hash,
            salt: salt.to_vec(),
            iterations,
            client_key: hash.hmac(&salted, b"Client Key"),
            server_key: hash.hmac(&salted, b"Server Key"),
        })
    }

    /// `StoredKey = H(ClientKey)`: with `server_key`, all a server keeps.
    pub fn stored_key(&self) -> Vec<u8> {
        self.hash.hash(&self.client_key)
    }
}

impl fmt::Debug for ScramKeys {
    /// Never shows the keys.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramKeys")
            .field("hash", &self.hash)
            .field("salt", &B64.encode(&self.salt))
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

/// What a server stores for a SCRAM credential (RFC 5802 §3): enough to
/// verify a client and prove itself, never the password.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramStored {
    /// The hash.
    pub hash: ScramHash,
    /// The salt.
    pub salt: Vec<u8>,
    /// The iteration count.
    pub iterations: u32,
    /// `StoredKey = H(ClientKey)`.
    pub stored_key: Vec<u8>,
    /// `ServerKey`.
    pub server_key: Vec<u8>,
}

impl ScramStored {
    /// Derives a stored credential from a password (registration, or a
    /// server that keeps passwords and derives per login).
    pub fn from_password(
        hash: ScramHash,
        password: &str,
        salt: &[u8],
        iterations: u32,
    ) -> Result<ScramStored, SaslprepError> {
        ScramKeys::derive(hash, password, salt, iterations).map(|k| ScramStored::from(&k))
    }
}

impl From<&ScramKeys> for ScramStored {
    fn from(keys: &ScramKeys) -> ScramStored {
        ScramStored {
            hash: keys.hash,
            salt: keys.salt.clone(),
            iterations: keys.iterations,
            stored_key: keys.stored_key(),
            server_key: keys.server_key.clone(),
        }
    }
}

impl fmt::Debug for ScramStored {
    /// Never shows the keys.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramStored")
            .field("hash", &self.hash)
            .field("salt", &B64.encode(&self.salt))
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

/// The server side of one SCRAM exchange, from the client-first-message
/// on (the connection checks the GS2 flag against what it offered first).
#[derive(Clone)]
pub(crate) struct ScramServer {
    stored: ScramStored,
    client_first_bare: String,
    server_first: String,
    nonce: String,
    /// `c=` must decode to exactly this: the GS2 header, then the binding
    /// data of this channel when `p=` was used.
    expected_cbind: Vec<u8>,
}

impl ScramServer {
    /// Answers `first` with a server-first-message: the client nonce
    /// extended by `nonce_suffix`, the stored salt and count, and the
    /// XEP-0474 hash when given.
    pub(crate) fn start(
        first: &ClientFirst,
        stored: ScramStored,
        nonce_suffix: &str,
        binding_data: &[u8],
        ssdp: Option<&str>,
    ) -> (ScramServer, Vec<u8>) {
        let nonce = format!("{}{}", first.nonce, nonce_suffix);
        let mut server_first = format!("r={nonce},s={},i={}", B64.encode(&stored.salt), stored.iterations);
        if let Some(h) = ssdp {
            server_first.push_str(",h=");
            server_first.push_str(h);
        }
        let mut expected_cbind = first.gs2_header.clone().into_bytes();
        if matches!(first.flag, Gs2Flag::Used(_)) {
            expected_cbind.extend_from_slice(binding_data);
        }
        let server = ScramServer {
            stored,
            client_first_bare: first.bare.clone(),
            server_first: server_first.clone(),
            nonce,
            expected_cbind,
        };
        (server, server_first.into_bytes())
    }

    /// Checks the client-final-message; returns the server-final-message.
    pub(crate) fn finish(&self, msg: &[u8]) -> Result<Vec<u8>, ScramError> {
        let fin = parse_client_final(msg)?;
        if !constant_time_eq(&fin.channel_binding, &self.expected_cbind) {
            return Err(ScramError::ChannelBinding);
        }
        if fin.nonce != self.nonce {
            return Err(ScramError::NonceMismatch);
        }
        let hash = self.stored.hash;
        let auth_message = format!("{},{},{}", self.client_first_bare, self.server_first, fin.without_proof);
        let client_signature = hash.hmac(&self.stored.stored_key, auth_message.as_bytes());
        if fin.proof.len() != client_signature.len() {
            return Err(ScramError::InvalidProof);
        }
        let client_key: Vec<u8> = fin.proof.iter().zip(&client_signature).map(|(p, s)| p ^ s).collect();
        if !constant_time_eq(&hash.hash(&client_key), &self.stored.stored_key) {
            return Err(ScramError::InvalidProof);
        }
        let server_signature = hash.hmac(&self.stored.server_key, auth_message.as_bytes());
        Ok(format!("v={}", B64.encode(server_signature)).into_bytes())
    }
}

/// Why a SCRAM exchange failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScramError {
    /// A message that does not follow the RFC 5802 §7 grammar.
    #[error("malformed SCRAM message: {0}")]
    Malformed(&'static str),
    /// A mandatory extension (`m=`) we do not understand (RFC 5802 §5.1).
    #[error("unsupported mandatory extension")]
    MandatoryExtension,
    /// The server nonce does not start with the client nonce (HARDENING 13).
    #[error("the server nonce does not extend the client nonce")]
    NonceMismatch,
    /// An iteration count outside the accepted range (HARDENING 14).
    #[error("iteration count {count} outside {min}..={max}")]
    IterationCount {
        /// The count the server sent.
        count: u32,
        /// The smallest count accepted (RFC 5802 §5.1 suggests 4096).
        min: u32,
        /// The configured cap.
        max: u32,
    },
    /// The server sent `e=` (RFC 5802 §7 server-error-value).
    #[error("server error: {0}")]
    ServerError(String),
    /// The server's signature is wrong or missing: it does not know the
    /// password (HARDENING 15).
    #[error("the server signature does not verify")]
    ServerSignature,
    /// The server's XEP-0474 hash does not match the mechanisms and
    /// channel-binding types we were offered: a downgrade attack.
    #[error("the downgrade-protection hash does not match what was offered")]
    Downgrade,
    /// XEP-0474 protection was required (no common channel-binding type)
    /// and the server did not send it.
    #[error("the server sent no downgrade-protection hash where one was required")]
    DowngradeUnprotected,
    /// The password failed SASLprep.
    #[error("password: {0}")]
    Saslprep(SaslprepError),
    /// Neither a password nor keys for the server's salt and iteration
    /// count.
    #[error("no password, and no cached keys match the server's salt and iteration count")]
    NoMatchingKeys,
    /// A message arrived when the exchange was not expecting one.
    #[error("unexpected SCRAM message")]
    UnexpectedMessage,
    /// (Server) The client's proof is wrong: wrong password.
    #[error("the client proof does not verify")]
    InvalidProof,
    /// (Server) `c=` does not match this channel's binding data, or the
    /// GS2 flag does not fit what was offered (HARDENING 17).
    #[error("channel binding does not match")]
    ChannelBinding,
}

/// The GS2 channel-binding flag (RFC 5802 §7 `gs2-cbind-flag`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Gs2Flag {
    /// `n`: the client does not support channel binding.
    NotSupported,
    /// `y`: the client supports channel binding but thinks the server
    /// does not.
    SupportedNotUsed,
    /// `p=`: channel binding of this type is used.
    Used(String),
}

impl Gs2Flag {
    fn write(&self, out: &mut String) {
        match self {
            Gs2Flag::NotSupported => out.push('n'),
            Gs2Flag::SupportedNotUsed => out.push('y'),
            Gs2Flag::Used(name) => {
                out.push_str("p=");
                out.push_str(name);
            }
        }
    }
}

/// Escapes a username for `n=` (RFC 5802 §5.1: `=` → `=3D`, `,` → `=2C`).
pub fn escape_saslname(name: &str) -> String {
    name.replace('=', "=3D").replace(',', "=2C")
}

/// Undoes [`escape_saslname`]; `None` for a lone `=` or other bad escapes.
pub fn unescape_saslname(name: &str) -> Option<String> {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        match rest.get(i + 1..i + 3) {
            Some("3D") => out.push('='),
            Some("2C") => out.push(','),
            _ => return None,
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Some(out)
}

/// A parsed client-first-message (RFC 5802 §7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientFirst {
    /// The channel-binding flag.
    pub flag: Gs2Flag,
    /// The authorization identity, if given (`a=`).
    pub authzid: Option<String>,
    /// The username, unescaped.
    pub username: String,
    /// The client nonce.
    pub nonce: String,
    /// The GS2 header (`flag,[a=…],`), as the `c=` attribute must repeat it.
    pub gs2_header: String,
    /// client-first-message-bare, as it enters the AuthMessage.
    pub bare: String,
}

/// A parsed server-first-message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerFirst {
    /// The combined nonce.
    pub nonce: String,
    /// The salt, decoded.
    pub salt: Vec<u8>,
    /// The iteration count.
    pub iterations: u32,
    /// The XEP-0474 downgrade-protection hash (`h=`), if sent.
    pub ssdp: Option<String>,
}

/// A parsed client-final-message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientFinal {
    /// `c=`, decoded: the GS2 header followed by the channel-binding data.
    pub channel_binding: Vec<u8>,
    /// The combined nonce.
    pub nonce: String,
    /// The client proof, decoded.
    pub proof: Vec<u8>,
    /// client-final-message-without-proof, as it enters the AuthMessage.
    pub without_proof: String,
}

/// A parsed server-final-message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerFinal {
    /// `v=`: the server signature, decoded.
    Verifier(Vec<u8>),
    /// `e=`: the server's error.
    Error(String),
}

/// RFC 5802 §7 `printable`: `%x21-2B / %x2D-7E` (no comma).
fn is_printable(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| (0x21..=0x7E).contains(&b) && b != b',')
}

fn attr(part: Option<&str>, name: char) -> Result<&str, ScramError> {
    let part = part.ok_or(ScramError::Malformed("missing attribute"))?;
    let mut chars = part.chars();
    match (chars.next(), chars.next()) {
        (Some(n), Some('=')) if n == name => Ok(&part[2..]),
        _ => Err(ScramError::Malformed("attribute out of order")),
    }
}

/// RFC 5802 §7 `extensions`: each `attr-val`, a letter, `=`, a value.
fn check_extensions<'a>(parts: impl Iterator<Item = &'a str>) -> Result<(), ScramError> {
    for ext in parts {
        let b = ext.as_bytes();
        if b.len() < 2 || !b[0].is_ascii_alphabetic() || b[1] != b'=' {
            return Err(ScramError::Malformed("bad extension"));
        }
    }
    Ok(())
}

fn base64(value: &str) -> Result<Vec<u8>, ScramError> {
    B64.decode(value).map_err(|_| ScramError::Malformed("bad base64"))
}

fn utf8(msg: &[u8]) -> Result<&str, ScramError> {
    core::str::from_utf8(msg).map_err(|_| ScramError::Malformed("not UTF-8"))
}

/// Parses a client-first-message.
pub fn parse_client_first(msg: &[u8]) -> Result<ClientFirst, ScramError> {
    let msg = utf8(msg)?;
    let (flag, rest) = match msg.split_once(',') {
        Some(("n", rest)) => (Gs2Flag::NotSupported, rest),
        Some(("y", rest)) => (Gs2Flag::SupportedNotUsed, rest),
        Some((p, rest)) if p.starts_with("p=") => {
            let name = &p[2..];
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-') {
                return Err(ScramError::Malformed("bad channel-binding name"));
            }
            (Gs2Flag::Used(name.into()), rest)
        }
        _ => return Err(ScramError::Malformed("bad GS2 flag")),
    };
    let (authzid, bare) = rest.split_once(',').ok_or(ScramError::Malformed("truncated GS2 header"))?;
    let authzid = match authzid {
        "" => None,
        a => Some(
            a.strip_prefix("a=")
                .and_then(unescape_saslname)
                .filter(|a| !a.is_empty())
                .ok_or(ScramError::Malformed("bad authzid"))?,
        ),
    };
    let gs2_header = String::from(&msg[..msg.len() - bare.len()]);
    let mut parts = bare.split(',');
    let first = parts.next();
    if first.is_some_and(|p| p.starts_with("m=")) {
        return Err(ScramError::MandatoryExtension);
    }
    let username = unescape_saslname(attr(first, 'n')?).ok_or(ScramError::Malformed("bad username"))?;
    let nonce = attr(parts.next(), 'r')?;
    if username.is_empty() || !is_printable(nonce) {
        return Err(ScramError::Malformed("bad username or nonce"));
    }
    check_extensions(parts)?;
    Ok(ClientFirst { flag, authzid, username, nonce: nonce.into(), gs2_header, bare: bare.into() })
}

/// Parses a server-first-message.
pub fn parse_server_first(msg: &[u8]) -> Result<ServerFirst, ScramError> {
    let msg = utf8(msg)?;
    let mut parts = msg.split(',');
    let first = parts.next();
    if first.is_some_and(|p| p.starts_with("m=")) {
        return Err(ScramError::MandatoryExtension);
    }
    let nonce = attr(first, 'r')?;
    if !is_printable(nonce) {
        return Err(ScramError::Malformed("bad nonce"));
    }
    let salt = base64(attr(parts.next(), 's')?)?;
    let count = attr(parts.next(), 'i')?;
    // RFC 5802 §7: posit-number, no sign, no leading zero.
    if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) || count.starts_with('0') {
        return Err(ScramError::Malformed("bad iteration count"));
    }
    let iterations = count.parse::<u32>().unwrap_or(u32::MAX);
    let ssdp = parts.clone().find_map(|ext| ext.strip_prefix("h=")).map(String::from);
    check_extensions(parts)?;
    Ok(ServerFirst { nonce: nonce.into(), salt, iterations, ssdp })
}

/// Parses a client-final-message.
pub fn parse_client_final(msg: &[u8]) -> Result<ClientFinal, ScramError> {
    let msg = utf8(msg)?;
    let (without_proof, proof) = msg.rsplit_once(",p=").ok_or(ScramError::Malformed("missing proof"))?;
    let mut parts = without_proof.split(',');
    let channel_binding = base64(attr(parts.next(), 'c')?)?;
    let nonce = attr(parts.next(), 'r')?;
    // RFC 5802 §7: the nonce is printable, the proof is base64 of a
    // non-empty value (found by fuzzing: both were taken as they came).
    if !is_printable(nonce) {
        return Err(ScramError::Malformed("nonce is not printable"));
    }
    let proof = base64(proof)?;
    if proof.is_empty() {
        return Err(ScramError::Malformed("empty proof"));
    }
    Ok(ClientFinal { channel_binding, nonce: nonce.into(), proof, without_proof: without_proof.into() })
}

/// Parses a server-final-message.
pub fn parse_server_final(msg: &[u8]) -> Result<ServerFinal, ScramError> {
    let msg = utf8(msg)?;
    let first = msg.split(',').next().unwrap_or_default();
    if let Some(e) = first.strip_prefix("e=") {
        return Ok(ServerFinal::Error(e.into()));
    }
    Ok(ServerFinal::Verifier(base64(attr(Some(first), 'v')?)?))
}

/// The XEP-0474 downgrade-protection hash of what a server offered: its
/// SASL mechanisms, and (if it used XEP-0440) its channel-binding types.
pub fn ssdp_hash(hash: ScramHash, mechanisms: &[String], cb_types: Option<&[String]>) -> String {
    let join = |items: &[String]| {
        let mut sorted: Vec<&str> = items.iter().map(String::as_str).collect();
        sorted.sort_unstable(); // "i;octet" collation: byte order
        sorted.join("\u{1E}")
    };
    let mut s = join(mechanisms);
    if let Some(types) = cb_types {
        s.push('\u{1F}');
        s.push_str(&join(types));
    }
    B64.encode(hash.hash(s.as_bytes()))
}

/// Compares in time independent of where the inputs differ (only the
/// lengths may show), with `subtle`'s barriers so the optimiser cannot
/// turn it back into an early-exit comparison.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

/// Where a password comes from for the client.
#[derive(Clone)]
pub(crate) struct ClientSecret {
    pub(crate) password: Option<String>,
    pub(crate) keys: Vec<ScramKeys>,
}

/// The client's half of the channel binding: the flag, and the data when
/// the flag is `p=`.
#[derive(Clone, Debug)]
pub(crate) struct ClientBinding {
    pub(crate) flag: Gs2Flag,
    pub(crate) data: Vec<u8>,
}

impl ClientBinding {
    pub(crate) fn none() -> ClientBinding {
        ClientBinding { flag: Gs2Flag::NotSupported, data: Vec::new() }
    }
    pub(crate) fn supported_not_used() -> ClientBinding {
        ClientBinding { flag: Gs2Flag::SupportedNotUsed, data: Vec::new() }
    }
    pub(crate) fn used(kind: ChannelBindingType, data: &[u8]) -> ClientBinding {
        ClientBinding { flag: Gs2Flag::Used(kind.as_str().into()), data: data.to_vec() }
    }
}

/// Limits and checks the client applies to the server's messages.
#[derive(Clone, Debug)]
pub(crate) struct ClientChecks {
    /// Smallest accepted iteration count.
    pub(crate) min_iterations: u32,
    /// Largest accepted iteration count.
    pub(crate) max_iterations: u32,
    /// The XEP-0474 hash of what we were offered.
    pub(crate) expected_ssdp: String,
    /// Fail unless the server proves the offer with XEP-0474.
    pub(crate) require_ssdp: bool,
}

#[derive(Clone, Debug)]
enum ClientState {
    /// Sent client-first, awaiting server-first.
    First,
    /// Sent client-final, awaiting server-final.
    Final { server_signature: Vec<u8>, keys: ScramKeys },
    /// Verified the server.
    Done { server_signature: Vec<u8>, keys: ScramKeys },
    /// Failed.
    Failed,
}

/// The client side of one SCRAM exchange.
#[derive(Clone)]
pub(crate) struct ScramClient {
    hash: ScramHash,
    gs2_header: String,
    binding_data: Vec<u8>,
    client_first_bare: String,
    nonce: String,
    secret: ClientSecret,
    checks: ClientChecks,
    state: ClientState,
}

impl ScramClient {
    /// Starts an exchange; returns the client and its client-first-message.
    pub(crate) fn start(
        hash: ScramHash,
        username: &str,
        binding: ClientBinding,
        nonce: String,
        secret: ClientSecret,
        checks: ClientChecks,
    ) -> (ScramClient, Vec<u8>) {
        let mut gs2_header = String::new();
        binding.flag.write(&mut gs2_header);
        gs2_header.push_str(",,");
        let client_first_bare = format!("n={},r={}", escape_saslname(username), nonce);
        let first = format!("{gs2_header}{client_first_bare}").into_bytes();
        let client = ScramClient {
            hash,
            gs2_header,
            binding_data: binding.data,
            client_first_bare,
            nonce,
            secret,
            checks,
            state: ClientState::First,
        };
        (client, first)
    }

    /// Takes the server-first-message; returns the client-final-message.
    pub(crate) fn server_first(&mut self, msg: &[u8]) -> Result<Vec<u8>, ScramError> {
        let result = self.handle_server_first(msg);
        if result.is_err() {
            self.state = ClientState::Failed;
        }
        result
    }

    fn handle_server_first(&mut self, msg: &[u8]) -> Result<Vec<u8>, ScramError> {
        if !matches!(self.state, ClientState::First) {
            return Err(ScramError::UnexpectedMessage);
        }
        let first = parse_server_first(msg)?;
        if first.nonce.len() <= self.nonce.len() || !first.nonce.starts_with(&self.nonce) {
            return Err(ScramError::NonceMismatch);
        }
        let (min, max) = (self.checks.min_iterations, self.checks.max_iterations);
        if first.iterations < min || first.iterations > max {
            return Err(ScramError::IterationCount { count: first.iterations, min, max });
        }
        match &first.ssdp {
            Some(h) if !constant_time_eq(h.as_bytes(), self.checks.expected_ssdp.as_bytes()) => {
                return Err(ScramError::Downgrade);
            }
            None if self.checks.require_ssdp => return Err(ScramError::DowngradeUnprotected),
            _ => {}
        }
        let keys = self.keys_for(&first.salt, first.iterations)?;

        let mut cbind = self.gs2_header.clone().into_bytes();
        cbind.extend_from_slice(&self.binding_data);
        let without_proof = format!("c={},r={}", B64.encode(&cbind), first.nonce);
        // The server-first-message enters the AuthMessage exactly as sent.
        let server_first = utf8(msg)?;
        let auth_message = format!("{},{},{}", self.client_first_bare, server_first, without_proof);
        let stored_key = keys.stored_key();
        let client_signature = self.hash.hmac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = keys.client_key.iter().zip(&client_signature).map(|(k, s)| k ^ s).collect();
        let server_signature = self.hash.hmac(&keys.server_key, auth_message.as_bytes());
        self.state = ClientState::Final { server_signature, keys };
        Ok(format!("{without_proof},p={}", B64.encode(proof)).into_bytes())
    }

    /// The keys for this salt and count: cached ones if they match, else
    /// derived from the password.
    fn keys_for(&self, salt: &[u8], iterations: u32) -> Result<ScramKeys, ScramError> {
        let cached =
            self.secret.keys.iter().find(|k| k.hash == self.hash && k.salt == salt && k.iterations == iterations);
        if let Some(keys) = cached {
            return Ok(keys.clone());
        }
        let password = self.secret.password.as_deref().ok_or(ScramError::NoMatchingKeys)?;
        ScramKeys::derive(self.hash, password, salt, iterations).map_err(ScramError::Saslprep)
    }

    /// Takes the server-final-message; returns the keys once the server is
    /// verified.
    pub(crate) fn server_final(&mut self, msg: &[u8]) -> Result<ScramKeys, ScramError> {
        let state = core::mem::replace(&mut self.state, ClientState::Failed);
        let ClientState::Final { server_signature, keys } = state else {
            return Err(ScramError::UnexpectedMessage);
        };
        match parse_server_final(msg)? {
            ServerFinal::Error(e) => Err(ScramError::ServerError(e)),
            ServerFinal::Verifier(v) if constant_time_eq(&v, &server_signature) => {
                self.state = ClientState::Done { server_signature, keys: keys.clone() };
                Ok(keys)
            }
            ServerFinal::Verifier(_) => Err(ScramError::ServerSignature),
        }
    }

    /// The keys, if the server has been verified.
    pub(crate) fn verified_keys(&self) -> Option<&ScramKeys> {
        match &self.state {
            ClientState::Done { keys, .. } => Some(keys),
            _ => None,
        }
    }

    /// True until the server-first-message has been handled.
    pub(crate) fn awaiting_server_first(&self) -> bool {
        matches!(self.state, ClientState::First)
    }

    /// A server-final-message repeated after verification (in `<success/>`
    /// after a challenge carried it): it must verify the same way.
    pub(crate) fn server_final_again(&self, msg: &[u8]) -> Result<(), ScramError> {
        let ClientState::Done { server_signature, .. } = &self.state else {
            return Err(ScramError::UnexpectedMessage);
        };
        match parse_server_final(msg)? {
            ServerFinal::Verifier(v) if constant_time_eq(&v, server_signature) => Ok(()),
            ServerFinal::Verifier(_) => Err(ScramError::ServerSignature),
            ServerFinal::Error(e) => Err(ScramError::ServerError(e)),
        }
    }
}

#[cfg(test)]
mod tests;
