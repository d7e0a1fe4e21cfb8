//! Outgoing mail: over SMTP with lettre when `mail.smtp_url` is set, otherwise one
//! `.eml` file per message in the outbox directory (the embedded default).
use std::path::PathBuf;

use lettre::message::{Mailbox, Message, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::ExposeSecret;

use super::email_tokens::Purpose;
use crate::config::Settings;

#[derive(Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Outbox(PathBuf),
}

#[derive(Clone)]
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    public_url: String,
}

impl Mailer {
    /// Builds the transport; call inside the Tokio runtime.
    pub fn new(settings: &Settings) -> anyhow::Result<Self> {
        let url = settings.mail.smtp_url.expose_secret();
        let transport = if url.is_empty() {
            Transport::Outbox(settings.mail.outbox_dir.clone())
        } else {
            let t = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                .map_err(|e| anyhow::anyhow!("setting `mail.smtp_url`: {e}"))?
                .build();
            Transport::Smtp(t)
        };
        Ok(Self {
            transport,
            from: settings
                .mail
                .from
                .parse()
                .map_err(|e| anyhow::anyhow!("setting `mail.from`: {e}"))?,
            public_url: settings.public_url.trim_end_matches('/').to_owned(),
        })
    }

    pub fn verification_link(&self, token: &str) -> String {
        format!("{}/verify-email?token={token}", self.public_url)
    }

    pub fn reset_link(&self, token: &str) -> String {
        format!("{}/reset-password?token={token}", self.public_url)
    }

    pub async fn send_verification(&self, to: &str, token: &str) -> anyhow::Result<()> {
        let link = self.verification_link(token);
        let body = format!(
            "Welcome to latchkey.\n\nConfirm your email address by opening this link:\n\n{link}\n\n\
             The link works once and expires in 24 hours. If you did not sign up, ignore this email.\n"
        );
        self.send(to, "Confirm your email address", body).await
    }

    pub async fn send_reset(&self, to: &str, token: &str) -> anyhow::Result<()> {
        let link = self.reset_link(token);
        let body = format!(
            "Someone asked to reset the password of your latchkey account.\n\n\
             Choose a new password here:\n\n{link}\n\n\
             The link works once and expires in 24 hours. If it was not you, ignore this email: \
             your password stays as it is.\n"
        );
        self.send(to, "Reset your password", body).await
    }

    pub fn invitation_link(&self, token: &str) -> String {
        format!("{}/accept-invite?token={token}", self.public_url)
    }

    /// The invitation to join a tenant, in the background like every link.
    pub fn send_invitation_later(&self, to: String, tenant_name: String, token: String) {
        let mailer = self.clone();
        tokio::spawn(async move {
            let link = mailer.invitation_link(&token);
            let body = format!(
                "You are invited to join \"{tenant_name}\" on latchkey.\n\n\
                 Accept the invitation here (sign in or sign up with this address first):\n\n{link}\n\n\
                 The link works once. If you did not expect it, ignore this email.\n"
            );
            if let Err(e) = mailer
                .send(&to, "You are invited to join a team", body)
                .await
            {
                tracing::error!(error = %e, "sending an invitation");
            }
        });
    }

    #[tracing::instrument(skip_all)]
    async fn send(&self, to: &str, subject: &str, body: String) -> anyhow::Result<()> {
        let message = Message::builder()
            .from(self.from.clone())
            .to(to.parse()?)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)?;
        match &self.transport {
            Transport::Smtp(t) => {
                t.send(message).await?;
            }
            Transport::Outbox(dir) => {
                // Written aside, then renamed in: whoever reads the outbox sees a whole
                // message or none (a reader racing a plain write saw half of one).
                let partial = dir.join(".partial");
                tokio::fs::create_dir_all(&partial).await?;
                // A v7 UUID starts with its time and is ordered within the process:
                // the outbox lists in the order the messages were sent.
                let name = format!("{}.eml", uuid::Uuid::now_v7());
                tokio::fs::write(partial.join(&name), message.formatted()).await?;
                tokio::fs::rename(partial.join(&name), dir.join(&name)).await?;
            }
        }
        Ok(())
    }

    /// Sends the email that carries a one-time link, in the background: the request's
    /// answer and its timing do not depend on the mail server (which would reveal
    /// whether an address is known).
    pub fn send_link_later(&self, purpose: Purpose, to: String, token: String) {
        let mailer = self.clone();
        tokio::spawn(async move {
            let sent = match purpose {
                Purpose::VerifyEmail => mailer.send_verification(&to, &token).await,
                Purpose::ResetPassword => mailer.send_reset(&to, &token).await,
            };
            if let Err(e) = sent {
                tracing::error!(error = %e, ?purpose, "sending email");
            }
        });
    }
}
