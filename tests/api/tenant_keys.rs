//! A tenant's keys (issue 18): its OWNERs and ADMINs see and revoke every member's key
//! made in it (GraphQL `tenantApiKeys`, REST `GET /customer/keys`); a member's key of
//! another tenant stays theirs.
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{TestApp, Tokens};
use crate::tenant_members::{join, tid};

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
