//! [`Str`]: the one string type for text that is usually a constant or a
//! span of text already held (an element or attribute name, an attribute
//! value, a run of character data, a JID), so that reading a stanza
//! allocates once for all of its verbatim text and cloning such a value
//! never copies it.

use alloc::string::String;
use alloc::sync::Arc;
use core::cmp::Ordering;
use core::fmt;
use core::hash::{Hash, Hasher};
use core::ops::Deref;

/// A string that is usually a constant (an element or attribute name, a
/// common attribute value) or a span of shared text (a value the reader
/// took verbatim, a JID). Compared, hashed, ordered and shown as the text
/// it holds, however it holds it.
#[derive(Clone)]
pub(crate) enum Str {
    Static(&'static str),
    Owned(String),
    /// `text[start..end]`: a span of shared text (the stanza a value was
    /// read from, a JID's one copy).
    Shared {
        text: Arc<str>,
        start: u32,
        end: u32,
    },
    /// A span of the stanza being read, relative to its first byte, while
    /// the stanza is still arriving; the reader turns every one into
    /// `Shared` before the stanza leaves it (reads as empty until then).
    Pending {
        start: u32,
        end: u32,
    },
}

impl Str {
    /// Whether the text is empty; unlike `str::is_empty` through `Deref`,
    /// also right for a `Pending` span.
    pub(crate) fn is_empty(&self) -> bool {
        match self {
            Str::Pending { start, end } => start == end,
            other => other.len() == 0,
        }
    }

    /// The text, owned (no copy if it already is).
    pub(crate) fn into_string(self) -> String {
        match self {
            Str::Owned(s) => s,
            other => String::from(&*other),
        }
    }

    /// Makes the text owned, to change it.
    pub(crate) fn make_owned(&mut self) -> &mut String {
        if !matches!(self, Str::Owned(_)) {
            *self = Str::Owned(String::from(&**self));
        }
        match self {
            Str::Owned(s) => s,
            _ => unreachable!("just made owned"),
        }
    }

    /// Turns a `Pending` span into a span of `text`, the stanza's text.
    pub(crate) fn resolve(&mut self, text: &Arc<str>) {
        if let Str::Pending { start, end } = *self {
            *self = Str::Shared { text: Arc::clone(text), start, end };
        }
    }

    /// The text shared: a constant or span as it is, owned text moved
    /// into one shared allocation, so that clones are reference counts.
    pub(crate) fn into_shared(self) -> Str {
        match self {
            Str::Owned(s) => {
                let end = s.len() as u32;
                if s.len() > u32::MAX as usize {
                    return Str::Owned(s);
                }
                Str::Shared { text: Arc::from(s), start: 0, end }
            }
            other => other,
        }
    }

    /// `self[range]` (character boundaries), without copying a constant or
    /// a span: a span of a span is a span of the same text.
    pub(crate) fn slice(&self, range: core::ops::Range<usize>) -> Str {
        let (from, to) = (range.start as u32, range.end as u32);
        match self {
            Str::Static(s) => Str::Static(s.get(range).unwrap_or_default()),
            Str::Shared { text, start, end } => Str::Shared {
                text: Arc::clone(text),
                start: start.saturating_add(from).min(*end),
                end: start.saturating_add(to).min(*end),
            },
            Str::Pending { start, end } => {
                Str::Pending { start: start.saturating_add(from).min(*end), end: start.saturating_add(to).min(*end) }
            }
            Str::Owned(s) => Str::Owned(s.get(range).unwrap_or_default().into()),
        }
    }
}

impl Deref for Str {
    type Target = str;
    fn deref(&self) -> &str {
        match self {
            Str::Static(s) => s,
            Str::Owned(s) => s,
            // The reader made the span from this text; `get` cannot fail.
            Str::Shared { text, start, end } => text.get(*start as usize..*end as usize).unwrap_or_default(),
            Str::Pending { .. } => "",
        }
    }
}

impl PartialEq for Str {
    fn eq(&self, other: &Str) -> bool {
        **self == **other
    }
}

impl Eq for Str {}

impl PartialEq<str> for Str {
    fn eq(&self, other: &str) -> bool {
        &**self == other
    }
}

impl PartialEq<&str> for Str {
    fn eq(&self, other: &&str) -> bool {
        &**self == *other
    }
}

impl Hash for Str {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (**self).hash(state);
    }
}

impl fmt::Debug for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl PartialOrd for Str {
    fn partial_cmp(&self, other: &Str) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Str {
    fn cmp(&self, other: &Str) -> Ordering {
        (**self).cmp(&**other)
    }
}
