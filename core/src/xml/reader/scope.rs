//! Namespace scope (XML-NAMES §5): the bindings in force at each open
//! element, the default namespace kept at hand.

use alloc::string::String;
use alloc::vec::Vec;

use super::super::namespace::Namespace;

/// Namespace bindings in scope, innermost last.
#[derive(Debug, Default)]
pub(super) struct Scope {
    pub(super) bindings: Vec<(String, Namespace)>,
    /// `bindings.len()` when each open element was entered.
    pub(super) marks: Vec<usize>,
    /// The default namespace in force: looked up for nearly every element,
    /// so kept at hand rather than searched for.
    default: Option<Namespace>,
}

impl Scope {
    pub(super) fn resolve(&self, prefix: &str) -> Option<&Namespace> {
        if prefix.is_empty() {
            // No default namespace declared: elements are in no namespace.
            return Some(self.default.as_ref().unwrap_or(&Namespace::NONE));
        }
        if prefix == "xml" {
            return Some(&Namespace::XML);
        }
        self.bindings.iter().rev().find(|(p, _)| p == prefix).map(|(_, ns)| ns)
    }

    pub(super) fn bind(&mut self, prefix: String, ns: Namespace) {
        if prefix.is_empty() {
            self.default = Some(ns.clone());
        }
        self.bindings.push((prefix, ns));
    }

    pub(super) fn enter(&mut self) {
        self.marks.push(self.bindings.len());
    }

    pub(super) fn leave(&mut self) {
        if let Some(mark) = self.marks.pop() {
            let redeclared_default = self.bindings[mark..].iter().any(|(p, _)| p.is_empty());
            self.bindings.truncate(mark);
            if redeclared_default {
                self.default = self.bindings.iter().rev().find(|(p, _)| p.is_empty()).map(|(_, ns)| ns.clone());
            }
        }
    }

    pub(super) fn clear(&mut self) {
        self.bindings.clear();
        self.marks.clear();
        self.default = None;
    }
}
