//! The member rules of a tenant (issue 18): an ADMIN never touches an OWNER, only an
//! OWNER transfers ownership, the last OWNER stays; a demotion counts on the next call;
//! removal ends the member's sessions and keys in the tenant at once (also while they
//! make keys); ids of another tenant are NOT_FOUND; the tenant's keys for its OWNERs.
use serde_json::json;

use crate::db_test;
use crate::helpers::TestApp;
use crate::tenant_members::{
    ACCEPT, INVITE, LEAVE, MEMBERS, REMOVE, SET_ROLE, TRANSFER, invitation_token, join, tid,
};

db_test!(the_role_rules_hold, |app| {
    let ada = app.signup_verified("ada@example.com").await;
    let bob = join(&app, &ada, "bob@example.com", "MEMBER").await;
    let carl = join(&app, &ada, "carl@example.com", "MEMBER").await;
    // Ada makes Bob an ADMIN; Bob manages MEMBERs and ADMINs ...
    let r = app
        .gql_as(
            &ada.access,
            SET_ROLE,
            json!({ "u": bob.user_id, "r": "ADMIN" }),
        )
        .await;
    assert_eq!(r.ok()["setMemberRole"]["role"], "ADMIN");
    let r = app
        .gql_as(
            &bob.access,
            SET_ROLE,
            json!({ "u": carl.user_id, "r": "ADMIN" }),
        )
        .await;
    assert_eq!(r.ok()["setMemberRole"]["role"], "ADMIN");
    // ... but never an OWNER, and makes none.
    for (q, vars) in [
        (SET_ROLE, json!({ "u": ada.user_id, "r": "MEMBER" })),
        (REMOVE, json!({ "u": ada.user_id })),
        (TRANSFER, json!({ "u": carl.user_id })),
    ] {
        let r = app.gql_as(&bob.access, q, vars).await;
        r.expect_code("FORBIDDEN");
    }
    let r = app
        .gql_as(
            &bob.access,
            SET_ROLE,
            json!({ "u": carl.user_id, "r": "OWNER" }),
        )
        .await;
    r.expect_code("BAD_USER_INPUT");
    let r = app
        .gql_as(
            &bob.access,
            INVITE,
            json!({ "e": "dan@example.com", "r": "OWNER" }),
        )
        .await;
    r.expect_code("BAD_USER_INPUT");
    // The last OWNER can neither leave nor be demoted; after a transfer they can leave.
    let home = tid(&ada.access);
    let r = app.gql_as(&ada.access, LEAVE, json!({ "t": home })).await;
    r.expect_code("BAD_USER_INPUT");
    let r = app
        .gql_as(&ada.access, TRANSFER, json!({ "u": bob.user_id }))
        .await;
    assert_eq!(r.ok()["transferOwnership"]["role"], "OWNER");
    let members = app.gql_as(&ada.access, MEMBERS, json!({})).await;
    let roles: Vec<(String, String)> = members.ok()["members"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["user"]["email"].as_str().unwrap().into(),
                m["role"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(
        roles.contains(&("ada@example.com".into(), "ADMIN".into())),
        "{roles:?}"
    );
    assert!(
        roles.contains(&("bob@example.com".into(), "OWNER".into())),
        "{roles:?}"
    );
    let r = app.gql_as(&bob.access, LEAVE, json!({ "t": home })).await;
    r.expect_code("BAD_USER_INPUT");
    let r = app.gql_as(&ada.access, LEAVE, json!({ "t": home })).await;
    assert_eq!(r.ok()["leaveTenant"], true);
    // Ada's session in that tenant ended with her membership.
    app.me(&ada.access).await.expect_code("UNAUTHENTICATED");
});

db_test!(a_demotion_takes_effect_on_the_next_call, |app| {
    let ada = app.signup_verified("ada@example.com").await;
    let bob = join(&app, &ada, "bob@example.com", "ADMIN").await;
    let r = app
        .gql_as(&bob.access, INVITE, json!({ "e": "one@example.com" }))
        .await;
    r.ok();
    let r = app
        .gql_as(
            &ada.access,
            SET_ROLE,
            json!({ "u": bob.user_id, "r": "MEMBER" }),
        )
        .await;
    r.ok();
    let r = app
        .gql_as(&bob.access, INVITE, json!({ "e": "two@example.com" }))
        .await;
    r.expect_code("FORBIDDEN");
});

db_test!(
    removal_ends_the_members_sessions_and_keys_in_the_tenant_at_once,
    |app| {
        let ada = app.signup_verified("ada@example.com").await;
        let bob = join(&app, &ada, "bob@example.com", "MEMBER").await;
        let home = tid(&ada.access);
        let key = app
            .gql_as(
                &bob.access,
                "mutation { createApiKey(input: { name: \"in ada's\" }) { secret } }",
                json!({}),
            )
            .await;
        let secret = key.ok()["createApiKey"]["secret"]
            .as_str()
            .unwrap()
            .to_owned();
        let by_key = app
            .gql_with(
                "{ currentTenant { id } }",
                json!({}),
                &[("x-api-key", &secret)],
            )
            .await;
        assert_eq!(by_key.ok()["currentTenant"]["id"], home.as_str());
        let r = app
            .gql_as(&ada.access, REMOVE, json!({ "u": bob.user_id }))
            .await;
        assert_eq!(r.ok()["removeMember"], true);
        app.me(&bob.access).await.expect_code("UNAUTHENTICATED");
        let by_key = app
            .gql_with("{ me { id } }", json!({}), &[("x-api-key", &secret)])
            .await;
        by_key.expect_code("UNAUTHENTICATED");
        // Bob's own tenant and his session there are untouched; he signs in there.
        let login = app
            .login_tokens("bob@example.com", crate::helpers::PASSWORD)
            .await;
        assert_ne!(tid(&login.access), home);
        let members = app.gql_as(&ada.access, MEMBERS, json!({})).await;
        assert_eq!(members.ok()["members"]["total"], 1);
        let events: Vec<String> = app
            .audit_rows(&bob.user_id)
            .await
            .into_iter()
            .map(|r| r.event)
            .collect();
        assert!(events.contains(&"member_removed".to_owned()), "{events:?}");
    }
);

db_test!(ids_of_another_tenant_are_not_found, |app| {
    let ada = app.signup_verified("ada@example.com").await;
    let eve = app.signup_verified("eve@example.com").await;
    for (q, vars) in [
        (SET_ROLE, json!({ "u": eve.user_id, "r": "ADMIN" })),
        (REMOVE, json!({ "u": eve.user_id })),
        (TRANSFER, json!({ "u": eve.user_id })),
        (REMOVE, json!({ "u": "x".repeat(5000) })),
    ] {
        let r = app.gql_as(&ada.access, q, vars).await;
        r.expect_code("NOT_FOUND");
    }
    let sent = app
        .gql_as(&eve.access, INVITE, json!({ "e": "friend@example.com" }))
        .await;
    let id = sent.ok()["inviteMember"]["id"].as_str().unwrap().to_owned();
    let r = app
        .gql_as(
            &ada.access,
            "mutation($i: ID!) { revokeInvitation(id: $i) { id } }",
            json!({ "i": id }),
        )
        .await;
    r.expect_code("NOT_FOUND");
    let r = app
        .gql_as(
            &ada.access,
            "mutation($i: ID!) { declineInvitation(id: $i) }",
            json!({ "i": id }),
        )
        .await;
    r.expect_code("NOT_FOUND");
    let r = app
        .gql_as(&ada.access, LEAVE, json!({ "t": tid(&eve.access) }))
        .await;
    r.expect_code("NOT_FOUND");
    // The invited address declines (audited); the link is then void.
    const DECLINE: &str = "mutation($i: ID!) { declineInvitation(id: $i) }";
    let other = app
        .gql_as(&eve.access, INVITE, json!({ "e": "declines@example.com" }))
        .await;
    let other_id = other.ok()["inviteMember"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let decliner = app.signup_verified("declines@example.com").await;
    let r = app
        .gql_as(&decliner.access, DECLINE, json!({ "i": other_id }))
        .await;
    assert_eq!(r.ok()["declineInvitation"], true);
    let events: Vec<String> = app
        .audit_rows(&decliner.user_id)
        .await
        .into_iter()
        .map(|r| r.event)
        .collect();
    assert!(
        events.contains(&"invitation_declined".to_owned()),
        "{events:?}"
    );
    let declined = invitation_token(&app, "declines@example.com").await;
    let r = app
        .gql_as(&decliner.access, ACCEPT, json!({ "t": declined }))
        .await;
    r.expect_code("BAD_USER_INPUT");
    // Eve revokes her own; a revoked invitation no longer works.
    let r = app
        .gql_as(
            &eve.access,
            "mutation($i: ID!) { revokeInvitation(id: $i) { status } }",
            json!({ "i": id }),
        )
        .await;
    assert_eq!(r.ok()["revokeInvitation"]["status"], "REVOKED");
    let friend = app.signup_verified("friend@example.com").await;
    let token = invitation_token(&app, "friend@example.com").await;
    let r = app
        .gql_as(&friend.access, ACCEPT, json!({ "t": token }))
        .await;
    r.expect_code("BAD_USER_INPUT");
});

db_test!(
    a_key_made_while_its_maker_is_removed_does_not_survive_the_removal,
    |app| {
        const MAKE: &str = "mutation($n: String!) { createApiKey(input: { name: $n }) { secret } }";
        let ada = app.signup_verified("ada@example.com").await;
        for round in 0..4 {
            let email = format!("racer{round}@example.com");
            let bob = join(&app, &ada, &email, "MEMBER").await;
            let makes = futures_util::future::join_all(
                (0..4).map(|i| app.gql_as(&bob.access, MAKE, json!({ "n": format!("k{i}") }))),
            );
            let remove = app.gql_as(&ada.access, REMOVE, json!({ "u": bob.user_id }));
            let (made, removed) = tokio::join!(makes, remove);
            removed.ok();
            for r in &made {
                match r.code() {
                    None => {
                        // Made before the removal: it must have been revoked by it.
                        let secret = r.data()["createApiKey"]["secret"].as_str().unwrap();
                        let me = app
                            .gql_with("{ me { id } }", json!({}), &[("x-api-key", secret)])
                            .await;
                        me.expect_code("UNAUTHENTICATED");
                    }
                    Some(code) => assert!(
                        matches!(code, "FORBIDDEN" | "UNAUTHENTICATED"),
                        "refused as a non-member: {}",
                        r.0
                    ),
                }
            }
        }
    }
);
