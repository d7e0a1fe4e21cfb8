//! Parsed newtypes: a value of these types has passed its checks, so nothing past the
//! edge of the system handles an unchecked email, password or role.
mod api_key;
mod email;
mod password;

pub use api_key::{ApiKeySecret, Environment, IpAllowlist, Scope};
pub use email::Email;
pub use password::Password;

use std::fmt;
use std::str::FromStr;

/// What a user may do. Stored as its upper-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    User,
    Developer,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "USER",
            Role::Developer => "DEVELOPER",
            Role::Admin => "ADMIN",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "USER" => Ok(Role::User),
            "DEVELOPER" => Ok(Role::Developer),
            "ADMIN" => Ok(Role::Admin),
            _ => Err(format!(
                "unknown role `{s}`: expected USER, DEVELOPER or ADMIN"
            )),
        }
    }
}

/// A tenant id: `cust_` + 12 lower-case hex digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantId(String);

impl TenantId {
    pub fn generate() -> Self {
        let bytes: [u8; 6] = rand::random();
        TenantId(format!("cust_{}", hex::encode(bytes)))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_have_the_documented_shape() {
        let t = TenantId::generate();
        let hex = t.as_str().strip_prefix("cust_").expect("prefix");
        assert_eq!(hex.len(), 12);
        assert!(
            hex.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }

    #[test]
    fn roles_parse_case_insensitively() {
        assert_eq!("admin".parse::<Role>(), Ok(Role::Admin));
        assert!("root".parse::<Role>().is_err());
    }
}
