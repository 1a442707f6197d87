//! Randomness, injected: the core never draws random numbers itself.
//!
//! Drivers pass an [`Entropy`] in when they create a connection. In
//! production it must be a cryptographically secure generator (SCRAM nonces
//! come from it); tests and transcripts pass a seeded one so that every run
//! replays byte for byte. The purpose-specific methods let a transcript
//! inject the exact values an RFC example uses (its nonce, its stanza ids);
//! their default implementations derive them from [`Entropy::fill`].

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

/// A source of unpredictable bytes, and of the values built from them.
pub trait Entropy {
    /// Fills `dest` with unpredictable bytes.
    fn fill(&mut self, dest: &mut [u8]);

    /// A SCRAM client or server nonce (RFC 5802 §5.1: printable, no `,`):
    /// 24 random bytes in base64, 192 bits.
    fn scram_nonce(&mut self) -> String {
        let mut bytes = [0u8; 24];
        self.fill(&mut bytes);
        STANDARD.encode(bytes)
    }

    /// A stanza id: 12 random bytes in URL-safe base64, 96 bits (enough
    /// that ids do not repeat and cannot be guessed).
    fn stanza_id(&mut self) -> String {
        let mut bytes = [0u8; 12];
        self.fill(&mut bytes);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// A stream id (RFC 6120 §4.7.3: unique and unpredictable).
    fn stream_id(&mut self) -> String {
        let mut bytes = [0u8; 16];
        self.fill(&mut bytes);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// A SCRAM salt for a new credential: 16 random bytes.
    fn scram_salt(&mut self) -> Vec<u8> {
        let mut bytes = alloc::vec![0u8; 16];
        self.fill(&mut bytes);
        bytes
    }
}

impl<E: Entropy + ?Sized> Entropy for alloc::boxed::Box<E> {
    fn fill(&mut self, dest: &mut [u8]) {
        (**self).fill(dest)
    }
    fn scram_nonce(&mut self) -> String {
        (**self).scram_nonce()
    }
    fn stanza_id(&mut self) -> String {
        (**self).stanza_id()
    }
    fn stream_id(&mut self) -> String {
        (**self).stream_id()
    }
    fn scram_salt(&mut self) -> Vec<u8> {
        (**self).scram_salt()
    }
}

/// A deterministic [`Entropy`] for tests and transcript replay: values
/// queued with the `push_*` methods come out first, in order; after that
/// everything derives from the seed (SplitMix64).
///
/// **Not secure**: anyone who knows the seed knows every nonce. Never use
/// it for a real connection.
#[derive(Clone, Debug, Default)]
pub struct Seeded {
    state: u64,
    nonces: VecDeque<String>,
    stanza_ids: VecDeque<String>,
    stream_ids: VecDeque<String>,
    salts: VecDeque<Vec<u8>>,
}

impl Seeded {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Seeded {
        Seeded { state: seed, ..Seeded::default() }
    }

    /// Queues a SCRAM nonce.
    pub fn push_nonce(&mut self, nonce: impl Into<String>) -> &mut Seeded {
        self.nonces.push_back(nonce.into());
        self
    }

    /// Queues a stanza id.
    pub fn push_stanza_id(&mut self, id: impl Into<String>) -> &mut Seeded {
        self.stanza_ids.push_back(id.into());
        self
    }

    /// Queues a stream id.
    pub fn push_stream_id(&mut self, id: impl Into<String>) -> &mut Seeded {
        self.stream_ids.push_back(id.into());
        self
    }

    /// Queues a SCRAM salt.
    pub fn push_salt(&mut self, salt: impl Into<Vec<u8>>) -> &mut Seeded {
        self.salts.push_back(salt.into());
        self
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl Entropy for Seeded {
    fn fill(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }

    fn scram_nonce(&mut self) -> String {
        match self.nonces.pop_front() {
            Some(n) => n,
            None => {
                let mut bytes = [0u8; 24];
                self.fill(&mut bytes);
                STANDARD.encode(bytes)
            }
        }
    }

    fn stanza_id(&mut self) -> String {
        match self.stanza_ids.pop_front() {
            Some(id) => id,
            None => {
                let mut bytes = [0u8; 12];
                self.fill(&mut bytes);
                URL_SAFE_NO_PAD.encode(bytes)
            }
        }
    }

    fn stream_id(&mut self) -> String {
        match self.stream_ids.pop_front() {
            Some(id) => id,
            None => {
                let mut bytes = [0u8; 16];
                self.fill(&mut bytes);
                URL_SAFE_NO_PAD.encode(bytes)
            }
        }
    }

    fn scram_salt(&mut self) -> Vec<u8> {
        match self.salts.pop_front() {
            Some(salt) => salt,
            None => {
                let mut bytes = alloc::vec![0u8; 16];
                self.fill(&mut bytes);
                bytes
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_is_deterministic_and_queues_come_first() {
        let mut a = Seeded::new(7);
        let mut b = Seeded::new(7);
        a.push_nonce("rfc-nonce").push_stanza_id("yhc13a95");
        assert_eq!(a.scram_nonce(), "rfc-nonce");
        assert_eq!(a.stanza_id(), "yhc13a95");
        assert_eq!(a.scram_nonce(), b.scram_nonce(), "then the seeded generator, the same for the same seed");
        assert_ne!(a.stanza_id(), a.stanza_id());
        assert_eq!(a.scram_nonce().len(), 32);
        assert_ne!(Seeded::new(8).scram_nonce(), Seeded::new(7).scram_nonce());
    }
}
