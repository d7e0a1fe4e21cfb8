//! The load benchmark: `cargo run --release -p latchkey-bench`.
//!
//! Builds and starts the real server (release, SQLite by default, PostgreSQL with
//! `--postgres`), seeds what it needs, and drives each scenario from a pool of
//! HTTP/1.1 keep-alive connections for a fixed time after a warm-up. Prints one table:
//! requests/s, p50/p99/p99.9, errors, the server's peak RSS during the scenario, and
//! each scenario's ratio to the limit it is judged against, measured in the same run.
#![allow(clippy::disallowed_methods)] // tests and benchmarks measure real time
mod bare;
mod load;
mod seed;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use load::{Outcome, Scenario};

#[derive(Parser, Clone)]
#[command(about = "latchkey load benchmark")]
pub struct Args {
    /// PostgreSQL admin URL: the benchmark creates (and drops) its own database there.
    #[arg(long)]
    postgres: Option<String>,
    /// Seconds each scenario is measured.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Seconds of warm-up before each measurement.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Keep-alive connections per scenario.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Keys in the table for the large key-lookup scenario.
    #[arg(long, default_value_t = 1_000_000)]
    many_keys: u64,
    /// A few seconds in all, small seeds: proves the benchmark still works (CI).
    #[arg(long)]
    smoke: bool,
    /// Use target/debug/latchkey (no release build): for the smoke run.
    #[arg(long)]
    debug_server: bool,
    /// Also write the table as Markdown to this file.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Run this server binary instead of building the release one: to compare two
    /// builds (say, before and after a change) by alternating runs on the same machine.
    #[arg(long)]
    server: Option<PathBuf>,
    /// Internal: be the bare axum server the scenarios are judged against (`bare`).
    #[arg(long, hide = true)]
    serve_bare: bool,
}

struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// (current RSS, peak RSS since the last reset) in KiB, from /proc.
    fn rss_kib(&self) -> (u64, u64) {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// Resets the peak-RSS counter (Linux: `5` to clear_refs).
    fn reset_peak(&self) {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5");
    }
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn start_server(args: &Args, db_url: &str, dir: &std::path::Path) -> anyhow::Result<Server> {
    let root = workspace_root();
    let profile = if args.debug_server {
        "debug"
    } else {
        "release"
    };
    if !args.debug_server && args.server.is_none() {
        // `cargo` from PATH (rustup's proxy picks the toolchain), as a person would run it.
        let status = Command::new("cargo")
            .args(["build", "--release", "--bin", "latchkey"])
            .current_dir(&root)
            .status()?;
        if !status.success() {
            bail!("building the server failed");
        }
    }
    let bin = match &args.server {
        Some(bin) => bin.clone(),
        None => root.join("target").join(profile).join("latchkey"),
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let child = Command::new(&bin)
        .arg("serve")
        .current_dir(dir)
        .env("LATCHKEY_LISTEN", format!("127.0.0.1:{port}"))
        .env("LATCHKEY_PUBLIC_URL", &url)
        .env("LATCHKEY_DATABASE_URL", db_url)
        .env("LATCHKEY_SERVICE_TOKEN", seed::SERVICE_TOKEN)
        .env("RUST_LOG", "warn")
        // The benchmark measures the cost of each operation from one address: the
        // per-IP rate limits (which would refuse it after ten logins) are off.
        .env("LATCHKEY_RATE_LIMIT__LOGIN_PER_MINUTE", "0")
        .env("LATCHKEY_RATE_LIMIT__SIGNUP_PER_HOUR", "0")
        .env("LATCHKEY_RATE_LIMIT__REFRESH_PER_MINUTE", "0")
        .env("LATCHKEY_RATE_LIMIT__TOKEN_CHECKS_PER_HOUR", "0")
        .env("LATCHKEY_RATE_LIMIT__RESET_PER_HOUR", "0")
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    Ok(Server { child, url })
}

async fn wait_ready(url: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if let Ok(r) = client.get(format!("{url}/readyz")).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the server did not become ready")
}

struct Row {
    name: String,
    outcome: Outcome,
    peak_rss_kib: u64,
    judged: String,
}

fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

fn table(rows: &[Row], idle_kib: u64) -> String {
    let mut out = String::from(
        "| scenario | req/s | p50 ms | p99 ms | p99.9 ms | errors | peak RSS MiB | judged against |\n|---|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for r in rows {
        let o = &r.outcome;
        out.push_str(&format!(
            "| {} | {:.0} | {} | {} | {} | {} | {:.1} | {} |\n",
            r.name,
            o.rate(),
            ms(o.p(50.0)),
            ms(o.p(99.0)),
            ms(o.p(99.9)),
            o.errors,
            r.peak_rss_kib as f64 / 1024.0,
            r.judged
        ));
    }
    out.push_str(&format!(
        "\nIdle RSS after start-up and seeding: {:.1} MiB.\n",
        idle_kib as f64 / 1024.0
    ));
    out
}

fn verdict(ratio: f64, target: f64, more_is_better: bool) -> String {
    let met = if more_is_better {
        ratio >= target
    } else {
        ratio <= target
    };
    format!(
        "{ratio:.2} (target {} {target}: {})",
        if more_is_better { "≥" } else { "≤" },
        if met { "met" } else { "MISSED" }
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    if args.serve_bare {
        return bare::serve().await;
    }
    if args.smoke {
        args.duration = 1;
        args.warmup = 0;
        args.connections = args.connections.min(8);
        args.many_keys = 5_000;
    }
    let dir = tempfile_dir()?;
    let (db_url, pg_guard) = match &args.postgres {
        Some(admin) => {
            let (url, guard) = seed::fresh_postgres(admin).await?;
            (url, Some(guard))
        }
        None => (
            format!("sqlite://{}?mode=rwc", dir.join("bench.db").display()),
            None,
        ),
    };
    let server = start_server(&args, &db_url, &dir)?;
    wait_ready(&server.url).await?;
    let fixtures = seed::Fixtures::create(&server.url, args.connections).await?;
    let db = sea_orm::Database::connect(&db_url).await?;
    seed::fill_keys(&db, &fixtures.user_id, 1_000).await?;
    // Idle: the hashing threads give their memory back after 2 s without work.
    tokio::time::sleep(Duration::from_secs(if args.smoke { 1 } else { 6 })).await;
    let (idle_kib, _) = server.rss_kib();

    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let run = |scenario: Scenario| measure(&server, &args, &fixtures, scenario);
    let mut rows = Vec::new();
    let started = Instant::now();

    let (baseline, rss) = run(Scenario::Typename).await;
    let base_rate = baseline.rate();
    rows.push(Row {
        name: "1 `{ __typename }` (baseline)".into(),
        outcome: baseline,
        peak_rss_kib: rss,
        judged: "the limit for 2 and 3".into(),
    });
    for (name, sc) in [
        ("2 `me` with a user JWT", Scenario::MeJwt),
        ("3a `me` with an API key (X-API-Key)", Scenario::MeKey),
        ("3b `verifyApiKey` (service token)", Scenario::VerifyKey),
    ] {
        let (o, rss) = run(sc).await;
        let judged = verdict(o.rate() / base_rate, 0.6, true) + " × baseline req/s";
        rows.push(Row {
            name: name.into(),
            outcome: o,
            peak_rss_kib: rss,
            judged,
        });
    }

    let raw = load::raw_argon2_rate(cores, Duration::from_secs(args.duration.max(1)));
    let (login, rss) = run(Scenario::Login).await;
    let judged = verdict(login.rate() / raw, 0.9, true)
        + &format!(" × raw Argon2id ({raw:.1}/s on {cores} threads)");
    rows.push(Row {
        name: "4 login (email + password)".into(),
        outcome: login,
        peak_rss_kib: rss,
        judged,
    });

    server.reset_peak();
    let (me_under_load, _login_bg) = load::run_pair(
        &server.url,
        &fixtures,
        args.connections,
        Duration::from_secs(args.warmup),
        Duration::from_secs(args.duration),
    )
    .await;
    let p99_ms = me_under_load.p(99.0) as f64 / 1000.0;
    let judged = verdict(p99_ms, 10.0, false) + " ms p99";
    rows.push(Row {
        name: "5 `me` (4 conns) while logins saturate hashing".into(),
        outcome: me_under_load,
        peak_rss_kib: server.rss_kib().1,
        judged,
    });

    let (refresh, rss) = run(Scenario::Refresh).await;
    rows.push(Row {
        name: "6a refreshToken rotation".into(),
        outcome: refresh,
        peak_rss_kib: rss,
        judged: "no target (no hashing; database writes)".into(),
    });
    let (signup, rss) = run(Scenario::Signup).await;
    let judged = format!(
        "{:.2} × raw Argon2id (no target; one hash per signup)",
        signup.rate() / raw
    );
    rows.push(Row {
        name: "6b signup".into(),
        outcome: signup,
        peak_rss_kib: rss,
        judged,
    });

    let (small, rss) = run(Scenario::UnknownKeyLookup).await;
    let small_rate = small.rate();
    rows.push(Row {
        name: "7a key lookup (uncached), 1 k keys".into(),
        outcome: small,
        peak_rss_kib: rss,
        judged: "the limit for 7b".into(),
    });
    seed::fill_keys(&db, &fixtures.user_id, args.many_keys).await?;
    let (large, rss) = run(Scenario::UnknownKeyLookup).await;
    let judged = verdict(large.rate() / small_rate, 0.9, true) + " × 7a req/s";
    rows.push(Row {
        name: format!("7b key lookup (uncached), {} keys", args.many_keys),
        outcome: large,
        peak_rss_kib: rss,
        judged,
    });

    // Forward auth skips GraphQL: judged against a bare axum route answering 200, in
    // its own process, driven by the same client in this run.
    // The client shares the two cores, so both rates can be bound by it: the servers'
    // own CPU time per request says what each answer costs.
    let floor = bare::start()?;
    let cpu0 = bare::cpu_micros(floor.pid());
    let (bare_ok, _) = measure_at(&floor.url, &server, &args, &fixtures, Scenario::BareOk).await;
    let bare_cpu = (bare::cpu_micros(floor.pid()) - cpu0) as f64 / bare_ok.count.max(1) as f64;
    let bare_rate = bare_ok.rate();
    drop(floor);
    let cpu0 = bare::cpu_micros(server.pid());
    let (forward, rss) = run(Scenario::ForwardAuth).await;
    let forward_cpu = (bare::cpu_micros(server.pid()) - cpu0) as f64 / forward.count.max(1) as f64;
    let judged = verdict(forward.rate() / bare_rate, 0.7, true)
        + &format!(
            " × bare axum `GET /ok` ({bare_rate:.0} req/s); server CPU {forward_cpu:.0} µs/req against {bare_cpu:.0}"
        );
    rows.push(Row {
        name: "8 forward auth `GET /auth/check` (API key)".into(),
        outcome: forward,
        peak_rss_kib: rss,
        judged,
    });

    let peak_all = rows.iter().map(|r| r.peak_rss_kib).max().unwrap_or(0);
    let mut text = table(&rows, idle_kib);
    text.push_str(&format!(
        "Peak RSS under load: {:.1} MiB. Idle RSS {}; under load {}.\n",
        peak_all as f64 / 1024.0,
        verdict(idle_kib as f64 / 1024.0, 64.0, false) + " MiB",
        verdict(peak_all as f64 / 1024.0, 256.0, false) + " MiB"
    ));
    text.push_str(&format!(
        "\n{} connections, {} s warm-up + {} s per scenario, {} database, {} server; run took {:.0} s.\n",
        args.connections,
        args.warmup,
        args.duration,
        if args.postgres.is_some() { "PostgreSQL" } else { "SQLite" },
        match (&args.server, args.debug_server) {
            (Some(bin), _) => bin.display().to_string(),
            (None, true) => "debug".to_owned(),
            (None, false) => "release".to_owned(),
        },
        started.elapsed().as_secs_f64()
    ));
    println!("{text}");
    if let Some(path) = &args.report {
        std::fs::write(path, &text)?;
    }
    drop(server);
    drop(pg_guard);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// One scenario, with the server's peak RSS while it ran.
async fn measure(
    server: &Server,
    args: &Args,
    fx: &seed::Fixtures,
    scenario: Scenario,
) -> (Outcome, u64) {
    measure_at(&server.url, server, args, fx, scenario).await
}

/// One scenario against `url` (latchkey's, or the bare floor's).
async fn measure_at(
    url: &str,
    server: &Server,
    args: &Args,
    fx: &seed::Fixtures,
    scenario: Scenario,
) -> (Outcome, u64) {
    server.reset_peak();
    let (warmup, dur) = (
        Duration::from_secs(args.warmup),
        Duration::from_secs(args.duration),
    );
    let outcome = load::run(url, fx, scenario, args.connections, warmup, dur).await;
    (outcome, server.rss_kib().1)
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir =
        std::env::temp_dir().join(format!("latchkey-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
