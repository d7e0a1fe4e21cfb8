//! The HTTP floor: a bare axum server in its own process (this binary, re-run with
//! `--serve-bare`), measured by the same client in the same run as latchkey, so a
//! scenario's rate can be judged against what axum alone answers on this machine.
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};

/// Serves `GET /ok` (200, empty: what forward auth answers) and `POST /echo` (the
/// JSON body back) on an ephemeral port, printing the port on stdout first.
pub async fn serve() -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("{}", listener.local_addr()?.port());
    let app = Router::new()
        .route("/ok", get(|| async { StatusCode::OK }))
        .route(
            "/echo",
            post(|body: axum::Json<serde_json::Value>| async move { body }),
        );
    axum::serve(listener, app).await?;
    Ok(())
}

/// The bare server's process; killed when dropped.
pub struct Bare {
    child: Child,
    pub url: String,
}

impl Drop for Bare {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Bare {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// A process's CPU time so far (user + system), in microseconds, from /proc (the
/// kernel counts in USER_HZ = 100 ticks a second on Linux).
pub fn cpu_micros(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at `state`.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are the 14th and 15th fields of the whole line: 12th and 13th here.
    (ticks(11) + ticks(12)) * 10_000
}

pub fn start() -> anyhow::Result<Bare> {
    let mut child = Command::new(std::env::current_exe()?)
        .arg("--serve-bare")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout from the bare server"))?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let port: u16 = line.trim().parse()?;
    Ok(Bare {
        child,
        url: format!("http://127.0.0.1:{port}"),
    })
}
