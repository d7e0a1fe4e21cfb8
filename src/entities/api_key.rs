use sea_orm::entity::prelude::*;

use crate::domain::{Environment, IpAllowlist, ScopeList};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    pub tenant_id: String,
    pub name: String,
    /// Public: `<prefix>_<env>_` + the first 8 hex digits.
    pub prefix: String,
    /// Hex SHA-256 of the whole key; the key itself is never stored.
    pub key_hash: String,
    pub environment: Environment,
    /// Stored space separated, lower case.
    pub scopes: ScopeList,
    /// Stored as a JSON array of IPs / CIDRs; empty: any.
    pub ips: IpAllowlist,
    pub temporary: bool,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    /// In the future while a rotated key's grace period runs.
    pub revoked_at: Option<i64>,
    pub deleted_at: Option<i64>,
    /// The key that replaced this one by rotation.
    pub replaced_by: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id"
    )]
    User,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
