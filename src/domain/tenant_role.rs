//! A member's role in a tenant. Stored as its upper-case name. OWNER > ADMIN > MEMBER.
use std::fmt;
use std::str::FromStr;

use sea_orm::DeriveValueType;

use super::BadStoredValue;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, DeriveValueType)]
#[sea_orm(value_type = "String", from_str = "TenantRole::from_stored")]
pub enum TenantRole {
    Member,
    Admin,
    Owner,
}

impl TenantRole {
    pub const ALL: [TenantRole; 3] = [TenantRole::Owner, TenantRole::Admin, TenantRole::Member];

    pub fn from_stored(s: &str) -> Result<Self, BadStoredValue> {
        TenantRole::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| BadStoredValue::new("tenant role", s))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TenantRole::Owner => "OWNER",
            TenantRole::Admin => "ADMIN",
            TenantRole::Member => "MEMBER",
        }
    }
}

impl fmt::Display for TenantRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TenantRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TenantRole::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown tenant role `{s}`: expected OWNER, ADMIN or MEMBER"))
    }
}

#[cfg(test)]
mod tests {
    use super::TenantRole;

    #[test]
    fn a_tenant_role_reads_back_what_it_stores_and_nothing_else() {
        for r in TenantRole::ALL {
            assert_eq!(TenantRole::from_stored(r.as_str()).unwrap(), r);
            assert_eq!(r.as_str().to_lowercase().parse::<TenantRole>().unwrap(), r);
        }
        assert!(
            TenantRole::from_stored("owner").is_err(),
            "stored exactly, no folding"
        );
        assert!(TenantRole::from_stored("ROOT").is_err());
        assert!(TenantRole::Owner > TenantRole::Admin && TenantRole::Admin > TenantRole::Member);
    }
}
