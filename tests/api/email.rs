//! Email verification and password reset: one-time links, over the outbox and over a
//! real SMTP server.
use serde_json::json;

use crate::db_test;
use crate::helpers::{PASSWORD, SmtpSink, link_token};

const CONFIRM: &str = "mutation($t: String!) { confirmEmailVerification(token: $t) }";
const RESET: &str = "mutation($e: String!) { requestPasswordReset(email: $e) }";
const VALIDATE: &str = "query($t: String!) { validatePasswordResetToken(token: $t) }";
const NEW_PASSWORD: &str =
    "mutation($t: String!, $p: String!) { confirmPasswordReset(token: $t, newPassword: $p) }";

db_test!(signup_sends_a_verification_link_that_works_once, |app| {
    let t = app.signup("verify@example.com").await;
    let mails = app.outbox_messages(1).await;
    assert!(mails[0].contains("To: verify@example.com"), "{}", mails[0]);
    assert!(
        mails[0].contains("http://127.0.0.1:8080/verify-email?token="),
        "{}",
        mails[0]
    );
    let token = link_token(&mails[0], "/verify-email");
    assert_eq!(token.len(), 64);
    let r = app.gql(CONFIRM, json!({ "t": token })).await;
    assert_eq!(r.ok()["confirmEmailVerification"], true);
    assert_eq!(app.me(&t.access).await.ok()["me"]["emailVerified"], true);
    let again = app.gql(CONFIRM, json!({ "t": token })).await;
    again.expect_code("BAD_USER_INPUT");
    app.gql(CONFIRM, json!({ "t": "0".repeat(64) }))
        .await
        .expect_code("BAD_USER_INPUT");
    // Verified already: asking again is refused with a clear message.
    let r = app
        .gql_as(
            &t.access,
            "mutation { requestEmailVerification }",
            json!({}),
        )
        .await;
    r.expect_code("BAD_USER_INPUT");
});

db_test!(a_new_verification_request_voids_the_older_link, |app| {
    let t = app.signup("again@example.com").await;
    let first = link_token(&app.outbox_messages(1).await[0], "/verify-email");
    let r = app
        .gql_as(
            &t.access,
            "mutation { requestEmailVerification }",
            json!({}),
        )
        .await;
    assert_eq!(r.ok()["requestEmailVerification"], true);
    let mails = app.outbox_messages(2).await;
    let second = mails
        .iter()
        .map(|m| link_token(m, "/verify-email"))
        .find(|t| *t != first)
        .expect("second link");
    app.gql(CONFIRM, json!({ "t": first }))
        .await
        .expect_code("BAD_USER_INPUT");
    app.gql(CONFIRM, json!({ "t": second })).await.ok();
});

db_test!(
    password_reset_for_an_unknown_email_answers_true_and_sends_nothing,
    |app| {
        let r = app.gql(RESET, json!({ "e": "stranger@example.com" })).await;
        assert_eq!(r.ok()["requestPasswordReset"], true);
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(
            std::fs::read_dir(&app.outbox)
                .map(|d| d.count())
                .unwrap_or(0),
            0
        );
    }
);

db_test!(
    a_password_reset_link_sets_a_new_password_once_and_signs_out_everywhere,
    |app| {
        let t = app.signup("reset@example.com").await;
        app.outbox_messages(1).await;
        let r = app.gql(RESET, json!({ "e": "Reset@Example.com" })).await;
        assert_eq!(r.ok()["requestPasswordReset"], true);
        let mails = app.outbox_messages(2).await;
        let mail = mails
            .iter()
            .find(|m| m.contains("/reset-password?token="))
            .expect("reset mail");
        let token = link_token(mail, "/reset-password");
        assert_eq!(
            app.gql(VALIDATE, json!({ "t": token })).await.ok()["validatePasswordResetToken"],
            true
        );
        assert_eq!(
            app.gql(VALIDATE, json!({ "t": "bogus" })).await.ok()["validatePasswordResetToken"],
            false
        );
        // A weak new password is refused and the link stays usable.
        app.gql(NEW_PASSWORD, json!({ "t": token, "p": "password" }))
            .await
            .expect_code("BAD_USER_INPUT");
        let r = app
            .gql(
                NEW_PASSWORD,
                json!({ "t": token, "p": "brand-New-secret-77" }),
            )
            .await;
        assert_eq!(r.ok()["confirmPasswordReset"], true);
        app.me(&t.access).await.expect_code("UNAUTHENTICATED");
        app.login("reset@example.com", PASSWORD)
            .await
            .expect_code("UNAUTHENTICATED");
        let l = app
            .login_tokens("reset@example.com", "brand-New-secret-77")
            .await;
        // The link proved control of the address.
        assert_eq!(app.me(&l.access).await.ok()["me"]["emailVerified"], true);
        app.gql(
            NEW_PASSWORD,
            json!({ "t": token, "p": "another-New-secret-88" }),
        )
        .await
        .expect_code("BAD_USER_INPUT");
        assert_eq!(
            app.gql(VALIDATE, json!({ "t": token })).await.ok()["validatePasswordResetToken"],
            false
        );
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verification_email_is_delivered_over_smtp_and_its_link_works() {
    let sink = SmtpSink::default();
    let smtp = sink.start();
    let app = crate::helpers::spawn_app_with(crate::helpers::Backend::Sqlite, |s| {
        s.mail.smtp_url = smtp.clone().into();
        s.public_url = "https://id.example.com".into();
    })
    .await
    .expect("app");
    let t = app.signup("smtp@example.com").await;
    let got = sink.wait_for(1).await;
    assert!(got[0].contains("smtp@example.com"), "{}", got[0]);
    assert!(
        got[0].contains("https://id.example.com/verify-email?token="),
        "{}",
        got[0]
    );
    let token = link_token(&got[0], "/verify-email");
    app.gql(CONFIRM, json!({ "t": token })).await.ok();
    assert_eq!(app.me(&t.access).await.ok()["me"]["emailVerified"], true);
}

db_test!(
    a_reset_that_first_proves_the_mailbox_leaves_nothing_of_a_squatter,
    |app| {
        // Someone signs up with another person's address; the account is unproven.
        let squatter = app.signup("owner@example.com").await;
        let r = app
            .gql_as(
                &squatter.access,
                "mutation { createApiKey(input: { name: \"kept\" }) { secret } }",
                json!({}),
            )
            .await;
        let key = r.ok()["createApiKey"]["secret"]
            .as_str()
            .unwrap()
            .to_owned();
        // Strong factors need a proven mailbox: nothing to plant that outlives it.
        for q in [
            "mutation { generate_2fa { secret } }",
            "mutation { generatePasskeyRegistrationChallenge { options } }",
        ] {
            let r = app.gql_as(&squatter.access, q, json!({})).await;
            r.expect_code("FORBIDDEN");
            assert!(r.message().contains("Verify your email"), "{}", r.message());
        }
        // The address's owner resets the password.
        app.gql(RESET, json!({ "e": "owner@example.com" }))
            .await
            .ok();
        let mails = app.outbox_messages(2).await;
        let mail = mails
            .iter()
            .find(|m| m.contains("/reset-password?token="))
            .expect("reset mail");
        let token = link_token(mail, "/reset-password");
        app.gql(
            NEW_PASSWORD,
            json!({ "t": token, "p": "owners-Own-secret-31" }),
        )
        .await
        .ok();
        // The squatter's session and API key are gone; the owner's account works.
        app.me(&squatter.access)
            .await
            .expect_code("UNAUTHENTICATED");
        app.gql_with("{ me { id } }", json!({}), &[("x-api-key", &key)])
            .await
            .expect_code("UNAUTHENTICATED");
        let owner = app
            .login_tokens("owner@example.com", "owners-Own-secret-31")
            .await;
        assert_eq!(
            app.me(&owner.access).await.ok()["me"]["emailVerified"],
            true
        );
        assert!(
            app.audit_rows(&owner.user_id)
                .await
                .iter()
                .any(|r| r.event == "password_reset")
        );
    }
);
