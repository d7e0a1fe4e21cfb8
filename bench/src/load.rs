//! The load generator: one task per keep-alive connection, each sending its scenario's
//! request back to back; latencies go into an HDR histogram.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rand::RngCore;
use serde_json::{Value, json};

use crate::seed::{EMAIL, Fixtures, PASSWORD, SERVICE_TOKEN};

#[derive(Debug, Clone, Copy)]
pub enum Scenario {
    Typename,
    MeJwt,
    MeKey,
    VerifyKey,
    Login,
    Refresh,
    Signup,
    /// verifyApiKey of a random, well-formed key: every request reaches the index.
    UnknownKeyLookup,
    /// GET /auth/check with an API key (forward auth: no GraphQL).
    ForwardAuth,
    /// GET /ok of the bare axum server (`bare`): the HTTP floor.
    BareOk,
}

pub struct Outcome {
    pub count: u64,
    pub errors: u64,
    pub elapsed: Duration,
    hist: Histogram<u64>,
}

impl Outcome {
    pub fn rate(&self) -> f64 {
        self.count as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
    /// Latency percentile in microseconds.
    pub fn p(&self, q: f64) -> u64 {
        self.hist.value_at_quantile(q / 100.0)
    }
}

/// Microseconds, 1 µs to 60 s, three significant digits.
fn new_histogram() -> Histogram<u64> {
    Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

static SIGNUPS: AtomicU64 = AtomicU64::new(0);

struct Worker {
    client: reqwest::Client,
    url: String,
    fx: Fixtures,
    idx: usize,
    refresh: String,
}

impl Worker {
    fn request(&mut self, scenario: Scenario) -> reqwest::RequestBuilder {
        let post = |body: Value| {
            self.client
                .post(format!("{}/graphql", self.url))
                .json(&body)
        };
        match scenario {
            Scenario::ForwardAuth => self
                .client
                .get(format!("{}/auth/check", self.url))
                .header("x-api-key", &self.fx.key),
            Scenario::BareOk => self.client.get(format!("{}/ok", self.url)),
            Scenario::Typename => post(json!({ "query": "{ __typename }" })),
            Scenario::MeJwt => post(json!({ "query": "{ me { id email } }" })).bearer_auth(&self.fx.access),
            Scenario::MeKey => post(json!({ "query": "{ me { id email } }" })).header("x-api-key", &self.fx.key),
            Scenario::VerifyKey => post(json!({
                "query": "query($k: String!) { verifyApiKey(key: $k, scopes: [READ]) { valid userId } }",
                "variables": { "k": self.fx.key }
            }))
            .header("x-service-token", SERVICE_TOKEN),
            Scenario::UnknownKeyLookup => {
                let mut b = [0u8; 32];
                rand::thread_rng().fill_bytes(&mut b);
                post(json!({
                    "query": "query($k: String!) { verifyApiKey(key: $k) { valid reason } }",
                    "variables": { "k": format!("lk_live_{}", hex::encode(b)) }
                }))
                .header("x-service-token", SERVICE_TOKEN)
            }
            Scenario::Login => post(json!({
                "query": "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { __typename } }",
                "variables": { "e": EMAIL, "p": PASSWORD }
            })),
            Scenario::Refresh => post(json!({
                "query": "mutation($t: String!) { refreshToken(refreshToken: $t) { refreshToken } }",
                "variables": { "t": self.refresh }
            })),
            Scenario::Signup => {
                let n = SIGNUPS.fetch_add(1, Ordering::Relaxed);
                post(json!({
                    "query": "mutation($e: String!, $p: String!) { signup(email: $e, password: $p) { tenantId } }",
                    "variables": { "e": format!("load-{}-{n}@example.com", self.idx), "p": PASSWORD }
                }))
            }
        }
    }

    /// One request; Ok(true) when it succeeded.
    async fn once(&mut self, scenario: Scenario) -> bool {
        let Ok(resp) = self.request(scenario).send().await else {
            return false;
        };
        if !resp.status().is_success() {
            return false;
        }
        let Ok(body) = resp.bytes().await else {
            return false;
        };
        if matches!(scenario, Scenario::UnknownKeyLookup) {
            return body.windows(9).any(|w| w == b"NOT_FOUND");
        }
        if body.windows(8).any(|w| w == b"\"errors\"") {
            return false;
        }
        if matches!(scenario, Scenario::Refresh) {
            let v: Value = serde_json::from_slice(&body).unwrap_or_default();
            if let Some(t) = v["data"]["refreshToken"]["refreshToken"].as_str() {
                self.refresh = t.to_owned();
            }
        }
        true
    }
}

async fn drive(
    url: &str,
    fx: &Fixtures,
    scenario: Scenario,
    connections: usize,
    warmup: Duration,
    measure: Duration,
) -> Outcome {
    let mut tasks = Vec::new();
    let start_at = Instant::now() + warmup;
    let end_at = start_at + measure;
    for idx in 0..connections {
        let mut w = Worker {
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .unwrap_or_default(),
            url: url.to_owned(),
            refresh: fx.refresh.get(idx).cloned().unwrap_or_default(),
            fx: fx.clone(),
            idx,
        };
        tasks.push(tokio::spawn(async move {
            let mut hist = new_histogram();
            let (mut count, mut errors) = (0u64, 0u64);
            loop {
                let t = Instant::now();
                if t >= end_at {
                    break;
                }
                let ok = w.once(scenario).await;
                if t >= start_at {
                    let _ = hist.record(t.elapsed().as_micros().max(1) as u64);
                    if ok { count += 1 } else { errors += 1 }
                }
            }
            (hist, count, errors)
        }));
    }
    let mut hist = new_histogram();
    let (mut count, mut errors) = (0, 0);
    for t in tasks {
        if let Ok((h, c, e)) = t.await {
            let _ = hist.add(h);
            count += c;
            errors += e;
        }
    }
    Outcome {
        count,
        errors,
        elapsed: measure,
        hist,
    }
}

pub async fn run(
    url: &str,
    fx: &Fixtures,
    scenario: Scenario,
    connections: usize,
    warmup: Duration,
    measure: Duration,
) -> Outcome {
    drive(url, fx, scenario, connections, warmup, measure).await
}

/// `me` on 4 connections while `connections` others log in: does the token check queue
/// behind password hashing?
pub async fn run_pair(
    url: &str,
    fx: &Fixtures,
    connections: usize,
    warmup: Duration,
    measure: Duration,
) -> (Outcome, Outcome) {
    let logins = drive(url, fx, Scenario::Login, connections, warmup, measure);
    let me = drive(url, fx, Scenario::MeJwt, 4, warmup, measure);
    let (l, m) = tokio::join!(logins, me);
    (m, l)
}

/// The physical limit of logins: Argon2id verifications per second with the server's
/// parameters, on `threads` threads, in this process.
pub fn raw_argon2_rate(threads: usize, measure: Duration) -> f64 {
    let hash = latchkey::idm::passwords::hash_blocking(PASSWORD).expect("hash");
    let done = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + measure;
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (hash, done) = (hash.clone(), done.clone());
            std::thread::spawn(move || {
                while Instant::now() < end {
                    let _ = latchkey::idm::passwords::verify_blocking(&hash, PASSWORD);
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
    done.load(Ordering::Relaxed) as f64 / measure.as_secs_f64()
}
