//! Randomness, injected: the core never draws random numbers itself.
//!
//! Drivers pass an [`Entropy`] in when they create a connection. In
//! production it must be a cryptographically secure generator (SCRAM nonces
//! come from it); tests and transcripts pass a seeded one so that every run
//! replays byte for byte. The purpose-specific methods let a transcript
//! inject the exact values an RFC example uses (its nonce, its stanza ids);
//! their default implementations derive them from [`Entropy::fill`].

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
