use serde_json::json;

use crate::db_test;

const SIGNUP: &str = "mutation($e: String!, $p: String!, $f: String, $u: String) {
  signup(email: $e, password: $p, firstName: $f, username: $u) {
    tenantId emailVerified
    auth { accessToken refreshToken tokenType expiresIn user { id tenantId email emailVerified firstName username role isActive hasSeenWelcome twoFactorEnabled createdAt } }
  }
}";

db_test!(signup_creates_a_tenant_and_a_signed_in_user, |app| {
    let r = app
        .gql(SIGNUP, serde_json::json!({ "e": " Alice@Example.COM ", "p": PASSWORD, "f": "Alice", "u": "alice" }))
        .await;
    let s = &r.ok()["signup"];
    let tenant = s["tenantId"].as_str().expect("tenant");
    assert!(
        tenant.starts_with("cust_") && tenant.len() == 17,
        "{tenant}"
    );
    assert_eq!(s["emailVerified"], false);
    let auth = &s["auth"];
    assert_eq!(auth["tokenType"], "Bearer");
    assert_eq!(auth["expiresIn"], 86400);
    let user = &auth["user"];
    assert_eq!(user["email"], "alice@example.com");
    assert_eq!(user["tenantId"], tenant);
    assert_eq!(user["role"], "USER");
    assert_eq!(user["firstName"], "Alice");
    assert_eq!(user["isActive"], true);
    assert_eq!(user["hasSeenWelcome"], false);
    assert_eq!(user["twoFactorEnabled"], false);
    let me = app.me(auth["accessToken"].as_str().expect("token")).await;
    assert_eq!(me.ok()["me"]["id"], user["id"]);
});

db_test!(
    a_second_signup_with_the_same_email_in_any_case_is_a_conflict,
    |app| {
        app.signup("bob@example.com").await;
        let r = app
            .gql(SIGNUP, json!({ "e": "BOB@example.com", "p": PASSWORD }))
            .await;
        r.expect_code("CONFLICT");
        assert!(r.message().contains("already exists"), "{}", r.message());
    }
);

db_test!(
    two_hundred_racing_signups_of_one_email_make_exactly_one_account,
    |app| {
        let app = std::sync::Arc::new(app);
        let mut tasks = Vec::new();
        for _ in 0..200 {
            let app = app.clone();
            tasks.push(tokio::spawn(async move {
                app.gql(SIGNUP, json!({ "e": "race@example.com", "p": PASSWORD }))
                    .await
            }));
        }
        let mut ok = 0;
        for t in tasks {
            let r = t.await.expect("join");
            match r.code() {
                None => ok += 1,
                Some(code) => assert_eq!(code, "CONFLICT", "{:?}", r.0),
            }
        }
        assert_eq!(ok, 1);
    }
);

db_test!(disposable_and_malformed_emails_are_refused, |app| {
    let r = app
        .gql(SIGNUP, json!({ "e": "x@mailinator.com", "p": PASSWORD }))
        .await;
    r.expect_code("BAD_USER_INPUT");
    assert!(r.message().contains("Disposable"), "{}", r.message());
    for bad in ["not-an-email", "a@b", "", "a@@example.com"] {
        let r = app.gql(SIGNUP, json!({ "e": bad, "p": PASSWORD })).await;
        r.expect_code("BAD_USER_INPUT");
    }
});

db_test!(weak_short_and_overlong_passwords_are_refused, |app| {
    for (pw, says) in [
        ("short1!", "at least 8"),
        ("password123", "too common"),
        ("qwertyuiop", "too common"),
    ] {
        let r = app
            .gql(SIGNUP, json!({ "e": "weak@example.com", "p": pw }))
            .await;
        r.expect_code("BAD_USER_INPUT");
        assert!(r.message().contains(says), "{pw}: {}", r.message());
    }
    let long = "Zq9!".repeat(40);
    let r = app
        .gql(SIGNUP, json!({ "e": "weak@example.com", "p": long }))
        .await;
    r.expect_code("BAD_USER_INPUT");
    assert!(r.message().contains("at most 128"));
});

db_test!(login_returns_an_auth_payload, |app| {
    app.signup("carol@example.com").await;
    let r = app.login("CAROL@example.com", PASSWORD).await;
    let l = &r.ok()["login"];
    assert_eq!(l["__typename"], "AuthPayload");
    assert_eq!(l["user"]["email"], "carol@example.com");
    let me = app.me(l["accessToken"].as_str().expect("token")).await;
    assert_eq!(me.ok()["me"]["email"], "carol@example.com");
});

db_test!(
    a_wrong_password_and_an_unknown_email_get_the_same_answer,
    |app| {
        app.signup("dave@example.com").await;
        let wrong = app.login("dave@example.com", "not-the-Password-42").await;
        let unknown = app.login("nobody@example.com", "not-the-Password-42").await;
        wrong.expect_code("UNAUTHENTICATED");
        unknown.expect_code("UNAUTHENTICATED");
        assert_eq!(wrong.message(), unknown.message());
        assert!(wrong.data().is_null() && unknown.data().is_null());
    }
);

db_test!(login_of_an_unknown_email_costs_a_password_hash, |app| {
    // The dummy-hash path: the answer for an unknown email takes Argon2 time too.
    app.signup("timing@example.com").await;
    let t = std::time::Instant::now();
    app.login("timing@example.com", "wrong-Password-42").await;
    let known = t.elapsed();
    let t = std::time::Instant::now();
    app.login("ghost@example.com", "wrong-Password-42").await;
    let unknown = t.elapsed();
    // Not a benchmark: both paths must do the hashing work, so neither is ~free.
    assert!(
        unknown * 4 > known,
        "unknown {unknown:?} vs known {known:?}"
    );
});

db_test!(mark_welcome_seen_sets_the_flag, |app| {
    let t = app.signup("erin@example.com").await;
    let r = app
        .gql_as(
            &t.access,
            "mutation { markWelcomeSeen { hasSeenWelcome } }",
            json!({}),
        )
        .await;
    assert_eq!(r.ok()["markWelcomeSeen"]["hasSeenWelcome"], true);
});

db_test!(
    change_password_needs_the_current_one_and_signs_out_other_sessions,
    |app| {
        let first = app.signup("frank@example.com").await;
        let second = app.login_tokens("frank@example.com", PASSWORD).await;
        const CHANGE: &str = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }";
        let wrong = app
            .gql_as(
                &first.access,
                CHANGE,
                json!({ "c": "nope-Nope-123", "n": "another-Strong-pass-7" }),
            )
            .await;
        wrong.expect_code("BAD_USER_INPUT");
        let weak = app
            .gql_as(
                &first.access,
                CHANGE,
                json!({ "c": PASSWORD, "n": "password1" }),
            )
            .await;
        weak.expect_code("BAD_USER_INPUT");
        let ok = app
            .gql_as(
                &first.access,
                CHANGE,
                json!({ "c": PASSWORD, "n": "another-Strong-pass-7" }),
            )
            .await;
        assert_eq!(ok.ok()["changePassword"], true);
        // This session lives on; the other one is revoked, its access token at once.
        app.me(&first.access).await.ok();
        app.me(&second.access).await.expect_code("UNAUTHENTICATED");
        app.login("frank@example.com", PASSWORD)
            .await
            .expect_code("UNAUTHENTICATED");
        app.login("frank@example.com", "another-Strong-pass-7")
            .await
            .ok();
    }
);

db_test!(update_profile_changes_only_what_it_is_given, |app| {
    let me = app.signup("profile@example.com").await;
    let q = "mutation($f: String, $u: String) { updateProfile(firstName: $f, username: $u) { firstName username } }";
    let r = app
        .gql_as(&me.access, q, json!({ "f": "  Ada ", "u": "ada" }))
        .await;
    assert_eq!(
        r.ok()["updateProfile"],
        json!({ "firstName": "Ada", "username": "ada" })
    );
    // Only the username given: the first name stays; an empty string clears.
    let r = app.gql_as(&me.access, q, json!({ "u": "" })).await;
    assert_eq!(
        r.ok()["updateProfile"],
        json!({ "firstName": "Ada", "username": null })
    );
    for bad in [
        json!({ "f": "x".repeat(129) }),
        json!({ "u": "a\u{0007}b" }),
        json!({ "u": "y".repeat(65) }),
    ] {
        app.gql_as(&me.access, q, bad)
            .await
            .expect_code("BAD_USER_INPUT");
    }
    app.gql(q, json!({ "f": "Eve" }))
        .await
        .expect_code("UNAUTHENTICATED");
    let events: Vec<String> = app
        .audit_rows(&me.user_id)
        .await
        .into_iter()
        .map(|r| r.event)
        .collect();
    assert_eq!(
        events.iter().filter(|e| *e == "profile_updated").count(),
        2,
        "{events:?}"
    );
});
