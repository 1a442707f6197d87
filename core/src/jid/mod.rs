//! XMPP addresses (RFC 7622): `[ localpart "@" ] domainpart [ "/" resourcepart ]`.
//!
//! Parsing prepares each part for comparison (localpart with PRECIS
//! UsernameCaseMapped, domainpart with IDNA and lower case, resourcepart
//! with PRECIS OpaqueString), so equality, hashing and ordering work on
//! the canonical form: `Juliet@EXAMPLE.com/Balcony` equals
//! `juliet@example.com/Balcony`.
//!
//! [`Jid`] is any address, [`BareJid`] one without a resource and
//! [`FullJid`] one with; the types make "must have a resource" checkable
//! at compile time.

use alloc::borrow::Cow;
use alloc::string::String;
use core::fmt;
use core::str::FromStr;

mod domain;
use crate::precis;
use crate::shared_str::Str;

pub use crate::precis::{PRECIS_UNICODE_VERSION, PrecisError};
pub use domain::DomainError;

/// The most octets any part may have (RFC 7622 §3.2–3.4).
pub const MAX_PART_BYTES: usize = 1023;

/// Input longer than this per part is refused before any preparation,
/// bounding the work a peer can cause (mappings can shrink a part, at most
/// by a factor of four in UTF-8).
const MAX_RAW_PART_BYTES: usize = 4 * MAX_PART_BYTES;

/// Characters RFC 7622 §3.3.1 forbids in a localpart beyond what
/// UsernameCaseMapped forbids.
const LOCALPART_FORBIDDEN: &[char] = &['"', '&', '\'', '/', ':', '<', '>', '@'];

/// Why a string is not a JID.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JidError {
    /// No domainpart (RFC 7622 §3.2).
    #[error("the domainpart is empty")]
    DomainEmpty,
    /// An `@` with nothing before it (§3.3).
    #[error("the localpart is empty")]
    LocalpartEmpty,
    /// A `/` with nothing after it (§3.4).
    #[error("the resourcepart is empty")]
    ResourceEmpty,
    /// A part longer than 1023 octets.
    #[error("the {0} is longer than 1023 octets")]
    TooLong(Part),
    /// The localpart fails UsernameCaseMapped (§3.3.2).
    #[error("invalid localpart: {0}")]
    Localpart(PrecisError),
    /// The localpart holds one of `"&'/:<>@` (§3.3.1).
    #[error("the localpart may not contain {0:?}")]
    LocalpartForbidden(char),
    /// The domainpart is not a valid domain name or IP literal (§3.2).
    #[error("invalid domainpart: {0}")]
    Domain(DomainError),
    /// The resourcepart fails OpaqueString (§3.4.2).
    #[error("invalid resourcepart: {0}")]
    Resource(PrecisError),
    /// A full JID was required, but there is no resource.
    #[error("a full JID needs a resourcepart")]
    ResourceMissing,
    /// A bare JID was required, but there is a resource.
    #[error("a bare JID has no resourcepart")]
    ResourcePresent,
}

/// Which part of a JID an error concerns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// Before the `@`.
    Localpart,
    /// The host.
    Domainpart,
    /// After the `/`.
    Resourcepart,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Localpart => "localpart",
            Part::Domainpart => "domainpart",
            Part::Resourcepart => "resourcepart",
        })
    }
}

/// An XMPP address, bare or full, in canonical form.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Jid {
    /// `local@domain/resource` after preparation: owned, or a span of text
    /// already held (the attribute it was read from), so that reading a
    /// prepared JID and cloning one copy nothing.
    text: Str,
    /// Length of the localpart (0: none; a localpart is never empty).
    local_len: u16,
    /// End of the domainpart in `text`.
    domain_end: u16,
}

/// Splits a JID's text into its parts (RFC 7622 §3.1: the resourcepart is
/// everything after the first `/`, the localpart everything before the
/// first `@` that precedes it).
fn split(s: &str) -> (Option<&str>, &str, Option<&str>) {
    // One pass over the bytes (both are ASCII, so every cut is at a
    // character boundary): the first '/' ends the bare JID, the first '@'
    // before it ends the localpart. Addresses are short; a loop beats two
    // `memchr` calls here.
    let bytes = s.as_bytes();
    let (mut at, mut slash) = (None, None);
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'/' {
            slash = Some(i);
            break;
        }
        if b == b'@' && at.is_none() {
            at = Some(i);
        }
    }
    let (rest, resource) = match slash {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    match at {
        Some(i) => (Some(&rest[..i]), &rest[i + 1..], resource),
        None => (None, rest, resource),
    }
}

/// The checks every part gets around its own preparation: not empty, not
/// absurdly long before preparing, at most 1023 octets after.
fn prepare_part<'a>(
    raw: &'a str,
    part: Part,
    empty: JidError,
    prepare: impl FnOnce(&'a str) -> Result<Cow<'a, str>, JidError>,
) -> Result<Cow<'a, str>, JidError> {
    if raw.is_empty() {
        return Err(empty);
    }
    if raw.len() > MAX_RAW_PART_BYTES {
        return Err(JidError::TooLong(part));
    }
    let prepared = prepare(raw)?;
    if prepared.len() > MAX_PART_BYTES {
        return Err(JidError::TooLong(part));
    }
    Ok(prepared)
}

fn prepare_local(local: &str) -> Result<Cow<'_, str>, JidError> {
    prepare_part(local, Part::Localpart, JidError::LocalpartEmpty, |local| {
        let local = precis::username_case_mapped(local).map_err(JidError::Localpart)?;
        match local.chars().find(|c| LOCALPART_FORBIDDEN.contains(c)) {
            Some(c) => Err(JidError::LocalpartForbidden(c)),
            None => Ok(local),
        }
    })
}

fn prepare_domain(domain: &str) -> Result<Cow<'_, str>, JidError> {
    prepare_part(domain, Part::Domainpart, JidError::DomainEmpty, |d| domain::prepare(d).map_err(JidError::Domain))
}

fn prepare_resource(resource: &str) -> Result<Cow<'_, str>, JidError> {
    prepare_part(resource, Part::Resourcepart, JidError::ResourceEmpty, |r| {
        precis::opaque_string(r).map_err(JidError::Resource)
    })
}

impl Jid {
    /// Parses and prepares a JID (RFC 7622 §3.1: the resourcepart is
    /// everything after the first `/`, the localpart everything before the
    /// first `@` that precedes it).
    pub fn new(s: &str) -> Result<Jid, JidError> {
        let (local, domain, resource) = split(s);
        Jid::from_parts(local, domain, resource)
    }

    /// [`Jid::new`] on a value held as a [`Str`]: when preparation changes
    /// nothing (the usual case) the JID is that same text, shared, not a
    /// copy.
    pub(crate) fn from_value(value: Str) -> Result<Jid, JidError> {
        let (local, domain, resource) = split(&value);
        let prepared_local = local.map(prepare_local).transpose()?;
        let prepared_domain = prepare_domain(domain)?;
        let prepared_resource = resource.map(prepare_resource).transpose()?;
        let same = |raw: &str, prepared: &Cow<'_, str>| matches!(prepared, Cow::Borrowed(p) if p.as_ptr() == raw.as_ptr() && p.len() == raw.len());
        let unchanged = local.zip(prepared_local.as_ref()).is_none_or(|(raw, p)| same(raw, p))
            && same(domain, &prepared_domain)
            && resource.zip(prepared_resource.as_ref()).is_none_or(|(raw, p)| same(raw, p));
        if unchanged && !matches!(value, Str::Owned(_)) {
            let local_len = local.map_or(0, str::len);
            let domain_end = local.map_or(0, |l| l.len() + 1) + domain.len();
            // Each part is at most 1023 octets, so offsets fit in u16.
            return Ok(Jid { text: value, local_len: local_len as u16, domain_end: domain_end as u16 });
        }
        Ok(Jid::assemble(prepared_local.as_deref(), &prepared_domain, prepared_resource.as_deref()))
    }

    /// This JID with its text in one shared allocation, so that every
    /// clone (a session's JID stamped on each stanza) is a reference count.
    pub(crate) fn into_shared(self) -> Jid {
        Jid { text: self.text.into_shared(), ..self }
    }

    /// The text as held, to store it elsewhere without copying.
    pub(crate) fn shared_text(&self) -> &Str {
        &self.text
    }

    /// Builds a JID from its parts, preparing each.
    pub fn from_parts(local: Option<&str>, domain: &str, resource: Option<&str>) -> Result<Jid, JidError> {
        let local = local.map(prepare_local).transpose()?;
        let domain = prepare_domain(domain)?;
        let resource = resource.map(prepare_resource).transpose()?;
        Ok(Jid::assemble(local.as_deref(), &domain, resource.as_deref()))
    }

    /// Joins prepared parts.
    fn assemble(local: Option<&str>, domain: &str, resource: Option<&str>) -> Jid {
        let mut text = String::with_capacity(
            local.map_or(0, |l| l.len() + 1) + domain.len() + resource.map_or(0, |r| r.len() + 1),
        );
        if let Some(local) = local {
            text.push_str(local);
            text.push('@');
        }
        text.push_str(domain);
        let domain_end = text.len();
        if let Some(resource) = resource {
            text.push('/');
            text.push_str(resource);
        }
        // Each part is at most 1023 octets, so offsets fit in u16.
        Jid { text: Str::Owned(text), local_len: local.map_or(0, str::len) as u16, domain_end: domain_end as u16 }
    }

    /// The localpart, if any.
    pub fn local(&self) -> Option<&str> {
        (self.local_len > 0).then(|| &self.text[..usize::from(self.local_len)])
    }

    /// The domainpart.
    pub fn domain(&self) -> &str {
        let start = if self.local_len > 0 { usize::from(self.local_len) + 1 } else { 0 };
        &self.text[start..usize::from(self.domain_end)]
    }

    /// The resourcepart, if any.
    pub fn resource(&self) -> Option<&str> {
        self.text.get(usize::from(self.domain_end) + 1..)
    }

    /// True if there is no resourcepart.
    pub fn is_bare(&self) -> bool {
        self.resource().is_none()
    }

    /// The canonical string form.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// This address without its resource.
    pub fn to_bare(&self) -> BareJid {
        BareJid(Jid { text: self.text.slice(0..usize::from(self.domain_end)), ..*self })
    }

    /// This address as a full JID, if it has a resource.
    pub fn try_into_full(self) -> Result<FullJid, BareJid> {
        if self.is_bare() { Err(BareJid(self)) } else { Ok(FullJid(self)) }
    }

    /// This address as a bare JID, if it has no resource.
    pub fn try_into_bare(self) -> Result<BareJid, FullJid> {
        if self.is_bare() { Ok(BareJid(self)) } else { Err(FullJid(self)) }
    }
}

impl FromStr for Jid {
    type Err = JidError;
    fn from_str(s: &str) -> Result<Jid, JidError> {
        Jid::new(s)
    }
}

impl fmt::Display for Jid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Jid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Jid({:?})", self.text)
    }
}

impl AsRef<str> for Jid {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

/// A JID without a resourcepart: an account (`juliet@example.com`) or a
/// service (`example.com`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BareJid(Jid);

/// A JID with a resourcepart: one session or occupant
/// (`juliet@example.com/balcony`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FullJid(Jid);

impl BareJid {
    /// Parses a bare JID; an address with a resource is refused.
    pub fn new(s: &str) -> Result<BareJid, JidError> {
        Jid::new(s)?.try_into_bare().map_err(|_| JidError::ResourcePresent)
    }

    /// Builds a bare JID from its parts.
    pub fn from_parts(local: Option<&str>, domain: &str) -> Result<BareJid, JidError> {
        Ok(BareJid(Jid::from_parts(local, domain, None)?))
    }

    /// This account's session with the given resource.
    pub fn with_resource(&self, resource: &str) -> Result<FullJid, JidError> {
        let resource = prepare_resource(resource)?;
        Ok(FullJid(Jid::assemble(self.local(), self.domain(), Some(&resource))))
    }

    /// The localpart, if any.
    pub fn local(&self) -> Option<&str> {
        self.0.local()
    }
    /// The domainpart.
    pub fn domain(&self) -> &str {
        self.0.domain()
    }
    /// The canonical string form.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
    /// As a general [`Jid`].
    pub fn as_jid(&self) -> &Jid {
        &self.0
    }
}

impl FullJid {
    /// [`Jid::into_shared`], keeping the type.
    pub(crate) fn into_shared(self) -> FullJid {
        FullJid(self.0.into_shared())
    }

    /// Parses a full JID; an address without a resource is refused.
    pub fn new(s: &str) -> Result<FullJid, JidError> {
        Jid::new(s)?.try_into_full().map_err(|_| JidError::ResourceMissing)
    }

    /// Builds a full JID from its parts.
    pub fn from_parts(local: Option<&str>, domain: &str, resource: &str) -> Result<FullJid, JidError> {
        Ok(FullJid(Jid::from_parts(local, domain, Some(resource))?))
    }

    /// The localpart, if any.
    pub fn local(&self) -> Option<&str> {
        self.0.local()
    }
    /// The domainpart.
    pub fn domain(&self) -> &str {
        self.0.domain()
    }
    /// The resourcepart.
    pub fn resource(&self) -> &str {
        self.0.resource().unwrap_or_default()
    }
    /// The account this session belongs to.
    pub fn to_bare(&self) -> BareJid {
        self.0.to_bare()
    }
    /// The canonical string form.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
    /// As a general [`Jid`].
    pub fn as_jid(&self) -> &Jid {
        &self.0
    }
}

macro_rules! jid_newtype_impls {
    ($t:ident, $name:literal) => {
        impl FromStr for $t {
            type Err = JidError;
            fn from_str(s: &str) -> Result<$t, JidError> {
                $t::new(s)
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($name, "({:?})"), self.as_str())
            }
        }
        impl From<$t> for Jid {
            fn from(j: $t) -> Jid {
                j.0
            }
        }
        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }
        impl PartialEq<Jid> for $t {
            fn eq(&self, other: &Jid) -> bool {
                self.0 == *other
            }
        }
        impl PartialEq<$t> for Jid {
            fn eq(&self, other: &$t) -> bool {
                *self == other.0
            }
        }
    };
}
jid_newtype_impls!(BareJid, "BareJid");
jid_newtype_impls!(FullJid, "FullJid");

impl TryFrom<Jid> for FullJid {
    type Error = JidError;
    fn try_from(j: Jid) -> Result<FullJid, JidError> {
        j.try_into_full().map_err(|_| JidError::ResourceMissing)
    }
}

impl TryFrom<Jid> for BareJid {
    type Error = JidError;
    fn try_from(j: Jid) -> Result<BareJid, JidError> {
        j.try_into_bare().map_err(|_| JidError::ResourcePresent)
    }
}

#[cfg(test)]
mod tests;
