//! The defined error conditions of RFC 6120: stream errors (§4.9.3), SASL
//! failures (§6.5) and stanza errors (§8.3.3, with the error types of
//! §8.3.2).
//!
//! This is a leaf module: plain enums that every layer may name. The XML
//! reader names the stream-error condition each of its failures causes; the
//! stanza layer builds and parses the error elements that carry them.

use alloc::string::String;
use core::fmt;

/// A name that none of the values of a wire vocabulary (a condition, a
/// SASL mechanism, a channel-binding type) carries: what `parse` returns.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind}: {name:?}")]
#[non_exhaustive]
pub struct UnknownName {
    /// What was being parsed (`"Mechanism"`, …).
    pub kind: &'static str,
    /// The name given.
    pub name: String,
}

impl UnknownName {
    pub(crate) fn new(kind: &'static str, name: &str) -> UnknownName {
        UnknownName { kind, name: name.into() }
    }
}

/// Defines a fieldless enum whose variants map one-to-one onto the element
/// (or attribute value) names the RFC gives them.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $wire:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in the order the RFC lists them.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name used on the wire.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire,)+
                }
            }

        }

        impl core::str::FromStr for $name {
            type Err = UnknownName;

            /// Looks a wire name up; an error for names the RFC does not
            /// define.
            fn from_str(name: &str) -> Result<Self, UnknownName> {
                match name {
                    $($wire => Ok($name::$variant),)+
                    _ => Err(UnknownName::new(stringify!($name), name)),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum! {
    /// A defined stream-error condition (RFC 6120 §4.9.3), the child of
    /// `<stream:error/>` in the `urn:ietf:params:xml:ns:xmpp-streams`
    /// namespace.
    pub enum StreamErrorCondition {
        /// §4.9.3.1: XML that cannot be processed.
        BadFormat = "bad-format",
        /// §4.9.3.2: an unsupported namespace prefix, or a missing one.
        BadNamespacePrefix = "bad-namespace-prefix",
        /// §4.9.3.3: a new stream for this entity replaces this one.
        Conflict = "conflict",
        /// §4.9.3.4: no traffic for too long.
        ConnectionTimeout = "connection-timeout",
        /// §4.9.3.5: the `to` host is no longer served.
        HostGone = "host-gone",
        /// §4.9.3.6: the `to` host is not served.
        HostUnknown = "host-unknown",
        /// §4.9.3.7: a stanza lacks a required `to` or `from`.
        ImproperAddressing = "improper-addressing",
        /// §4.9.3.8: the server has a problem of its own.
        InternalServerError = "internal-server-error",
        /// §4.9.3.9: a `from` that does not match the authenticated entity.
        InvalidFrom = "invalid-from",
        /// §4.9.3.10: a wrong stream or unsupported content namespace.
        InvalidNamespace = "invalid-namespace",
        /// §4.9.3.11: XML that fails validation.
        InvalidXml = "invalid-xml",
        /// §4.9.3.12: data sent before authentication.
        NotAuthorized = "not-authorized",
        /// §4.9.3.13: XML that is not well-formed or namespace-well-formed.
        NotWellFormed = "not-well-formed",
        /// §4.9.3.14: a local policy was violated (for example a size limit).
        PolicyViolation = "policy-violation",
        /// §4.9.3.15: a remote connection needed for this stream failed.
        RemoteConnectionFailed = "remote-connection-failed",
        /// §4.9.3.16: the stream must be renegotiated.
        Reset = "reset",
        /// §4.9.3.17: the server lacks the resources to serve the stream.
        ResourceConstraint = "resource-constraint",
        /// §4.9.3.18: comments, PIs, DTDs or entity references (§11.1).
        RestrictedXml = "restricted-xml",
        /// §4.9.3.19: reconnect to another host (named in the element text).
        SeeOtherHost = "see-other-host",
        /// §4.9.3.20: the server is shutting down.
        SystemShutdown = "system-shutdown",
        /// §4.9.3.21: none of the other conditions applies.
        UndefinedCondition = "undefined-condition",
        /// §4.9.3.22: an encoding other than UTF-8 (§11.6).
        UnsupportedEncoding = "unsupported-encoding",
        /// §4.9.3.23: a mandatory-to-negotiate feature is not supported.
        UnsupportedFeature = "unsupported-feature",
        /// §4.9.3.24: a first-level child the receiver does not support.
        UnsupportedStanzaType = "unsupported-stanza-type",
        /// §4.9.3.25: an unsupported stream `version`.
        UnsupportedVersion = "unsupported-version",
    }
}

wire_enum! {
    /// A defined stanza-error condition (RFC 6120 §8.3.3), a child of
    /// `<error/>` in the `urn:ietf:params:xml:ns:xmpp-stanzas` namespace.
    pub enum StanzaErrorCondition {
        /// §8.3.3.1: the request is malformed.
        BadRequest = "bad-request",
        /// §8.3.3.2: a resource or session with that name already exists.
        Conflict = "conflict",
        /// §8.3.3.3: the feature is not implemented by the recipient.
        FeatureNotImplemented = "feature-not-implemented",
        /// §8.3.3.4: the requester lacks the permissions.
        Forbidden = "forbidden",
        /// §8.3.3.5: the recipient moved for good (new address in the text).
        Gone = "gone",
        /// §8.3.3.6: the server had an internal error.
        InternalServerError = "internal-server-error",
        /// §8.3.3.7: the addressed item does not exist.
        ItemNotFound = "item-not-found",
        /// §8.3.3.8: a JID in the request is malformed.
        JidMalformed = "jid-malformed",
        /// §8.3.3.9: the request violates the recipient's criteria.
        NotAcceptable = "not-acceptable",
        /// §8.3.3.10: nobody may perform the action.
        NotAllowed = "not-allowed",
        /// §8.3.3.11: the sender must authenticate first.
        NotAuthorized = "not-authorized",
        /// §8.3.3.12: a local policy was violated.
        PolicyViolation = "policy-violation",
        /// §8.3.3.13: the intended recipient is temporarily unavailable.
        RecipientUnavailable = "recipient-unavailable",
        /// §8.3.3.14: redirect to another entity (address in the text).
        Redirect = "redirect",
        /// §8.3.3.15: registration is required first.
        RegistrationRequired = "registration-required",
        /// §8.3.3.16: a remote server does not exist.
        RemoteServerNotFound = "remote-server-not-found",
        /// §8.3.3.17: a remote server could not be reached in time.
        RemoteServerTimeout = "remote-server-timeout",
        /// §8.3.3.18: the recipient lacks the resources.
        ResourceConstraint = "resource-constraint",
        /// §8.3.3.19: the service is not provided.
        ServiceUnavailable = "service-unavailable",
        /// §8.3.3.20: a subscription is required first.
        SubscriptionRequired = "subscription-required",
        /// §8.3.3.21: none of the other conditions applies.
        UndefinedCondition = "undefined-condition",
        /// §8.3.3.22: the request is out of order.
        UnexpectedRequest = "unexpected-request",
    }
}

wire_enum! {
    /// The `type` of a stanza error (RFC 6120 §8.3.2): what the sender
    /// should do about it.
    pub enum StanzaErrorType {
        /// Retry after providing credentials.
        Auth = "auth",
        /// Do not retry: the error cannot be remedied.
        Cancel = "cancel",
        /// Proceed: the condition was only a warning.
        Continue = "continue",
        /// Retry after changing the data sent.
        Modify = "modify",
        /// Retry after waiting: the error is temporary.
        Wait = "wait",
    }
}

wire_enum! {
    /// A SASL failure condition (RFC 6120 §6.5), a child of `<failure/>` in
    /// the `urn:ietf:params:xml:ns:xmpp-sasl` namespace.
    pub enum SaslCondition {
        /// §6.5.1: the initiating entity aborted the exchange.
        Aborted = "aborted",
        /// §6.5.2: the account is disabled.
        AccountDisabled = "account-disabled",
        /// §6.5.3: the credentials have expired.
        CredentialsExpired = "credentials-expired",
        /// §6.5.4: the mechanism requires an encrypted stream.
        EncryptionRequired = "encryption-required",
        /// §6.5.5: the data was not valid base64.
        IncorrectEncoding = "incorrect-encoding",
        /// §6.5.6: the authorization identity is not valid.
        InvalidAuthzid = "invalid-authzid",
        /// §6.5.7: the mechanism is not supported or not offered.
        InvalidMechanism = "invalid-mechanism",
        /// §6.5.8: the request is malformed.
        MalformedRequest = "malformed-request",
        /// §6.5.9: the mechanism is weaker than the server allows.
        MechanismTooWeak = "mechanism-too-weak",
        /// §6.5.10: the credentials are wrong (the default failure).
        NotAuthorized = "not-authorized",
        /// §6.5.11: a temporary error on the server; try again later.
        TemporaryAuthFailure = "temporary-auth-failure",
    }
}

impl StanzaErrorCondition {
    /// The error type RFC 6120 §8.3.3 shows with each condition, for code
    /// that has no better-informed choice.
    pub const fn default_type(self) -> StanzaErrorType {
        use StanzaErrorCondition as C;
        use StanzaErrorType as T;
        match self {
            C::BadRequest | C::JidMalformed | C::NotAcceptable | C::PolicyViolation => T::Modify,
            C::Redirect => T::Modify,
            C::Conflict | C::FeatureNotImplemented | C::Gone | C::InternalServerError => T::Cancel,
            C::ItemNotFound | C::NotAllowed | C::RemoteServerNotFound => T::Cancel,
            C::ServiceUnavailable | C::UndefinedCondition => T::Cancel,
            C::Forbidden | C::NotAuthorized | C::RegistrationRequired => T::Auth,
            C::SubscriptionRequired => T::Auth,
            C::RecipientUnavailable | C::RemoteServerTimeout | C::ResourceConstraint => T::Wait,
            C::UnexpectedRequest => T::Wait,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6120_4_9_3_lists_25_stream_error_conditions_that_round_trip() {
        assert_eq!(StreamErrorCondition::ALL.len(), 25);
        for c in StreamErrorCondition::ALL {
            assert_eq!(c.as_str().parse::<StreamErrorCondition>().ok(), Some(*c));
        }
        assert_eq!("no-such-condition".parse::<StreamErrorCondition>().ok(), None);
    }

    #[test]
    fn rfc6120_8_3_3_lists_22_stanza_error_conditions_that_round_trip() {
        assert_eq!(StanzaErrorCondition::ALL.len(), 22);
        for c in StanzaErrorCondition::ALL {
            assert_eq!(c.as_str().parse::<StanzaErrorCondition>().ok(), Some(*c));
        }
        for t in StanzaErrorType::ALL {
            assert_eq!(t.as_str().parse::<StanzaErrorType>().ok(), Some(*t));
        }
    }

    #[test]
    fn rfc6120_6_5_lists_11_sasl_conditions_that_round_trip() {
        assert_eq!(SaslCondition::ALL.len(), 11);
        for c in SaslCondition::ALL {
            assert_eq!(c.as_str().parse::<SaslCondition>().ok(), Some(*c));
        }
    }

    #[test]
    fn rfc6120_8_3_3_default_types_follow_the_examples() {
        assert_eq!(StanzaErrorCondition::ServiceUnavailable.default_type(), StanzaErrorType::Cancel);
        assert_eq!(StanzaErrorCondition::BadRequest.default_type(), StanzaErrorType::Modify);
        assert_eq!(StanzaErrorCondition::NotAuthorized.default_type(), StanzaErrorType::Auth);
        assert_eq!(StanzaErrorCondition::ResourceConstraint.default_type(), StanzaErrorType::Wait);
    }
}
