//! Adding a passkey: options for `navigator.credentials.create` and the answer to
//! them, for a signed-in user with a fresh sign-in and a verified email.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::{ActiveModelTrait, Set};
use serde_json::Value;
use webauthn_rs::prelude::{PasskeyRegistration, RegisterPublicKeyCredential, Uuid};

use super::ceremony::{browser_options, parse, state_json};
use super::{
    PasskeyInfo, REGISTER, credential_json, device_name, stored_credential, user_handle,
    webauthn_failure,
};
use crate::entities::passkey;
use crate::idm::audit::{self, Event};
use crate::idm::error::{Error, Result, is_unique_violation};
use crate::idm::{ClientInfo, Idm};

impl Idm {
    /// Options for `navigator.credentials.create`, excluding the user's passkeys.
    pub async fn passkey_registration_options(
        &self,
        user_id: &str,
        sid: Option<&str>,
        now: i64,
    ) -> Result<Value> {
        self.require_verified_email(user_id).await?;
        self.require_fresh_sign_in((user_id, sid), "add a passkey", now)
            .await?;
        let user = self
            .find_user(user_id)
            .await?
            .ok_or_else(|| Error::unauthenticated("Sign in again."))?;
        let existing = self.passkey_rows(user_id).await?;
        let exclude = existing
            .iter()
            .map(stored_credential)
            .map(|c| c.map(|c| c.cred_id().clone()))
            .collect::<Result<Vec<_>>>()?;
        let name = user
            .email
            .clone()
            .or_else(|| user.username.clone())
            .unwrap_or_else(|| user.id.clone());
        let display = user.first_name.clone().unwrap_or_else(|| name.clone());
        let (ccr, state) = self
            .webauthn
            .start_passkey_registration(user_handle(&user.id)?, &name, &display, Some(exclude))
            .map_err(|e| Error::Internal(anyhow::Error::new(e).context("passkey registration")))?;
        let (mut options, challenge) = browser_options(ccr)?;
        if let Some(sel) = options.pointer_mut("/publicKey/authenticatorSelection") {
            sel["residentKey"] = "required".into();
            sel["requireResidentKey"] = true.into();
            sel["userVerification"] = "preferred".into();
        }
        // webauthn-rs asks for credProtect "userVerificationRequired", which browsers
        // refuse next to UV "preferred" (Chromium: NotSupportedError). The server
        // requires the UV flag itself, so the extension is dropped.
        if let Some(ext) = options
            .pointer_mut("/publicKey/extensions")
            .and_then(Value::as_object_mut)
        {
            ext.remove("credentialProtectionPolicy");
            ext.remove("enforceCredentialProtectionPolicy");
        }
        self.save_ceremony(challenge, REGISTER, Some(user_id), state_json(&state)?, now)
            .await?;
        Ok(options)
    }

    /// Verifies the browser's new credential against the user's open registration.
    #[tracing::instrument(skip_all)]
    pub async fn register_passkey(
        &self,
        user_id: &str,
        sid: Option<&str>,
        credential: Value,
        name: &str,
        client: &ClientInfo,
        now: i64,
    ) -> Result<PasskeyInfo> {
        let name = device_name(name)?;
        self.require_verified_email(user_id).await?;
        self.require_fresh_sign_in((user_id, sid), "add a passkey", now)
            .await?;
        let ceremony = self.claim_ceremony(&credential, REGISTER, now).await?;
        if ceremony.user_id.as_deref() != Some(user_id) {
            return Err(Error::bad_input(
                "This registration challenge was issued to another account; ask for a new one.",
            ));
        }
        let reg: RegisterPublicKeyCredential = parse(credential, "registration")?;
        let state: PasskeyRegistration = serde_json::from_str(&ceremony.state)
            .map_err(|e| Error::Internal(anyhow::Error::new(e).context("registration state")))?;
        let cred = self
            .webauthn
            .finish_passkey_registration(&reg, &state)
            .map_err(|e| {
                Error::bad_input(format!(
                    "The passkey was not registered: {}.",
                    webauthn_failure(&e)
                ))
            })?;
        let (json, backed_up) = credential_json(&cred)?;
        let row = passkey::ActiveModel {
            id: Set(Uuid::now_v7().to_string()),
            user_id: Set(user_id.to_owned()),
            credential_id: Set(URL_SAFE_NO_PAD.encode(cred.cred_id().as_slice())),
            credential: Set(json),
            device_name: Set(name),
            backed_up: Set(backed_up),
            created_at: Set(now),
            last_used_at: Set(None),
        };
        let row = match row.insert(&self.db).await {
            Ok(r) => r,
            Err(e) if is_unique_violation(&e) => {
                return Err(Error::Conflict(
                    "This authenticator's credential is already registered.".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        };
        audit::record(
            &self.db,
            Event::PasskeyRegistered,
            Some(user_id),
            client,
            Some(row.device_name.clone()),
            now,
        )
        .await;
        Ok(row.into())
    }
}
