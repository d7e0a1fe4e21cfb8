use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signing_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub kid: String,
    /// base64 PKCS#8 DER, or the master-key ciphertext of it when `encrypted`.
    pub private_key: String,
    /// base64url of the 32-byte Ed25519 public key (the JWK `x`).
    pub public_key: String,
    pub encrypted: bool,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
