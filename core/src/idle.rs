//! What an idle connection gives back (HARDENING 32, issue 14): an empty
//! queue or table frees its memory, so a burst leaves no footprint; the
//! next burst allocates again. One rule for every queue that follows it.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

/// A collection that can free its memory once it is empty.
pub(crate) trait ReleaseIfEmpty {
    /// Frees the memory if nothing is held.
    fn release_if_empty(&mut self);
}

impl<T> ReleaseIfEmpty for Vec<T> {
    fn release_if_empty(&mut self) {
        if self.is_empty() && self.capacity() > 0 {
            *self = Vec::new();
        }
    }
}

impl<T> ReleaseIfEmpty for VecDeque<T> {
    fn release_if_empty(&mut self) {
        if self.is_empty() && self.capacity() > 0 {
            *self = VecDeque::new();
        }
    }
}
