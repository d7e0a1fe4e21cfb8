use sea_orm::entity::prelude::*;

/// A login whose password checked out and that waits for a second factor.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mfa_challenges")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub token_hash: String,
    pub user_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub attempts: i32,
    pub used_at: Option<i64>,
    /// The first factor this login passed: "pwd" (password) or "fed" (social).
    pub first_factor: String,
    /// SHA-256 of the opening client's IP and User-Agent (see `mfa_login`).
    pub client_hash: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
