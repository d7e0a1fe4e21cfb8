//! Social login: Google and Apple ID tokens, X and GitHub access tokens, and the web
//! authorization-code flow with PKCE, all ending in one place (`social_login`): the
//! provider's (provider, subject) is looked up in `identities`, or linked or created by
//! the rule below, and the login continues as a password login does (TwoFactorRequired
//! when the user has TOTP on).
//!
//! The linking rule (README "Social login"):
//! 1. A known (provider, subject) always signs in its user.
//! 2. Otherwise, when the provider asserts a *verified* email:
//!    - no account has it: a new account (and tenant) is made, email verified;
//!    - an account with a verified email has it: the identity is linked to it;
//!    - an account whose email was never verified has it: nobody has proven that
//!      account's mailbox, so whoever made it may not be its owner. The provider has
//!      now proven it: the account is handed over clean. Its password, sessions, API
//!      keys, passkeys, two-factor secret and other identities are removed, and its
//!      email becomes verified.
//! 3. An email the provider does not vouch for never links: if an account has it the
//!    answer is CONFLICT; otherwise a new account is made with the email unverified.
//! 4. No email (X): a new account with `email: null`.
pub mod id_tokens;
mod linked;
pub mod provider_api;
pub mod web_flow;

pub use linked::LinkedProvider;

use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use super::accounts::{AccountRow, LoginStep, insert_account};
use super::audit::{self, Event};
use super::error::{Error, Result, is_unique_violation};
use super::rate_limit::{Action, Subject};
use super::{ClientInfo, Idm};
use crate::config::ProviderSettings;
use crate::domain::{Email, Role};
use crate::entities::{identity, user};

/// The `amr` of a social login: a federated authentication.
pub const SOCIAL_AMR: [&str; 1] = ["fed"];
/// The longest token we pass on to a provider or a JWT parser.
const MAX_TOKEN_LEN: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    Google,
    Apple,
    X,
    Github,
}

impl Provider {
    pub const ALL: [Provider; 4] = [
        Provider::Google,
        Provider::Apple,
        Provider::X,
        Provider::Github,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Google => "google",
            Provider::Apple => "apple",
            Provider::X => "x",
            Provider::Github => "github",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The provider's name as people write it.
    pub fn name(self) -> &'static str {
        match self {
            Provider::Google => "Google",
            Provider::Apple => "Apple",
            Provider::X => "X",
            Provider::Github => "GitHub",
        }
    }
}

/// Who the provider says the caller is.
#[derive(Debug, Clone)]
pub struct ProviderIdentity {
    pub provider: Provider,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub first_name: Option<String>,
}

impl ProviderIdentity {
    /// Takes the first name the app passes when the provider gave none (Apple sends the
    /// name to the app, on the first sign-in only).
    pub fn or_first_name(mut self, name: Option<&str>) -> Self {
        if self.first_name.is_none() {
            self.first_name = name
                .map(str::trim)
                .filter(|n| !n.is_empty() && n.chars().count() <= 64)
                .map(str::to_owned);
        }
        self
    }
}

/// A unique violation: another request inserted the same identity or email first.
pub(super) fn is_race(e: &Error) -> bool {
    matches!(e, Error::Internal(inner)
        if inner.downcast_ref::<sea_orm::DbErr>().is_some_and(is_unique_violation))
}

fn check_token(p: Provider, token: &str) -> Result<()> {
    let token = token.trim();
    if token.is_empty() {
        return Err(Error::bad_input(format!("Pass the {} token.", p.name())));
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err(Error::bad_input(format!(
            "The {} token is too long.",
            p.name()
        )));
    }
    Ok(())
}

/// A provider's email in the canonical form of `Email` (the one rule for every path);
/// None when it is not an address at all, or is one that folds into another address.
pub(super) fn provider_email(raw: Option<&str>) -> Option<String> {
    let e = Email::normalise(raw?)?;
    let ok = e.len() <= 254
        && e.split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.'));
    ok.then_some(e)
}

impl Idm {
    /// The providers with a `client_id`: the ones a sign-in page offers.
    pub fn configured_providers(&self) -> Vec<Provider> {
        Provider::ALL
            .into_iter()
            .filter(|p| self.provider_settings(*p).is_ok())
            .collect()
    }

    /// The provider's settings, or BAD_USER_INPUT when it is off (no client id).
    pub fn provider_settings(&self, p: Provider) -> Result<&ProviderSettings> {
        let o = &self.settings.oauth;
        let s = match p {
            Provider::Google => &o.google,
            Provider::Apple => &o.apple,
            Provider::X => &o.x,
            Provider::Github => &o.github,
        };
        if s.client_id.trim().is_empty() {
            return Err(Error::bad_input(format!(
                "{} sign-in is not configured",
                p.as_str()
            )));
        }
        Ok(s)
    }

    async fn social_gate(
        &self,
        p: Provider,
        token: &str,
        client: &ClientInfo,
        now: i64,
    ) -> Result<()> {
        self.provider_settings(p)?;
        check_token(p, token)?;
        self.limits
            .hit(Action::Login, Subject::Ip(client.ip), now)
            .await
    }

    /// google_auth / apple_auth: an ID token from the provider's native SDK.
    #[tracing::instrument(skip_all, fields(provider = p.as_str()))]
    pub async fn id_token_login(
        &self,
        p: Provider,
        token: &str,
        nonce: Option<&str>,
        first_name: Option<&str>,
        client: &ClientInfo,
        now: i64,
    ) -> Result<LoginStep> {
        self.social_gate(p, token, client, now).await?;
        let who = self
            .verify_id_token(p, token.trim(), nonce, now)
            .await?
            .or_first_name(first_name);
        self.social_login(who, client, now).await
    }

    /// x_auth / github_auth: an access token, checked by asking the provider who it is.
    #[tracing::instrument(skip_all, fields(provider = p.as_str()))]
    pub async fn access_token_login(
        &self,
        p: Provider,
        token: &str,
        client: &ClientInfo,
        now: i64,
    ) -> Result<LoginStep> {
        self.social_gate(p, token, client, now).await?;
        if p == Provider::Github {
            self.github_token_is_ours(token.trim()).await?;
        }
        let who = self.provider_user(p, token.trim()).await?;
        self.social_login(who, client, now).await
    }

    /// The end of every social login: the user by the linking rule, then the second
    /// factor when it is on, else a session.
    pub async fn social_login(
        &self,
        who: ProviderIdentity,
        client: &ClientInfo,
        now: i64,
    ) -> Result<LoginStep> {
        let user = match self.resolve_identity(&who, client, now).await {
            // A race with a concurrent first sign-in of the same subject or email ends
            // in a unique violation: the second look finds the winner's rows.
            Err(e) if is_race(&e) => {
                tracing::debug!(error = %e, "retrying identity resolution");
                self.resolve_identity(&who, client, now).await?
            }
            other => other?,
        };
        if !user.is_active {
            return Err(Error::forbidden(
                "This account is deactivated; contact an administrator.",
            ));
        }
        if user.two_factor_enabled {
            return Ok(LoginStep::SecondFactor(
                self.begin_second_factor(&user.id, SOCIAL_AMR[0], None, client, now)
                    .await?,
            ));
        }
        let detail = Some(format!("{} sign-in", who.provider.as_str()));
        Ok(LoginStep::Tokens(
            self.complete_login(&user, &SOCIAL_AMR, None, client, detail, now)
                .await?,
        ))
    }

    async fn resolve_identity(
        &self,
        who: &ProviderIdentity,
        client: &ClientInfo,
        now: i64,
    ) -> Result<user::Model> {
        let p = who.provider;
        let email = provider_email(who.email.as_deref());
        if let Some(known) = identity::Entity::find()
            .filter(identity::Column::Provider.eq(p.as_str()))
            .filter(identity::Column::Subject.eq(who.subject.as_str()))
            .one(&self.db)
            .await?
        {
            identity::Entity::update_many()
                .col_expr(identity::Column::LastLoginAt, Expr::value(now))
                .col_expr(identity::Column::Email, Expr::value(email.clone()))
                .filter(identity::Column::Id.eq(known.id.as_str()))
                .exec(&self.db)
                .await?;
            return self
                .find_user(&known.user_id)
                .await?
                .ok_or_else(|| Error::unauthenticated("This account no longer exists."));
        }
        if email.is_none() && who.email.as_deref().is_some_and(|e| !e.trim().is_empty()) {
            // The provider named an address we cannot take for what it says (say, one
            // with a Kelvin sign that would fold into someone else's): no new account
            // or link is made on it.
            return Err(Error::bad_input(format!(
                "The email address {} gave cannot be used here (it is malformed or has characters that stand for other letters); use an account with a plain address.",
                p.name()
            )));
        }
        let existing = match &email {
            Some(e) => self.find_user_by_email(e).await?,
            None => None,
        };
        match (existing, who.email_verified) {
            (Some(u), true) => {
                if !u.email_verified {
                    self.hand_over_unverified_account(&u, p, client, now)
                        .await?;
                }
                self.link_identity(&self.db, &u.id, who, email.as_deref(), now)
                    .await?;
                audit::record(
                    &self.db,
                    Event::SocialLinked,
                    Some(&u.id),
                    client,
                    Some(p.as_str().into()),
                    now,
                )
                .await;
                self.users.forget(&u.id);
                self.find_user(&u.id)
                    .await?
                    .ok_or_else(|| Error::unauthenticated("This account no longer exists."))
            }
            (Some(_), false) => Err(Error::Conflict(format!(
                "An account with this email already exists, and {} has not verified that the email is yours, so they are not linked. Sign in with your password.",
                p.name()
            ))),
            (None, verified) => {
                self.create_social_user(who, email, verified, client, now)
                    .await
            }
        }
    }

    /// Links (provider, subject) to `user_id`, on `db` (a transaction or not).
    pub(super) async fn link_identity<C: ConnectionTrait>(
        &self,
        db: &C,
        user_id: &str,
        who: &ProviderIdentity,
        email: Option<&str>,
        now: i64,
    ) -> Result<()> {
        identity::ActiveModel {
            id: Set(uuid::Uuid::now_v7().to_string()),
            provider: Set(who.provider.as_str().to_owned()),
            subject: Set(who.subject.clone()),
            user_id: Set(user_id.to_owned()),
            email: Set(email.map(str::to_owned)),
            created_at: Set(now),
            last_login_at: Set(now),
        }
        .insert(db)
        .await?;
        Ok(())
    }

    /// Rule 2, third case: the provider proved the mailbox of an account nobody had
    /// proven. Everything that reaches the account and that its maker may hold goes,
    /// the password included (`unproven`).
    async fn hand_over_unverified_account(
        &self,
        u: &user::Model,
        p: Provider,
        client: &ClientInfo,
        now: i64,
    ) -> Result<()> {
        self.strip_unproven_account(
            &u.id,
            vec![(
                user::Column::PasswordHash,
                Expr::value(Option::<String>::None),
            )],
            now,
        )
        .await?;
        audit::record(
            &self.db,
            Event::SocialAccountClaimed,
            Some(&u.id),
            client,
            Some(format!(
                "{} verified the email of an unverified account: its password, sessions, API keys, passkeys and two-factor were removed",
                p.as_str()
            )),
            now,
        )
        .await;
        Ok(())
    }

    async fn create_social_user(
        &self,
        who: &ProviderIdentity,
        email: Option<String>,
        verified: bool,
        client: &ClientInfo,
        now: i64,
    ) -> Result<user::Model> {
        let txn = self.begin_write().await?;
        let row = AccountRow {
            email_verified: verified && email.is_some(),
            email: email.clone(),
            password_hash: None,
            first_name: who.first_name.clone(),
            username: None,
            role: Role::User,
            join: None,
        };
        let user = insert_account(&txn, row, now).await?;
        let user_id = user.id.clone();
        self.link_identity(&txn, &user_id, who, email.as_deref(), now)
            .await?;
        txn.commit().await?;
        audit::record(
            &self.db,
            Event::Signup,
            Some(&user_id),
            client,
            Some(format!("{} sign-in", who.provider.as_str())),
            now,
        )
        .await;
        Ok(user)
    }
}
