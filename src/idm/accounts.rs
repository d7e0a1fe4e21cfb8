//! Accounts: signup, login and passwords. (The emailed links are in `email_links`.)
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use super::api_keys::NewApiKey;
use super::audit::{self, Event};
use super::email_tokens::{self, Purpose};
use super::error::{Error, Result, is_unique_violation};
use super::mfa_login::Challenge;
use super::passwords::Verified;
use super::rate_limit::{Action, Subject};
use super::sessions::Tokens;
use super::{ClientInfo, Idm};
use crate::domain::{Email, Password, Role, TenantRole};
use crate::entities::user;
use crate::metrics::LoginOutcome;

pub struct NewAccount<'a> {
    pub email: &'a str,
    pub password: &'a str,
    pub first_name: Option<&'a str>,
    pub username: Option<&'a str>,
    /// An invitation's token: the account joins that tenant (the email must be the
    /// invited one, and is then verified) instead of making one.
    pub invitation_token: Option<&'a str>,
}

/// What a correct password leads to: tokens, or a second factor to ask for.
pub enum LoginStep {
    Tokens(Tokens),
    SecondFactor(Challenge),
}

pub struct SignedUp {
    pub tokens: Tokens,
    pub tenant_id: String,
    /// The tenant's first key, when `api_keys.signup_key` is on.
    pub api_key: Option<NewApiKey>,
}

pub(super) fn optional_text(value: Option<&str>, what: &str, max: usize) -> Result<Option<String>> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if v.chars().count() > max {
        return Err(Error::bad_input(format!(
            "{what} must be at most {max} characters."
        )));
    }
    if v.chars().any(char::is_control) {
        return Err(Error::bad_input(format!(
            "{what} must not contain control characters."
        )));
    }
    Ok(Some(v.to_owned()))
}

pub(super) fn parse_password(
    raw: &str,
    email: Option<&str>,
    extra: &[Option<&str>],
) -> Result<Password> {
    let mut context: Vec<&str> = extra.iter().flatten().copied().collect();
    if let Some(email) = email {
        context.push(email);
        context.extend(email.split('@').next());
    }
    Password::parse(raw, &context).map_err(Error::BadInput)
}

const INVALID_LOGIN: &str = "Invalid email or password.";

/// The subject of a known user's limits on secret checks (passwords and second factors
/// alike).
pub(super) fn user_subject(user_id: &str) -> String {
    format!("user:{user_id}")
}

/// The subject of an account's limits on secret checks: the user when the account
/// exists (so a login and a `changePassword` share one counter), else the address as
/// looked up.
pub(super) fn account_subject(user: Option<&user::Model>, typed_email: &str) -> String {
    match user {
        Some(u) => user_subject(&u.id),
        None => format!("email:{}", crate::domain::Email::lookup_key(typed_email)),
    }
}

impl Idm {
    #[tracing::instrument(skip_all)]
    pub async fn signup(
        &self,
        new: NewAccount<'_>,
        client: &ClientInfo,
        now: i64,
    ) -> Result<SignedUp> {
        self.limits
            .hit(Action::Signup, Subject::Ip(client.ip), now)
            .await?;
        let email = Email::parse(new.email).map_err(Error::BadInput)?;
        let first_name = optional_text(new.first_name, "The first name", 128)?;
        let username = optional_text(new.username, "The username", 64)?;
        let password = parse_password(
            new.password,
            Some(email.as_str()),
            &[first_name.as_deref(), username.as_deref()],
        )?;
        let taken = || Error::Conflict("An account with this email already exists.".into());
        if self.find_user_by_email(email.as_str()).await?.is_some() {
            return Err(taken());
        }
        let invitation = match new.invitation_token {
            Some(token) => Some(
                self.invitation_for_signup(token, email.as_str(), now)
                    .await?,
            ),
            None => None,
        };
        let hash = self.hasher.hash(password.expose()).await?;
        let txn = self.begin_write().await?;
        if let Some(inv) = &invitation {
            // Single use: of two signups with one invitation, one joins.
            if !super::invitations::claim(&txn, &inv.id, now).await? {
                return Err(Error::bad_input(
                    "This invitation link is invalid, expired or already used; ask for a new one.",
                ));
            }
        }
        let inserted = insert_account(
            &txn,
            AccountRow {
                email: Some(email.as_str().to_owned()),
                // The invitation's link proved the mailbox.
                email_verified: invitation.is_some(),
                password_hash: Some(hash),
                first_name,
                username,
                role: Role::User,
                join: invitation.as_ref().map(|i| (i.tenant_id.clone(), i.role)),
            },
            now,
        )
        .await;
        let user = match inserted {
            Ok(u) => u,
            Err(e) if is_unique_violation(&e) => return Err(taken()),
            Err(e) => return Err(e.into()),
        };
        let tokens = self
            .start_session(&txn, &user, &["pwd"], client, now)
            .await?;
        let tenant_id = user.tenant_id.clone();
        let (verify, api_key) = if invitation.is_some() {
            // Joining a tenant that has its keys: no first key, nothing to verify.
            (None, None)
        } else {
            let verify = email_tokens::issue(&txn, &user.id, Purpose::VerifyEmail, now).await?;
            (
                Some(verify),
                self.signup_key(&txn, &user.id, &tenant_id, now).await?,
            )
        };
        txn.commit().await?;
        audit::record(&self.db, Event::Signup, Some(&user.id), client, None, now).await;
        if let Some(inv) = &invitation {
            let detail = Some(format!("{} as {}", inv.tenant_id, inv.role));
            audit::record(
                &self.db,
                Event::MemberJoined,
                Some(&user.id),
                client,
                detail,
                now,
            )
            .await;
        }
        if let Some(verify) = verify {
            self.mailer
                .send_link_later(Purpose::VerifyEmail, email.as_str().to_owned(), verify);
        }
        Ok(SignedUp {
            tokens,
            tenant_id,
            api_key,
        })
    }

    #[tracing::instrument(skip_all)]
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        client: &ClientInfo,
        now: i64,
    ) -> Result<LoginStep> {
        let found = self.find_user_by_email(email).await?;
        let subject = account_subject(found.as_ref(), email);
        let checked = self
            .verify_password_of(found.as_ref(), &subject, password, client, now)
            .await?;
        let user = match found {
            Some(u) if checked.ok => u,
            other => {
                self.metrics.login(LoginOutcome::Failed);
                let uid = other.as_ref().map(|u| u.id.as_str());
                audit::record(&self.db, Event::LoginFailed, uid, client, None, now).await;
                return Err(Error::unauthenticated(INVALID_LOGIN));
            }
        };
        if !user.is_active {
            self.metrics.login(LoginOutcome::Inactive);
            audit::record(
                &self.db,
                Event::LoginFailed,
                Some(&user.id),
                client,
                Some("inactive".into()),
                now,
            )
            .await;
            return Err(Error::forbidden(
                "This account is deactivated; contact an administrator.",
            ));
        }
        let mut verified_hash = user.password_hash.clone();
        if checked.needs_rehash {
            let hash = self.hasher.hash(password).await?;
            let done = user::Entity::update_many()
                .col_expr(user::Column::PasswordHash, Expr::value(hash.clone()))
                .col_expr(user::Column::UpdatedAt, Expr::value(now))
                .filter(user::Column::Id.eq(user.id.as_str()))
                // Only over the hash we verified: a change meanwhile wins.
                .filter(user::Column::PasswordHash.eq(verified_hash.clone()))
                .exec(&self.db)
                .await?;
            if done.rows_affected == 1 {
                self.users.forget(&user.id);
                verified_hash = Some(hash);
            }
        }
        let verified = verified_hash.as_deref();
        if user.two_factor_enabled {
            // No session yet: the password only opens a pending login.
            return Ok(LoginStep::SecondFactor(
                self.begin_second_factor(&user.id, "pwd", verified, client, now)
                    .await?,
            ));
        }
        let tokens = self
            .complete_login(&user, &["pwd"], verified, client, None, now)
            .await?;
        Ok(LoginStep::Tokens(tokens))
    }

    /// Checks a password of `user` (None: an unknown account, checked against a dummy
    /// hash so that the answer takes as long). Every password check goes through here,
    /// so each counts against the caller's IP and the account (`subject`, from
    /// `account_subject`): the account's slot is taken before the hash is computed, so
    /// aliased, batched and concurrent guesses are all bounded by one limit.
    pub(super) async fn verify_password_of(
        &self,
        user: Option<&user::Model>,
        subject: &str,
        password: &str,
        client: &ClientInfo,
        now: i64,
    ) -> Result<Verified> {
        let check = self
            .limits
            .begin_secret_check(Action::Login, subject, client.ip, now)
            .await?;
        let hash = user.and_then(|u| u.password_hash.as_deref());
        let verified = self.hasher.verify(hash, password).await?;
        if verified.ok {
            self.limits.passed(check).await;
        }
        Ok(verified)
    }

    /// Opens the session of a completed login (password, or password and second factor):
    /// one transaction, so one commit, for the session, its refresh token and the event.
    /// `password`: the hash a password login verified; the session opens only if it is
    /// still the account's (see `password_still_current`).
    pub(super) async fn complete_login(
        &self,
        user: &user::Model,
        amr: &[&str],
        password: Option<&str>,
        client: &ClientInfo,
        detail: Option<String>,
        now: i64,
    ) -> Result<Tokens> {
        let txn = self.begin_write().await?;
        if let Some(hash) = password {
            self.password_still_current(&txn, &user.id, hash).await?;
        }
        let tokens = self.start_session(&txn, user, amr, client, now).await?;
        audit::record(&txn, Event::LoginOk, Some(&user.id), client, detail, now).await;
        txn.commit().await?;
        self.metrics.login(LoginOutcome::Ok);
        Ok(tokens)
    }

    /// Inside a login's write transaction (the user row locked on PostgreSQL; SQLite's
    /// write lock taken): UNAUTHENTICATED unless the account is still active and still
    /// has the password hash the login verified. A password change, reset or hand-over
    /// that commits while the slow hash is checked therefore either sees the new
    /// session (and revokes it) or makes the login fail here: never a session opened by
    /// a password that no longer opens the account.
    pub(super) async fn password_still_current<C: ConnectionTrait>(
        &self,
        db: &C,
        user_id: &str,
        hash: &str,
    ) -> Result<()> {
        self.lock_user(db, user_id).await?;
        let row = user::Entity::find_by_id(user_id.to_owned()).one(db).await?;
        match row {
            Some(u) if u.is_active && u.password_hash.as_deref() == Some(hash) => Ok(()),
            _ => Err(Error::unauthenticated(INVALID_LOGIN)),
        }
    }

    /// Changes the password; every other session of the user is revoked, and so are
    /// pending second-factor logins and outstanding reset links.
    #[tracing::instrument(skip_all)]
    pub async fn change_password(
        &self,
        user_id: &str,
        sid: Option<&str>,
        current: &str,
        new: &str,
        client: &ClientInfo,
        now: i64,
    ) -> Result<bool> {
        let user = self
            .find_user(user_id)
            .await?
            .ok_or_else(|| Error::unauthenticated("Sign in again."))?;
        if user.password_hash.is_none() {
            return Err(Error::bad_input(
                "This account has no password; set one with a password reset.",
            ));
        }
        let subject = user_subject(&user.id);
        if !self
            .verify_password_of(Some(&user), &subject, current, client, now)
            .await?
            .ok
        {
            return Err(Error::bad_input("The current password is incorrect."));
        }
        if current == new {
            return Err(Error::bad_input(
                "The new password must differ from the current one.",
            ));
        }
        let password = parse_password(
            new,
            user.email.as_deref(),
            &[user.first_name.as_deref(), user.username.as_deref()],
        )?;
        self.set_password(user_id, password, false, now).await?;
        self.revoke_sessions(user_id, None, sid, now).await?;
        // What the old password opened, or may have been used to ask for, ends with it.
        super::mfa_login::void_pending_logins(&self.db, user_id).await?;
        email_tokens::void(&self.db, user_id, Purpose::ResetPassword, now).await?;
        audit::record(
            &self.db,
            Event::PasswordChanged,
            Some(user_id),
            client,
            None,
            now,
        )
        .await;
        Ok(true)
    }

    pub(super) async fn set_password(
        &self,
        user_id: &str,
        password: Password,
        verified_email: bool,
        now: i64,
    ) -> Result<()> {
        let hash = self.hasher.hash(password.expose()).await?;
        let mut update = user::Entity::update_many()
            .col_expr(user::Column::PasswordHash, Expr::value(hash))
            .col_expr(user::Column::UpdatedAt, Expr::value(now));
        if verified_email {
            update = update.col_expr(user::Column::EmailVerified, Expr::value(true));
        }
        update
            .filter(user::Column::Id.eq(user_id))
            .exec(&self.db)
            .await?;
        Ok(())
    }
}

/// The columns of a new account that differ between the ways one is made (signup, a
/// social sign-in, the development user).
pub(super) struct AccountRow {
    pub email: Option<String>,
    pub email_verified: bool,
    pub password_hash: Option<String>,
    pub first_name: Option<String>,
    pub username: Option<String>,
    pub role: Role,
    /// Join this tenant with this role (an invitation) instead of making one.
    pub join: Option<(String, TenantRole)>,
}

/// Inserts a new tenant and its first user (the account) on `db`, usually a
/// transaction. A unique violation (the email is taken) comes back as the DbErr.
pub(super) async fn insert_account<C: ConnectionTrait>(
    db: &C,
    row: AccountRow,
    now: i64,
) -> std::result::Result<user::Model, sea_orm::DbErr> {
    let (tenant_id, role) = match row.join {
        Some(joined) => joined,
        None => {
            let name = super::tenants::default_name(row.email.as_deref());
            let id = super::tenants::insert_tenant(db, name, None, now).await?;
            (id, TenantRole::Owner)
        }
    };
    let user_id = uuid::Uuid::now_v7().to_string();
    let inserted = user::ActiveModel {
        id: Set(user_id.clone()),
        tenant_id: Set(tenant_id.clone()),
        email: Set(row.email),
        email_verified: Set(row.email_verified),
        password_hash: Set(row.password_hash),
        first_name: Set(row.first_name),
        username: Set(row.username),
        role: Set(row.role),
        is_active: Set(true),
        has_seen_welcome: Set(false),
        two_factor_enabled: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    super::tenants::insert_membership(db, &tenant_id, &user_id, role, now).await?;
    Ok(inserted)
}
