use sea_orm::entity::prelude::*;

/// A registered passkey. `credential` is webauthn-rs's serialised `Passkey` (public key,
/// signature counter, backup flags); `credential_id` is its base64url id.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "passkeys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    #[sea_orm(unique)]
    pub credential_id: String,
    pub credential: String,
    pub device_name: String,
    pub backed_up: bool,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
