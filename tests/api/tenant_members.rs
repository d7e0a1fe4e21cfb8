//! Members of a tenant (issue 18): invitations by email, accepted only by the invited
//! verified address, single use; the role rules (an ADMIN never touches an OWNER, only
//! an OWNER transfers ownership, the last OWNER stays); removal ending the member's
//! sessions and keys in the tenant at once; cross-tenant ids NOT_FOUND; races.
use std::time::Duration;

use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{TestApp, Tokens, jwt_part, link_token};

pub(crate) const INVITE: &str = "mutation($e: String!, $r: TenantRole) { inviteMember(email: $e, role: $r) { id email role status tenantName invitedBy { email } } }";
pub(crate) const ACCEPT: &str =
    "mutation($t: String!) { acceptInvitation(token: $t) { accessToken user { tenantId } } }";
const MINE: &str = "{ myInvitations { id tenantName role status } }";
const PENDING: &str = "{ invitations { id email status } }";
pub(crate) const SET_ROLE: &str = "mutation($u: ID!, $r: TenantRole!) { setMemberRole(userId: $u, role: $r) { role user { id } } }";
pub(crate) const REMOVE: &str = "mutation($u: ID!) { removeMember(userId: $u) }";
pub(crate) const TRANSFER: &str = "mutation($u: ID!) { transferOwnership(userId: $u) { role } }";
pub(crate) const LEAVE: &str = "mutation($t: ID!) { leaveTenant(tenantId: $t) }";
pub(crate) const MEMBERS: &str = "{ members { total items { role user { email } } } }";

pub(crate) fn tid(token: &str) -> String {
    jwt_part(token, 1)["tid"].as_str().unwrap().to_owned()
}

/// The token of the latest invitation mailed to `email`.
pub(crate) async fn invitation_token(app: &TestApp, email: &str) -> String {
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
pub(crate) async fn join(app: &TestApp, owner: &Tokens, email: &str, role: &str) -> Tokens {
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
