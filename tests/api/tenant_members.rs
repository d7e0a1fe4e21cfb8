//! Members of a tenant (issue 18): invitations by email, accepted only by the invited
//! verified address, single use; the role rules (an ADMIN never touches an OWNER, only
//! an OWNER transfers ownership, the last OWNER stays); removal ending the member's
//! sessions and keys in the tenant at once; cross-tenant ids NOT_FOUND; races.
use std::time::Duration;

use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{TestApp, Tokens, jwt_part, link_token};

const INVITE: &str = "mutation($e: String!, $r: TenantRole) { inviteMember(email: $e, role: $r) { id email role status tenantName invitedBy { email } } }";
const ACCEPT: &str =
    "mutation($t: String!) { acceptInvitation(token: $t) { accessToken user { tenantId } } }";
const MINE: &str = "{ myInvitations { id tenantName role status } }";
const PENDING: &str = "{ invitations { id email status } }";
const SET_ROLE: &str = "mutation($u: ID!, $r: TenantRole!) { setMemberRole(userId: $u, role: $r) { role user { id } } }";
const REMOVE: &str = "mutation($u: ID!) { removeMember(userId: $u) }";
const TRANSFER: &str = "mutation($u: ID!) { transferOwnership(userId: $u) { role } }";
const LEAVE: &str = "mutation($t: ID!) { leaveTenant(tenantId: $t) }";
const MEMBERS: &str = "{ members { total items { role user { email } } } }";

fn tid(token: &str) -> String {
    jwt_part(token, 1)["tid"].as_str().unwrap().to_owned()
}

/// The token of the latest invitation mailed to `email`.
async fn invitation_token(app: &TestApp, email: &str) -> String {
    let to = format!("To: {email}");
    for _ in 0..300 {
        let messages = app.outbox_messages(1).await;
        if let Some(m) = messages
            .iter()
            .rev()
            .find(|m| m.contains(&to) && m.contains("/accept-invite?token="))
        {
            return link_token(m, "/accept-invite");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no invitation to {email}");
}

/// `owner` invites `email` as `role`; the invitee signs up, verifies and accepts.
/// Answers the invitee's tokens in the owner's tenant.
async fn join(app: &TestApp, owner: &Tokens, email: &str, role: &str) -> Tokens {
    let r = app
        .gql_as(&owner.access, INVITE, json!({ "e": email, "r": role }))
        .await;
    r.ok();
    let invitee = app.signup_verified(email).await;
    let token = invitation_token(app, email).await;
    let joined = app
        .gql_as(&invitee.access, ACCEPT, json!({ "t": token }))
        .await;
    let access = joined.ok()["acceptInvitation"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    Tokens {
        access,
        refresh: invitee.refresh,
        user_id: invitee.user_id,
    }
}

db_test!(a_colleague_joins_from_the_emailed_link, |app| {
    let ada = app.signup_verified("ada@example.com").await;
    let home = tid(&ada.access);
    let sent = app
        .gql_as(&ada.access, INVITE, json!({ "e": "Bob@Example.com" }))
        .await;
    let inv = sent.ok()["inviteMember"].clone();
    assert_eq!(inv["email"], "bob@example.com");
    assert_eq!(inv["role"], "MEMBER");
    assert_eq!(inv["status"], "PENDING");
    assert_eq!(inv["tenantName"], "ada's team");
    assert_eq!(inv["invitedBy"]["email"], "ada@example.com");
    assert!(
        !sent.0.to_string().contains("token"),
        "the answer never holds the token"
    );
    let pending = app.gql_as(&ada.access, PENDING, json!({})).await;
    assert_eq!(pending.ok()["invitations"].as_array().unwrap().len(), 1);
    let again = app
        .gql_as(&ada.access, INVITE, json!({ "e": "bob@example.com" }))
        .await;
    again.expect_code("CONFLICT");

    let bob = app.signup("bob@example.com").await;
    let token = invitation_token(&app, "bob@example.com").await;
    // Not verified yet: the address is not proven, so neither listed nor accepted.
    let mine = app.gql_as(&bob.access, MINE, json!({})).await;
    assert_eq!(mine.ok()["myInvitations"], json!([]));
    let early = app.gql_as(&bob.access, ACCEPT, json!({ "t": token })).await;
    early.expect_code("FORBIDDEN");
    app.verify_email("bob@example.com").await;
    let mine = app.gql_as(&bob.access, MINE, json!({})).await;
    assert_eq!(mine.ok()["myInvitations"][0]["tenantName"], "ada's team");
    // Someone else's account cannot use Bob's link.
    let eve = app.signup_verified("eve@example.com").await;
    let stolen = app.gql_as(&eve.access, ACCEPT, json!({ "t": token })).await;
    stolen.expect_code("FORBIDDEN");

    let joined = app.gql_as(&bob.access, ACCEPT, json!({ "t": token })).await;
    let j = &joined.ok()["acceptInvitation"];
    assert_eq!(j["user"]["tenantId"], home.as_str());
    let bob_in = j["accessToken"].as_str().unwrap().to_owned();
    assert_eq!(tid(&bob_in), home);
    let replay = app.gql_as(&bob.access, ACCEPT, json!({ "t": token })).await;
    replay.expect_code("BAD_USER_INPUT");
    let members = app.gql_as(&bob_in, MEMBERS, json!({})).await;
    assert_eq!(members.ok()["members"]["total"], 2);
    let pending = app.gql_as(&ada.access, PENDING, json!({})).await;
    assert_eq!(pending.ok()["invitations"], json!([]));
    // A MEMBER does not manage invitations.
    let r = app
        .gql_as(&bob_in, INVITE, json!({ "e": "carl@example.com" }))
        .await;
    r.expect_code("FORBIDDEN");
    let events = |rows: Vec<latchkey::entities::audit_log::Model>| -> Vec<String> {
        rows.into_iter().map(|r| r.event).collect()
    };
    assert!(events(app.audit_rows(&ada.user_id).await).contains(&"member_invited".into()));
    assert!(events(app.audit_rows(&bob.user_id).await).contains(&"member_joined".into()));
});

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

db_test!(two_accepts_of_one_invitation_make_one_membership, |app| {
    let ada = app.signup_verified("ada@example.com").await;
    app.gql_as(&ada.access, INVITE, json!({ "e": "bob@example.com" }))
        .await
        .ok();
    let bob = app.signup_verified("bob@example.com").await;
    let second = app
        .login_tokens("bob@example.com", crate::helpers::PASSWORD)
        .await;
    let token = invitation_token(&app, "bob@example.com").await;
    let (a, b) = tokio::join!(
        app.gql_as(&bob.access, ACCEPT, json!({ "t": token })),
        app.gql_as(&second.access, ACCEPT, json!({ "t": token })),
    );
    let ok = [&a, &b].iter().filter(|r| r.code().is_none()).count();
    assert_eq!(ok, 1, "{} / {}", a.0, b.0);
    for r in [&a, &b].into_iter().filter(|r| r.code().is_some()) {
        assert!(
            matches!(r.code(), Some("BAD_USER_INPUT" | "CONFLICT")),
            "{}",
            r.0
        );
    }
    let members = app.gql_as(&ada.access, MEMBERS, json!({})).await;
    assert_eq!(members.ok()["members"]["total"], 2);
});

db_test!(
    invitations_are_rate_limited_and_expire,
    |s| {
        s.tenants.invitations_per_hour = 2;
        s.tenants.invitation_ttl_secs = 1;
    },
    |app| {
        let ada = app.signup_verified("ada@example.com").await;
        for i in 0..2 {
            let r = app
                .gql_as(
                    &ada.access,
                    INVITE,
                    json!({ "e": format!("p{i}@example.com") }),
                )
                .await;
            r.ok();
        }
        let r = app
            .gql_as(&ada.access, INVITE, json!({ "e": "p2@example.com" }))
            .await;
        r.expect_code("RATE_LIMITED");
        let p0 = app.signup_verified("p0@example.com").await;
        let token = invitation_token(&app, "p0@example.com").await;
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let r = app.gql_as(&p0.access, ACCEPT, json!({ "t": token })).await;
        r.expect_code("BAD_USER_INPUT");
        let pending: Value = app
            .gql_as(&ada.access, PENDING, json!({}))
            .await
            .ok()
            .clone();
        assert_eq!(
            pending["invitations"],
            json!([]),
            "expired ones are not pending"
        );
    }
);

db_test!(
    signup_with_an_invitation_joins_instead_of_making_a_tenant,
    |app| {
        let ada = app.signup_verified("ada@example.com").await;
        let home = tid(&ada.access);
        app.gql_as(
            &ada.access,
            INVITE,
            json!({ "e": "carol@example.com", "r": "ADMIN" }),
        )
        .await
        .ok();
        let token = invitation_token(&app, "carol@example.com").await;
        const SIGNUP: &str = "mutation($e: String!, $p: String!, $t: String) { signup(email: $e, password: $p, invitationToken: $t) { tenantId apiKey { secret } auth { accessToken user { emailVerified tenantId } } } }";
        let wrong = app
            .gql(
                SIGNUP,
                json!({ "e": "mallory@example.com", "p": crate::helpers::PASSWORD, "t": token }),
            )
            .await;
        wrong.expect_code("BAD_USER_INPUT");
        let up = app
            .gql(
                SIGNUP,
                json!({ "e": "Carol@example.com", "p": crate::helpers::PASSWORD, "t": token }),
            )
            .await;
        let s = &up.ok()["signup"];
        assert_eq!(s["tenantId"], home.as_str());
        assert_eq!(s["apiKey"], Value::Null, "no first key when joining");
        assert_eq!(
            s["auth"]["user"]["emailVerified"], true,
            "the link proved the mailbox"
        );
        let carol = s["auth"]["accessToken"].as_str().unwrap().to_owned();
        assert_eq!(tid(&carol), home);
        let list = app
            .gql_as(&carol, "{ tenants { id myRole } }", json!({}))
            .await;
        assert_eq!(
            list.ok()["tenants"],
            json!([{ "id": home, "myRole": "ADMIN" }])
        );
        let replay = app
            .gql(
                SIGNUP,
                json!({ "e": "carol2@example.com", "p": crate::helpers::PASSWORD, "t": token }),
            )
            .await;
        replay.expect_code("BAD_USER_INPUT");
    }
);

db_test!(
    owners_and_admins_see_and_revoke_every_members_key_in_the_tenant,
    |app| {
        const TENANT_KEYS: &str = "{ tenantApiKeys { total items { id userId tenantId status } } }";
        const REVOKE_KEY: &str = "mutation($i: ID!) { revokeApiKey(id: $i) { id status } }";
        const MAKE: &str =
            "mutation { createApiKey(input: { name: \"k\" }) { secret apiKey { id } } }";
        let ada = app.signup_verified("ada@example.com").await;
        let bob = join(&app, &ada, "bob@example.com", "MEMBER").await;
        let home = tid(&ada.access);
        let made = app.gql_as(&bob.access, MAKE, json!({})).await;
        let bob_key = made.ok()["createApiKey"]["apiKey"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let bob_secret = made.ok()["createApiKey"]["secret"]
            .as_str()
            .unwrap()
            .to_owned();
        // Bob's key in his own tenant is not Ada's business.
        let own = app
            .login_tokens("bob@example.com", crate::helpers::PASSWORD)
            .await;
        let own = app
            .gql_as(
                &own.access,
                SWITCH_BACK,
                json!({ "t": bob_own_tenant(&app, &bob).await }),
            )
            .await;
        let own_access = own.ok()["switchTenant"]["accessToken"]
            .as_str()
            .unwrap()
            .to_owned();
        let private = app.gql_as(&own_access, MAKE, json!({})).await;
        let private_id = private.ok()["createApiKey"]["apiKey"]["id"]
            .as_str()
            .unwrap()
            .to_owned();

        let list = app.gql_as(&ada.access, TENANT_KEYS, json!({})).await;
        let items = list.ok()["tenantApiKeys"]["items"]
            .as_array()
            .unwrap()
            .clone();
        assert!(
            items
                .iter()
                .any(|k| k["id"] == bob_key.as_str() && k["userId"] == bob.user_id.as_str())
        );
        assert!(
            items.iter().all(|k| k["tenantId"] == home.as_str()),
            "only this tenant's keys"
        );
        assert!(items.iter().all(|k| k["id"] != private_id.as_str()));
        // A MEMBER does not see them.
        app.gql_as(&bob.access, TENANT_KEYS, json!({}))
            .await
            .expect_code("FORBIDDEN");
        // Ada revokes Bob's key made here, but not the one of his own tenant.
        let r = app
            .gql_as(&ada.access, REVOKE_KEY, json!({ "i": private_id }))
            .await;
        r.expect_code("NOT_FOUND");
        let r = app
            .gql_as(&ada.access, REVOKE_KEY, json!({ "i": bob_key }))
            .await;
        assert_eq!(r.ok()["revokeApiKey"]["status"], "REVOKED");
        let by_key = app
            .gql_with("{ me { id } }", json!({}), &[("x-api-key", &bob_secret)])
            .await;
        by_key.expect_code("UNAUTHENTICATED");
        // A MEMBER cannot revoke another member's key.
        let ada_key = app.gql_as(&ada.access, MAKE, json!({})).await;
        let ada_key = ada_key.ok()["createApiKey"]["apiKey"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let r = app
            .gql_as(&bob.access, REVOKE_KEY, json!({ "i": ada_key }))
            .await;
        r.expect_code("NOT_FOUND");
    }
);

const SWITCH_BACK: &str = "mutation($t: ID!) { switchTenant(tenantId: $t) { accessToken } }";

/// The id of the tenant Bob's signup made (the one he owns).
async fn bob_own_tenant(app: &TestApp, bob: &Tokens) -> String {
    let list = app
        .gql_as(&bob.access, "{ tenants { id myRole } }", json!({}))
        .await;
    list.ok()["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["myRole"] == "OWNER")
        .expect("bob's own tenant")["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

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

db_test!(
    trucore_lists_the_keys_of_the_tenant_the_caller_may_see,
    |app| {
        use crate::rest::Rest;
        let ada = app.signup_verified("ada@example.com").await;
        let bob = join(&app, &ada, "bob@example.com", "MEMBER").await;
        let bobs = Rest::bearer(&app, &bob.access);
        let made = bobs
            .post("/customer/keys", json!({ "label": "bob's" }))
            .await;
        assert_eq!(made.status, 200, "{}", made.body);
        let bob_key = made.body["key_id"].as_str().unwrap().to_owned();
        let adas = Rest::bearer(&app, &ada.access);
        let all = adas.get("/customer/keys").await;
        let labels: Vec<&str> = all
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["label"].as_str().unwrap())
            .collect();
        assert!(
            labels.contains(&"bob's") && labels.contains(&"Default key"),
            "the OWNER sees every member's: {labels:?}"
        );
        let own = bobs.get("/customer/keys").await;
        let labels: Vec<&str> = own
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["label"].as_str().unwrap())
            .collect();
        assert_eq!(labels, vec!["bob's"], "a MEMBER sees their own");
        let revoked = adas
            .post(&format!("/customer/keys/{bob_key}/revoke"), Value::Null)
            .await;
        assert_eq!(revoked.body["status"], "revoked", "{}", revoked.body);
        let ada_key = all
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["label"] == "Default key")
            .unwrap()["key_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let refused = bobs
            .post(&format!("/customer/keys/{ada_key}/revoke"), Value::Null)
            .await;
        assert_eq!(
            refused.status, 404,
            "a MEMBER cannot revoke another's key: {}",
            refused.body
        );
    }
);
