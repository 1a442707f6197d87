//! SASL mechanisms (RFC 4422) as small state machines that know nothing of
//! XML: SCRAM-SHA-1/256/512 with and without channel binding (RFC 5802,
//! RFC 7677), PLAIN (RFC 4616), ANONYMOUS (RFC 4505), EXTERNAL (RFC 4422
//! Appendix A); mechanism and channel-binding selection for a client
//! (RFC 5802 §6, XEP-0440, XEP-0474); SASLprep (RFC 4013).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::condition::UnknownName;

mod client;
mod saslprep;
pub mod scram;
mod select;
mod server;

pub(crate) use client::{SaslClient, Step};
pub use saslprep::{SaslprepError, saslprep};
pub use scram::{ScramError, ScramHash, ScramKeys, ScramStored};
pub use select::{BindingOutcome, ChannelBindingPolicy, Refusal, SelectError};
pub(crate) use select::{Capabilities, Offer, Selection, select};
pub use server::{AuthAnswer, AuthRequest, ServerSecret};
pub(crate) use server::{ServerContext, ServerExchange, ServerStep};

/// A SASL mechanism this library implements (more will come: SASL2's
/// FAST tokens, say).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Mechanism {
    /// SCRAM-SHA-512-PLUS: SCRAM over SHA-512 with channel binding.
    ScramSha512Plus,
    /// SCRAM-SHA-256-PLUS (RFC 7677).
    ScramSha256Plus,
    /// SCRAM-SHA-1-PLUS (RFC 5802).
    ScramSha1Plus,
    /// SCRAM-SHA-512.
    ScramSha512,
    /// SCRAM-SHA-256 (RFC 7677).
    ScramSha256,
    /// SCRAM-SHA-1 (RFC 5802).
    ScramSha1,
    /// PLAIN (RFC 4616): the password in the clear, for TLS only.
    Plain,
    /// EXTERNAL (RFC 4422 Appendix A): identity from the TLS client
    /// certificate.
    External,
    /// ANONYMOUS (RFC 4505).
    Anonymous,
}

impl Mechanism {
    /// Every mechanism, strongest first: a sensible preference order.
    pub const ALL: [Mechanism; 9] = [
        Mechanism::ScramSha512Plus,
        Mechanism::ScramSha256Plus,
        Mechanism::ScramSha1Plus,
        Mechanism::ScramSha512,
        Mechanism::ScramSha256,
        Mechanism::ScramSha1,
        Mechanism::Plain,
        Mechanism::External,
        Mechanism::Anonymous,
    ];

    /// The password-based mechanisms, strongest first: the default for a
    /// client with a password.
    pub const PASSWORD: [Mechanism; 7] = [
        Mechanism::ScramSha512Plus,
        Mechanism::ScramSha256Plus,
        Mechanism::ScramSha1Plus,
        Mechanism::ScramSha512,
        Mechanism::ScramSha256,
        Mechanism::ScramSha1,
        Mechanism::Plain,
    ];

    /// The IANA-registered name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Mechanism::ScramSha512Plus => "SCRAM-SHA-512-PLUS",
            Mechanism::ScramSha256Plus => "SCRAM-SHA-256-PLUS",
            Mechanism::ScramSha1Plus => "SCRAM-SHA-1-PLUS",
            Mechanism::ScramSha512 => "SCRAM-SHA-512",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::ScramSha1 => "SCRAM-SHA-1",
            Mechanism::Plain => "PLAIN",
            Mechanism::External => "EXTERNAL",
            Mechanism::Anonymous => "ANONYMOUS",
        }
    }

    /// The SCRAM hash, for SCRAM mechanisms.
    pub const fn scram_hash(self) -> Option<ScramHash> {
        match self {
            Mechanism::ScramSha512Plus | Mechanism::ScramSha512 => Some(ScramHash::Sha512),
            Mechanism::ScramSha256Plus | Mechanism::ScramSha256 => Some(ScramHash::Sha256),
            Mechanism::ScramSha1Plus | Mechanism::ScramSha1 => Some(ScramHash::Sha1),
            _ => None,
        }
    }

    /// True for the -PLUS (channel-binding) variants.
    pub const fn is_plus(self) -> bool {
        matches!(self, Mechanism::ScramSha512Plus | Mechanism::ScramSha256Plus | Mechanism::ScramSha1Plus)
    }

    /// True if the mechanism sends the password itself (PLAIN).
    pub const fn exposes_password(self) -> bool {
        matches!(self, Mechanism::Plain)
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl core::str::FromStr for Mechanism {
    type Err = UnknownName;

    /// Looks a registered name up: `"SCRAM-SHA-256".parse::<Mechanism>()`.
    fn from_str(name: &str) -> Result<Mechanism, UnknownName> {
        Mechanism::ALL.into_iter().find(|m| m.as_str() == name).ok_or_else(|| UnknownName::new("Mechanism", name))
    }
}

/// A channel-binding type (IANA registry; RFC 5929, RFC 9266).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChannelBindingType {
    /// RFC 9266 `tls-exporter`: 32 bytes exported with the label
    /// `EXPORTER-Channel-Binding`; the binding for TLS 1.3.
    TlsExporter,
    /// RFC 5929 `tls-unique`: the first Finished message (TLS 1.2 and
    /// earlier only).
    TlsUnique,
    /// RFC 5929 `tls-server-end-point`: a hash of the server certificate.
    TlsServerEndPoint,
}

impl ChannelBindingType {
    /// Strongest first (XEP-0440 §6: prefer a type stronger than
    /// tls-server-end-point).
    pub const PREFERENCE: [ChannelBindingType; 3] =
        [ChannelBindingType::TlsExporter, ChannelBindingType::TlsUnique, ChannelBindingType::TlsServerEndPoint];

    /// The registered name, as used in `p=` and XEP-0440.
    pub const fn as_str(self) -> &'static str {
        match self {
            ChannelBindingType::TlsExporter => "tls-exporter",
            ChannelBindingType::TlsUnique => "tls-unique",
            ChannelBindingType::TlsServerEndPoint => "tls-server-end-point",
        }
    }
}

impl core::str::FromStr for ChannelBindingType {
    type Err = UnknownName;

    /// Looks a registered name up (`"tls-exporter"`).
    fn from_str(name: &str) -> Result<ChannelBindingType, UnknownName> {
        ChannelBindingType::PREFERENCE
            .into_iter()
            .find(|t| t.as_str() == name)
            .ok_or_else(|| UnknownName::new("ChannelBindingType", name))
    }
}

impl fmt::Display for ChannelBindingType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The channel-binding data of an established TLS connection, one entry
/// per type the TLS stack could produce. Drivers fill it in after the
/// handshake; an empty set means "no channel binding".
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ChannelBinding {
    data: Vec<(ChannelBindingType, Vec<u8>)>,
}

impl ChannelBinding {
    /// No channel binding available.
    pub fn none() -> ChannelBinding {
        ChannelBinding::default()
    }

    /// Adds the data for one type (replacing earlier data of that type).
    pub fn with(mut self, kind: ChannelBindingType, data: impl Into<Vec<u8>>) -> ChannelBinding {
        self.data.retain(|(k, _)| *k != kind);
        self.data.push((kind, data.into()));
        self
    }

    /// The data for `kind`, if available.
    pub fn get(&self, kind: ChannelBindingType) -> Option<&[u8]> {
        self.data.iter().find(|(k, _)| *k == kind).map(|(_, d)| d.as_slice())
    }

    /// The available types, strongest first.
    pub fn types(&self) -> impl Iterator<Item = ChannelBindingType> + '_ {
        ChannelBindingType::PREFERENCE.into_iter().filter(|t| self.get(*t).is_some())
    }

    /// True if no type is available.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

impl fmt::Debug for ChannelBinding {
    /// Shows which types are present, not the data.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.types()).finish()
    }
}

/// What a client authenticates with: a password, SCRAM keys cached from
/// an earlier login, or both (none, for EXTERNAL and ANONYMOUS).
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct Credentials {
    /// The password, if known.
    pub password: Option<String>,
    /// SCRAM keys derived on an earlier login
    /// ([`Event::Authenticated`](crate::connection::Event)), used instead of
    /// running PBKDF2 again when the server's salt and iteration count are
    /// unchanged.
    pub scram_keys: Vec<ScramKeys>,
}

impl Credentials {
    /// Credentials from a password.
    pub fn password(password: impl Into<String>) -> Credentials {
        Credentials { password: Some(password.into()), scram_keys: Vec::new() }
    }

    /// Credentials from SCRAM keys alone (`Authenticated::scram_keys` of
    /// earlier logins): no password is kept, and no PBKDF2 runs while the
    /// server's salt and iteration count are unchanged.
    pub fn scram_keys(keys: Vec<ScramKeys>) -> Credentials {
        Credentials { password: None, scram_keys: keys }
    }

    /// No secret: for EXTERNAL (the TLS client certificate) and ANONYMOUS.
    pub fn none() -> Credentials {
        Credentials::default()
    }

    /// These credentials with cached SCRAM keys added, tried before the
    /// password.
    pub fn with_scram_keys(mut self, keys: Vec<ScramKeys>) -> Credentials {
        self.scram_keys.extend(keys);
        self
    }
}

impl fmt::Debug for Credentials {
    /// Never shows the secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("password", &self.password.as_ref().map(|_| "…"))
            .field("scram_keys", &self.scram_keys.len())
            .finish()
    }
}
