//! Signing in with a passkey: by email (that user's credentials offered) or
//! usernameless (a discoverable credential), then the counter and backup flags.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, PasskeyAuthentication, PublicKeyCredential, WebauthnError,
};

use super::ceremony::{browser_options, parse, state_json};
use super::{
    LOGIN, PASSKEY_AMR, credential_json, stored_credential, user_handle, webauthn_failure,
};
use crate::entities::passkey;
use crate::idm::audit::{self, Event};
use crate::idm::error::{Error, Result};
use crate::idm::rate_limit::{Action, Subject};
use crate::idm::sessions::Tokens;
use crate::idm::{ClientInfo, Idm};

/// What a login ceremony remembers: the user named by email (their credentials were
/// offered), or nobody (a discoverable, usernameless login).
#[derive(Serialize, Deserialize)]
enum LoginState {
    Known {
        user_id: String,
        state: PasskeyAuthentication,
    },
    Discoverable(DiscoverableAuthentication),
}

/// The signature counter of a stored credential.
fn stored_counter(row: &passkey::Model) -> u32 {
    serde_json::from_str::<Value>(&row.credential)
        .ok()
        .and_then(|v| v.pointer("/cred/counter").and_then(Value::as_u64))
        .and_then(|c| u32::try_from(c).ok())
        .unwrap_or(0)
}

impl Idm {
    /// Options for `navigator.credentials.get`: the credentials of the user with this
    /// email, or (no email, or one with no passkeys) a discoverable challenge, so the
    /// answer does not tell which emails have accounts.
    pub async fn passkey_login_options(
        &self,
        email: Option<&str>,
        client: &ClientInfo,
        now: i64,
    ) -> Result<Value> {
        // Counted like a sign-in attempt: with an email, the answer tells whether that
        // address has passkeys, so asking is limited like guessing.
        self.limits
            .hit(Action::Login, Subject::Ip(client.ip), now)
            .await?;
        let mut known = None;
        let email = email.map(str::trim).filter(|e| !e.is_empty());
        if let Some(email) = email
            && let Some(u) = self.find_user_by_email(email).await?
        {
            let creds = self
                .passkey_rows(&u.id)
                .await?
                .iter()
                .map(stored_credential)
                .collect::<Result<Vec<_>>>()?;
            if u.is_active && !creds.is_empty() {
                known = Some((u.id, creds));
            }
        }
        let (options, state) = match known {
            Some((user_id, creds)) => {
                let (rcr, state) =
                    self.webauthn
                        .start_passkey_authentication(&creds)
                        .map_err(|e| {
                            Error::Internal(anyhow::Error::new(e).context("passkey authentication"))
                        })?;
                (browser_options(rcr)?, LoginState::Known { user_id, state })
            }
            None => {
                let (rcr, state) =
                    self.webauthn
                        .start_discoverable_authentication()
                        .map_err(|e| {
                            Error::Internal(anyhow::Error::new(e).context("discoverable login"))
                        })?;
                (browser_options(rcr)?, LoginState::Discoverable(state))
            }
        };
        let (options, challenge) = options;
        let user_id = match &state {
            LoginState::Known { user_id, .. } => Some(user_id.clone()),
            LoginState::Discoverable(_) => None,
        };
        self.save_ceremony(
            challenge,
            LOGIN,
            user_id.as_deref(),
            state_json(&state)?,
            now,
        )
        .await?;
        Ok(options)
    }

    /// Verifies an assertion and opens a session. The captcha (when configured) is
    /// checked first, then the ceremony is claimed, then the signature.
    #[tracing::instrument(skip_all)]
    pub async fn login_with_passkey(
        &self,
        credential: Value,
        captcha: Option<&str>,
        client: &ClientInfo,
        now: i64,
    ) -> Result<Tokens> {
        self.limits
            .hit(Action::Login, Subject::Ip(client.ip), now)
            .await?;
        self.check_captcha(captcha, client).await?;
        let ceremony = self.claim_ceremony(&credential, LOGIN, now).await?;
        let assertion: PublicKeyCredential = parse(credential, "assertion")?;
        let state: LoginState = serde_json::from_str(&ceremony.state)
            .map_err(|e| Error::Internal(anyhow::Error::new(e).context("login state")))?;
        let refused =
            |why: String| Error::unauthenticated(format!("Passkey sign-in failed: {why}."));
        let cred_id = URL_SAFE_NO_PAD.encode(assertion.raw_id.as_slice());
        let row = passkey::Entity::find()
            .filter(passkey::Column::CredentialId.eq(cred_id))
            .one(&self.db)
            .await?
            .ok_or_else(|| refused("this passkey is not registered here".into()))?;
        let mut cred = stored_credential(&row)?;
        let result = match state {
            LoginState::Known { user_id, state } => {
                if user_id != row.user_id {
                    return Err(refused("this passkey belongs to another account".into()));
                }
                self.webauthn
                    .finish_passkey_authentication(&assertion, &state)
            }
            LoginState::Discoverable(state) => {
                let (handle, _) = self
                    .webauthn
                    .identify_discoverable_authentication(&assertion)
                    .map_err(|_| {
                        refused(
                            "the authenticator did not say whose passkey it is (no user handle)"
                                .into(),
                        )
                    })?;
                if handle != user_handle(&row.user_id)? {
                    return Err(refused("the passkey's user handle does not match".into()));
                }
                self.webauthn
                    .finish_discoverable_authentication_v2(&assertion, state, &cred)
            }
        };
        let result = match result {
            Ok(r) => r,
            Err(e) => {
                let event = if matches!(e, WebauthnError::CredentialPossibleCompromise) {
                    Event::PasskeyCloneSuspected
                } else {
                    Event::LoginFailed
                };
                audit::record(
                    &self.db,
                    event,
                    Some(&row.user_id),
                    client,
                    Some(format!("passkey {}: {e}", row.id)),
                    now,
                )
                .await;
                return Err(refused(webauthn_failure(&e)));
            }
        };
        let user = self
            .find_user(&row.user_id)
            .await?
            .ok_or_else(|| refused("this passkey's account no longer exists".into()))?;
        if !user.is_active {
            return Err(Error::forbidden(
                "This account is deactivated; contact an administrator.",
            ));
        }
        // The sign-in from an email checked the counter against the credential as it
        // was when the challenge was made; check it against the row as it is now too.
        let stored = stored_counter(&row);
        if result.counter() > 0 && result.counter() <= stored {
            audit::record(
                &self.db,
                Event::PasskeyCloneSuspected,
                Some(&row.user_id),
                client,
                Some(format!(
                    "passkey {}: counter {} <= {stored}",
                    row.id,
                    result.counter()
                )),
                now,
            )
            .await;
            return Err(refused(webauthn_failure(
                &WebauthnError::CredentialPossibleCompromise,
            )));
        }
        cred.update_credential(&result);
        let (json, _) = credential_json(&cred)?;
        // Written only over the row read above: two sign-ins at once cannot move the
        // counter backwards.
        let written = passkey::Entity::update_many()
            .col_expr(passkey::Column::Credential, Expr::value(json))
            .col_expr(
                passkey::Column::BackedUp,
                Expr::value(result.backup_state()),
            )
            .col_expr(passkey::Column::LastUsedAt, Expr::value(now))
            .filter(passkey::Column::Id.eq(row.id.as_str()))
            .filter(passkey::Column::Credential.eq(row.credential.as_str()))
            .exec(&self.db)
            .await?;
        if written.rows_affected != 1 {
            return Err(refused(
                "this passkey was used by another sign-in at the same moment; try again".into(),
            ));
        }
        self.complete_login(
            &user,
            &PASSKEY_AMR,
            None,
            client,
            Some(format!("passkey {}", row.id)),
            now,
        )
        .await
    }
}
