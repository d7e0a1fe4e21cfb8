//! API-key values (`latchkey::domain`): `ApiKeySecret::parse`, `Scope` and
//! `Environment` parsing, and `IpAllowlist::parse`/`from_stored`, on arbitrary input.
//!
//! Invariants: never panics; a parsed key is the input unchanged, of the exact format
//! `<prefix>_<live|test|dev>_<64 lower-case hex>`, and its public prefix and Debug never
//! show the secret part; a key formatted from any 32 bytes parses back with its
//! environment; scope lists and environments round-trip; an allowlist that parses
//! re-parses from its display form and from its stored form to itself.
#![no_main]

use std::net::IpAddr;

use arbitrary::Arbitrary;
use latchkey::domain::{ApiKeySecret, Environment, IpAllowlist, Scope};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
enum Env {
    Live,
    Test,
    Dev,
}

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    /// `lk` or arbitrary.
    prefix: Option<&'a str>,
    raw: &'a str,
    key_env: Env,
    key_bytes: [u8; 32],
    scopes: &'a str,
    env: &'a str,
    ips: Vec<String>,
    stored: &'a str,
    probe: Option<(bool, [u8; 16])>,
}

/// The exact format, spelled out independently of the parser.
fn well_formed(prefix: &str, raw: &str) -> Option<&'static str> {
    let rest = raw.strip_prefix(prefix)?.strip_prefix('_')?;
    let (env, hex) = ["live", "test", "dev"]
        .into_iter()
        .find_map(|e| rest.strip_prefix(e)?.strip_prefix('_').map(|h| (e, h)))?;
    (hex.len() == 64
        && hex
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)))
    .then_some(env)
}

fuzz_target!(|input: Input| {
    let prefix = input.prefix.unwrap_or("lk");

    // Arbitrary text.
    let parsed = ApiKeySecret::parse(prefix, input.raw);
    assert_eq!(
        parsed.is_some(),
        ApiKeySecret::is_well_formed(prefix, input.raw)
    );
    assert_eq!(
        parsed.as_ref().map(|k| k.environment().as_str()),
        well_formed(prefix, input.raw)
    );
    if let Some(k) = &parsed {
        assert_eq!(k.expose(), input.raw);
        let public = k.public_prefix();
        assert!(input.raw.starts_with(&public));
        assert_eq!(public.len(), input.raw.len() - 56);
        let secret_part = &input.raw[public.len()..];
        if !prefix.contains(secret_part) {
            assert!(!format!("{k:?}").contains(secret_part));
        }
    }

    // A key of the exact format, from any 32 bytes, parses back.
    let env = match input.key_env {
        Env::Live => Environment::Live,
        Env::Test => Environment::Test,
        Env::Dev => Environment::Dev,
    };
    let text = format!("{prefix}_{}_{}", env.as_str(), hex::encode(input.key_bytes));
    let key = ApiKeySecret::parse(prefix, &text).expect("a formatted key parses");
    assert_eq!(key.environment(), env);
    assert_eq!(key.expose(), text);
    // ... and no longer does once upper-cased, cut or lengthened.
    assert!(ApiKeySecret::parse(prefix, &text.to_ascii_uppercase()).is_none());
    assert!(ApiKeySecret::parse(prefix, &text[..text.len() - 1]).is_none());
    assert!(ApiKeySecret::parse(prefix, &format!("{text}0")).is_none());

    // Scopes: the stored form round-trips.
    let scopes = Scope::parse_list(input.scopes);
    let joined = Scope::join(&scopes);
    let again = Scope::parse_list(&joined);
    assert_eq!(Scope::join(&again), joined);
    for s in &again {
        assert!(scopes.contains(s));
    }
    for word in input.scopes.split_whitespace() {
        if let Ok(s) = word.parse::<Scope>() {
            assert_eq!(s.as_str(), word);
        }
    }

    // Environments: only the three names, each back to itself.
    if let Ok(e) = input.env.parse::<Environment>() {
        assert_eq!(e.as_str(), input.env);
    }

    // The allowlist.
    let probe: Option<IpAddr> = input.probe.map(|(v4, b)| {
        if v4 {
            IpAddr::from([b[0], b[1], b[2], b[3]])
        } else {
            IpAddr::from(b)
        }
    });
    match IpAllowlist::parse(&input.ips) {
        Ok(list) => {
            assert!(input.ips.len() <= IpAllowlist::MAX_ENTRIES);
            let shown = list.display();
            assert_eq!(shown.len(), input.ips.len());
            assert_eq!(IpAllowlist::parse(&shown).as_ref(), Ok(&list));
            assert_eq!(IpAllowlist::from_stored(&list.to_stored()).ok(), Some(list.clone()));
            let _ = list.allows(probe);
            if input.ips.is_empty() {
                assert!(list.allows(probe));
            } else {
                assert!(!list.allows(None));
            }
        }
        Err(message) => assert!(!message.is_empty()),
    }
    // Every address is an entry that lets itself in (a v4-mapped v6 entry excepted:
    // `allows` compares such a client as its v4 address).
    if let Some(ip) = probe {
        let list = IpAllowlist::parse(&[ip.to_string()]).expect("an address is an entry");
        let mapped = matches!(ip, IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some());
        assert_eq!(list.allows(Some(ip)), !mapped);
    }
    // A stored list is read whole or refused, and what is read round-trips.
    if let Ok(stored) = IpAllowlist::from_stored(input.stored) {
        let _ = stored.allows(probe);
        assert_eq!(IpAllowlist::from_stored(&stored.to_stored()).ok(), Some(stored));
    }
});
