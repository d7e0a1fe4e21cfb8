//! The data a run needs: a user with a token, a key and one refresh-token chain per
//! connection, and filler keys to grow the key table.
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, Set};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use latchkey::entities::api_key;

pub const SERVICE_TOKEN: &str = "bench-service-token-0123456789abcdef";
pub const PASSWORD: &str = "correct-Horse-battery-9";
pub const EMAIL: &str = "bench@example.com";

#[derive(Clone)]
pub struct Fixtures {
    pub user_id: String,
    pub access: String,
    pub key: String,
    /// One refresh token per connection, so that each rotates its own chain.
    pub refresh: Vec<String>,
}

async fn gql(
    client: &reqwest::Client,
    url: &str,
    query: &str,
    vars: Value,
) -> anyhow::Result<Value> {
    let v: Value = client
        .post(format!("{url}/graphql"))
        .json(&json!({ "query": query, "variables": vars }))
        .send()
        .await?
        .json()
        .await?;
    if v.get("errors").is_some() {
        anyhow::bail!("seeding failed: {v}");
    }
    Ok(v["data"].clone())
}

impl Fixtures {
    pub async fn create(url: &str, connections: usize) -> anyhow::Result<Self> {
        let c = reqwest::Client::new();
        let d = gql(
            &c,
            url,
            "mutation($e: String!, $p: String!) { signup(email: $e, password: $p) { auth { accessToken user { id } } apiKey { secret } } }",
            json!({ "e": EMAIL, "p": PASSWORD }),
        )
        .await?;
        let s = &d["signup"];
        let mut refresh = Vec::new();
        for _ in 0..connections {
            let l = gql(
                &c,
                url,
                "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { ... on AuthPayload { refreshToken } } }",
                json!({ "e": EMAIL, "p": PASSWORD }),
            )
            .await?;
            refresh.push(
                l["login"]["refreshToken"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
        Ok(Self {
            user_id: s["auth"]["user"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            access: s["auth"]["accessToken"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            key: s["apiKey"]["secret"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            refresh,
        })
    }
}

/// Adds revoked filler keys of `user_id` until the table holds `total` keys.
pub async fn fill_keys(db: &DatabaseConnection, user_id: &str, total: u64) -> anyhow::Result<()> {
    let have = api_key::Entity::find().count(db).await?;
    let mut missing = total.saturating_sub(have);
    let tenant = latchkey::entities::user::Entity::find_by_id(user_id.to_owned())
        .one(db)
        .await?
        .map(|u| u.tenant_id)
        .unwrap_or_default();
    let started = std::time::Instant::now();
    while missing > 0 {
        let n = missing.min(1000);
        let rows = (0..n).map(|_| {
            let hash = hex::encode(Sha256::digest(uuid::Uuid::new_v4().as_bytes()));
            api_key::ActiveModel {
                id: Set(uuid::Uuid::new_v4().to_string()),
                user_id: Set(user_id.to_owned()),
                tenant_id: Set(tenant.clone()),
                name: Set("filler".into()),
                prefix: Set(format!("lk_live_{}", &hash[..8])),
                key_hash: Set(hash),
                environment: Set(latchkey::domain::Environment::Live),
                scopes: Set(latchkey::domain::ScopeList::new(&[
                    latchkey::domain::Scope::Read,
                ])),
                ips: Set(latchkey::domain::IpAllowlist::default()),
                temporary: Set(false),
                created_at: Set(0),
                expires_at: Set(None),
                last_used_at: Set(None),
                revoked_at: Set(Some(0)),
                deleted_at: Set(None),
                replaced_by: Set(None),
            }
        });
        api_key::Entity::insert_many(rows).exec(db).await?;
        missing -= n;
    }
    if total > 10_000 {
        eprintln!(
            "seeded {total} keys in {:.0} s",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

pub struct PgGuard {
    admin: String,
    name: String,
}

impl Drop for PgGuard {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let db = sea_orm::Database::connect(&admin).await.ok()?;
                db.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await
                    .ok()
            })
        })
        .join();
    }
}

pub async fn fresh_postgres(admin: &str) -> anyhow::Result<(String, PgGuard)> {
    let name = format!("lk_bench_{}", uuid::Uuid::new_v4().simple());
    let db = sea_orm::Database::connect(admin).await?;
    db.execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await?;
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(admin);
    Ok((
        format!("{base}/{name}"),
        PgGuard {
            admin: admin.to_owned(),
            name,
        },
    ))
}
