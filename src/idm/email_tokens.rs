//! One-time tokens sent by email (verification, password reset): 256 random bits,
//! stored as SHA-256, 24 h expiry, single use; a new one voids the older ones.
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use super::crypto::{random_token, token_hash};
use super::error::Result;
use crate::entities::one_time_token::{self, Column};

pub const TTL_SECS: i64 = 24 * 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    VerifyEmail,
    ResetPassword,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "verify_email",
            Purpose::ResetPassword => "reset_password",
        }
    }
}

/// Voids the user's unused tokens of `purpose`: a new link replaces the older ones, a
/// password change ends the reset links, a reset ends the verification links.
pub async fn void<C: ConnectionTrait>(
    db: &C,
    user_id: &str,
    purpose: Purpose,
    now: i64,
) -> Result<()> {
    one_time_token::Entity::update_many()
        .col_expr(Column::UsedAt, Expr::value(now))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::Purpose.eq(purpose.as_str()))
        .filter(Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Creates a token for `user_id`, voiding the user's earlier unused ones of the purpose.
pub async fn issue<C: ConnectionTrait>(
    db: &C,
    user_id: &str,
    purpose: Purpose,
    now: i64,
) -> Result<String> {
    void(db, user_id, purpose, now).await?;
    let token = random_token();
    one_time_token::ActiveModel {
        token_hash: Set(token_hash(&token)),
        user_id: Set(user_id.to_owned()),
        purpose: Set(purpose.as_str().to_owned()),
        created_at: Set(now),
        expires_at: Set(now + TTL_SECS),
        used_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(token)
}

/// The user a still-usable token belongs to, without using it up.
pub async fn peek<C: ConnectionTrait>(
    db: &C,
    token: &str,
    purpose: Purpose,
    now: i64,
) -> Result<Option<String>> {
    if token.len() > 256 {
        return Ok(None);
    }
    let row = one_time_token::Entity::find_by_id(token_hash(token))
        .filter(Column::Purpose.eq(purpose.as_str()))
        .filter(Column::UsedAt.is_null())
        .filter(Column::ExpiresAt.gt(now))
        .one(db)
        .await?;
    Ok(row.map(|r| r.user_id))
}

/// Uses the token up: of two concurrent uses exactly one gets the user id.
pub async fn consume<C: ConnectionTrait>(
    db: &C,
    token: &str,
    purpose: Purpose,
    now: i64,
) -> Result<Option<String>> {
    let Some(user_id) = peek(db, token, purpose, now).await? else {
        return Ok(None);
    };
    let res = one_time_token::Entity::update_many()
        .col_expr(Column::UsedAt, Expr::value(now))
        .filter(Column::TokenHash.eq(token_hash(token)))
        .filter(Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok((res.rows_affected == 1).then_some(user_id))
}
