use sea_orm::entity::prelude::*;

/// A web authorization-code flow in flight, found by the SHA-256 of its `state`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth_states")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub state_hash: String,
    pub provider: String,
    pub redirect_uri: String,
    pub pkce_verifier: String,
    pub nonce: String,
    pub expires_at: i64,
    /// The user who started the flow while signed in (only they can link with it).
    pub user_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
