//! Tenants (issue 18, first part): signup makes the user OWNER of a tenant; a user
//! creates more and switches between them (a new session each, `tid` the tenant);
//! `@tenantRole` is printed and enforced; another user's tenant is NOT_FOUND, never
//! FORBIDDEN; keys belong to the tenant they were made in.
use serde_json::json;

use crate::db_test;
use crate::helpers::{PASSWORD, jwt_part};

const TENANTS: &str = "{ tenants { id name myRole memberCount } }";
const CURRENT: &str = "{ currentTenant { id name myRole memberCount createdAt } }";
const MEMBERS: &str = "query($o: Int, $l: Int) { members(offset: $o, limit: $l) { total offset limit items { role joinedAt user { id email tenantId } } } }";
const CREATE: &str =
    "mutation($n: String!) { createTenant(name: $n) { id name myRole memberCount } }";
const RENAME: &str = "mutation($n: String!) { renameTenant(name: $n) { id name } }";
const SWITCH: &str = "mutation($t: ID!) { switchTenant(tenantId: $t) { accessToken refreshToken user { id tenantId } } }";

db_test!(signup_makes_the_user_owner_of_a_named_tenant, |app| {
    let ada = app.signup("ada@example.com").await;
    let tid = jwt_part(&ada.access, 1)["tid"].as_str().unwrap().to_owned();
    let list = app.gql_as(&ada.access, TENANTS, json!({})).await;
    assert_eq!(
        list.ok()["tenants"],
        json!([{ "id": tid, "name": "ada's team", "myRole": "OWNER", "memberCount": 1 }])
    );
    let current = app.gql_as(&ada.access, CURRENT, json!({})).await;
    assert_eq!(current.ok()["currentTenant"]["id"], tid.as_str());
    let members = app.gql_as(&ada.access, MEMBERS, json!({})).await;
    let page = &members.ok()["members"];
    assert_eq!(page["total"], 1);
    assert_eq!(page["items"][0]["role"], "OWNER");
    assert_eq!(page["items"][0]["user"]["email"], "ada@example.com");
    for limit in [0, 65] {
        let bad = app
            .gql_as(&ada.access, MEMBERS, json!({ "l": limit }))
            .await;
        bad.expect_code("BAD_USER_INPUT");
    }
});

db_test!(a_user_creates_tenants_and_switches_between_them, |app| {
    let ada = app.signup("ada@example.com").await;
    let home = jwt_part(&ada.access, 1)["tid"].as_str().unwrap().to_owned();
    let made = app
        .gql_as(&ada.access, CREATE, json!({ "n": "Acme" }))
        .await;
    let acme = made.ok()["createTenant"].clone();
    assert_eq!(acme["myRole"], "OWNER");
    assert_eq!(acme["memberCount"], 1);
    let acme_id = acme["id"].as_str().unwrap().to_owned();
    assert!(acme_id.starts_with("cust_") && acme_id != home);
    let list = app.gql_as(&ada.access, TENANTS, json!({})).await;
    assert_eq!(list.ok()["tenants"].as_array().unwrap().len(), 2);

    let switched = app
        .gql_as(&ada.access, SWITCH, json!({ "t": acme_id }))
        .await;
    let s = &switched.ok()["switchTenant"];
    let token = s["accessToken"].as_str().unwrap().to_owned();
    assert_eq!(jwt_part(&token, 1)["tid"], acme_id.as_str());
    assert_eq!(s["user"]["tenantId"], acme_id.as_str());
    let me = app.gql_as(&token, "{ me { tenantId } }", json!({})).await;
    assert_eq!(me.ok()["me"]["tenantId"], acme_id.as_str());
    // The old session stays in the old tenant, and says so.
    let old = app
        .gql_as(&ada.access, "{ me { tenantId } }", json!({}))
        .await;
    assert_eq!(old.ok()["me"]["tenantId"], home.as_str());
    let current = app.gql_as(&ada.access, CURRENT, json!({})).await;
    assert_eq!(current.ok()["currentTenant"]["id"], home.as_str());
    // A refresh keeps the session's tenant.
    let refreshed = app
        .gql(
            "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }",
            json!({ "t": s["refreshToken"] }),
        )
        .await;
    let again = refreshed.ok()["refreshToken"]["accessToken"]
        .as_str()
        .unwrap();
    assert_eq!(jwt_part(again, 1)["tid"], acme_id.as_str());
    // The next sign-in lands where the user last switched to.
    let login = app.login_tokens("ada@example.com", PASSWORD).await;
    assert_eq!(jwt_part(&login.access, 1)["tid"], acme_id.as_str());

    // A key made in a tenant belongs to it.
    let key = app
        .gql_as(
            &ada.access,
            "mutation { createApiKey(input: { name: \"home\" }) { secret } }",
            json!({}),
        )
        .await;
    let secret = key.ok()["createApiKey"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let by_key = app
        .gql_with(CURRENT, json!({}), &[("x-api-key", &secret)])
        .await;
    assert_eq!(by_key.ok()["currentTenant"]["id"], home.as_str());
    let events: Vec<String> = app
        .audit_rows(&ada.user_id)
        .await
        .into_iter()
        .map(|r| r.event)
        .collect();
    assert!(events.contains(&"tenant_created".to_owned()), "{events:?}");
    assert!(events.contains(&"tenant_switched".to_owned()), "{events:?}");
});

db_test!(another_users_tenant_is_not_found_never_forbidden, |app| {
    let ada = app.signup("ada@example.com").await;
    let bob = app.signup("bob@example.com").await;
    let bobs = jwt_part(&bob.access, 1)["tid"].as_str().unwrap().to_owned();
    let theirs = app.gql_as(&ada.access, SWITCH, json!({ "t": bobs })).await;
    theirs.expect_code("NOT_FOUND");
    let nobody = app
        .gql_as(&ada.access, SWITCH, json!({ "t": "cust_000000000000" }))
        .await;
    nobody.expect_code("NOT_FOUND");
    assert_eq!(
        theirs.message(),
        nobody.message(),
        "the same answer: no existence leak"
    );
    let long = app
        .gql_as(&ada.access, SWITCH, json!({ "t": "x".repeat(5000) }))
        .await;
    long.expect_code("NOT_FOUND");
    let list = app.gql_as(&ada.access, TENANTS, json!({})).await;
    assert_eq!(list.ok()["tenants"].as_array().unwrap().len(), 1);
});

db_test!(renaming_needs_an_owner_or_admin_and_a_good_name, |app| {
    let ada = app.signup("ada@example.com").await;
    let renamed = app
        .gql_as(&ada.access, RENAME, json!({ "n": "  Ada & Co  " }))
        .await;
    assert_eq!(renamed.ok()["renameTenant"]["name"], "Ada & Co");
    for bad in ["", "   ", &"n".repeat(129), "bad\u{0007}name"] {
        let r = app.gql_as(&ada.access, RENAME, json!({ "n": bad })).await;
        r.expect_code("BAD_USER_INPUT");
    }
    // A key cannot rename (the field takes user tokens only).
    let key = app
        .gql_as(
            &ada.access,
            "mutation { createApiKey(input: { name: \"k\", scopes: [READ, WRITE, DELETE] }) { secret } }",
            json!({}),
        )
        .await;
    let secret = key.ok()["createApiKey"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let by_key = app
        .gql_with(RENAME, json!({ "n": "x" }), &[("x-api-key", &secret)])
        .await;
    by_key.expect_code("FORBIDDEN");
});

#[test]
fn the_tenant_role_directive_is_printed_and_read_into_the_rules() {
    let sdl = latchkey::graphql::schema::sdl();
    assert!(
        sdl.contains("directive @tenantRole(roles: [TenantRole!]!) on FIELD_DEFINITION"),
        "printed as the contract has it"
    );
    assert!(sdl.contains(
        "renameTenant(name: String!): Tenant! @userToken @tenantRole(roles: [OWNER, ADMIN])"
    ));
    let policy = latchkey::graphql::schema::policy().unwrap();
    let rule = policy.rule("Mutation", "renameTenant").unwrap();
    use latchkey::domain::TenantRole;
    assert_eq!(
        rule.tenant_roles,
        Some(vec![TenantRole::Owner, TenantRole::Admin])
    );
    assert!(rule.user_roles.is_some() && rule.key_scopes.is_none());
}
