//! API-key values: scopes, environments, the secret itself and the IP allowlist.
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use rand::RngCore;
use sea_orm::DeriveValueType;

use super::BadStoredValue;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    Read,
    Write,
    Delete,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Write, Scope::Delete];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Delete => "delete",
        }
    }

    /// Parses the stored form, "read write".
    pub fn parse_list(s: &str) -> Vec<Scope> {
        s.split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect()
    }

    /// Sorted, without duplicates, space separated.
    pub fn join(scopes: &[Scope]) -> String {
        let mut v = scopes.to_vec();
        v.sort();
        v.dedup();
        v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
    }
}

impl FromStr for Scope {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "read" => Ok(Scope::Read),
            "write" => Ok(Scope::Write),
            "delete" => Ok(Scope::Delete),
            _ => Err(()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, DeriveValueType)]
#[sea_orm(value_type = "String", from_str = "Environment::from_stored")]
pub enum Environment {
    #[default]
    Live,
    Test,
    Dev,
}

impl Environment {
    pub fn from_stored(s: &str) -> Result<Self, BadStoredValue> {
        s.parse()
            .map_err(|()| BadStoredValue::new("key environment", s))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Live => "live",
            Environment::Test => "test",
            Environment::Dev => "dev",
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Environment {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "live" => Ok(Environment::Live),
            "test" => Ok(Environment::Test),
            "dev" => Ok(Environment::Dev),
            _ => Err(()),
        }
    }
}

/// A whole key, `<prefix>_<env>_<64 lower-case hex>`. Debug never shows it.
pub struct ApiKeySecret {
    text: String,
    env: Environment,
}

impl ApiKeySecret {
    /// 256 bits from the OS CSPRNG.
    pub fn generate(prefix: &str, env: Environment) -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self {
            text: format!("{prefix}_{}_{}", env.as_str(), hex::encode(bytes)),
            env,
        }
    }

    /// Accepts only the exact format with our prefix.
    pub fn parse(prefix: &str, raw: &str) -> Option<Self> {
        let env = Self::environment_of(prefix, raw)?;
        Some(Self {
            text: raw.to_owned(),
            env,
        })
    }

    /// Whether `raw` has the exact format, without copying it.
    pub fn is_well_formed(prefix: &str, raw: &str) -> bool {
        Self::environment_of(prefix, raw).is_some()
    }

    fn environment_of(prefix: &str, raw: &str) -> Option<Environment> {
        let rest = raw.strip_prefix(prefix)?.strip_prefix('_')?;
        let (env, hex) = rest.split_once('_')?;
        let env: Environment = env.parse().ok()?;
        let ok = hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then_some(env)
    }

    pub fn expose(&self) -> &str {
        &self.text
    }

    pub fn environment(&self) -> Environment {
        self.env
    }

    /// The public part: `<prefix>_<env>_` + the first 8 hex digits.
    pub fn public_prefix(&self) -> String {
        let cut = self.text.len() - 64 + 8;
        self.text[..cut].to_owned()
    }
}

impl fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKeySecret({}…)", self.public_prefix())
    }
}

/// A key's scopes, as stored: sorted, without duplicates, space separated.
#[derive(Debug, Clone, Default, PartialEq, Eq, DeriveValueType)]
#[sea_orm(
    value_type = "String",
    from_str = "ScopeList::from_stored",
    to_str = "ScopeList::to_stored"
)]
pub struct ScopeList(Vec<Scope>);

impl ScopeList {
    pub fn new(scopes: &[Scope]) -> Self {
        let mut v = scopes.to_vec();
        v.sort();
        v.dedup();
        ScopeList(v)
    }

    /// Every word must be a scope: a row with an unknown one is refused.
    pub fn from_stored(s: &str) -> Result<Self, BadStoredValue> {
        s.split_whitespace()
            .map(|w| w.parse().map_err(|()| BadStoredValue::new("scope list", s)))
            .collect::<Result<Vec<Scope>, _>>()
            .map(|v| ScopeList::new(&v))
    }

    fn to_stored(&self) -> String {
        Scope::join(&self.0)
    }

    pub fn as_slice(&self) -> &[Scope] {
        &self.0
    }

    pub fn to_vec(&self) -> Vec<Scope> {
        self.0.clone()
    }
}

/// The allowlist: IPs and CIDRs, v4 and v6. Empty: any address. Stored as a JSON
/// array of its entries as shown.
#[derive(Debug, Clone, Default, PartialEq, Eq, DeriveValueType)]
#[sea_orm(
    value_type = "String",
    from_str = "IpAllowlist::from_stored",
    to_str = "IpAllowlist::to_stored"
)]
pub struct IpAllowlist(Vec<IpNet>);

impl IpAllowlist {
    pub const MAX_ENTRIES: usize = 100;

    pub fn parse(entries: &[String]) -> Result<Self, String> {
        if entries.len() > Self::MAX_ENTRIES {
            return Err(format!(
                "At most {} IP entries are allowed.",
                Self::MAX_ENTRIES
            ));
        }
        entries
            .iter()
            .map(|e| {
                let e = e.trim();
                Self::parse_entry(e).ok_or_else(|| format!("`{e}` is not an IP address or CIDR range (e.g. 203.0.113.7, 10.0.0.0/8, 2001:db8::/32)."))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(IpAllowlist)
    }

    fn parse_entry(e: &str) -> Option<IpNet> {
        e.parse::<IpNet>()
            .or_else(|_| e.parse::<IpAddr>().map(IpNet::from))
            .ok()
            .map(|n| n.trunc())
    }

    /// Reads the stored JSON form. A row that is not a JSON array of entries is
    /// refused as a whole (never read as "any address").
    pub fn from_stored(json: &str) -> Result<Self, BadStoredValue> {
        let bad = || BadStoredValue::new("IP allowlist", json);
        let raw: Vec<String> = serde_json::from_str(json).map_err(|_| bad())?;
        raw.iter()
            .map(|s| Self::parse_entry(s).ok_or_else(bad))
            .collect::<Result<Vec<_>, _>>()
            .map(IpAllowlist)
    }

    pub fn to_stored(&self) -> String {
        serde_json::to_string(&self.display()).unwrap_or_else(|_| "[]".into())
    }

    /// Entries as shown: a single address without its /32 or /128.
    pub fn display(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|n| {
                if n.prefix_len() == n.max_prefix_len() {
                    n.addr().to_string()
                } else {
                    n.to_string()
                }
            })
            .collect()
    }

    pub fn allows(&self, ip: Option<IpAddr>) -> bool {
        if self.0.is_empty() {
            return true;
        }
        let Some(ip) = ip else { return false };
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        self.0.iter().any(|n| n.contains(&ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_the_documented_format_and_parse_back() {
        let k = ApiKeySecret::generate("lk", Environment::Test);
        let text = k.expose().to_owned();
        assert!(text.starts_with("lk_test_"));
        assert_eq!(text.len(), "lk_test_".len() + 64);
        assert_eq!(k.public_prefix(), text[..16]);
        assert!(!format!("{k:?}").contains(&text[16..]));
        assert!(ApiKeySecret::parse("lk", &text).is_some());
        assert!(ApiKeySecret::parse("other", &text).is_none());
        assert!(ApiKeySecret::parse("lk", &text.to_uppercase()).is_none());
        assert!(ApiKeySecret::parse("lk", "lk_prod_00").is_none());
        assert!(ApiKeySecret::parse("lk", &text[..text.len() - 1]).is_none());
    }

    #[test]
    fn allowlists_take_ips_and_cidrs_of_both_families() {
        let list = IpAllowlist::parse(&[
            "127.0.0.1".into(),
            "10.0.0.0/8".into(),
            "2001:db8::/32".into(),
        ])
        .expect("parse");
        assert_eq!(
            list.display(),
            vec!["127.0.0.1", "10.0.0.0/8", "2001:db8::/32"]
        );
        assert!(list.allows(Some("10.2.3.4".parse().unwrap())));
        assert!(list.allows(Some("::ffff:127.0.0.1".parse().unwrap())));
        assert!(list.allows(Some("2001:db8::1".parse().unwrap())));
        assert!(!list.allows(Some("192.168.1.1".parse().unwrap())));
        assert!(!list.allows(None));
        assert!(IpAllowlist::default().allows(None));
        assert!(IpAllowlist::parse(&["10.0.0.0/33".into()]).is_err());
        assert!(IpAllowlist::parse(&["example.com".into()]).is_err());
        assert_eq!(IpAllowlist::from_stored(&list.to_stored()).ok(), Some(list));
    }

    #[test]
    fn a_bad_stored_value_is_refused_never_defaulted() {
        assert!(IpAllowlist::from_stored("not json").is_err());
        assert!(IpAllowlist::from_stored(r#"["10.0.0.1", "example.com"]"#).is_err());
        assert_eq!(
            IpAllowlist::from_stored("[]").ok(),
            Some(IpAllowlist::default())
        );
        assert!(ScopeList::from_stored("read admin").is_err());
        assert_eq!(
            ScopeList::from_stored("write read write")
                .map(|s| s.to_vec())
                .ok(),
            Some(vec![Scope::Read, Scope::Write])
        );
        assert_eq!(
            ScopeList::from_stored("").map(|s| s.to_vec()).ok(),
            Some(vec![])
        );
        assert!(Environment::from_stored("prod").is_err());
        assert_eq!(
            Environment::from_stored("test").ok(),
            Some(Environment::Test)
        );
        assert!(super::super::Role::from_stored("admin").is_err());
        assert_eq!(
            super::super::Role::from_stored("ADMIN").ok(),
            Some(super::super::Role::Admin)
        );
    }
}

#[cfg(test)]
mod props {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    use proptest::prelude::*;

    use super::*;

    fn env() -> impl Strategy<Value = Environment> {
        prop_oneof![
            Just(Environment::Live),
            Just(Environment::Test),
            Just(Environment::Dev)
        ]
    }

    fn scope() -> impl Strategy<Value = Scope> {
        prop::sample::select(Scope::ALL.to_vec())
    }

    /// A prefix the settings accept: 1..16 lower-case letters or digits.
    const PREFIX: &str = "[a-z0-9]{1,16}";

    fn key_text(prefix: &str, env: Environment, bytes: &[u8; 32]) -> String {
        format!("{prefix}_{}_{}", env.as_str(), hex::encode(bytes))
    }

    proptest! {
        #[test]
        fn formatted_keys_parse_back(prefix in PREFIX, env in env(), bytes in any::<[u8; 32]>()) {
            let text = key_text(&prefix, env, &bytes);
            let k = ApiKeySecret::parse(&prefix, &text);
            prop_assert!(k.is_some());
            let k = k.unwrap();
            prop_assert_eq!(k.expose(), text.as_str());
            prop_assert_eq!(k.environment(), env);
            prop_assert!(ApiKeySecret::is_well_formed(&prefix, &text));
            let public = k.public_prefix();
            prop_assert_eq!(public.as_str(), &text[..prefix.len() + env.as_str().len() + 2 + 8]);
            let debug = format!("{k:?}");
            prop_assert!(!debug.contains(&text[public.len()..]));
        }

        #[test]
        fn generated_keys_parse_back(prefix in PREFIX, env in env()) {
            let k = ApiKeySecret::generate(&prefix, env);
            let back = ApiKeySecret::parse(&prefix, k.expose());
            prop_assert_eq!(back.map(|b| b.environment()), Some(env));
        }

        #[test]
        fn parse_never_panics(prefix in ".{0,20}", raw in ".{0,100}") {
            let k = ApiKeySecret::parse(&prefix, &raw);
            prop_assert_eq!(k.is_some(), ApiKeySecret::is_well_formed(&prefix, &raw));
            if let Some(k) = k {
                prop_assert_eq!(k.expose(), raw.as_str());
                let _ = k.public_prefix();
            }
        }

        #[test]
        fn another_prefix_is_refused(
            prefix in PREFIX, other in PREFIX, env in env(), bytes in any::<[u8; 32]>(),
        ) {
            prop_assume!(prefix != other);
            prop_assert!(ApiKeySecret::parse(&other, &key_text(&prefix, env, &bytes)).is_none());
        }

        #[test]
        fn an_unknown_environment_is_refused(
            prefix in PREFIX, env in "[a-z]{0,8}", bytes in any::<[u8; 32]>(),
        ) {
            prop_assume!(!["live", "test", "dev"].contains(&env.as_str()));
            let text = format!("{prefix}_{env}_{}", hex::encode(bytes));
            prop_assert!(ApiKeySecret::parse(&prefix, &text).is_none());
        }

        #[test]
        fn a_secret_of_another_length_is_refused(
            prefix in PREFIX, env in env(), secret in "[0-9a-f]{0,130}",
        ) {
            prop_assume!(secret.len() != 64);
            let text = format!("{prefix}_{}_{secret}", env.as_str());
            prop_assert!(ApiKeySecret::parse(&prefix, &text).is_none());
        }

        #[test]
        fn a_non_hex_or_upper_case_digit_is_refused(
            prefix in PREFIX,
            env in env(),
            bytes in any::<[u8; 32]>(),
            at in 0usize..64,
            bad in "[^0-9a-f]",
        ) {
            let mut secret: Vec<String> =
                hex::encode(bytes).chars().map(String::from).collect();
            secret[at] = bad;
            let text = format!("{prefix}_{}_{}", env.as_str(), secret.concat());
            prop_assert!(ApiKeySecret::parse(&prefix, &text).is_none());
        }

        #[test]
        fn environments_round_trip(env in env(), other in ".{0,10}") {
            prop_assert_eq!(env.as_str().parse::<Environment>(), Ok(env));
            if let Ok(e) = other.parse::<Environment>() {
                prop_assert_eq!(e.as_str(), other.as_str());
            }
        }

        #[test]
        fn scope_lists_round_trip(
            scopes in prop::collection::vec(scope(), 0..8),
            sep in prop::collection::vec("[ \t\n]{1,3}", 8),
        ) {
            let mut want = scopes.clone();
            want.sort();
            want.dedup();
            let joined = Scope::join(&scopes);
            prop_assert_eq!(Scope::parse_list(&joined), want.clone());
            // Any whitespace between the words, in any order, with duplicates.
            let typed: String = scopes
                .iter()
                .zip(sep.iter())
                .map(|(s, w)| format!("{w}{}", s.as_str()))
                .collect();
            prop_assert_eq!(Scope::join(&Scope::parse_list(&typed)), joined);
        }

        #[test]
        fn scope_parsing_never_panics_and_keeps_only_known_words(raw in ".{0,60}") {
            let parsed = Scope::parse_list(&raw);
            let words: Vec<&str> = raw.split_whitespace().collect();
            prop_assert!(parsed.iter().all(|s| words.contains(&s.as_str())));
            let joined = Scope::join(&parsed);
            prop_assert_eq!(Scope::join(&Scope::parse_list(&joined)), joined);
        }

        #[test]
        fn every_address_is_accepted_and_allows_itself(
            v4 in any::<Ipv4Addr>(), v6 in any::<Ipv6Addr>(), pad in "[ \t]{0,2}",
        ) {
            let list = IpAllowlist::parse(&[format!("{pad}{v4}{pad}"), v6.to_string()]);
            prop_assert!(list.is_ok(), "{:?}", list);
            let list = list.unwrap();
            prop_assert_eq!(list.display(), vec![v4.to_string(), v6.to_string()]);
            prop_assert!(list.allows(Some(IpAddr::V4(v4))));
            // A client with a v4-mapped address is compared as its v4 address.
            if v6.to_ipv4_mapped().is_none() {
                prop_assert!(list.allows(Some(IpAddr::V6(v6))));
            }
            prop_assert_eq!(IpAllowlist::from_stored(&list.to_stored()).ok(), Some(list));
        }

        #[test]
        fn every_cidr_is_accepted_and_contains_its_addresses(
            v4 in any::<Ipv4Addr>(), p4 in 0u8..=32, v6 in any::<Ipv6Addr>(), p6 in 0u8..=128,
        ) {
            let list = IpAllowlist::parse(&[format!("{v4}/{p4}"), format!("{v6}/{p6}")]);
            prop_assert!(list.is_ok(), "{:?}", list);
            let list = list.unwrap();
            prop_assert!(list.allows(Some(IpAddr::V4(v4))));
            if v6.to_ipv4_mapped().is_none() {
                prop_assert!(list.allows(Some(IpAddr::V6(v6))));
            }
            // The display form (network address, bare when a single host) re-parses.
            prop_assert_eq!(IpAllowlist::parse(&list.display()), Ok(list.clone()));
            prop_assert_eq!(IpAllowlist::from_stored(&list.to_stored()).ok(), Some(list));
        }

        #[test]
        fn over_long_prefixes_are_refused(v4 in any::<Ipv4Addr>(), v6 in any::<Ipv6Addr>(), extra in 1u16..300) {
            let (long4, long6) = (format!("{v4}/{}", 32 + extra), format!("{v6}/{}", 128 + extra));
            prop_assert!(IpAllowlist::parse(&[long4]).is_err());
            prop_assert!(IpAllowlist::parse(&[long6]).is_err());
        }

        #[test]
        fn garbage_is_refused(word in "[g-z]{1,20}", v4 in any::<Ipv4Addr>()) {
            prop_assert!(IpAllowlist::parse(std::slice::from_ref(&word)).is_err());
            let (slash, dot) = (format!("{v4}/{word}"), format!("{v4}.{word}"));
            prop_assert!(IpAllowlist::parse(&[slash]).is_err());
            prop_assert!(IpAllowlist::parse(&[dot]).is_err());
            prop_assert!(IpAllowlist::parse(&[String::new()]).is_err());
        }

        #[test]
        fn allowlist_parsing_never_panics(entries in prop::collection::vec(".{0,45}", 0..5)) {
            if let Ok(list) = IpAllowlist::parse(&entries) {
                prop_assert_eq!(list.display().len(), entries.len());
                prop_assert_eq!(IpAllowlist::parse(&list.display()), Ok(list.clone()));
                prop_assert!(entries.is_empty() || !list.allows(None));
            }
        }

        #[test]
        fn stored_lists_never_panic_and_are_read_whole_or_refused(raw in ".{0,60}", ip in any::<Ipv4Addr>()) {
            if let Ok(list) = IpAllowlist::from_stored(&raw) {
                let _ = list.allows(Some(IpAddr::V4(ip)));
                prop_assert_eq!(IpAllowlist::from_stored(&list.to_stored()).ok(), Some(list));
            }
        }

        #[test]
        fn more_than_the_maximum_is_refused(extra in 1usize..20) {
            let entries = vec!["10.0.0.1".to_string(); IpAllowlist::MAX_ENTRIES + extra];
            prop_assert!(IpAllowlist::parse(&entries).is_err());
            prop_assert!(IpAllowlist::parse(&entries[..IpAllowlist::MAX_ENTRIES]).is_ok());
        }
    }
}
