//! Refresh tokens (single use, reuse revokes the family) and session management.
use serde_json::json;

use crate::db_test;

const REFRESH: &str = "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken tokenType user { id } } }";
const SESSIONS: &str = "{ sessions { id current createdAt expiresAt ip userAgent } }";

db_test!(
    a_refresh_returns_a_new_pair_and_the_old_refresh_token_is_spent,
    |app| {
        let t = app.signup("refresh@example.com").await;
        let r = app.gql(REFRESH, json!({ "t": t.refresh })).await;
        let p = &r.ok()["refreshToken"];
        let (access, refresh) = (
            p["accessToken"].as_str().unwrap(),
            p["refreshToken"].as_str().unwrap(),
        );
        assert_ne!(refresh, t.refresh);
        assert_eq!(p["user"]["id"], t.user_id.as_str());
        app.me(access).await.ok();
        // A second refresh with the new token works.
        let again = app.gql(REFRESH, json!({ "t": refresh })).await;
        again.ok();
    }
);

db_test!(reusing_a_refresh_token_revokes_the_whole_family, |app| {
    let t = app.signup("reuse@example.com").await;
    let first = app.gql(REFRESH, json!({ "t": t.refresh })).await;
    let next = first.ok()["refreshToken"].clone();
    let replay = app.gql(REFRESH, json!({ "t": t.refresh })).await;
    replay.expect_code("UNAUTHENTICATED");
    assert!(
        replay.message().contains("already used"),
        "{}",
        replay.message()
    );
    // The thief's and the owner's later tokens are all dead now.
    let r = app.gql(REFRESH, json!({ "t": next["refreshToken"] })).await;
    r.expect_code("UNAUTHENTICATED");
    app.me(next["accessToken"].as_str().unwrap())
        .await
        .expect_code("UNAUTHENTICATED");
    app.me(&t.access).await.expect_code("UNAUTHENTICATED");
    // Other sessions of the user are untouched.
    app.login_tokens("reuse@example.com", crate::helpers::PASSWORD)
        .await;
});

db_test!(
    concurrent_use_of_one_refresh_token_yields_at_most_one_pair,
    |app| {
        let t = app.signup("concurrent@example.com").await;
        let app = std::sync::Arc::new(app);
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (app, token) = (app.clone(), t.refresh.clone());
            tasks.push(tokio::spawn(async move {
                app.gql(REFRESH, json!({ "t": token })).await
            }));
        }
        let mut winners = Vec::new();
        for task in tasks {
            let r = task.await.unwrap();
            if r.code().is_none() {
                winners.push(
                    r.ok()["refreshToken"]["refreshToken"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                );
            }
        }
        assert!(winners.len() <= 1, "{} pairs issued", winners.len());
        // The losers revealed the reuse, so the family is revoked.
        for w in winners {
            app.gql(REFRESH, json!({ "t": w }))
                .await
                .expect_code("UNAUTHENTICATED");
        }
    }
);

db_test!(garbage_refresh_tokens_are_unauthenticated, |app| {
    for t in ["", "nope", &"a".repeat(5000)] {
        app.gql(REFRESH, json!({ "t": t }))
            .await
            .expect_code("UNAUTHENTICATED");
    }
});

db_test!(logout_ends_this_session_at_once, |app| {
    let a = app.signup("logout@example.com").await;
    let b = app
        .login_tokens("logout@example.com", crate::helpers::PASSWORD)
        .await;
    let r = app
        .gql_as(&a.access, "mutation { logout }", json!({}))
        .await;
    assert_eq!(r.ok()["logout"], true);
    app.me(&a.access).await.expect_code("UNAUTHENTICATED");
    app.gql(REFRESH, json!({ "t": a.refresh }))
        .await
        .expect_code("UNAUTHENTICATED");
    app.me(&b.access).await.ok();
});

db_test!(logout_of_all_sessions_ends_every_session, |app| {
    let a = app.signup("logoutall@example.com").await;
    let b = app
        .login_tokens("logoutall@example.com", crate::helpers::PASSWORD)
        .await;
    app.gql_as(
        &a.access,
        "mutation { logout(allSessions: true) }",
        json!({}),
    )
    .await
    .ok();
    app.me(&a.access).await.expect_code("UNAUTHENTICATED");
    app.me(&b.access).await.expect_code("UNAUTHENTICATED");
    app.gql(REFRESH, json!({ "t": b.refresh }))
        .await
        .expect_code("UNAUTHENTICATED");
});

db_test!(
    sessions_are_listed_with_the_current_one_marked_and_can_be_revoked,
    |app| {
        let a = app.signup("list@example.com").await;
        let b = app
            .login_tokens("list@example.com", crate::helpers::PASSWORD)
            .await;
        let r = app.gql_as(&a.access, SESSIONS, json!({})).await;
        let list = r.ok()["sessions"].as_array().unwrap().clone();
        assert_eq!(list.len(), 2);
        assert_eq!(list.iter().filter(|s| s["current"] == true).count(), 1);
        assert!(list.iter().all(|s| s["ip"] == "127.0.0.1"));
        let other = list.iter().find(|s| s["current"] == false).unwrap()["id"].clone();
        let r = app
            .gql_as(
                &a.access,
                "mutation($id: ID!) { revokeSession(id: $id) }",
                json!({ "id": other }),
            )
            .await;
        assert_eq!(r.ok()["revokeSession"], true);
        app.me(&b.access).await.expect_code("UNAUTHENTICATED");
        let r = app.gql_as(&a.access, SESSIONS, json!({})).await;
        assert_eq!(r.ok()["sessions"].as_array().unwrap().len(), 1);
    }
);

db_test!(another_users_session_is_not_found, |app| {
    let a = app.signup("owner@example.com").await;
    let b = app.signup("intruder@example.com").await;
    let r = app.gql_as(&a.access, SESSIONS, json!({})).await;
    let sid = r.ok()["sessions"][0]["id"].clone();
    let r = app
        .gql_as(
            &b.access,
            "mutation($id: ID!) { revokeSession(id: $id) }",
            json!({ "id": sid }),
        )
        .await;
    r.expect_code("NOT_FOUND");
    app.me(&a.access).await.ok();
});

db_test!(revoke_other_sessions_keeps_only_this_one, |app| {
    let first = app.signup("others@example.com").await;
    let second = app.login_tokens("others@example.com", PASSWORD).await;
    let third = app.login_tokens("others@example.com", PASSWORD).await;
    let r = app
        .gql_as(
            &second.access,
            "mutation { revokeOtherSessions }",
            json!({}),
        )
        .await;
    assert_eq!(r.ok()["revokeOtherSessions"], 2);
    app.me(&second.access).await.ok();
    app.me(&first.access).await.expect_code("UNAUTHENTICATED");
    app.me(&third.access).await.expect_code("UNAUTHENTICATED");
    // An API key has no session to keep: the field takes user tokens only.
    let key = app
        .gql_as(
            &second.access,
            "mutation { createApiKey(input: { name: \"k\" }) { secret } }",
            json!({}),
        )
        .await
        .ok()["createApiKey"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    app.gql_with(
        "mutation { revokeOtherSessions }",
        json!({}),
        &[("x-api-key", &key)],
    )
    .await
    .expect_code("FORBIDDEN");
    app.gql("mutation { revokeOtherSessions }", json!({}))
        .await
        .expect_code("UNAUTHENTICATED");
});
