//! The captcha check in front of passkey logins: the siteverify protocol that
//! reCAPTCHA, hCaptcha and Turnstile share (a form POST of `secret`, `response` and
//! `remoteip`; the answer's `success` says yes or no). Off while `[captcha] verify_url`
//! is empty. A verifier that cannot be reached, answers an error status or something
//! that is not its JSON is an error: never a pass.
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::error::{Error, Result};
use super::{ClientInfo, Idm};

#[derive(Deserialize)]
struct SiteVerify {
    success: bool,
    #[serde(default, rename = "error-codes")]
    error_codes: Vec<String>,
}

impl Idm {
    /// Checks `token` when a verifier is configured; without one, accepts anything.
    pub async fn check_captcha(&self, token: Option<&str>, client: &ClientInfo) -> Result<()> {
        let settings = &self.settings.captcha;
        if settings.verify_url.is_empty() {
            return Ok(());
        }
        let token = token.map(str::trim).unwrap_or_default();
        if token.is_empty() {
            return Err(Error::bad_input(
                "A captcha token is required: pass recaptcha_token from the captcha widget.",
            ));
        }
        if token.len() > 4096 {
            return Err(Error::bad_input("The captcha token is too long."));
        }
        let mut form = vec![
            ("secret", settings.secret.expose_secret().to_owned()),
            ("response", token.to_owned()),
        ];
        if let Some(ip) = client.ip {
            form.push(("remoteip", ip.to_string()));
        }
        let down = |what: &dyn std::fmt::Display| {
            tracing::warn!(error = %what, "captcha verifier");
            Error::unavailable(
                "The captcha could not be checked right now (the verifier did not answer); try again shortly.",
            )
        };
        let answer = self
            .http
            .post(&settings.verify_url)
            .form(&form)
            .send()
            .await
            .map_err(|e| down(&e))?;
        if !answer.status().is_success() {
            return Err(down(&answer.status()));
        }
        let verdict: SiteVerify = answer.json().await.map_err(|e| down(&e))?;
        if verdict.success {
            Ok(())
        } else {
            tracing::info!(codes = ?verdict.error_codes, "captcha refused");
            Err(Error::bad_input(
                "The captcha was not accepted; solve it again and retry.",
            ))
        }
    }
}
