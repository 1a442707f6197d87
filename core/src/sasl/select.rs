//! Choosing a mechanism and the channel-binding flag (RFC 5802 §6,
//! XEP-0440 §6, XEP-0474 §7), as a pure function a reader can check
//! against those rules line by line.

use alloc::string::String;
use alloc::vec::Vec;

use super::scram::ClientBinding;
use super::{ChannelBinding, ChannelBindingType, Mechanism, ScramHash};

/// What a client does about channel binding.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ChannelBindingPolicy {
    /// Bind whenever TLS provides binding data. When the server offers a
    /// -PLUS mechanism without saying which binding types it supports
    /// (no XEP-0440), try the strongest type we have: authentication
    /// fails rather than going ahead unbound.
    Strict,
    /// As `Strict`, except when the server offers -PLUS without a XEP-0440
    /// list: then log in unbound (`n`) and report
    /// [`BindingOutcome::ServerTypesUnknown`]. Servers that only bind with
    /// `tls-unique` (which TLS 1.3 and rustls do not have) behave like this,
    /// ejabberd 23.01 and Prosody 0.12 among them.
    #[default]
    Compatible,
    /// Never bind (`n`).
    Disabled,
}

/// How channel binding went, reported with a successful authentication so
/// an application can alert or pin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindingOutcome {
    /// Bound to the TLS channel with this type.
    Bound(ChannelBindingType),
    /// Not bound: no TLS, no binding data, or the policy is `Disabled`.
    NotSupported,
    /// Not bound: the server offers no -PLUS mechanism (with SCRAM we sent
    /// `y`, so a server that did offer one detects the downgrade).
    NotOffered,
    /// Not bound: the server offers -PLUS but no type we have; it listed
    /// its types (XEP-0440) and proved the list with XEP-0474 where the
    /// rules require it.
    NoCommonType,
    /// Not bound: the server offers -PLUS without listing its types
    /// (`Compatible` policy only).
    ServerTypesUnknown,
    /// Not bound: the mechanism preferences chose a non-PLUS mechanism
    /// although a -PLUS one was offered and usable (the server listed a
    /// type we have).
    NotPreferred,
}

/// The server's offer, from its stream features.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Offer<'a> {
    /// Mechanism names offered (RFC 6120 §6.4.1).
    pub(crate) mechanisms: &'a [String],
    /// Channel-binding types advertised (XEP-0440), if any.
    pub(crate) cb_types: Option<&'a [String]>,
}

/// What the client can do.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Capabilities<'a> {
    /// Allowed mechanisms, in preference order.
    pub(crate) allowed: &'a [Mechanism],
    /// Binding data from TLS (empty without TLS).
    pub(crate) binding: &'a ChannelBinding,
    /// The stream is encrypted.
    pub(crate) secure: bool,
    /// PLAIN may be used without TLS.
    pub(crate) plain_without_tls: bool,
    /// A password is known.
    pub(crate) has_password: bool,
    /// Hashes for which cached SCRAM keys exist.
    pub(crate) cached_hashes: &'a [ScramHash],
    /// The channel-binding policy.
    pub(crate) policy: ChannelBindingPolicy,
}

/// The choice.
#[derive(Clone, Debug)]
pub(crate) struct Selection {
    pub(crate) mechanism: Mechanism,
    pub(crate) binding: ClientBinding,
    pub(crate) outcome: BindingOutcome,
    /// XEP-0474 rule 6: unbound despite a -PLUS offer whose type list
    /// lacks tls-server-end-point; only a matching SSDP hash makes that
    /// legitimate.
    pub(crate) require_ssdp: bool,
}

/// Why no mechanism could be chosen.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SelectError {
    /// Nothing offered is both allowed and usable (credentials, TLS).
    #[error("no acceptable SASL mechanism among {offered:?}{}", describe(.refused))]
    NoMechanism {
        /// What the server offered.
        offered: Vec<String>,
        /// Each allowed mechanism, in preference order, with why it was
        /// not used.
        refused: Vec<(Mechanism, Refusal)>,
    },
    /// The server lists channel-binding types but no -PLUS mechanism: the
    /// mechanisms were stripped on the way (XEP-0440 §6 rule 5).
    #[error("channel-binding types advertised without a -PLUS mechanism: downgrade suspected")]
    PlusStripped,
    /// `Strict` policy, -PLUS offered, and nothing we can bind with.
    #[error("the server offers -PLUS but no channel-binding type we support")]
    NoCommonType,
}

/// Why an allowed mechanism was not used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The server does not offer it.
    NotOffered,
    /// No password, and no cached SCRAM keys for its hash.
    NoSecret,
    /// It needs TLS (PLAIN unless allowed in plaintext, EXTERNAL, -PLUS).
    NeedsTls,
    /// -PLUS, but the TLS stack reported no channel-binding data, or the
    /// policy is `Disabled`.
    NoBindingData,
    /// -PLUS, offered without a list of channel-binding types (XEP-0440):
    /// the `Compatible` policy binds only when the server lists its types;
    /// `Strict` binds with our strongest type anyway.
    PolicyNeedsTypeList,
    /// -PLUS, but no type the server lists is one we have.
    NoCommonType,
}

impl Refusal {
    /// Says why, for error messages.
    pub const fn as_str(self) -> &'static str {
        match self {
            Refusal::NotOffered => "is not offered",
            Refusal::NoSecret => "needs a password or cached SCRAM keys",
            Refusal::NeedsTls => "needs TLS",
            Refusal::NoBindingData => "needs channel-binding data from TLS (and a policy other than Disabled)",
            Refusal::PolicyNeedsTypeList => {
                "is offered without a list of channel-binding types (XEP-0440), which the Compatible policy \
                 requires; the Strict policy binds anyway"
            }
            Refusal::NoCommonType => "shares no channel-binding type with the server",
        }
    }
}

/// Chooses a mechanism and channel-binding flag.
pub(crate) fn select(offer: Offer<'_>, caps: Capabilities<'_>) -> Result<Selection, SelectError> {
    let offered = |m: Mechanism| offer.mechanisms.iter().any(|o| o == m.as_str());
    let plus_offered = offer.mechanisms.iter().any(|o| o.ends_with("-PLUS"));
    let we_bind = caps.secure && !caps.binding.is_empty() && caps.policy != ChannelBindingPolicy::Disabled;
    let advertised = |t: ChannelBindingType| offer.cb_types.is_none_or(|types| types.iter().any(|s| s == t.as_str()));
    // The type a -PLUS mechanism would use: our strongest that the server
    // lists (or, with no list, our strongest).
    let common = caps.binding.types().find(|t| advertised(*t)).filter(|_| we_bind);

    if we_bind && offer.cb_types.is_some_and(|t| !t.is_empty()) && !plus_offered {
        return Err(SelectError::PlusStripped);
    }
    if we_bind && plus_offered && common.is_none() && caps.policy == ChannelBindingPolicy::Strict {
        return Err(SelectError::NoCommonType);
    }
    // May a -PLUS mechanism be tried? With a type list, when we share a
    // type; without one, only under `Strict` (`Compatible` goes unbound).
    let plus_usable = common.is_some() && (offer.cb_types.is_some() || caps.policy == ChannelBindingPolicy::Strict);
    let has_secret =
        |m: Mechanism| caps.has_password || m.scram_hash().is_some_and(|h| caps.cached_hashes.contains(&h));

    let mut refused = Vec::new();
    for &m in caps.allowed {
        let refusal = if !offered(m) {
            Some(Refusal::NotOffered)
        } else if m.is_plus() {
            if !has_secret(m) {
                Some(Refusal::NoSecret)
            } else if !caps.secure {
                Some(Refusal::NeedsTls)
            } else if !we_bind {
                Some(Refusal::NoBindingData)
            } else if common.is_none() {
                Some(Refusal::NoCommonType)
            } else if !plus_usable {
                Some(Refusal::PolicyNeedsTypeList)
            } else {
                None
            }
        } else {
            match m {
                _ if m.scram_hash().is_some() && !has_secret(m) => Some(Refusal::NoSecret),
                Mechanism::Plain if !caps.has_password => Some(Refusal::NoSecret),
                Mechanism::Plain if !(caps.secure || caps.plain_without_tls) => Some(Refusal::NeedsTls),
                // EXTERNAL asserts the TLS client certificate's identity.
                Mechanism::External if !caps.secure => Some(Refusal::NeedsTls),
                _ => None,
            }
        };
        if let Some(refusal) = refusal {
            refused.push((m, refusal));
            continue;
        }
        if let (true, Some(kind)) = (m.is_plus(), common) {
            let data = caps.binding.get(kind).unwrap_or_default();
            return Ok(Selection {
                mechanism: m,
                binding: ClientBinding::used(kind, data),
                outcome: BindingOutcome::Bound(kind),
                require_ssdp: false,
            });
        }
        let (binding, outcome, require_ssdp) = unbound_flag(offer, we_bind, plus_offered, common);
        if m.scram_hash().is_some() {
            return Ok(Selection { mechanism: m, binding, outcome, require_ssdp });
        }
        // No GS2 header to carry a flag; the outcome still says why
        // nothing was bound.
        return Ok(Selection { mechanism: m, binding: ClientBinding::none(), outcome, require_ssdp: false });
    }
    Err(SelectError::NoMechanism { offered: offer.mechanisms.to_vec(), refused })
}

/// Lists the refusals for an error message.
fn describe(refused: &[(Mechanism, Refusal)]) -> String {
    let mut out = String::new();
    for (i, (m, why)) in refused.iter().enumerate() {
        out.push_str(if i == 0 { ": " } else { "; " });
        out.push_str(m.as_str());
        out.push(' ');
        out.push_str(why.as_str());
    }
    out
}

/// The flag for a SCRAM mechanism used without binding (RFC 5802 §6,
/// XEP-0440 §6, XEP-0474 §7).
fn unbound_flag(
    offer: Offer<'_>,
    we_bind: bool,
    plus_offered: bool,
    common: Option<ChannelBindingType>,
) -> (ClientBinding, BindingOutcome, bool) {
    if !we_bind {
        return (ClientBinding::none(), BindingOutcome::NotSupported, false);
    }
    if !plus_offered {
        // We would bind, but see no -PLUS: say so, so that a server that
        // did offer one detects the stripping.
        return (ClientBinding::supported_not_used(), BindingOutcome::NotOffered, false);
    }
    match (common, offer.cb_types) {
        // A usable -PLUS existed; the preferences chose otherwise.
        (Some(_), Some(_)) => (ClientBinding::none(), BindingOutcome::NotPreferred, false),
        (Some(_), None) => (ClientBinding::none(), BindingOutcome::ServerTypesUnknown, false),
        (None, Some(types)) => {
            // XEP-0440 rule 6 as relaxed by XEP-0474: a list without
            // tls-server-end-point (mandatory for servers) is suspicious and
            // must be proven by the SSDP hash.
            let lists_tse = types.iter().any(|t| t == ChannelBindingType::TlsServerEndPoint.as_str());
            (ClientBinding::none(), BindingOutcome::NoCommonType, !lists_tse)
        }
        (None, None) => (ClientBinding::none(), BindingOutcome::ServerTypesUnknown, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sasl::scram::Gs2Flag;
    use alloc::string::ToString;
    use alloc::vec;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    struct Case {
        offered: Vec<String>,
        types: Option<Vec<String>>,
        binding: ChannelBinding,
        secure: bool,
        policy: ChannelBindingPolicy,
        allowed: Vec<Mechanism>,
        password: bool,
        plain_without_tls: bool,
    }

    impl Case {
        fn new(offered: &[&str]) -> Case {
            Case {
                offered: strings(offered),
                types: None,
                binding: ChannelBinding::none()
                    .with(ChannelBindingType::TlsExporter, vec![1; 32])
                    .with(ChannelBindingType::TlsServerEndPoint, vec![2; 32]),
                secure: true,
                policy: ChannelBindingPolicy::Compatible,
                allowed: Mechanism::PASSWORD.to_vec(),
                password: true,
                plain_without_tls: false,
            }
        }
        fn run(&self) -> Result<Selection, SelectError> {
            select(
                Offer { mechanisms: &self.offered, cb_types: self.types.as_deref() },
                Capabilities {
                    allowed: &self.allowed,
                    binding: &self.binding,
                    secure: self.secure,
                    plain_without_tls: self.plain_without_tls,
                    has_password: self.password,
                    cached_hashes: &[],
                    policy: self.policy,
                },
            )
        }
    }

    fn chosen(case: &Case) -> (Mechanism, Gs2Flag, BindingOutcome, bool) {
        let s = case.run().unwrap();
        (s.mechanism, s.binding.flag, s.outcome, s.require_ssdp)
    }

    #[test]
    fn strongest_plus_with_strongest_common_type() {
        let mut case = Case::new(&["SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS", "PLAIN"]);
        case.types = Some(strings(&["tls-server-end-point", "tls-exporter"]));
        let exporter = Gs2Flag::Used("tls-exporter".into());
        let b = BindingOutcome::Bound(ChannelBindingType::TlsExporter);
        assert_eq!(chosen(&case), (Mechanism::ScramSha256Plus, exporter, b, false));
        case.types = Some(strings(&["tls-server-end-point"]));
        let (m, flag, ..) = chosen(&case);
        assert_eq!((m, flag), (Mechanism::ScramSha256Plus, Gs2Flag::Used("tls-server-end-point".into())));
    }

    #[test]
    fn hardening_16_y_when_no_plus_is_offered() {
        let case = Case::new(&["SCRAM-SHA-1", "PLAIN"]);
        let y = Gs2Flag::SupportedNotUsed;
        assert_eq!(chosen(&case), (Mechanism::ScramSha1, y, BindingOutcome::NotOffered, false));
    }

    #[test]
    fn hardening_16_never_silently_downgrades_from_plus() {
        // A usable -PLUS always wins over its non-PLUS sibling.
        let mut case = Case::new(&["SCRAM-SHA-1", "SCRAM-SHA-1-PLUS"]);
        case.types = Some(strings(&["tls-server-end-point"]));
        let (m, ..) = chosen(&case);
        assert_eq!(m, Mechanism::ScramSha1Plus);
        // -PLUS with a type list lacking ours and lacking tls-server-end-point:
        // unbound only if the server proves its list (XEP-0474).
        let mut case = Case::new(&["SCRAM-SHA-1", "SCRAM-SHA-1-PLUS"]);
        case.types = Some(strings(&["tls-unique"]));
        assert_eq!(chosen(&case), (Mechanism::ScramSha1, Gs2Flag::NotSupported, BindingOutcome::NoCommonType, true));
        // A list with tls-server-end-point we cannot produce: our limit, not an attack.
        case.binding = ChannelBinding::none().with(ChannelBindingType::TlsExporter, vec![1; 32]);
        case.types = Some(strings(&["tls-unique", "tls-server-end-point"]));
        assert!(!chosen(&case).3);
        // Strict policy refuses instead.
        case.policy = ChannelBindingPolicy::Strict;
        assert_eq!(case.run().unwrap_err(), SelectError::NoCommonType);
    }

    #[test]
    fn plus_without_a_type_list_depends_on_the_policy() {
        // ejabberd 23.01 and Prosody 0.12 on TLS 1.2: -PLUS, tls-unique only, no XEP-0440.
        let mut case = Case::new(&["PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-1-PLUS"]);
        assert_eq!(
            chosen(&case),
            (Mechanism::ScramSha1, Gs2Flag::NotSupported, BindingOutcome::ServerTypesUnknown, false)
        );
        case.policy = ChannelBindingPolicy::Strict;
        let (m, flag, ..) = chosen(&case);
        assert_eq!((m, flag), (Mechanism::ScramSha1Plus, Gs2Flag::Used("tls-exporter".into())));
        case.policy = ChannelBindingPolicy::Disabled;
        assert_eq!(chosen(&case).2, BindingOutcome::NotSupported);
    }

    /// Found by a newcomer: PLAIN where no -PLUS was offered reported
    /// `NotPreferred` ("a -PLUS mechanism was usable").
    #[test]
    fn a_non_scram_mechanism_reports_why_nothing_was_bound() {
        let case = Case::new(&["PLAIN"]);
        assert_eq!(chosen(&case).2, BindingOutcome::NotOffered, "no -PLUS on offer");
        let mut case = Case::new(&["PLAIN", "SCRAM-SHA-1-PLUS"]);
        case.allowed = vec![Mechanism::Plain];
        assert_eq!(chosen(&case).2, BindingOutcome::ServerTypesUnknown, "-PLUS without a type list");
        case.types = Some(strings(&["tls-exporter"]));
        assert_eq!(chosen(&case).2, BindingOutcome::NotPreferred, "a usable -PLUS, not chosen");
    }

    /// Found by a newcomer: asking for -PLUS alone under the default policy
    /// failed with `NoMechanism` listing that very mechanism as offered;
    /// the error must name the cause.
    #[test]
    fn no_mechanism_names_why_each_allowed_one_was_refused() {
        let mut case = Case::new(&["SCRAM-SHA-1", "SCRAM-SHA-1-PLUS"]);
        case.allowed = vec![Mechanism::ScramSha1Plus];
        let error = case.run().unwrap_err();
        let SelectError::NoMechanism { refused, .. } = &error else { panic!("{error:?}") };
        assert_eq!(refused.as_slice(), [(Mechanism::ScramSha1Plus, Refusal::PolicyNeedsTypeList)]);
        let text = error.to_string();
        assert!(text.contains("SCRAM-SHA-1-PLUS") && text.contains("Strict"), "{text}");
        // Other causes: no TLS, no password, not offered.
        let mut case = Case::new(&["PLAIN", "SCRAM-SHA-256"]);
        case.secure = false;
        case.password = false;
        case.allowed = vec![Mechanism::Plain, Mechanism::ScramSha256, Mechanism::ScramSha512];
        let SelectError::NoMechanism { refused, .. } = case.run().unwrap_err() else { panic!() };
        assert_eq!(
            refused,
            [
                (Mechanism::Plain, Refusal::NoSecret),
                (Mechanism::ScramSha256, Refusal::NoSecret),
                (Mechanism::ScramSha512, Refusal::NotOffered)
            ]
        );
        case.password = true;
        case.offered = strings(&["PLAIN"]);
        let SelectError::NoMechanism { refused, .. } = case.run().unwrap_err() else { panic!() };
        assert_eq!(
            refused,
            [
                (Mechanism::Plain, Refusal::NeedsTls),
                (Mechanism::ScramSha256, Refusal::NotOffered),
                (Mechanism::ScramSha512, Refusal::NotOffered)
            ]
        );
    }

    #[test]
    fn xep0440_types_without_plus_mean_stripping() {
        let mut case = Case::new(&["SCRAM-SHA-1", "PLAIN"]);
        case.types = Some(strings(&["tls-exporter"]));
        assert_eq!(case.run().unwrap_err(), SelectError::PlusStripped);
    }

    #[test]
    fn without_tls_nothing_binds_and_plain_is_refused() {
        let mut case = Case::new(&["SCRAM-SHA-1-PLUS", "PLAIN"]);
        case.secure = false;
        assert!(matches!(case.run(), Err(SelectError::NoMechanism { .. })), "PLUS needs TLS, PLAIN needs TLS");
        case.offered = strings(&["SCRAM-SHA-1", "PLAIN"]);
        assert_eq!(chosen(&case), (Mechanism::ScramSha1, Gs2Flag::NotSupported, BindingOutcome::NotSupported, false));
        case.offered = strings(&["PLAIN"]);
        assert!(case.run().is_err(), "hardening 16: no PLAIN over plaintext");
        case.plain_without_tls = true;
        assert_eq!(case.run().unwrap().mechanism, Mechanism::Plain);
    }

    #[test]
    fn preferences_and_credentials_decide() {
        let mut case = Case::new(&["SCRAM-SHA-1", "SCRAM-SHA-512", "PLAIN"]);
        case.allowed = vec![Mechanism::ScramSha1, Mechanism::ScramSha512];
        assert_eq!(case.run().unwrap().mechanism, Mechanism::ScramSha1);
        case.password = false;
        assert!(case.run().is_err(), "no secret for SCRAM or PLAIN");
        case.offered = strings(&["ANONYMOUS", "EXTERNAL"]);
        case.allowed = vec![Mechanism::External, Mechanism::Anonymous];
        assert_eq!(case.run().unwrap().mechanism, Mechanism::External);
        case.secure = false;
        assert_eq!(case.run().unwrap().mechanism, Mechanism::Anonymous, "EXTERNAL needs TLS");
    }
}
