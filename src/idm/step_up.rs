//! Actions that need more than a valid access token. An access token lives for a day,
//! so one that leaks (a log, a shared screen, a stolen laptop's browser) would let its
//! holder plant a way back in. Adding or removing a factor (a passkey, TOTP, recovery
//! codes, a linked provider) therefore needs a sign-in of at most `FRESH_SIGN_IN_SECS`
//! ago: the session's own start, which a refresh does not move.
use sea_orm::EntityTrait;

use super::Idm;
use super::error::{Error, Result};
use crate::entities::session;

/// How recent a sign-in must be to add or remove a factor.
pub const FRESH_SIGN_IN_SECS: i64 = 900;

impl Idm {
    /// FORBIDDEN unless `user_id` acts through session `sid`, live and begun at most
    /// `FRESH_SIGN_IN_SECS` ago; `action` completes "Sign in again to ...". A caller
    /// with no session (an API key) has no sign-in to be fresh.
    pub async fn require_fresh_sign_in(
        &self,
        (user_id, sid): (&str, Option<&str>),
        action: &str,
        now: i64,
    ) -> Result<()> {
        let Some(sid) = sid else {
            return Err(Error::forbidden(format!(
                "Sign in to {action}: this needs a user access token from a sign-in of at most {} minutes ago, not an API key.",
                FRESH_SIGN_IN_SECS / 60
            )));
        };
        let fresh = session::Entity::find_by_id(sid.to_owned())
            .one(&self.db)
            .await?
            .is_some_and(|s| {
                s.user_id == user_id
                    && s.revoked_at.is_none()
                    && now < s.expires_at
                    && now - s.created_at <= FRESH_SIGN_IN_SECS
            });
        if fresh {
            Ok(())
        } else {
            Err(Error::forbidden(format!(
                "Sign in again to {action}: this needs a sign-in of at most {} minutes ago.",
                FRESH_SIGN_IN_SECS / 60
            )))
        }
    }
}
