//! Several instances on one database: what one does, the others honour.
use serde_json::json;

use crate::db_test;
use crate::helpers::{Gql, TestApp};

const REFRESH: &str =
    "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }";

/// Polls `f` until it answers `code`, for at most `secs` seconds.
async fn eventually(secs: u64, mut f: impl AsyncFnMut() -> Gql, code: &str) {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let r = f().await;
        if r.code() == Some(code) {
            return;
        }
        assert!(
            std::time::Instant::now() < end,
            "still not {code} after {secs} s: {:?}",
            r.0
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

db_test!(
    a_refresh_token_from_one_instance_rotates_on_another_and_reuse_is_seen_by_both,
    |a| {
        let b: TestApp = a.sibling().await;
        let t = a.signup("two@example.com").await;
        b.me(&t.access).await.ok();
        let r = b.gql(REFRESH, json!({ "t": t.refresh })).await;
        let next = r.ok()["refreshToken"].clone();
        a.me(next["accessToken"].as_str().unwrap()).await.ok();
        // The old token replayed on the first instance: the family is revoked everywhere.
        a.gql(REFRESH, json!({ "t": t.refresh }))
            .await
            .expect_code("UNAUTHENTICATED");
        let access = next["accessToken"].as_str().unwrap().to_owned();
        a.me(&access).await.expect_code("UNAUTHENTICATED");
        eventually(7, async || b.me(&access).await, "UNAUTHENTICATED").await;
    }
);

db_test!(
    a_key_revoked_on_one_instance_is_refused_by_another_within_five_seconds,
    |a| {
        let b: TestApp = a.sibling().await;
        let t = a.signup("keys2@example.com").await;
        let r = a
            .gql_as(
                &t.access,
                "mutation { createApiKey(input: { name: \"k\" }) { secret apiKey { id } } }",
                json!({}),
            )
            .await;
        let secret = r.ok()["createApiKey"]["secret"]
            .as_str()
            .unwrap()
            .to_owned();
        let id = r.ok()["createApiKey"]["apiKey"]["id"].clone();
        async fn me(app: &TestApp, secret: &str) -> Gql {
            app.gql_with("{ me { id } }", json!({}), &[("x-api-key", secret)])
                .await
        }
        me(&b, &secret).await.ok(); // now cached on b
        a.gql_as(
            &t.access,
            "mutation($id: ID!) { revokeApiKey(id: $id) { status } }",
            json!({ "id": id }),
        )
        .await
        .ok();
        me(&a, &secret).await.expect_code("UNAUTHENTICATED");
        let started = std::time::Instant::now();
        eventually(7, async || me(&b, &secret).await, "UNAUTHENTICATED").await;
        assert!(started.elapsed() <= std::time::Duration::from_secs(7));
    }
);

db_test!(
    a_user_deactivated_on_one_instance_is_signed_out_on_another,
    |a| {
        let b: TestApp = a.sibling().await;
        let admin = a.signup("boss2@example.com").await;
        a.make_admin("boss2@example.com").await;
        let u = a.signup("gone2@example.com").await;
        b.me(&u.access).await.ok();
        a.gql_as(
            &admin.access,
            "mutation($u: ID!) { setUserActive(userId: $u, active: false) { id } }",
            json!({ "u": u.user_id }),
        )
        .await
        .ok();
        eventually(7, async || b.me(&u.access).await, "UNAUTHENTICATED").await;
    }
);
