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

#[cfg(test)]
mod props {
    use super::{MAX_CHARS, MIN_CHARS, Password};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn parse_never_panics_and_keeps_the_length_rule(
            raw in ".{0,140}",
            context in prop::collection::vec(".{0,20}", 0..3),
        ) {
            let context: Vec<&str> = context.iter().map(String::as_str).collect();
            let n = raw.chars().count();
            match Password::parse(&raw, &context) {
                Ok(p) => {
                    prop_assert!((MIN_CHARS..=MAX_CHARS).contains(&n));
                    prop_assert_eq!(p.expose(), raw.as_str());
                    prop_assert_eq!(format!("{p:?}"), "Password([redacted])");
                }
                Err(e) => {
                    if n < MIN_CHARS {
                        prop_assert!(e.contains("at least"), "{e}");
                    } else if n > MAX_CHARS {
                        prop_assert!(e.contains("at most"), "{e}");
                    } else {
                        prop_assert!(e.contains("too common"), "{e}");
                    }
                }
            }
        }

        #[test]
        fn long_random_passwords_pass(raw in "[a-zA-Z0-9!#%&*+=?@^_~-]{24,128}") {
            // 24+ characters drawn at random from 75 symbols: far above zxcvbn's score 2
            // unless the draw is degenerate, which the pattern check would catch anyway.
            let distinct: std::collections::HashSet<char> = raw.chars().collect();
            prop_assume!(distinct.len() >= 10);
            prop_assert!(Password::parse(&raw, &[]).is_ok());
        }

        #[test]
        fn lengths_outside_the_policy_are_refused(
            short in ".{0,7}",
            long in "[a-z0-9]{129,200}",
        ) {
            prop_assert!(Password::parse(&short, &[]).is_err());
            prop_assert!(Password::parse(&long, &[]).is_err());
        }
    }
}
