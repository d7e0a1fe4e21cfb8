//! API-key values: scopes, environments, the secret itself and the IP allowlist.
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use rand::RngCore;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Live,
    Test,
    Dev,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Live => "live",
            Environment::Test => "test",
            Environment::Dev => "dev",
        }
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

/// The allowlist: IPs and CIDRs, v4 and v6. Empty: any address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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

    /// Reads the stored JSON form; entries that no longer parse are dropped (fail closed:
    /// a list that had entries but lost them all allows nothing).
    pub fn from_stored(json: &str) -> Self {
        let raw: Vec<String> = serde_json::from_str(json).unwrap_or_default();
        let nets: Vec<IpNet> = raw.iter().filter_map(|s| Self::parse_entry(s)).collect();
        if nets.is_empty() && !raw.is_empty() {
            return IpAllowlist(vec![IpNet::from(IpAddr::from([255, 255, 255, 255]))]);
        }
        IpAllowlist(nets)
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
        assert_eq!(IpAllowlist::from_stored(&list.to_stored()), list);
    }
}
