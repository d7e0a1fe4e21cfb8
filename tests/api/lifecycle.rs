//! The server process itself: SIGTERM drains in-flight requests and exits 0.
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_in_flight_requests_finish_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .arg("serve")
        .current_dir(dir.path())
        .env("LATCHKEY_LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "LATCHKEY_DATABASE_URL",
            format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display()),
        )
        .env("RUST_LOG", "warn")
        .env("LATCHKEY_RATE_LIMIT__SIGNUP_PER_HOUR", "0")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let mut ready = false;
    // Up to a minute: the whole suite may be loading both cores.
    for _ in 0..600 {
        if client
            .get(format!("{url}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "server did not start");
    // Signups hash a password: they are in flight for a while.
    let mut tasks = Vec::new();
    for i in 0..30 {
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let body = json!({ "query": format!("mutation {{ signup(email: \"drain{i}@example.com\", password: \"correct-Horse-battery-9\") {{ tenantId }} }}") });
            let resp = client.post(format!("{url}/graphql")).json(&body).send().await;
            (resp, std::time::Instant::now())
        }));
    }
    // Long enough for every connection to be accepted, short of thirty hashes.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let killed_at = std::time::Instant::now();
    // SAFETY: sending a signal to our own child process.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(rc, 0);
    let (mut done, mut refused, mut after_kill) = (Vec::new(), Vec::new(), 0);
    for (i, t) in tasks.into_iter().enumerate() {
        let (resp, done_at) = t.await.unwrap();
        let email = format!("drain{i}@example.com");
        match resp {
            Ok(resp) => {
                assert_eq!(resp.status(), 200);
                let v: Value = resp.json().await.unwrap();
                assert!(v["data"]["signup"]["tenantId"].is_string(), "{v}");
                after_kill += usize::from(done_at > killed_at);
                done.push(email);
            }
            // A connection whose request the server had not read yet is closed unread
            // (hyper's graceful shutdown): the client may retry it; nothing was done.
            Err(e) => {
                assert!(e.is_connect() || e.is_request(), "{e}");
                refused.push(email);
            }
        }
    }
    assert!(
        after_kill > 0,
        "no request was still in flight at SIGTERM: the test proved nothing"
    );
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit status {status:?}");
    // Every answered signup is stored; every refused one left nothing behind.
    use sea_orm::EntityTrait;
    let db = sea_orm::Database::connect(format!("sqlite://{}", dir.path().join("t.db").display()))
        .await
        .unwrap();
    let users = latchkey::entities::user::Entity::find()
        .all(&db)
        .await
        .unwrap();
    let stored: Vec<String> = users.into_iter().filter_map(|u| u.email).collect();
    for e in &done {
        assert!(stored.contains(e), "{e} was answered but not stored");
    }
    for e in &refused {
        assert!(!stored.contains(e), "{e} was refused but stored");
    }
    // And it no longer accepts connections.
    assert!(client.get(format!("{url}/healthz")).send().await.is_err());
}
