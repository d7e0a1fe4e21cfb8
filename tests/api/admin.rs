//! Roles and deactivation by administrators.
use serde_json::json;

use crate::db_test;

const SET_ROLE: &str =
    "mutation($u: ID!, $r: Role!) { setUserRole(userId: $u, role: $r) { id role } }";
const SET_ACTIVE: &str =
    "mutation($u: ID!, $a: Boolean!) { setUserActive(userId: $u, active: $a) { id isActive } }";

db_test!(
    an_admin_sets_roles_and_a_demotion_takes_effect_at_once,
    |app| {
        let admin = app.signup("admin@example.com").await;
        let dev = app.signup("dev@example.com").await;
        app.make_admin("admin@example.com").await;
        let r = app
            .gql_as(
                &admin.access,
                SET_ROLE,
                json!({ "u": dev.user_id, "r": "DEVELOPER" }),
            )
            .await;
        assert_eq!(r.ok()["setUserRole"]["role"], "DEVELOPER");
        assert_eq!(app.me(&dev.access).await.ok()["me"]["role"], "DEVELOPER");
        // Promote, then demote: the old token's role claim does not outlive the change.
        app.gql_as(
            &admin.access,
            SET_ROLE,
            json!({ "u": dev.user_id, "r": "ADMIN" }),
        )
        .await
        .ok();
        app.gql_as(
            &dev.access,
            SET_ROLE,
            json!({ "u": admin.user_id, "r": "ADMIN" }),
        )
        .await
        .ok();
        app.gql_as(
            &admin.access,
            SET_ROLE,
            json!({ "u": dev.user_id, "r": "USER" }),
        )
        .await
        .ok();
        app.gql_as(
            &dev.access,
            SET_ROLE,
            json!({ "u": admin.user_id, "r": "USER" }),
        )
        .await
        .expect_code("FORBIDDEN");
    }
);

db_test!(an_admin_cannot_demote_or_deactivate_themself, |app| {
    let admin = app.signup("self@example.com").await;
    app.make_admin("self@example.com").await;
    app.gql_as(
        &admin.access,
        SET_ROLE,
        json!({ "u": admin.user_id, "r": "USER" }),
    )
    .await
    .expect_code("BAD_USER_INPUT");
    app.gql_as(
        &admin.access,
        SET_ACTIVE,
        json!({ "u": admin.user_id, "a": false }),
    )
    .await
    .expect_code("BAD_USER_INPUT");
});

db_test!(unknown_users_and_bad_roles_are_clear_errors, |app| {
    let admin = app.signup("boss@example.com").await;
    app.make_admin("boss@example.com").await;
    app.gql_as(
        &admin.access,
        SET_ROLE,
        json!({ "u": "no-such-user", "r": "ADMIN" }),
    )
    .await
    .expect_code("NOT_FOUND");
    app.gql_as(
        &admin.access,
        SET_ROLE,
        json!({ "u": admin.user_id, "r": "ROOT" }),
    )
    .await
    .expect_code("BAD_USER_INPUT");
});

db_test!(
    a_deactivated_user_is_signed_out_and_cannot_log_in_until_reactivated,
    |app| {
        let admin = app.signup("chief@example.com").await;
        app.make_admin("chief@example.com").await;
        let u = app.signup("leaver@example.com").await;
        let r = app
            .gql_as(
                &admin.access,
                SET_ACTIVE,
                json!({ "u": u.user_id, "a": false }),
            )
            .await;
        assert_eq!(r.ok()["setUserActive"]["isActive"], false);
        app.me(&u.access).await.expect_code("UNAUTHENTICATED");
        let refresh = app
            .gql(
                "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }",
                json!({ "t": u.refresh }),
            )
            .await;
        refresh.expect_code("UNAUTHENTICATED");
        let login = app
            .login("leaver@example.com", crate::helpers::PASSWORD)
            .await;
        login.expect_code("FORBIDDEN");
        assert!(login.message().contains("deactivated"));
        app.gql_as(
            &admin.access,
            SET_ACTIVE,
            json!({ "u": u.user_id, "a": true }),
        )
        .await
        .ok();
        app.login_tokens("leaver@example.com", crate::helpers::PASSWORD)
            .await;
    }
);

db_test!(the_command_line_bootstraps_an_admin, |app| {
    let t = app.signup("first@example.com").await;
    let u = app
        .state
        .idm
        .set_role_by_email(
            "FIRST@example.com",
            latchkey::domain::Role::Admin,
            latchkey::clock::now(),
        )
        .await
        .expect("set role");
    assert_eq!(u.role, latchkey::domain::Role::Admin);
    assert_eq!(app.me(&t.access).await.ok()["me"]["role"], "ADMIN");
    assert!(
        app.state
            .idm
            .set_role_by_email("missing@example.com", latchkey::domain::Role::Admin, 0)
            .await
            .is_err()
    );
});
