//! IQ bookkeeping (RFC 6120 §8.2.3): requests we sent and await answers
//! to, requests we received and owe answers for. Both tables are bounded.

use alloc::string::String;
use alloc::vec::Vec;

use crate::jid::{BareJid, Jid};
use crate::stanza::StanzaError;
use crate::time::Timestamp;
use crate::xml::Element;

/// The response to an IQ the application sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IqResponse {
    /// The request's id.
    pub id: String,
    /// Who answered (as checked against the request's `to`).
    pub from: Option<Jid>,
    /// The result payload, or the error.
    pub result: Result<Option<Element>, StanzaError>,
}

/// Who a request we sent is for: the application, or the core itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    Application,
    /// A XEP-0199 keepalive ping.
    Ping,
}

#[derive(Clone, Debug)]
pub(crate) struct Pending {
    pub(crate) id: String,
    pub(crate) to: Option<Jid>,
    pub(crate) deadline: Timestamp,
    pub(crate) purpose: Purpose,
}

/// Requests awaiting answers.
#[derive(Debug)]
pub(crate) struct Outstanding {
    pending: Vec<Pending>,
    max: usize,
}

impl Outstanding {
    pub(crate) fn new(max: usize) -> Outstanding {
        Outstanding { pending: Vec::new(), max }
    }

    pub(crate) fn is_full(&self) -> bool {
        self.pending.len() >= self.max
    }

    pub(crate) fn insert(&mut self, pending: Pending) {
        self.pending.push(pending);
    }

    /// Takes the request this response answers, if any: same id, and a
    /// `from` that matches where the request went (HARDENING 19: absent
    /// `from` only for requests without `to` or to our own bare JID, and
    /// `from` equal to our bare JID for requests without `to`, since the
    /// server answers those for the account, RFC 6120 §8.1.2.1).
    pub(crate) fn take(&mut self, id: &str, from: Option<&Jid>, own: &BareJid) -> Option<Pending> {
        let own = own.as_jid();
        let i = self.pending.iter().position(|p| {
            p.id == id
                && match (&p.to, from) {
                    (Some(to), Some(from)) => to == from,
                    (Some(to), None) => to == own,
                    (None, None) => true,
                    (None, Some(from)) => from == own,
                }
        })?;
        Some(self.pending.swap_remove(i))
    }

    /// The earliest deadline.
    pub(crate) fn next_deadline(&self) -> Option<Timestamp> {
        self.pending.iter().map(|p| p.deadline).min()
    }

    /// Removes and returns the requests whose deadline has passed.
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

    /// True if a request with this id awaits its answer.
    pub(crate) fn contains_id(&self, id: &str) -> bool {
        self.pending.iter().any(|p| p.id == id)
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
            id: id.into(),
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
        let mut t = Outstanding::new(8);
        t.insert(pending("a", Some("romeo@example.net/orchard")));
        t.insert(pending("b", None));
        t.insert(pending("c", Some("juliet@example.com")));
        t.insert(pending("d", Some("example.com")));
        // Right id, wrong sender: a spoofed response is not accepted.
        assert!(t.take("a", Some(&jid("mallory@evil.example")), &own).is_none());
        assert!(t.take("a", None, &own).is_none());
        assert!(t.take("a", Some(&jid("romeo@example.net")), &own).is_none(), "the bare JID is not the full JID asked");
        assert!(t.take("a", Some(&jid("romeo@example.net/orchard")), &own).is_some());
        // No `to`: from absent or from our own bare JID.
        assert!(t.take("b", Some(&jid("example.com")), &own).is_none());
        assert!(t.take("b", Some(&jid("juliet@example.com")), &own).is_some());
        // To our bare JID: from absent is fine.
        assert!(t.take("c", None, &own).is_some());
        // To the server: it must say so.
        assert!(t.take("d", None, &own).is_none());
        assert!(t.take("d", Some(&jid("example.com")), &own).is_some());
        // Each is taken once.
        assert!(t.take("a", Some(&jid("romeo@example.net/orchard")), &own).is_none());
    }

    #[test]
    fn expiry_returns_only_overdue_requests_in_deadline_order() {
        let mut t = Outstanding::new(8);
        for (id, ms) in [("late", 300), ("first", 100), ("second", 200)] {
            t.insert(Pending { deadline: Timestamp::from_millis(ms), ..pending(id, None) });
        }
        assert_eq!(t.next_deadline(), Some(Timestamp::from_millis(100)));
        let ids: Vec<_> = t.expire(Timestamp::from_millis(250)).into_iter().map(|p| p.id).collect();
        assert_eq!(ids, ["first", "second"]);
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
