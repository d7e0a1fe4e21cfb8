//! The `latchkey` command itself: schema, migrate, user set-role, and start-up errors.
use std::process::Command;

fn latchkey(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_latchkey"));
    c.current_dir(dir)
        .env(
            "LATCHKEY_DATABASE_URL",
            format!("sqlite://{}?mode=rwc", dir.join("cli.db").display()),
        )
        .env("RUST_LOG", "error");
    c
}

#[test]
fn schema_prints_the_committed_sdl() {
    let dir = tempfile::tempdir().unwrap();
    let out = latchkey(dir.path()).arg("schema").output().unwrap();
    assert!(out.status.success());
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), committed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_role_bootstraps_an_admin_and_names_unknown_emails() {
    let dir = tempfile::tempdir().unwrap();
    let out = latchkey(dir.path()).arg("migrate").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // An account made through the core on the same database file.
    let mut settings = latchkey::config::Settings {
        database_url: format!("sqlite://{}?mode=rwc", dir.path().join("cli.db").display()).into(),
        ..Default::default()
    };
    settings.mail.outbox_dir = dir.path().join("outbox");
    let state = latchkey::startup::build(settings).await.unwrap();
    let new = latchkey::idm::accounts::NewAccount {
        email: "root@example.com",
        password: "correct-Horse-battery-9",
        first_name: None,
        username: None,
        invitation_token: None,
    };
    let done = state
        .idm
        .signup(new, &Default::default(), latchkey::clock::now())
        .await
        .unwrap();
    let out = latchkey(dir.path())
        .args(["user", "set-role", "root@example.com", "ADMIN"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("root@example.com is now ADMIN"));
    // Read afresh (the cache of the in-process copy does not see another process).
    let user = state
        .idm
        .find_user(&done.tokens.user.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.role.as_str(), "ADMIN");
    let out = latchkey(dir.path())
        .args(["user", "set-role", "ghost@example.com", "ADMIN"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("ghost@example.com"));
    let out = latchkey(dir.path())
        .args(["user", "set-role", "root@example.com", "ROOT"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn a_bad_setting_stops_start_up_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("latchkey.toml"),
        "[tokens]\naccess_ttl_secs = \"a day\"\n",
    )
    .unwrap();
    let out = latchkey(dir.path()).arg("serve").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("tokens.access_ttl_secs"), "{err}");
    let out = latchkey(dir.path())
        .arg("migrate")
        .env("LATCHKEY_MAIL__SMTP_HOST", "x")
        .arg("--config")
        .arg("nope.toml")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.toml"));
    std::fs::remove_file(dir.path().join("latchkey.toml")).unwrap();
    let out = latchkey(dir.path())
        .arg("migrate")
        .env("LATCHKEY_MAIL__SMTP_HOST", "x")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("smtp_host"));
}
