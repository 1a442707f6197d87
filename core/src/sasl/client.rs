//! The client side of one SASL exchange, over whichever mechanism was
//! selected. Bytes in and out are the decoded SASL messages; the XMPP
//! framing (`<auth/>`, `<challenge/>`, base64) is the negotiator's.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use super::scram::{ClientChecks, ClientSecret, ScramClient};
use super::{Mechanism, ScramError, ScramKeys, Selection, saslprep};

/// What the client sends next.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// A `<response/>` with this data.
    Respond(Vec<u8>),
}

/// A running client exchange.
pub(crate) enum SaslClient {
    Scram(Box<ScramClient>),
    /// PLAIN, EXTERNAL, ANONYMOUS: everything went in the initial response.
    OneShot,
}

impl SaslClient {
    /// Starts the exchange; returns the client and its initial response.
    pub(crate) fn start(
        selection: Selection,
        username: &str,
        secret: ClientSecret,
        checks: ClientChecks,
        nonce: String,
    ) -> Result<(SaslClient, Vec<u8>), ScramError> {
        let mechanism = selection.mechanism;
        if let Some(hash) = mechanism.scram_hash() {
            let (client, first) = ScramClient::start(hash, username, selection.binding, nonce, secret, checks);
            return Ok((SaslClient::Scram(Box::new(client)), first));
        }
        let initial = match mechanism {
            Mechanism::Plain => {
                // RFC 4616: authzid NUL authcid NUL passwd, authzid empty.
                let password = secret.password.as_deref().unwrap_or_default();
                let password = saslprep(password).map_err(ScramError::Saslprep)?;
                let mut msg = Vec::with_capacity(username.len() + password.len() + 2);
                msg.push(0);
                msg.extend_from_slice(username.as_bytes());
                msg.push(0);
                msg.extend_from_slice(password.as_bytes());
                msg
            }
            // EXTERNAL: the identity comes from the certificate; ANONYMOUS:
            // no trace information.
            _ => Vec::new(),
        };
        Ok((SaslClient::OneShot, initial))
    }

    /// A `<challenge/>` arrived.
    pub(crate) fn challenge(&mut self, data: &[u8]) -> Result<Step, ScramError> {
        match self {
            SaslClient::Scram(scram) => {
                if scram.awaiting_server_first() {
                    return scram.server_first(data).map(Step::Respond);
                }
                // Some servers send the server-final-message as a challenge
                // and then an empty <success/>: verify it now, answer empty.
                scram.server_final(data)?;
                Ok(Step::Respond(Vec::new()))
            }
            SaslClient::OneShot => Err(ScramError::UnexpectedMessage),
        }
    }

    /// `<success/>` arrived, with its additional data if any. Returns the
    /// verified SCRAM keys for SCRAM mechanisms.
    pub(crate) fn success(&mut self, data: Option<&[u8]>) -> Result<Option<ScramKeys>, ScramError> {
        match self {
            SaslClient::Scram(scram) => {
                if let Some(keys) = scram.verified_keys() {
                    // Verified from a challenge; a success that carries data
                    // again must carry the same signature.
                    let keys = keys.clone();
                    return match data {
                        Some(d) if !d.is_empty() => scram.server_final_again(d).map(|()| Some(keys)),
                        _ => Ok(Some(keys)),
                    };
                }
                match data {
                    Some(d) if !d.is_empty() => scram.server_final(d).map(Some),
                    // HARDENING 15: no server signature, no success.
                    _ => Err(ScramError::ServerSignature),
                }
            }
            SaslClient::OneShot => Ok(None),
        }
    }
}
