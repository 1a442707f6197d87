//! IQ bookkeeping (RFC 6120 §8.2.3): requests we sent and await answers
//! to, requests we received and owe answers for. Both tables are bounded.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::idle::ReleaseIfEmpty;
use crate::jid::{BareJid, Jid};
use crate::stanza::StanzaError;
use crate::time::Timestamp;
use crate::xml::Element;

/// The id of an IQ request this side sent: what its response, or its
/// timeout, is matched by.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(String);

impl RequestId {
    /// The id as written on the wire.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn new(id: impl Into<String>) -> RequestId {
        RequestId(id.into())
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for RequestId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for RequestId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// The response to an IQ request this side sent.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct IqResponse {
    /// The request's id.
    pub id: RequestId,
    /// Who answered (as checked against the request's `to`).
    pub from: Option<Jid>,
    /// The result's payload, or the error.
    pub result: Result<Option<Element>, StanzaError>,
}

/// Who a request we sent is for: the application, or the core itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    Application,
    /// A XEP-0199 ping the core sent.
    Ping,
}

#[derive(Clone, Debug)]
pub(crate) struct Pending {
    pub(crate) id: RequestId,
    pub(crate) to: Option<Jid>,
    pub(crate) deadline: Timestamp,
    pub(crate) purpose: Purpose,
}

/// Requests awaiting answers: a public view of the tracker (what is still
/// pending), the rest is the connection's.
#[derive(Debug)]
pub struct Requests {
    pending: Vec<Pending>,
    max: usize,
}

impl Requests {
    /// Frees the table's memory if it is empty.
    pub(crate) fn release_idle(&mut self) {
        self.pending.release_if_empty();
    }

    pub(crate) fn new(max: usize) -> Requests {
        Requests { pending: Vec::new(), max }
    }

    /// How many requests await answers.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// True if none does.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Whether the request with this id still awaits its answer.
    pub fn is_pending(&self, id: &RequestId) -> bool {
        self.pending.iter().any(|p| &p.id == id && p.purpose == Purpose::Application)
    }

    pub(crate) fn is_full(&self) -> bool {
        self.pending.len() >= self.max
    }

    pub(crate) fn insert(&mut self, pending: Pending) {
        self.pending.push(pending);
    }

    /// True if a request with this id awaits its answer.
    pub(crate) fn contains_id(&self, id: &str) -> bool {
        self.pending.iter().any(|p| p.id == id)
    }

    /// Takes the request this response answers, if any: same id, and a
    /// `from` that matches where the request went (HARDENING 19: absent
    /// `from` only for requests without `to` or to our own bare JID, and
    /// `from` equal to our bare JID for requests without `to`, since the
    /// server answers those for the account, RFC 6120 §8.1.2.1).
    pub(crate) fn take(&mut self, id: &str, from: Option<&Jid>, own: Option<&BareJid>) -> Option<Pending> {
        let own = own.map(BareJid::as_jid);
        let i = self.pending.iter().position(|p| {
            p.id == id
                && match (&p.to, from) {
                    (Some(to), Some(from)) => to == from,
                    (Some(to), None) => Some(to) == own,
                    (None, None) => true,
                    (None, Some(from)) => Some(from) == own,
                }
        })?;
        Some(self.pending.swap_remove(i))
    }

    /// The earliest deadline.
    pub(crate) fn next_deadline(&self) -> Option<Timestamp> {
        self.pending.iter().map(|p| p.deadline).min()
    }

    /// Removes and returns the requests whose deadline has passed, earliest
    /// first.
    pub(crate) fn expire(&mut self, now: Timestamp) -> Vec<Pending> {
        let mut expired = Vec::new();
        let mut i = 0;
        while i < self.pending.len() {
            if self.pending[i].deadline <= now {
                expired.push(self.pending.swap_remove(i));
            } else {
                i += 1;
            }
        }
        expired.sort_by_key(|a| a.deadline);
        expired
    }

    pub(crate) fn has_purpose(&self, purpose: Purpose) -> bool {
        self.pending.iter().any(|p| p.purpose == purpose)
    }
}

/// Requests received and not yet answered, by (id, sender).
#[derive(Debug)]
pub(crate) struct Owed {
    owed: Vec<(String, Option<Jid>)>,
    max: usize,
}

impl Owed {
    /// Frees the table's memory if it is empty.
    pub(crate) fn release_idle(&mut self) {
        self.owed.release_if_empty();
    }

    pub(crate) fn new(max: usize) -> Owed {
        Owed { owed: Vec::new(), max }
    }

    /// Records a request; `false` if the table is full.
    pub(crate) fn insert(&mut self, id: &str, from: Option<&Jid>) -> bool {
        if self.owed.len() >= self.max {
            return false;
        }
        self.owed.push((id.into(), from.cloned()));
        true
    }

    /// Removes a request being answered; `false` if it was not owed.
    pub(crate) fn take(&mut self, id: &str, from: Option<&Jid>) -> bool {
        match self.owed.iter().position(|(i, f)| i == id && f.as_ref() == from) {
            Some(i) => {
                self.owed.swap_remove(i);
                true
            }
            None => false,
        }
    }

    /// True if a request with this id and sender is already owed (a
    /// duplicate is answered once).
    pub(crate) fn contains(&self, id: &str, from: Option<&Jid>) -> bool {
        self.owed.iter().any(|(i, f)| i == id && f.as_ref() == from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(id: &str, to: Option<&str>) -> Pending {
        Pending {
            id: RequestId::new(id),
            to: to.map(|t| Jid::new(t).unwrap()),
            deadline: Timestamp::ZERO,
            purpose: Purpose::Application,
        }
    }

    fn jid(s: &str) -> Jid {
        Jid::new(s).unwrap()
    }

    #[test]
    fn hardening_19_responses_match_by_id_and_sender() {
        let own = BareJid::new("juliet@example.com").unwrap();
        let own = Some(&own);
        let mut t = Requests::new(8);
        t.insert(pending("a", Some("romeo@example.net/orchard")));
        t.insert(pending("b", None));
        t.insert(pending("c", Some("juliet@example.com")));
        t.insert(pending("d", Some("example.com")));
        // Right id, wrong sender: a spoofed response is not accepted.
        assert!(t.take("a", Some(&jid("mallory@evil.example")), own).is_none());
        assert!(t.take("a", None, own).is_none());
        assert!(t.take("a", Some(&jid("romeo@example.net")), own).is_none(), "the bare JID is not the full JID asked");
        assert!(t.take("a", Some(&jid("romeo@example.net/orchard")), own).is_some());
        // No `to`: from absent or from our own bare JID.
        assert!(t.take("b", Some(&jid("example.com")), own).is_none());
        assert!(t.take("b", Some(&jid("juliet@example.com")), own).is_some());
        // To our bare JID: from absent is fine.
        assert!(t.take("c", None, own).is_some());
        // To the server: it must say so.
        assert!(t.take("d", None, own).is_none());
        assert!(t.take("d", Some(&jid("example.com")), own).is_some());
        // Each is taken once.
        assert!(t.take("a", Some(&jid("romeo@example.net/orchard")), own).is_none());
    }

    #[test]
    fn expiry_returns_only_overdue_requests_in_deadline_order() {
        let mut t = Requests::new(8);
        for (id, ms) in [("late", 300), ("first", 100), ("second", 200)] {
            t.insert(Pending { deadline: Timestamp::from_millis(ms), ..pending(id, None) });
        }
        assert_eq!(t.next_deadline(), Some(Timestamp::from_millis(100)));
        let ids: Vec<_> = t.expire(Timestamp::from_millis(250)).into_iter().map(|p| p.id).collect();
        assert_eq!(ids, [RequestId::new("first"), RequestId::new("second")]);
        assert_eq!(t.next_deadline(), Some(Timestamp::from_millis(300)));
    }

    #[test]
    fn owed_requests_are_bounded_and_answered_once() {
        let mut owed = Owed::new(2);
        let romeo = jid("romeo@example.net/orchard");
        assert!(owed.insert("1", Some(&romeo)));
        assert!(owed.insert("2", None));
        assert!(!owed.insert("3", None), "full");
        assert!(!owed.take("1", None), "wrong sender");
        assert!(owed.take("1", Some(&romeo)));
        assert!(!owed.take("1", Some(&romeo)), "already answered");
    }
}
