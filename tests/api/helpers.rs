//! The test harness: `spawn_app` starts the real server on 127.0.0.1:0 over a fresh
//! database (a SQLite file, or a new PostgreSQL database when
//! LATCHKEY_TEST_POSTGRES_URL is set), and typed helpers speak GraphQL over HTTP.
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use latchkey::config::Settings;
use latchkey::http::AppState;
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub const PASSWORD: &str = "correct-Horse-battery-9";
pub const SERVICE_TOKEN: &str = "test-service-token-0123456789abcdef";

pub struct TestApp {
    pub url: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub outbox: PathBuf,
    _dir: tempfile::TempDir,
    db: Option<PgGuard>,
}

/// Drops the per-test PostgreSQL database when the test ends.
struct PgGuard {
    admin_url: String,
    name: String,
}

impl Drop for PgGuard {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                use sea_orm::ConnectionTrait;
                if let Ok(db) = sea_orm::Database::connect(&admin_url).await {
                    let _ = db
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .await;
                    let _ = db.close().await;
                }
            });
        })
        .join();
    }
}

/// Where the PostgreSQL tests run: the variable's URL, or None (then they are skipped,
/// except under CI=true, where a missing PostgreSQL fails the run).
pub fn postgres_url() -> Option<String> {
    match std::env::var("LATCHKEY_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but LATCHKEY_TEST_POSTGRES_URL is not set: the PostgreSQL tests cannot be skipped in CI"
            );
            None
        }
    }
}

async fn fresh_postgres(admin_url: &str) -> (String, PgGuard) {
    use sea_orm::ConnectionTrait;
    let name = format!("lk_test_{}", uuid::Uuid::new_v4().simple());
    let db = sea_orm::Database::connect(admin_url)
        .await
        .expect("connect to LATCHKEY_TEST_POSTGRES_URL");
    db.execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .expect("create database");
    let _ = db.close().await;
    let base = admin_url
        .rsplit_once('/')
        .map(|(b, _)| b)
        .unwrap_or(admin_url);
    (
        format!("{base}/{name}"),
        PgGuard {
            admin_url: admin_url.to_owned(),
            name,
        },
    )
}

pub async fn spawn_app_with(
    backend: Backend,
    configure: impl FnOnce(&mut Settings),
) -> Option<TestApp> {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut settings = Settings::default();
    let (db_url, guard) = match backend {
        Backend::Sqlite => (
            format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display()),
            None,
        ),
        Backend::Postgres => {
            let admin = postgres_url()?;
            let (url, guard) = fresh_postgres(&admin).await;
            (url, Some(guard))
        }
    };
    settings.database_url = db_url.into();
    settings.mail.outbox_dir = dir.path().join("outbox");
    settings.service_token = SERVICE_TOKEN.into();
    // Every test talks from 127.0.0.1: rate limits are off unless a test sets them
    // (tests/api/limits.rs does). 0 turns a limit off.
    settings.rate_limit = latchkey::config::RateLimitSettings {
        login_per_minute: 0,
        signup_per_hour: 0,
        reset_per_hour: 0,
        refresh_per_minute: 0,
        token_checks_per_hour: 0,
        ..Default::default()
    };
    configure(&mut settings);
    Some(start(settings, dir, guard).await)
}

async fn start(settings: Settings, dir: tempfile::TempDir, guard: Option<PgGuard>) -> TestApp {
    let outbox = settings.mail.outbox_dir.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let state = latchkey::startup::build(settings).await.expect("build app");
    tokio::spawn(latchkey::startup::run(state.clone(), listener));
    TestApp {
        url: format!("http://{addr}"),
        client: reqwest::Client::new(),
        state,
        outbox,
        _dir: dir,
        db: guard,
    }
}

impl TestApp {
    /// On PostgreSQL: (admin URL, this test's database name).
    pub fn postgres(&self) -> Option<(&str, &str)> {
        self.db
            .as_ref()
            .map(|g| (g.admin_url.as_str(), g.name.as_str()))
    }

    /// A second instance of the server on the same database (and the same settings):
    /// what a deployment with several instances behind a load balancer runs.
    pub async fn sibling(&self) -> TestApp {
        self.sibling_with((*self.state.idm.settings).clone()).await
    }

    /// Another instance on the same database, with other settings.
    pub async fn sibling_with(&self, settings: Settings) -> TestApp {
        start(settings, tempfile::tempdir().expect("tempdir"), None).await
    }
}

/// Segment `i` of a JWT (0: header, 1: claims), decoded.
pub fn jwt_part(token: &str, i: usize) -> Value {
    use base64::Engine;
    let seg = token.split('.').nth(i).expect("segment");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(seg)
        .expect("b64");
    serde_json::from_slice(&raw).expect("json")
}

/// One GraphQL answer: `data` and `errors` as JSON.
#[derive(Debug, Clone)]
pub struct Gql(pub Value);

impl Gql {
    pub fn data(&self) -> &Value {
        &self.0["data"]
    }
    /// The first error's `extensions.code`, if any.
    pub fn code(&self) -> Option<&str> {
        self.0["errors"][0]["extensions"]["code"].as_str()
    }
    pub fn message(&self) -> &str {
        self.0["errors"][0]["message"].as_str().unwrap_or("")
    }
    pub fn ok(&self) -> &Value {
        assert!(
            self.0.get("errors").is_none_or(|e| e.is_null()),
            "unexpected errors: {}",
            self.0
        );
        self.data()
    }
    #[track_caller]
    pub fn expect_code(&self, code: &str) {
        assert_eq!(self.code(), Some(code), "expected {code}: {}", self.0);
    }
}

pub struct Tokens {
    pub access: String,
    pub refresh: String,
    pub user_id: String,
}

impl TestApp {
    pub async fn post(&self, body: Value, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut req = self
            .client
            .post(format!("{}/graphql", self.url))
            .json(&body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await.expect("request")
    }

    pub async fn gql_with(&self, query: &str, vars: Value, headers: &[(&str, &str)]) -> Gql {
        let resp = self
            .post(json!({ "query": query, "variables": vars }), headers)
            .await;
        Gql(resp.json().await.expect("json body"))
    }

    pub async fn gql(&self, query: &str, vars: Value) -> Gql {
        self.gql_with(query, vars, &[]).await
    }

    pub async fn gql_as(&self, token: &str, query: &str, vars: Value) -> Gql {
        let bearer = format!("Bearer {token}");
        self.gql_with(query, vars, &[("authorization", &bearer)])
            .await
    }

    pub async fn signup(&self, email: &str) -> Tokens {
        let r = self
            .gql(
                "mutation($e: String!, $p: String!) { signup(email: $e, password: $p) { auth { accessToken refreshToken user { id } } } }",
                json!({ "e": email, "p": PASSWORD }),
            )
            .await;
        let auth = &r.ok()["signup"]["auth"];
        Tokens {
            access: auth["accessToken"].as_str().expect("access").to_owned(),
            refresh: auth["refreshToken"].as_str().expect("refresh").to_owned(),
            user_id: auth["user"]["id"].as_str().expect("id").to_owned(),
        }
    }

    pub async fn login(&self, email: &str, password: &str) -> Gql {
        self.gql(
            "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { __typename ... on AuthPayload { accessToken refreshToken user { id email } } } }",
            json!({ "e": email, "p": password }),
        )
        .await
    }

    pub async fn login_tokens(&self, email: &str, password: &str) -> Tokens {
        let r = self.login(email, password).await;
        let auth = &r.ok()["login"];
        Tokens {
            access: auth["accessToken"].as_str().expect("access").to_owned(),
            refresh: auth["refreshToken"].as_str().expect("refresh").to_owned(),
            user_id: auth["user"]["id"].as_str().expect("id").to_owned(),
        }
    }

    pub async fn me(&self, token: &str) -> Gql {
        self.gql_as(
            token,
            "{ me { id email role isActive emailVerified } }",
            json!({}),
        )
        .await
    }

    /// Makes `email`'s account an ADMIN through the core (as `latchkey user set-role` does).
    pub async fn make_admin(&self, email: &str) {
        self.state
            .idm
            .set_role_by_email(email, latchkey::domain::Role::Admin, latchkey::clock::now())
            .await
            .expect("set role");
    }

    /// The audit log's rows about `user_id`.
    pub async fn audit_rows(&self, user_id: &str) -> Vec<latchkey::entities::audit_log::Model> {
        use latchkey::entities::audit_log;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        audit_log::Entity::find()
            .filter(audit_log::Column::UserId.eq(user_id))
            .all(&self.state.idm.db)
            .await
            .expect("audit log")
    }

    /// The bodies of the messages in the outbox, waiting up to 15 s for `n` of them.
    /// Confirms `email` with the link of its verification message.
    pub async fn verify_email(&self, email: &str) {
        let to = format!("To: {email}");
        for _ in 0..300 {
            let found = std::fs::read_dir(&self.outbox)
                .into_iter()
                .flatten()
                .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
                .find(|m| m.contains(&to) && m.contains("/verify-email?token="));
            if let Some(message) = found {
                let token = link_token(&message, "/verify-email");
                let r = self
                    .gql(
                        "mutation($t: String!) { confirmEmailVerification(token: $t) }",
                        json!({ "t": token }),
                    )
                    .await;
                assert_eq!(r.ok()["confirmEmailVerification"], true);
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no verification message to {email}");
    }

    /// Signs up and verifies the email (what two-factor and passkeys need).
    pub async fn signup_verified(&self, email: &str) -> Tokens {
        let t = self.signup(email).await;
        self.verify_email(email).await;
        t
    }

    pub async fn outbox_messages(&self, n: usize) -> Vec<String> {
        for _ in 0..300 {
            let mut found = Vec::new();
            if let Ok(entries) = std::fs::read_dir(&self.outbox) {
                let mut paths: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
                paths.sort();
                for p in paths {
                    if let Ok(text) = std::fs::read_to_string(&p) {
                        found.push(text);
                    }
                }
            }
            if found.len() >= n {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {n} outbox message(s)");
    }
}

/// Extracts the token from the first `path?token=` link in an email.
pub fn link_token(message: &str, path: &str) -> String {
    let unfolded = message
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    let start = unfolded
        .find(&format!("{path}?token="))
        .expect("link in email")
        + path.len()
        + 7;
    unfolded[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// A real SMTP server on 127.0.0.1 (mailin-embedded) that keeps what it receives.
#[derive(Clone, Default)]
pub struct SmtpSink {
    pub messages: Arc<Mutex<Vec<String>>>,
    current: Vec<u8>,
}

impl mailin_embedded::Handler for SmtpSink {
    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.current.extend_from_slice(buf);
        Ok(())
    }
    fn data_end(&mut self) -> mailin_embedded::Response {
        let text = String::from_utf8_lossy(&std::mem::take(&mut self.current)).into_owned();
        if let Ok(mut m) = self.messages.lock() {
            m.push(text);
        }
        mailin_embedded::response::OK
    }
}

impl SmtpSink {
    /// Starts the server; returns its smtp:// URL.
    pub fn start(&self) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind smtp");
        let addr = listener.local_addr().expect("addr");
        let mut server = mailin_embedded::Server::new(self.clone());
        server.with_name("sink.test").with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        format!("smtp://{addr}")
    }

    pub async fn wait_for(&self, n: usize) -> Vec<String> {
        for _ in 0..300 {
            let got = self.messages.lock().map(|m| m.clone()).unwrap_or_default();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {n} message(s) at the SMTP server");
    }
}

/// Declares a test that runs once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! db_test {
    ($name:ident, |$app:ident| $body:block) => {
        $crate::db_test!($name, |_s| {}, |$app| $body);
    };
    ($name:ident, |$s:ident| $configure:block, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[allow(unused_imports)]
            use $crate::helpers::*;

            #[allow(unused_variables)]
            fn configure($s: &mut latchkey::config::Settings) $configure

            async fn run($app: TestApp) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = spawn_app_with(Backend::Sqlite, configure).await.expect("sqlite app");
                run(app).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                match spawn_app_with(Backend::Postgres, configure).await {
                    Some(app) => run(app).await,
                    None => eprintln!("skipped: LATCHKEY_TEST_POSTGRES_URL is not set"),
                }
            }
        }
    };
}
