//! The audit log as an API (`myActivity`, `auditLog`) and the administrator's user list
//! (`users`): newest first, cursors that cannot be forged, filters, and each caller sees
//! only what is theirs to see.
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::*;

const MY_ACTIVITY: &str = "query($after: String, $limit: Int) { myActivity(after: $after, limit: $limit) { items { id type userId tenantId ip userAgent detail at } nextCursor } }";
const AUDIT_LOG: &str = "query($u: ID, $t: String, $after: String, $limit: Int) { auditLog(userId: $u, type: $t, after: $after, limit: $limit) { items { id type userId } nextCursor } }";
const USERS: &str = "query($q: String, $o: Int, $l: Int) { users(query: $q, offset: $o, limit: $l) { items { id email } total offset limit } }";

fn types(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

db_test!(
    my_activity_lists_my_own_events_newest_first_in_pages,
    |app| {
        let me = app.signup("activity@example.com").await;
        let other = app.signup("someone-else@example.com").await;
        app.login("activity@example.com", "wrong-Password-1").await;
        let ua = [
            ("authorization", format!("Bearer {}", me.access)),
            ("user-agent", "pages-test/1.0".into()),
        ];
        let ua: Vec<(&str, &str)> = ua.iter().map(|(k, v)| (*k, v.as_str())).collect();
        app.gql_with("mutation { logout }", json!({}), &ua).await;
        let me = app.login_tokens("activity@example.com", PASSWORD).await;
        let all = app.gql_as(&me.access, MY_ACTIVITY, json!({})).await;
        let page = &all.ok()["myActivity"];
        let seen = types(page);
        assert_eq!(
            seen.first().map(String::as_str),
            Some("login_ok"),
            "{seen:?}"
        );
        for t in ["session_revoked", "login_failed", "signup"] {
            assert!(seen.contains(&t.to_owned()), "{t} in {seen:?}");
        }
        assert_eq!(
            seen.last().map(String::as_str),
            Some("signup"),
            "oldest last: {seen:?}"
        );
        let items = page["items"].as_array().unwrap();
        assert!(
            items.iter().all(|e| e["userId"] == me.user_id),
            "only mine: {page}"
        );
        assert!(items.iter().all(|e| e["tenantId"].is_string()), "{page}");
        assert!(
            items.iter().any(|e| e["userAgent"] == "pages-test/1.0"),
            "the client's User-Agent is kept: {page}"
        );
        assert!(page["nextCursor"].is_null());
        // One at a time: the cursors walk the same list, and end.
        let mut walked = Vec::new();
        let mut after = Value::Null;
        loop {
            let r = app
                .gql_as(
                    &me.access,
                    MY_ACTIVITY,
                    json!({ "after": after, "limit": 1 }),
                )
                .await;
            let p = &r.ok()["myActivity"];
            walked.extend(types(p));
            if p["nextCursor"].is_null() {
                break;
            }
            after = p["nextCursor"].clone();
            assert!(walked.len() <= seen.len(), "the cursor must move on");
        }
        assert_eq!(walked, seen);
        // The other user's list holds none of mine.
        let theirs = app.gql_as(&other.access, MY_ACTIVITY, json!({})).await;
        assert_eq!(types(&theirs.ok()["myActivity"]), ["signup"]);
    }
);

db_test!(bad_cursors_and_limits_are_refused, |app| {
    let me = app.signup("cursor@example.com").await;
    for (after, limit) in [
        (json!("not-a-cursor"), json!(10)),
        (json!("ZXY6LTE"), json!(10)), // "ev:-1"
        (json!(null), json!(0)),
        (json!(null), json!(101)),
        (json!(null), json!(-5)),
    ] {
        let r = app
            .gql_as(
                &me.access,
                MY_ACTIVITY,
                json!({ "after": after, "limit": limit }),
            )
            .await;
        r.expect_code("BAD_USER_INPUT");
    }
    app.gql(MY_ACTIVITY, json!({}))
        .await
        .expect_code("UNAUTHENTICATED");
});

db_test!(the_audit_log_and_the_user_list_are_for_admins, |app| {
    let admin = app.signup("boss@example.com").await;
    app.make_admin("boss@example.com").await;
    let user = app.signup("worker@example.com").await;
    app.signup("Other_Person@Example.com").await;
    app.login("worker@example.com", "wrong-Password-1").await;
    for q in [AUDIT_LOG, USERS] {
        app.gql_as(&user.access, q, json!({}))
            .await
            .expect_code("FORBIDDEN");
        app.gql(q, json!({})).await.expect_code("UNAUTHENTICATED");
    }
    // Everything, newest first; by user; by type; both.
    let all = app.gql_as(&admin.access, AUDIT_LOG, json!({})).await;
    assert_eq!(types(&all.ok()["auditLog"])[0], "login_failed");
    let mine = app
        .gql_as(&admin.access, AUDIT_LOG, json!({ "u": user.user_id }))
        .await;
    assert_eq!(types(&mine.ok()["auditLog"]), ["login_failed", "signup"]);
    let signups = app
        .gql_as(&admin.access, AUDIT_LOG, json!({ "t": "signup" }))
        .await;
    assert_eq!(
        types(&signups.ok()["auditLog"]),
        ["signup", "signup", "signup"]
    );
    let both = app
        .gql_as(
            &admin.access,
            AUDIT_LOG,
            json!({ "u": user.user_id, "t": "login_failed", "limit": 1 }),
        )
        .await;
    assert_eq!(types(&both.ok()["auditLog"]), ["login_failed"]);
    assert!(both.ok()["auditLog"]["nextCursor"].is_null());
    // The user list: newest first, searched by part of an email in any case, wildcards
    // taken literally.
    let r = app.gql_as(&admin.access, USERS, json!({})).await;
    assert_eq!(r.ok()["users"]["total"], 3);
    assert_eq!(
        r.ok()["users"]["items"][0]["email"],
        "other_person@example.com"
    );
    let r = app
        .gql_as(&admin.access, USERS, json!({ "q": "WORK" }))
        .await;
    assert_eq!(r.ok()["users"]["items"][0]["email"], "worker@example.com");
    assert_eq!(r.ok()["users"]["total"], 1);
    let r = app
        .gql_as(&admin.access, USERS, json!({ "q": "r_p" }))
        .await;
    assert_eq!(r.ok()["users"]["total"], 1, "_ is a literal underscore");
    let r = app.gql_as(&admin.access, USERS, json!({ "q": "%" })).await;
    assert_eq!(r.ok()["users"]["total"], 0, "% is a literal percent sign");
    let r = app
        .gql_as(&admin.access, USERS, json!({ "o": 1, "l": 1 }))
        .await;
    assert_eq!(r.ok()["users"]["items"].as_array().unwrap().len(), 1);
    assert_eq!(r.ok()["users"]["offset"], 1);
    for vars in [
        json!({ "l": 0 }),
        json!({ "l": 101 }),
        json!({ "o": -1 }),
        json!({ "q": "x".repeat(300) }),
    ] {
        app.gql_as(&admin.access, USERS, vars)
            .await
            .expect_code("BAD_USER_INPUT");
    }
    // No field of the list carries a secret.
    let r = app
        .gql_as(
            &admin.access,
            "{ users { items { id email role isActive emailVerified } } }",
            json!({}),
        )
        .await;
    let text = r.0.to_string();
    assert!(
        !text.contains("argon2") && !text.contains(&user.refresh),
        "{text}"
    );
});
