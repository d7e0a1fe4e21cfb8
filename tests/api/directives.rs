//! The auth directives are the guards: every root field refuses the credentials its
//! directives do not list, and what the schema prints is what is enforced.
use latchkey::domain::{Role, Scope};
use latchkey::graphql::directives::AuthPolicy;
use latchkey::idm::auth::{Caller, KeyCaller, Refused, UserCaller};
use serde_json::json;

use crate::db_test;
use crate::helpers::SERVICE_TOKEN;

fn user_caller(user_id: &str, tenant_id: &str) -> Caller {
    Caller {
        user: Some(UserCaller {
            user_id: user_id.into(),
            session_id: "s".into(),
            tenant_id: tenant_id.into(),
        }),
        ..Caller::default()
    }
}

/// The tenant a token was issued in (its `tid`).
fn tid(token: &str) -> String {
    crate::helpers::jwt_part(token, 1)["tid"]
        .as_str()
        .expect("tid")
        .to_owned()
}

db_test!(
    every_root_field_refuses_the_credentials_its_directives_do_not_list,
    |app| {
        let plain = app.signup("plain@example.com").await;
        let admin = app.signup("root@example.com").await;
        app.make_admin("root@example.com").await;
        let policy = AuthPolicy::from_sdl(&latchkey::graphql::schema::sdl()).expect("policy");
        let idm = &app.state.idm;
        let anonymous = Caller::default();
        let service = Caller {
            service: true,
            ..Caller::default()
        };
        let key = Caller {
            key: Some(KeyCaller {
                user_id: plain.user_id.clone(),
                tenant_id: tid(&plain.access),
                scopes: Scope::ALL.to_vec(),
                ..KeyCaller::default()
            }),
            ..Caller::default()
        };
        let invalid = Caller {
            refused: Some(Refused::InvalidToken),
            ..Caller::default()
        };
        let mut checked = 0;
        for (ty, field, rule) in policy.fields() {
            let allowed = |c: &Caller| {
                let c = c.clone();
                async move { idm.authorize(rule, &c).await.is_ok() }
            };
            assert_eq!(
                allowed(&anonymous).await,
                rule.public,
                "{ty}.{field} anonymous"
            );
            assert_eq!(
                allowed(&invalid).await,
                rule.public,
                "{ty}.{field} invalid credential"
            );
            assert_eq!(
                allowed(&service).await,
                rule.public || rule.service,
                "{ty}.{field} service token"
            );
            assert_eq!(
                allowed(&key).await,
                rule.public || rule.key_scopes.is_some(),
                "{ty}.{field} API key"
            );
            let user_ok = rule.public
                || rule
                    .user_roles
                    .as_ref()
                    .is_some_and(|r| r.is_empty() || r.contains(&Role::User));
            let plain_caller = user_caller(&plain.user_id, &tid(&plain.access));
            assert_eq!(
                allowed(&plain_caller).await,
                user_ok,
                "{ty}.{field} USER token"
            );
            let admin_ok = rule.public || rule.user_roles.is_some();
            assert_eq!(
                allowed(&user_caller(&admin.user_id, &tid(&admin.access))).await,
                admin_ok,
                "{ty}.{field} ADMIN token"
            );
            // A token whose tenant is not the user's own: every @tenantRole field refuses.
            let stranger = user_caller(&plain.user_id, &tid(&admin.access));
            assert_eq!(
                allowed(&stranger).await,
                user_ok && rule.tenant_roles.is_none(),
                "{ty}.{field} a token of a tenant the user is not in"
            );
            checked += 1;
        }
        assert!(checked >= 16, "only {checked} root fields");
    }
);

#[test]
fn a_root_field_without_an_auth_directive_cannot_be_built() {
    let sdl = "type Query { me: String @userToken\n open: String }\nschema { query: Query }";
    let err = AuthPolicy::from_sdl(sdl).unwrap_err();
    assert!(err.contains("Query.open"), "{err}");
}

#[test]
fn schema_graphql_is_what_the_server_serves() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
        .expect("schema.graphql");
    assert!(
        committed == latchkey::graphql::schema::sdl(),
        "schema.graphql is stale: run `cargo run -- schema > schema.graphql`"
    );
}

db_test!(
    no_credential_is_unauthenticated_and_the_wrong_kind_is_forbidden,
    |app| {
        let r = app.gql("{ me { id } }", json!({})).await;
        r.expect_code("UNAUTHENTICATED");
        let r = app
            .gql_with(
                "{ sessions { id } }",
                json!({}),
                &[("x-service-token", SERVICE_TOKEN)],
            )
            .await;
        r.expect_code("FORBIDDEN");
        let t = app.signup("kind@example.com").await;
        let r = app
            .gql_as(
                &t.access,
                "mutation($u: ID!) { setUserRole(userId: $u, role: ADMIN) { role } }",
                json!({ "u": t.user_id }),
            )
            .await;
        r.expect_code("FORBIDDEN");
        assert!(r.message().contains("ADMIN"), "{}", r.message());
    }
);

db_test!(a_present_but_invalid_credential_is_never_anonymous, |app| {
    app.gql_with(
        "{ me { id } }",
        json!({}),
        &[("authorization", "Bearer garbage")],
    )
    .await
    .expect_code("UNAUTHENTICATED");
    app.gql_with(
        "{ me { id } }",
        json!({}),
        &[("authorization", "Basic dXNlcjpwYXNz")],
    )
    .await
    .expect_code("UNAUTHENTICATED");
    let r = app
        .gql_with("{ me { id } }", json!({}), &[("x-api-key", "lk_live_0000")])
        .await;
    r.expect_code("UNAUTHENTICATED");
    assert_eq!(r.message(), "Invalid or missing API key");
    let r = app
        .gql_with("{ me { id } }", json!({}), &[("x-service-token", "wrong")])
        .await;
    r.expect_code("UNAUTHENTICATED");
    // A valid user token next to a wrong service token is still refused.
    let t = app.signup("mixed@example.com").await;
    let bearer = format!("Bearer {}", t.access);
    app.gql_with(
        "{ me { id } }",
        json!({}),
        &[("authorization", &bearer), ("x-service-token", "wrong")],
    )
    .await
    .expect_code("UNAUTHENTICATED");
});

db_test!(
    a_service_token_is_refused_when_none_is_configured,
    |s| {
        s.service_token = String::new().into();
    },
    |app| {
        let r = app
            .gql_with("{ me { id } }", json!({}), &[("x-service-token", "")])
            .await;
        r.expect_code("UNAUTHENTICATED");
    }
);

db_test!(
    adding_api_key_to_a_field_is_all_it_takes_for_keys_to_reach_it,
    |app| {
        use async_graphql::Request;
        use latchkey::idm::auth::{Header, Presented};
        let t = app.signup("widen@example.com").await;
        let r = app
            .gql_as(
                &t.access,
                "mutation { createApiKey(input: {name: \"k\", scopes: [READ, WRITE]}) { secret } }",
                json!({}),
            )
            .await;
        let secret = r.ok()["createApiKey"]["secret"]
            .as_str()
            .unwrap()
            .to_owned();
        let idm = app.state.idm.clone();
        let presented = Presented {
            api_key: Header::Value(&secret),
            ..Presented::default()
        };
        let caller = idm
            .authenticate(&presented, Default::default(), latchkey::clock::now())
            .await;
        assert!(caller.key.is_some(), "the key authenticates");
        // Fields that today accept only user tokens; their resolvers act on whoever
        // the rule admitted.
        let fields = [
            ("sessions", "{ sessions { id current } }"),
            ("markWelcomeSeen", "mutation { markWelcomeSeen { id } }"),
            (
                "requestEmailVerification",
                "mutation { requestEmailVerification }",
            ),
            ("linkedProviders", "{ linkedProviders { provider } }"),
            ("userPasskeys", "{ userPasskeys { id } }"),
            ("logout", "mutation { logout(allSessions: true) }"),
        ];
        let served = latchkey::graphql::schema::sdl();
        let mut widened = served.clone();
        for (field, _) in fields {
            let line = widened
                .lines()
                .find(|l| {
                    l.trim_start().starts_with(&format!("{field}:"))
                        || l.trim_start().starts_with(&format!("{field}("))
                })
                .unwrap_or_else(|| panic!("{field} in the SDL"))
                .to_owned();
            assert!(line.ends_with("@userToken"), "{line}");
            widened = widened.replace(&line, &format!("{line} @apiKey"));
        }
        let run = |sdl: String, query: &'static str| {
            let idm = idm.clone();
            let caller = caller.clone();
            async move {
                let policy =
                    latchkey::graphql::directives::AuthPolicy::from_sdl(&sdl).expect("policy");
                let settings = idm.settings.graphql.clone();
                let schema =
                    latchkey::graphql::schema::build(idm, &settings, std::sync::Arc::new(policy));
                let resp = schema.execute(Request::new(query).data(caller)).await;
                let resp = serde_json::to_value(&resp).expect("json");
                resp["errors"][0]["extensions"]["code"]
                    .as_str()
                    .map(str::to_owned)
            }
        };
        for (field, query) in fields {
            assert_eq!(
                run(served.clone(), query).await.as_deref(),
                Some("FORBIDDEN"),
                "{field}: the served rule refuses a key"
            );
            assert_eq!(
                run(widened.clone(), query).await,
                None,
                "{field}: with @apiKey the key reaches the resolver"
            );
        }
    }
);
