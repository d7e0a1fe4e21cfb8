use sea_orm::entity::prelude::*;

/// A WebAuthn ceremony in flight, keyed by its base64url challenge. `state` is the
/// serialised webauthn-rs state; `kind` is "register" or "login".
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webauthn_ceremonies")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub challenge: String,
    pub kind: String,
    pub user_id: Option<String>,
    pub state: String,
    pub expires_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
