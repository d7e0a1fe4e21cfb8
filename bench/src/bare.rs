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
