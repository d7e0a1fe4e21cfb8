//! Passkeys (WebAuthn), with webauthn-rs.
//!
//! - Ceremony state is a row keyed by its challenge (which the browser echoes in the
//!   credential's clientDataJSON): a ceremony begun on one instance finishes on another,
//!   is claimed once by a conditional DELETE, and expires after 5 minutes.
//! - Registration asks for a discoverable (resident) credential and user verification.
//!   The options say `userVerification: "preferred"`, so the browser chooses the
//!   authenticator's PIN or biometric; the server then requires the UV flag, which is what
//!   makes a passkey login multi-factor on its own (no TOTP step follows it).
//! - Each login updates the signature counter and the backup flags; a counter that goes
//!   backwards (a cloned authenticator) is refused and audited.
mod ceremony;
mod login;
mod register;

pub use ceremony::echoed_challenge;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, Set,
};
use serde_json::Value;
use webauthn_rs::prelude::{Passkey as Credential, Url, Uuid, WebauthnError};
use webauthn_rs::{Webauthn, WebauthnBuilder};

use super::audit::{self, Event};
use super::error::{Error, Result};
use super::{ClientInfo, Idm};
use crate::config::WebauthnSettings;
use crate::entities::passkey;

/// How long a ceremony may take, from challenge to credential.
pub const CEREMONY_TTL_SECS: i64 = 300;
/// The `amr` of a passkey login: a hardware-bound key, user presence and verification.
pub const PASSKEY_AMR: [&str; 3] = ["hwk", "user", "mfa"];
const REGISTER: &str = "register";
const LOGIN: &str = "login";

/// A stored passkey as the API shows it.
#[derive(Debug, Clone)]
pub struct PasskeyInfo {
    pub id: String,
    pub device_name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub backed_up: bool,
}

impl From<passkey::Model> for PasskeyInfo {
    fn from(m: passkey::Model) -> Self {
        Self {
            id: m.id,
            device_name: m.device_name,
            created_at: m.created_at,
            last_used_at: m.last_used_at,
            backed_up: m.backed_up,
        }
    }
}

/// The relying party from `[webauthn]`; a bad origin or RP ID stops start-up.
pub fn relying_party(s: &WebauthnSettings) -> anyhow::Result<Webauthn> {
    let origin = Url::parse(&s.origin)
        .map_err(|e| anyhow::anyhow!("setting `webauthn.origin` ({}): {e}", s.origin))?;
    WebauthnBuilder::new(&s.rp_id, &origin)
        .and_then(|b| b.rp_name(&s.rp_name).build())
        .map_err(|e| {
            anyhow::anyhow!(
                "settings `webauthn.rp_id` ({}) and `webauthn.origin` ({}): {e}; the RP ID must be the origin's host or a parent domain of it, and the origin https (or http://localhost)",
                s.rp_id,
                s.origin
            )
        })
}

fn webauthn_failure(e: &WebauthnError) -> String {
    match e {
        WebauthnError::InvalidRPOrigin => {
            "the credential was made for another origin than this server's".into()
        }
        WebauthnError::InvalidRPIDHash => {
            "the credential was made for another relying party (RP ID)".into()
        }
        WebauthnError::UserNotVerified => {
            "the authenticator did not verify you (PIN or biometric); passkeys here need user verification".into()
        }
        WebauthnError::MismatchedChallenge => "the credential answers another challenge".into(),
        WebauthnError::InvalidClientDataType => {
            "the credential is from another kind of ceremony".into()
        }
        WebauthnError::CredentialPossibleCompromise => {
            "the authenticator's signature counter went backwards (a cloned authenticator?)".into()
        }
        WebauthnError::CredentialExcludedFromRequest => {
            "this authenticator is already registered to your account".into()
        }
        other => format!("the credential did not verify ({other})"),
    }
}

fn device_name(name: &str) -> Result<String> {
    let name = name.trim();
    match name.chars().count() {
        1..=64 if !name.chars().any(char::is_control) => Ok(name.to_owned()),
        _ => Err(Error::bad_input(
            "The passkey's name (device_name) must be 1 to 64 characters, without control characters.",
        )),
    }
}

/// A credential as stored, and whether it is backed up (synced).
fn credential_json(cred: &Credential) -> Result<(String, bool)> {
    let v = serde_json::to_value(cred)
        .map_err(|e| Error::Internal(anyhow::Error::new(e).context("passkey credential")))?;
    let backed_up = v
        .pointer("/cred/backup_state")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Ok((v.to_string(), backed_up))
}

fn stored_credential(row: &passkey::Model) -> Result<Credential> {
    serde_json::from_str(&row.credential).map_err(|e| {
        Error::Internal(anyhow::Error::new(e).context(format!("stored passkey {}", row.id)))
    })
}

fn user_handle(user_id: &str) -> Result<Uuid> {
    Uuid::parse_str(user_id)
        .map_err(|e| Error::Internal(anyhow::Error::new(e).context("user id is not a UUID")))
}

impl Idm {
    async fn passkey_rows(&self, user_id: &str) -> Result<Vec<passkey::Model>> {
        Ok(passkey::Entity::find()
            .filter(passkey::Column::UserId.eq(user_id))
            .order_by_asc(passkey::Column::CreatedAt)
            .all(&self.db)
            .await?)
    }

    pub async fn user_passkeys(&self, user_id: &str) -> Result<Vec<PasskeyInfo>> {
        Ok(self
            .passkey_rows(user_id)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    async fn own_passkey(&self, user_id: &str, id: &str) -> Result<passkey::Model> {
        passkey::Entity::find_by_id(id.to_owned())
            .filter(passkey::Column::UserId.eq(user_id))
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::not_found("No passkey with this id."))
    }

    pub async fn rename_passkey(&self, user_id: &str, id: &str, name: &str) -> Result<PasskeyInfo> {
        let name = device_name(name)?;
        let mut row = self.own_passkey(user_id, id).await?.into_active_model();
        row.device_name = Set(name);
        Ok(row.update(&self.db).await?.into())
    }

    pub async fn delete_passkey(
        &self,
        (user_id, sid): (&str, Option<&str>),
        id: &str,
        client: &ClientInfo,
        now: i64,
    ) -> Result<bool> {
        let row = self.own_passkey(user_id, id).await?;
        self.require_fresh_sign_in((user_id, sid), "remove a passkey", now)
            .await?;
        let ways = self.sign_in_methods(user_id).await?;
        if !ways.password && ways.passkeys <= 1 && ways.providers.is_empty() {
            return Err(Error::bad_input(
                "This passkey is this account's only way to sign in. Set a password (request a password reset) or add another passkey first.",
            ));
        }
        let done = passkey::Entity::delete_many()
            .filter(passkey::Column::Id.eq(row.id.clone()))
            .filter(passkey::Column::UserId.eq(user_id))
            .exec(&self.db)
            .await?;
        if done.rows_affected == 1 {
            audit::record(
                &self.db,
                Event::PasskeyDeleted,
                Some(user_id),
                client,
                Some(row.device_name),
                now,
            )
            .await;
        }
        Ok(done.rows_affected == 1)
    }
}
