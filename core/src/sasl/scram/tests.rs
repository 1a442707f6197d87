use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use super::*;

fn checks() -> ClientChecks {
    ClientChecks { min_iterations: 4096, max_iterations: 1_000_000, expected_ssdp: String::new(), require_ssdp: false }
}

fn password(p: &str) -> ClientSecret {
    ClientSecret { password: Some(p.into()), keys: Vec::new() }
}

/// Runs the client through an exchange and checks every message against
/// the expected wire text.
fn replay(hash: ScramHash, user: &str, pass: &str, nonce: &str, expect: [&str; 4]) -> ScramKeys {
    let (mut client, first) =
        ScramClient::start(hash, user, ClientBinding::none(), nonce.into(), password(pass), checks());
    assert_eq!(String::from_utf8(first).unwrap(), expect[0]);
    let fin = client.server_first(expect[1].as_bytes()).unwrap();
    assert_eq!(String::from_utf8(fin).unwrap(), expect[2]);
    let keys = client.server_final(expect[3].as_bytes()).unwrap();
    assert_eq!(client.verified_keys(), Some(&keys));
    keys
}

#[test]
fn rfc5802_5_scram_sha1_example() {
    replay(
        ScramHash::Sha1,
        "user",
        "pencil",
        "fyko+d2lbbFgONRv9qkxdawL",
        [
            "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
            "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
            "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
            "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
        ],
    );
}

#[test]
fn rfc7677_3_scram_sha256_example() {
    replay(
        ScramHash::Sha256,
        "user",
        "pencil",
        "rOprNGfwEbeRWgbNEkqO",
        [
            "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
            "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
        ],
    );
}

#[test]
fn rfc6120_9_1_2_scram_sha1_values() {
    let keys = replay(
        ScramHash::Sha1,
        "juliet",
        "r0m30myr0m30",
        "oMsTAAwAAAAMAAAANP0TAAAAAABPU0AA",
        [
            "n,,n=juliet,r=oMsTAAwAAAAMAAAANP0TAAAAAABPU0AA",
            "r=oMsTAAwAAAAMAAAANP0TAAAAAABPU0AAe124695b-69a9-4de6-9c30-b51b3808c59e,s=NjhkYTM0MDgtNGY0Zi00NjdmLTkxMmUtNDlmNTNmNDNkMDMz,i=4096",
            "c=biws,r=oMsTAAwAAAAMAAAANP0TAAAAAABPU0AAe124695b-69a9-4de6-9c30-b51b3808c59e,p=UA57tM/SvpATBkH2FXs0WDXvJYw=",
            "v=pNNDFVEQxuXxCoSEiW8GEZ+1RSo=",
        ],
    );
    assert_eq!(keys.iterations, 4096);
    assert_eq!(keys.salt, b"68da3408-4f4f-467f-912e-49f53f43d033");
}

#[test]
fn cached_keys_log_in_without_the_password_and_without_pbkdf2() {
    let keys = ScramKeys::derive(ScramHash::Sha1, "pencil", &B64.decode("QSXCR+Q6sek8bf92").unwrap(), 4096).unwrap();
    let secret = ClientSecret { password: None, keys: vec![keys] };
    let (mut client, _) = ScramClient::start(
        ScramHash::Sha1,
        "user",
        ClientBinding::none(),
        "fyko+d2lbbFgONRv9qkxdawL".into(),
        secret,
        checks(),
    );
    let fin = client.server_first(b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096").unwrap();
    assert!(String::from_utf8(fin).unwrap().ends_with("p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="));
    assert!(client.server_final(b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=").is_ok());

    // Different salt, no password: refused rather than guessed.
    let keys = ScramKeys::derive(ScramHash::Sha1, "pencil", b"other salt", 4096).unwrap();
    let secret = ClientSecret { password: None, keys: vec![keys] };
    let (mut client, _) =
        ScramClient::start(ScramHash::Sha1, "user", ClientBinding::none(), "abc".into(), secret, checks());
    assert_eq!(client.server_first(b"r=abcdef,s=QSXCR+Q6sek8bf92,i=4096"), Err(ScramError::NoMatchingKeys));
}

fn start_sha1(nonce: &str) -> ScramClient {
    ScramClient::start(ScramHash::Sha1, "user", ClientBinding::none(), nonce.into(), password("pencil"), checks()).0
}

#[test]
fn hardening_13_server_nonce_must_extend_ours_and_m_is_refused() {
    let cases: [(&str, ScramError); 4] = [
        ("r=XXXXd2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=4096", ScramError::NonceMismatch),
        ("r=fyko+d2lbbFgONRv9qkxdawL,s=QSXCR+Q6sek8bf92,i=4096", ScramError::NonceMismatch),
        ("r=fyko+d2lb,s=QSXCR+Q6sek8bf92,i=4096", ScramError::NonceMismatch),
        ("m=ext,r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=4096", ScramError::MandatoryExtension),
    ];
    for (msg, expected) in cases {
        let mut client = start_sha1("fyko+d2lbbFgONRv9qkxdawL");
        assert_eq!(client.server_first(msg.as_bytes()), Err(expected), "{msg}");
        // Failed for good.
        assert_eq!(client.server_final(b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ="), Err(ScramError::UnexpectedMessage));
    }
}

#[test]
fn hardening_14_iteration_counts_are_bounded_before_pbkdf2_runs() {
    let server_first = |i: &str| format!("r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i={i}");
    let out_of_range = |count| ScramError::IterationCount { count, min: 4096, max: 1_000_000 };
    let cases: [(&str, ScramError); 7] = [
        ("4095", out_of_range(4095)),
        ("1", out_of_range(1)),
        ("1000001", out_of_range(1_000_001)),
        ("99999999999999999999", out_of_range(u32::MAX)),
        ("0", ScramError::Malformed("bad iteration count")),
        ("-4096", ScramError::Malformed("bad iteration count")),
        ("4k", ScramError::Malformed("bad iteration count")),
    ];
    for (i, expected) in cases {
        // With the cap at 1e6, reaching PBKDF2 with 2^32-1 iterations would
        // take minutes: this test finishing quickly is part of the check.
        assert_eq!(
            start_sha1("fyko+d2lbbFgONRv9qkxdawL").server_first(server_first(i).as_bytes()),
            Err(expected),
            "i={i}"
        );
    }
    assert_eq!(
        start_sha1("fyko+d2lbbFgONRv9qkxdawL").server_first(b"r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92"),
        Err(ScramError::Malformed("missing attribute"))
    );
}

#[test]
fn hardening_15_server_signature_is_verified_before_success() {
    let run = |server_final: &str| {
        let mut client = start_sha1("fyko+d2lbbFgONRv9qkxdawL");
        client.server_first(b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096").unwrap();
        let result = client.server_final(server_final.as_bytes());
        assert!(client.verified_keys().is_none() || result.is_ok());
        result.map(|_| ())
    };
    assert_eq!(run("v=rmF9pqV8S7suAoZWja4dJRkFsKQ="), Ok(()));
    assert_eq!(run("v=AAAAAAAAAAAAAAAAAAAAAAAAAAA="), Err(ScramError::ServerSignature));
    assert_eq!(run("v=rmF9pqV8S7suAoZWja4dJRkFsKQ"), Err(ScramError::Malformed("bad base64")));
    assert_eq!(run("e=invalid-proof"), Err(ScramError::ServerError("invalid-proof".into())));
    assert_eq!(run(""), Err(ScramError::Malformed("attribute out of order")));
}

#[test]
fn channel_binding_goes_into_c() {
    let binding = ClientBinding::used(ChannelBindingType::TlsExporter, b"0123456789abcdef0123456789abcdef");
    let (mut client, first) =
        ScramClient::start(ScramHash::Sha256, "user", binding, "abc".into(), password("pencil"), checks());
    assert_eq!(first, b"p=tls-exporter,,n=user,r=abc");
    let fin = client.server_first(b"r=abcdef,s=QSXCR+Q6sek8bf92,i=4096").unwrap();
    let fin = parse_client_final(&fin).unwrap();
    assert_eq!(fin.channel_binding, b"p=tls-exporter,,0123456789abcdef0123456789abcdef");

    let (_, first) = ScramClient::start(
        ScramHash::Sha1,
        "user",
        ClientBinding::supported_not_used(),
        "abc".into(),
        password("p"),
        checks(),
    );
    assert_eq!(first, b"y,,n=user,r=abc");
}

#[test]
fn xep0474_downgrade_hash_is_checked() {
    // The XEP's example: SHA-1 of the two mechanisms and two binding types.
    let mechs = ["SCRAM-SHA-1-PLUS".to_string(), "SCRAM-SHA-1".to_string()];
    let types = ["tls-server-end-point".to_string(), "tls-exporter".to_string()];
    assert_eq!(ssdp_hash(ScramHash::Sha1, &mechs, Some(&types)), "G6k/rBLDqgOhRRaCuuatSDFkJ08=");

    let with = |expected: &str, require: bool, msg: &str| {
        let checks = ClientChecks { expected_ssdp: expected.into(), require_ssdp: require, ..checks() };
        let (mut client, _) =
            ScramClient::start(ScramHash::Sha1, "u", ClientBinding::none(), "abc".into(), password("p"), checks);
        client.server_first(msg.as_bytes()).map(|_| ())
    };
    let good = "G6k/rBLDqgOhRRaCuuatSDFkJ08=";
    assert_eq!(with(good, false, "r=abcd,s=QSXCR+Q6sek8bf92,i=4096,h=G6k/rBLDqgOhRRaCuuatSDFkJ08="), Ok(()));
    assert_eq!(with(good, true, "r=abcd,s=QSXCR+Q6sek8bf92,i=4096,h=G6k/rBLDqgOhRRaCuuatSDFkJ08="), Ok(()));
    assert_eq!(with(good, false, "r=abcd,s=QSXCR+Q6sek8bf92,i=4096,h=AAAA"), Err(ScramError::Downgrade));
    assert_eq!(with(good, false, "r=abcd,s=QSXCR+Q6sek8bf92,i=4096"), Ok(()), "absent: fine unless required");
    assert_eq!(with(good, true, "r=abcd,s=QSXCR+Q6sek8bf92,i=4096"), Err(ScramError::DowngradeUnprotected));
}

#[test]
fn message_parsers_for_both_roles() {
    let first = parse_client_first(b"p=tls-exporter,a=admin=2Cx,n=us=3Der,r=nonce").unwrap();
    assert_eq!(first.flag, Gs2Flag::Used("tls-exporter".into()));
    assert_eq!(first.authzid.as_deref(), Some("admin,x"));
    assert_eq!(first.username, "us=er");
    assert_eq!(first.gs2_header, "p=tls-exporter,a=admin=2Cx,");
    assert_eq!(first.bare, "n=us=3Der,r=nonce");
    for bad in [
        &b"x,,n=u,r=n"[..],
        b"n,n=u,r=n",
        b"n,,r=n,n=u",
        b"n,,n=u",
        b"n,,n=,r=n",
        b"n,,n=a=2,r=n",
        b"n,,n=u,r=a,b",
        b"\xff",
    ] {
        assert!(parse_client_first(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
    }
    assert_eq!(parse_client_first(b"n,,m=x,n=u,r=n"), Err(ScramError::MandatoryExtension));

    let fin = parse_client_final(b"c=biws,r=abc,p=AQID").unwrap();
    assert_eq!(
        (fin.channel_binding.as_slice(), fin.nonce.as_str(), fin.proof.as_slice()),
        (&b"n,,"[..], "abc", &[1u8, 2, 3][..])
    );
    assert_eq!(fin.without_proof, "c=biws,r=abc");
    assert!(parse_client_final(b"c=biws,r=abc").is_err());
    assert!(parse_client_final(b"c=!!,r=abc,p=AQID").is_err());

    assert_eq!(parse_server_final(b"v=AQID").unwrap(), ServerFinal::Verifier(vec![1, 2, 3]));
    assert_eq!(parse_server_final(b"e=other-error").unwrap(), ServerFinal::Error("other-error".into()));
    assert_eq!(unescape_saslname("a=3Db=2C"), Some("a=b,".into()));
    assert_eq!(escape_saslname("a=b,"), "a=3Db=2C");
}

#[test]
fn server_verifies_the_rfc5802_exchange_and_proves_itself() {
    let stored =
        ScramStored::from_password(ScramHash::Sha1, "pencil", &B64.decode("QSXCR+Q6sek8bf92").unwrap(), 4096).unwrap();
    let first = parse_client_first(b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL").unwrap();
    let (server, server_first) = ScramServer::start(&first, stored.clone(), "3rfcNHYJY1ZVvWVs7j", b"", None);
    assert_eq!(server_first, b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096");
    let fin =
        server.finish(b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=").unwrap();
    assert_eq!(fin, b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=");
    // Wrong proof, wrong nonce, wrong binding.
    assert_eq!(
        server.finish(b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
        Err(ScramError::InvalidProof)
    );
    assert_eq!(server.finish(b"c=biws,r=fyko,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="), Err(ScramError::NonceMismatch));
    assert_eq!(
        server.finish(b"c=eSws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="),
        Err(ScramError::ChannelBinding)
    );
    assert_eq!(server.finish(b"c=biws,r=x,p=!!"), Err(ScramError::Malformed("bad base64")));
    // Found by fuzzing: a nonce with controls, an empty proof.
    assert_eq!(parse_client_final(b"c=biws,r=ab\0cd,p=AAAA"), Err(ScramError::Malformed("nonce is not printable")));
    assert_eq!(parse_client_final(b"c=biws,r=abcd,p="), Err(ScramError::Malformed("empty proof")));
}

#[test]
fn server_and_client_agree_with_channel_binding_and_ssdp() {
    for hash in [ScramHash::Sha1, ScramHash::Sha256, ScramHash::Sha512] {
        let stored = ScramStored::from_password(hash, "secret", b"salt", 4096).unwrap();
        let data = b"exporter-bytes-0123456789abcdef0";
        let binding = ClientBinding::used(ChannelBindingType::TlsExporter, data);
        let checks = ClientChecks { expected_ssdp: "HASH".into(), require_ssdp: true, ..checks() };
        let (mut client, first) =
            ScramClient::start(hash, "juliet", binding, "cnonce".into(), password("secret"), checks);
        let first = parse_client_first(&first).unwrap();
        let (server, server_first) = ScramServer::start(&first, stored, "snonce", data, Some("HASH"));
        let fin = client.server_first(&server_first).unwrap();
        let verdict = server.finish(&fin).unwrap();
        assert!(client.server_final(&verdict).is_ok(), "{hash:?}");
        // The same client final against a channel with other binding data.
        let (other, _) = ScramServer::start(
            &first,
            ScramStored::from_password(hash, "secret", b"salt", 4096).unwrap(),
            "snonce",
            b"other",
            Some("HASH"),
        );
        assert_eq!(other.finish(&fin), Err(ScramError::ChannelBinding));
    }
}

#[test]
fn constant_time_eq_compares_whole_values() {
    assert!(constant_time_eq(b"", b""));
    assert!(constant_time_eq(&[7; 64], &[7; 64]));
    let mut last = [7u8; 64];
    last[63] = 8;
    assert!(!constant_time_eq(&[7; 64], &last), "a difference in the last byte");
    let mut first = [7u8; 64];
    first[0] = 0;
    assert!(!constant_time_eq(&[7; 64], &first), "a difference in the first byte");
    assert!(!constant_time_eq(&[7; 64], &[7; 63]), "a prefix is not equal");
    assert!(!constant_time_eq(b"", b"x"));
}
