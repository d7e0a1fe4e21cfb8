//! Settings: a TOML file overridden by `LATCHKEY_` environment variables (CONFIG.md).
//!
//! Every key of CONFIG.md exists here from the start, so that a deployment's file keeps
//! working as the features behind its sections land. Unknown keys and malformed values
//! stop start-up with a message naming the key. Secrets are `SecretString`: their Debug
//! output is redacted, so a logged `Settings` never shows one.
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};

use crate::domain::{MasterKey, Role};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub listen: SocketAddr,
    pub public_url: String,
    pub database_url: SecretString,
    pub redis_url: SecretString,
    pub service_token: SecretString,
    /// Parsed at load (`domain::MasterKey`): a malformed key stops start-up.
    pub master_key: MasterKey,
    #[serde(deserialize_with = "list")]
    pub trusted_proxies: Vec<IpNet>,
    pub noauth: bool,
    pub tokens: TokenSettings,
    pub api_keys: ApiKeySettings,
    pub mail: MailSettings,
    pub webauthn: WebauthnSettings,
    pub captcha: CaptchaSettings,
    pub oauth: OauthSettings,
    pub rate_limit: RateLimitSettings,
    pub graphql: GraphqlSettings,
    pub metrics: MetricsSettings,
    pub console: ConsoleSettings,
    pub rest: RestSettings,
    pub tenants: TenantSettings,
    /// Browser origins allowed to call the API (CORS); empty: same origin only.
    #[serde(deserialize_with = "list")]
    pub cors_origins: Vec<String>,
}

/// Limits on what one request may ask of the GraphQL engine.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GraphqlSettings {
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_aliases: usize,
    pub max_batch: usize,
    pub max_body_bytes: usize,
    /// Schema introspection (GraphiQL needs it); turn off in production if you like.
    pub introspection: bool,
    /// "Did you mean ...?" suggestions in validation errors.
    pub suggestions: bool,
}

impl Default for GraphqlSettings {
    fn default() -> Self {
        Self {
            max_depth: 12,
            max_complexity: 500,
            max_aliases: 50,
            max_batch: 20,
            max_body_bytes: 256 * 1024,
            introspection: true,
            suggestions: true,
        }
    }
}

/// The server's own pages (sign-in, email-link landings, the account page).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleSettings {
    pub enabled: bool,
    /// Where a signed-in person is sent; empty: /account.
    pub app_url: String,
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            app_url: String::new(),
        }
    }
}

impl ConsoleSettings {
    pub fn landing(&self) -> &str {
        match self.app_url.trim() {
            "" => "/account",
            url => url,
        }
    }
}

/// Tenants with members: how long an invitation stays open, and how many a tenant
/// and an inviter may send an hour.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TenantSettings {
    pub invitation_ttl_secs: u32,
    /// Per tenant and per inviter; 0: off.
    pub invitations_per_hour: u32,
}

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            invitation_ttl_secs: 604_800,
            invitations_per_hour: 50,
        }
    }
}

/// The REST routes of REST.md, forward auth (`/auth/check`) and `/openapi.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RestSettings {
    pub enabled: bool,
}

impl Default for RestSettings {
    fn default() -> Self {
        Self { enabled: true }
    }
}

/// Where /metrics is served.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    /// None (the setting empty): on the main listener. Else only on this address.
    #[serde(deserialize_with = "optional_addr")]
    pub listen: Option<SocketAddr>,
}

fn optional_addr<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    let raw = String::deserialize(d)?;
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse().map(Some).map_err(|_| {
        serde::de::Error::custom(format!(
            "`{raw}` is not an address such as 127.0.0.1:9090 (or empty: on the main listener)"
        ))
    })
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: "http://127.0.0.1:8080".into(),
            database_url: "sqlite://latchkey.db?mode=rwc".into(),
            redis_url: SecretString::default(),
            service_token: SecretString::default(),
            master_key: MasterKey::default(),
            trusted_proxies: Vec::new(),
            noauth: false,
            tokens: TokenSettings::default(),
            api_keys: ApiKeySettings::default(),
            mail: MailSettings::default(),
            webauthn: WebauthnSettings::default(),
            captcha: CaptchaSettings::default(),
            oauth: OauthSettings::default(),
            rate_limit: RateLimitSettings::default(),
            graphql: GraphqlSettings::default(),
            metrics: MetricsSettings::default(),
            console: ConsoleSettings::default(),
            rest: RestSettings::default(),
            tenants: TenantSettings::default(),
            cors_origins: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenSettings {
    pub issuer: String,
    pub audience: String,
    pub access_ttl_secs: u32,
    pub refresh_ttl_secs: u32,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            issuer: "http://127.0.0.1:8080".into(),
            audience: "latchkey".into(),
            access_ttl_secs: 86_400,
            refresh_ttl_secs: 2_592_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiKeySettings {
    pub prefix: String,
    pub signup_key: bool,
    #[serde(deserialize_with = "optional_role")]
    pub require_role: Option<Role>,
    pub max_active_per_user: u32,
}

impl Default for ApiKeySettings {
    fn default() -> Self {
        Self {
            prefix: "lk".into(),
            signup_key: true,
            require_role: None,
            max_active_per_user: 0,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailSettings {
    /// May carry a password (smtps://user:pass@host), hence secret.
    pub smtp_url: SecretString,
    pub from: String,
    pub outbox_dir: PathBuf,
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            smtp_url: SecretString::default(),
            from: "latchkey <no-reply@localhost>".into(),
            outbox_dir: "outbox".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebauthnSettings {
    pub rp_id: String,
    pub rp_name: String,
    pub origin: String,
}

impl Default for WebauthnSettings {
    fn default() -> Self {
        Self {
            rp_id: "localhost".into(),
            rp_name: "latchkey".into(),
            origin: "http://localhost:8080".into(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaptchaSettings {
    pub verify_url: String,
    pub secret: SecretString,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OauthSettings {
    #[serde(deserialize_with = "list")]
    pub redirect_uris: Vec<String>,
    // Each key given overrides that key alone: the provider's other URLs keep their
    // defaults (a `client_id` alone turns a provider on).
    #[serde(deserialize_with = "google")]
    pub google: ProviderSettings,
    #[serde(deserialize_with = "apple")]
    pub apple: ProviderSettings,
    #[serde(deserialize_with = "x")]
    pub x: ProviderSettings,
    #[serde(deserialize_with = "github")]
    pub github: ProviderSettings,
}

/// A provider's table as written: only the keys given.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderOverrides {
    client_id: Option<String>,
    client_secret: Option<SecretString>,
    issuer: Option<String>,
    jwks_url: Option<String>,
    userinfo_url: Option<String>,
    api_url: Option<String>,
    auth_url: Option<String>,
    token_url: Option<String>,
    team_id: Option<String>,
    key_id: Option<String>,
    private_key: Option<SecretString>,
}

fn provider_over<'de, D: Deserializer<'de>>(
    d: D,
    base: ProviderSettings,
) -> Result<ProviderSettings, D::Error> {
    let o = ProviderOverrides::deserialize(d)?;
    Ok(ProviderSettings {
        client_id: o.client_id.unwrap_or(base.client_id),
        client_secret: o.client_secret.unwrap_or(base.client_secret),
        issuer: o.issuer.unwrap_or(base.issuer),
        jwks_url: o.jwks_url.unwrap_or(base.jwks_url),
        userinfo_url: o.userinfo_url.unwrap_or(base.userinfo_url),
        api_url: o.api_url.unwrap_or(base.api_url),
        auth_url: o.auth_url.unwrap_or(base.auth_url),
        token_url: o.token_url.unwrap_or(base.token_url),
        team_id: o.team_id.unwrap_or(base.team_id),
        key_id: o.key_id.unwrap_or(base.key_id),
        private_key: o.private_key.unwrap_or(base.private_key),
    })
}

fn google<'de, D: Deserializer<'de>>(d: D) -> Result<ProviderSettings, D::Error> {
    provider_over(d, OauthSettings::default().google)
}
fn apple<'de, D: Deserializer<'de>>(d: D) -> Result<ProviderSettings, D::Error> {
    provider_over(d, OauthSettings::default().apple)
}
fn x<'de, D: Deserializer<'de>>(d: D) -> Result<ProviderSettings, D::Error> {
    provider_over(d, OauthSettings::default().x)
}
fn github<'de, D: Deserializer<'de>>(d: D) -> Result<ProviderSettings, D::Error> {
    provider_over(d, OauthSettings::default().github)
}

impl Default for OauthSettings {
    fn default() -> Self {
        let p = |issuer: &str, jwks: &str, userinfo: &str, api: &str, auth: &str, token: &str| {
            ProviderSettings {
                issuer: issuer.into(),
                jwks_url: jwks.into(),
                userinfo_url: userinfo.into(),
                api_url: api.into(),
                auth_url: auth.into(),
                token_url: token.into(),
                ..ProviderSettings::default()
            }
        };
        Self {
            redirect_uris: Vec::new(),
            google: p(
                "https://accounts.google.com",
                "https://www.googleapis.com/oauth2/v3/certs",
                "",
                "",
                "https://accounts.google.com/o/oauth2/v2/auth",
                "https://oauth2.googleapis.com/token",
            ),
            apple: p(
                "https://appleid.apple.com",
                "https://appleid.apple.com/auth/keys",
                "",
                "",
                "https://appleid.apple.com/auth/authorize",
                "https://appleid.apple.com/auth/token",
            ),
            x: p(
                "",
                "",
                "https://api.x.com/2/users/me",
                "",
                "https://x.com/i/oauth2/authorize",
                "https://api.x.com/2/oauth2/token",
            ),
            github: p(
                "",
                "",
                "",
                "https://api.github.com",
                "https://github.com/login/oauth/authorize",
                "https://github.com/login/oauth/access_token",
            ),
        }
    }
}

/// One social provider. Not every provider uses every URL (CONFIG.md lists which).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProviderSettings {
    /// Accepted audience(s), comma separated; empty: the provider is off.
    pub client_id: String,
    pub client_secret: SecretString,
    pub issuer: String,
    pub jwks_url: String,
    pub userinfo_url: String,
    pub api_url: String,
    pub auth_url: String,
    pub token_url: String,
    /// Apple only: the client secret is an ES256 JWT made from the team id, the key id
    /// and the .p8 private key (PEM). Empty: `client_secret` is used as it is.
    pub team_id: String,
    pub key_id: String,
    pub private_key: SecretString,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitSettings {
    pub login_per_minute: u32,
    pub signup_per_hour: u32,
    pub reset_per_hour: u32,
    pub verify_2fa_per_challenge: u32,
    /// refreshToken calls per client IP (0: off, as for every limit here).
    pub refresh_per_minute: u32,
    /// confirmEmailVerification / confirmPasswordReset / validatePasswordResetToken per IP.
    pub token_checks_per_hour: u32,
    /// Set from `[tenants] invitations_per_hour` at start (not a `[rate_limit]` key).
    #[serde(skip)]
    pub invitations_per_hour: u32,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            login_per_minute: 10,
            signup_per_hour: 20,
            reset_per_hour: 5,
            verify_2fa_per_challenge: 5,
            refresh_per_minute: 60,
            token_checks_per_hour: 30,
            invitations_per_hour: 50,
        }
    }
}

/// Environment variables under our prefix that are not settings: `LATCHKEY_LOG`, and
/// the test suite's `LATCHKEY_TEST_*`.
fn is_setting(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key != "log" && !key.starts_with("test_")
}

impl Settings {
    /// Loads `file` (or `latchkey.toml` when present) and the `LATCHKEY_` environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::new();
        match file {
            Some(path) if !path.exists() => {
                return Err(ConfigError(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None => figment = figment.merge(Toml::file("latchkey.toml")),
        }
        let env = Env::prefixed("LATCHKEY_")
            .filter(|k| is_setting(k.as_str()))
            .split("__");
        Self::from_figment(figment.merge(env))
    }

    pub fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let settings: Settings = figment.extract().map_err(ConfigError::from_figment)?;
        settings.check()?;
        Ok(settings)
    }

    /// Checks that serde cannot express: values that parse but make no sense.
    fn check(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: &str| Err(ConfigError(format!("setting `{key}`: {why}")));
        let app_url = self.console.app_url.trim();
        let path = app_url.starts_with('/') && !app_url.starts_with("//");
        let web = app_url.starts_with("https://") || app_url.starts_with("http://");
        if !(app_url.is_empty() || path || web) {
            return bad(
                "console.app_url",
                "must be empty, a path on this server (/account) or an http(s) URL",
            );
        }
        if !(self.public_url.starts_with("http://") || self.public_url.starts_with("https://")) {
            return bad("public_url", "must start with http:// or https://");
        }
        let db = self.database_url.expose_secret();
        if !(db.starts_with("sqlite:")
            || db.starts_with("postgres://")
            || db.starts_with("postgresql://"))
        {
            return bad("database_url", "must be a sqlite: or postgres:// URL");
        }
        let smtp = self.mail.smtp_url.expose_secret();
        if !(smtp.is_empty() || smtp.starts_with("smtp://") || smtp.starts_with("smtps://")) {
            return bad(
                "mail.smtp_url",
                "must be empty, smtp://host:port or smtps://user:pass@host:port",
            );
        }
        if self.mail.from.parse::<lettre::message::Mailbox>().is_err() {
            return bad(
                "mail.from",
                "must be a mailbox such as `latchkey <no-reply@example.com>`",
            );
        }
        if self.tokens.access_ttl_secs < 60 {
            return bad("tokens.access_ttl_secs", "must be at least 60");
        }
        if self.tokens.refresh_ttl_secs < self.tokens.access_ttl_secs {
            return bad(
                "tokens.refresh_ttl_secs",
                "must be at least tokens.access_ttl_secs",
            );
        }
        if self.tokens.issuer.is_empty() || self.tokens.audience.is_empty() {
            return bad("tokens", "issuer and audience must not be empty");
        }
        let prefix = &self.api_keys.prefix;
        if prefix.is_empty()
            || prefix.len() > 16
            || !prefix
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        {
            return bad(
                "api_keys.prefix",
                "must be 1..16 lower-case letters or digits",
            );
        }
        for origin in &self.cors_origins {
            let host = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            let ok = host.is_some_and(|h| {
                !h.is_empty() && !h.contains('/') && !h.contains(char::is_whitespace)
            }) && axum::http::HeaderValue::from_str(origin).is_ok();
            if !ok {
                return bad(
                    "cors_origins",
                    &format!("`{origin}` is not an origin such as https://app.example.com"),
                );
            }
        }
        let g = &self.graphql;
        if g.max_depth == 0 || g.max_complexity == 0 || g.max_batch == 0 || g.max_body_bytes < 1024
        {
            return bad(
                "graphql",
                "max_depth, max_complexity and max_batch must be at least 1, max_body_bytes at least 1024",
            );
        }
        if self.noauth && !self.listen.ip().is_loopback() {
            return bad(
                "noauth",
                "development mode is refused unless `listen` is a loopback address",
            );
        }
        Ok(())
    }
}

/// A start-up error that names the offending key.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl ConfigError {
    fn from_figment(err: figment::Error) -> Self {
        let msgs: Vec<String> = err
            .into_iter()
            .map(|e| {
                let key = e.path.join(".");
                let source = e
                    .metadata
                    .as_ref()
                    .map(|m| format!(" (from {})", m.name))
                    .unwrap_or_default();
                if key.is_empty() {
                    format!("invalid settings: {}{source}", e.kind)
                } else {
                    format!("setting `{key}`: {}{source}", e.kind)
                }
            })
            .collect();
        ConfigError(msgs.join("; "))
    }
}

/// A list given either as a TOML array or, from an environment variable, as one
/// comma-separated string.
fn list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        One(String),
        Many(Vec<String>),
    }
    let items = match Raw::deserialize(d)? {
        Raw::One(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        Raw::Many(v) => v,
    };
    items
        .iter()
        .map(|s| {
            s.parse::<T>()
                .map_err(|e| serde::de::Error::custom(format!("`{s}`: {e}")))
        })
        .collect()
}

fn optional_role<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Role>, D::Error> {
    let s = String::deserialize(d)?;
    if s.is_empty() {
        return Ok(None);
    }
    s.parse::<Role>().map(Some).map_err(|_| {
        serde::de::Error::custom(format!("`{s}`: expected \"\", \"DEVELOPER\" or \"ADMIN\""))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use figment::providers::Serialized;

    fn from_toml(text: &str) -> Result<Settings, ConfigError> {
        Settings::from_figment(Figment::new().merge(Toml::string(text)))
    }

    #[test]
    fn defaults_are_valid() {
        let s = from_toml("").expect("defaults");
        assert_eq!(s.tokens.access_ttl_secs, 86_400);
        assert_eq!(s.api_keys.prefix, "lk");
    }

    #[test]
    fn unknown_key_is_named() {
        let err = from_toml("[mail]\nsmtp_host = \"x\"").unwrap_err().0;
        assert!(err.contains("smtp_host"), "{err}");
        assert!(err.contains("mail"), "{err}");
    }

    #[test]
    fn malformed_value_is_named() {
        let err = from_toml("[tokens]\naccess_ttl_secs = \"soon\"")
            .unwrap_err()
            .0;
        assert!(err.contains("tokens.access_ttl_secs"), "{err}");
        let err = from_toml("listen = \"nowhere\"").unwrap_err().0;
        assert!(err.contains("listen"), "{err}");
        let err = from_toml("trusted_proxies = [\"10.0.0.0/99\"]")
            .unwrap_err()
            .0;
        assert!(err.contains("trusted_proxies"), "{err}");
        let err = from_toml("[metrics]\nlisten = \"port 9090\"")
            .unwrap_err()
            .0;
        assert!(err.contains("metrics.listen"), "{err}");
    }

    #[test]
    fn a_providers_client_id_alone_keeps_its_default_urls() {
        let s = from_toml("[oauth.google]\nclient_id = \"abc\"\n[oauth.github]\napi_url = \"http://127.0.0.1:9/api\"").unwrap();
        let d = OauthSettings::default();
        assert_eq!(s.oauth.google.client_id, "abc");
        assert_eq!(s.oauth.google.issuer, d.google.issuer);
        assert_eq!(s.oauth.google.auth_url, d.google.auth_url);
        assert_eq!(s.oauth.github.api_url, "http://127.0.0.1:9/api");
        assert_eq!(s.oauth.github.token_url, d.github.token_url);
        let err = from_toml("[oauth.x]\nclient_idd = \"a\"").unwrap_err().0;
        assert!(err.contains("client_idd"), "{err}");
    }

    #[test]
    fn metrics_listen_is_empty_or_an_address() {
        assert!(from_toml("").unwrap().metrics.listen.is_none());
        assert!(
            from_toml("[metrics]\nlisten = \"\"")
                .unwrap()
                .metrics
                .listen
                .is_none()
        );
        let s = from_toml("[metrics]\nlisten = \"127.0.0.1:9090\"").unwrap();
        assert_eq!(
            s.metrics.listen,
            Some(SocketAddr::from(([127, 0, 0, 1], 9090)))
        );
    }

    #[test]
    fn lists_come_comma_separated_from_the_environment() {
        let s = Settings::from_figment(Figment::new().merge(Serialized::default(
            "oauth.redirect_uris",
            "https://a/cb, https://b/cb",
        )))
        .expect("settings");
        assert_eq!(s.oauth.redirect_uris, vec!["https://a/cb", "https://b/cb"]);
    }

    #[test]
    fn the_test_suites_variables_are_not_settings() {
        assert!(!is_setting("TEST_POSTGRES_URL"));
        assert!(!is_setting("test_redis_url"));
        assert!(!is_setting("LOG"));
        assert!(is_setting("MAIL__SMTP_URL"));
    }

    #[test]
    fn noauth_needs_loopback() {
        let err = from_toml("noauth = true\nlisten = \"0.0.0.0:8080\"")
            .unwrap_err()
            .0;
        assert!(err.contains("noauth"), "{err}");
        assert!(from_toml("noauth = true").is_ok());
    }

    #[test]
    fn secrets_never_print() {
        let s = from_toml(
            "service_token = \"hunter2-service\"\n[mail]\nsmtp_url = \"smtps://u:pw-secret@h:465\"",
        )
        .expect("settings");
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2-service"));
        assert!(!shown.contains("pw-secret"));
    }
}
