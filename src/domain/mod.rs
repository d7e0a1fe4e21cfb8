//! Parsed newtypes: a value of these types has passed its checks, so nothing past the
//! edge of the system handles an unchecked email, password or role.
mod api_key;
mod email;
mod master_key;
mod password;
mod tenant_role;

pub use api_key::{ApiKeySecret, Environment, IpAllowlist, Scope, ScopeList};
pub use email::Email;
pub use master_key::MasterKey;
pub use password::Password;
pub use tenant_role::TenantRole;

use std::fmt;
use std::str::FromStr;

use sea_orm::DeriveValueType;

/// A stored column that does not hold a value of its type: the row is refused (an
/// error), never read with a default.
#[derive(Debug, thiserror::Error)]
#[error("the stored {what} `{value}` is not valid")]
pub struct BadStoredValue {
    pub what: &'static str,
    pub value: String,
}

impl BadStoredValue {
    pub fn new(what: &'static str, value: &str) -> Self {
        // A bad row is shown in a log at most; cut it so that it cannot flood one.
        let value = value.chars().take(64).collect();
        BadStoredValue { what, value }
    }
}

/// What a user may do. Stored as its upper-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, DeriveValueType)]
#[sea_orm(value_type = "String", from_str = "Role::from_stored")]
pub enum Role {
    User,
    Developer,
    Admin,
}

impl Role {
    /// The stored form exactly (no case folding: the store holds what we wrote).
    pub fn from_stored(s: &str) -> Result<Self, BadStoredValue> {
        [Role::User, Role::Developer, Role::Admin]
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| BadStoredValue::new("role", s))
    }

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

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    fn role() -> impl Strategy<Value = Role> {
        prop_oneof![Just(Role::User), Just(Role::Developer), Just(Role::Admin)]
    }

    proptest! {
        #[test]
        fn roles_round_trip_in_any_case(role in role(), upper in prop::collection::vec(any::<bool>(), 1..10)) {
            prop_assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            prop_assert_eq!(role.to_string(), role.as_str());
            let typed: String = role
                .as_str()
                .chars()
                .zip(upper.iter().cycle())
                .map(|(c, u)| if *u { c } else { c.to_ascii_lowercase() })
                .collect();
            prop_assert_eq!(typed.parse::<Role>(), Ok(role));
        }

        #[test]
        fn only_the_three_names_parse(raw in ".{0,20}") {
            match raw.parse::<Role>() {
                Ok(role) => prop_assert_eq!(raw.to_ascii_uppercase(), role.as_str()),
                Err(e) => {
                    prop_assert!(!["USER", "DEVELOPER", "ADMIN"].contains(&raw.to_ascii_uppercase().as_str()));
                    prop_assert!(e.contains("expected USER, DEVELOPER or ADMIN"));
                }
            }
        }

        #[test]
        fn padded_or_prefixed_names_are_refused(role in role(), pad in "[ \t_x]{1,3}") {
            let (before, after) = (format!("{pad}{}", role.as_str()), format!("{}{pad}", role.as_str()));
            prop_assert!(before.parse::<Role>().is_err());
            prop_assert!(after.parse::<Role>().is_err());
        }

        /// There is no TenantId parser (ids are only generated, never read back from
        /// input as a TenantId): every generated id has the documented shape.
        #[test]
        fn generated_tenant_ids_have_the_documented_shape(_n in 0u8..1) {
            let t = TenantId::generate();
            let hex = t.as_str().strip_prefix("cust_");
            prop_assert!(hex.is_some());
            let hex = hex.unwrap();
            prop_assert_eq!(hex.len(), 12);
            prop_assert!(hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
            prop_assert_eq!(t.clone().into_string(), t.as_str());
        }
    }
}
