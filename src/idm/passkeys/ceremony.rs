//! The ceremony store: a ceremony's state is a row keyed by its challenge, which the
//! browser echoes in the credential's clientDataJSON; it is claimed once and expires
//! after `CEREMONY_TTL_SECS`.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde::Serialize;
use serde_json::Value;

use super::{CEREMONY_TTL_SECS, REGISTER};
use crate::entities::webauthn_ceremony;
use crate::idm::Idm;
use crate::idm::error::{Error, Result};

/// The challenge the browser echoed in the credential's clientDataJSON.
pub fn echoed_challenge(credential: &Value) -> Result<String> {
    let bad = || {
        Error::bad_input(
            "The credential is not a WebAuthn credential: pass the browser's credential.toJSON() (response.clientDataJSON is missing or unreadable).",
        )
    };
    let encoded = credential
        .pointer("/response/clientDataJSON")
        .and_then(Value::as_str)
        .ok_or_else(bad)?;
    let raw = URL_SAFE_NO_PAD
        .decode(encoded.trim_end_matches('='))
        .map_err(|_| bad())?;
    let client_data: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    let challenge = client_data
        .get("challenge")
        .and_then(Value::as_str)
        .ok_or_else(bad)?;
    if challenge.is_empty() || challenge.len() > 128 {
        return Err(bad());
    }
    Ok(challenge.trim_end_matches('=').to_owned())
}

pub(super) fn parse<T: serde::de::DeserializeOwned>(credential: Value, what: &str) -> Result<T> {
    serde_json::from_value(credential).map_err(|e| {
        Error::bad_input(format!(
            "The credential is not a valid WebAuthn {what} (pass the browser's credential.toJSON()): {e}"
        ))
    })
}

/// The options as the browser's `parse*OptionsFromJSON` takes them: `{"publicKey": …}`,
/// without webauthn-rs's `mediation` (ours are modal ceremonies).
pub(super) fn browser_options(options: impl Serialize) -> Result<(Value, String)> {
    let mut v = serde_json::to_value(options)
        .map_err(|e| Error::Internal(anyhow::Error::new(e).context("webauthn options")))?;
    if let Some(o) = v.as_object_mut() {
        o.remove("mediation");
    }
    let challenge = v
        .pointer("/publicKey/challenge")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("webauthn options without a challenge")))?;
    Ok((v, challenge))
}

pub(super) fn state_json(state: &impl Serialize) -> Result<String> {
    serde_json::to_string(state)
        .map_err(|e| Error::Internal(anyhow::Error::new(e).context("webauthn state")))
}

impl Idm {
    pub(super) async fn save_ceremony(
        &self,
        challenge: String,
        kind: &str,
        user_id: Option<&str>,
        state: String,
        now: i64,
    ) -> Result<()> {
        // Expired ceremonies are nobody's: sweep them as new ones begin.
        webauthn_ceremony::Entity::delete_many()
            .filter(webauthn_ceremony::Column::ExpiresAt.lte(now))
            .exec(&self.db)
            .await?;
        webauthn_ceremony::ActiveModel {
            challenge: Set(challenge),
            kind: Set(kind.to_owned()),
            user_id: Set(user_id.map(str::to_owned)),
            state: Set(state),
            expires_at: Set(now + CEREMONY_TTL_SECS),
        }
        .insert(&self.db)
        .await?;
        Ok(())
    }

    /// Finds the ceremony the credential answers and claims it (single use).
    pub(super) async fn claim_ceremony(
        &self,
        credential: &Value,
        kind: &str,
        now: i64,
    ) -> Result<webauthn_ceremony::Model> {
        let challenge = echoed_challenge(credential)?;
        let gone = || {
            Error::bad_input(format!(
                "This passkey {} challenge is unknown, expired or already used; ask for a new challenge and try again.",
                if kind == REGISTER {
                    "registration"
                } else {
                    "sign-in"
                }
            ))
        };
        let row = webauthn_ceremony::Entity::find_by_id(challenge.clone())
            .one(&self.db)
            .await?
            .filter(|r| r.kind == kind && r.expires_at > now)
            .ok_or_else(gone)?;
        let claimed = webauthn_ceremony::Entity::delete_many()
            .filter(webauthn_ceremony::Column::Challenge.eq(challenge))
            .exec(&self.db)
            .await?;
        if claimed.rows_affected != 1 {
            return Err(gone());
        }
        Ok(row)
    }
}
