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
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, Set,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey as Credential, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Url, Uuid, WebauthnError,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};

use super::audit::{self, Event};
use super::error::{Error, Result, is_unique_violation};
use super::rate_limit::{Action, Subject};
use super::sessions::Tokens;
use super::{ClientInfo, Idm};
use crate::config::WebauthnSettings;
use crate::entities::{passkey, webauthn_ceremony};

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

fn parse<T: serde::de::DeserializeOwned>(credential: Value, what: &str) -> Result<T> {
    serde_json::from_value(credential).map_err(|e| {
        Error::bad_input(format!(
            "The credential is not a valid WebAuthn {what} (pass the browser's credential.toJSON()): {e}"
        ))
    })
}

/// The options as the browser's `parse*OptionsFromJSON` takes them: `{"publicKey": …}`,
/// without webauthn-rs's `mediation` (ours are modal ceremonies).
fn browser_options(options: impl Serialize) -> Result<(Value, String)> {
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

fn state_json(state: &impl Serialize) -> Result<String> {
    serde_json::to_string(state)
        .map_err(|e| Error::Internal(anyhow::Error::new(e).context("webauthn state")))
}

fn credential_json(cred: &Credential) -> Result<(String, bool)> {
    let v = serde_json::to_value(cred)
        .map_err(|e| Error::Internal(anyhow::Error::new(e).context("passkey credential")))?;
    let backed_up = v
        .pointer("/cred/backup_state")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Ok((v.to_string(), backed_up))
}

/// The signature counter of a stored credential.
fn stored_counter(row: &passkey::Model) -> u32 {
    serde_json::from_str::<Value>(&row.credential)
        .ok()
        .and_then(|v| v.pointer("/cred/counter").and_then(Value::as_u64))
        .and_then(|c| u32::try_from(c).ok())
        .unwrap_or(0)
}

fn stored_credential(row: &passkey::Model) -> Result<Credential> {
    serde_json::from_str(&row.credential).map_err(|e| {
        Error::Internal(anyhow::Error::new(e).context(format!("stored passkey {}", row.id)))
    })
}

fn device_name(name: &str) -> Result<String> {
    let name = name.trim();
    match name.chars().count() {
        1..=64 if !name.chars().any(char::is_control) => Ok(name.to_owned()),
        _ => Err(Error::bad_input(
            "device_name must be 1 to 64 characters, without control characters.",
        )),
    }
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

    async fn save_ceremony(
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
    async fn claim_ceremony(
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
            client,
            Some(format!("passkey {}", row.id)),
            now,
        )
        .await
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
