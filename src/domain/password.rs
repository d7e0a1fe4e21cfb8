/// A new password that passed the policy: 8..=128 characters and not guessable
/// (zxcvbn score 2 or more, with the account's email as context, which catches the
/// commonly used passwords and the email-derived ones).
pub struct Password(String);

pub const MIN_CHARS: usize = 8;
pub const MAX_CHARS: usize = 128;

impl Password {
    pub fn parse(raw: &str, context: &[&str]) -> Result<Self, String> {
        let n = raw.chars().count();
        if n < MIN_CHARS {
            return Err(format!(
                "The password must be at least {MIN_CHARS} characters long."
            ));
        }
        if n > MAX_CHARS {
            return Err(format!(
                "The password must be at most {MAX_CHARS} characters long."
            ));
        }
        let entropy = zxcvbn::zxcvbn(raw, context);
        if u8::from(entropy.score()) < 2 {
            let hint = entropy
                .feedback()
                .and_then(|f| f.warning().map(|w| format!(" ({w})")))
                .unwrap_or_default();
            return Err(format!(
                "This password is too common or too easy to guess{hint}; choose a longer, less predictable one."
            ));
        }
        Ok(Password(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::Password;

    #[test]
    fn short_and_long_passwords_are_refused() {
        assert!(
            Password::parse("Ab1!x", &[])
                .unwrap_err()
                .contains("at least 8")
        );
        assert!(
            Password::parse(&"x".repeat(129), &[])
                .unwrap_err()
                .contains("at most 128")
        );
    }

    #[test]
    fn common_passwords_are_refused() {
        for weak in [
            "password",
            "password123",
            "12345678",
            "qwertyuiop",
            "iloveyou1",
        ] {
            let err = Password::parse(weak, &[]).unwrap_err();
            assert!(err.contains("too common"), "{weak}: {err}");
        }
    }

    #[test]
    fn passwords_made_of_the_email_are_refused() {
        assert!(Password::parse("alicealice", &["alice@example.com", "alice"]).is_err());
    }

    #[test]
    fn strong_passwords_pass() {
        assert!(Password::parse("correct-Horse-battery-9", &[]).is_ok());
    }
}
