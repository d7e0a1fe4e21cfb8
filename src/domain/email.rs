use std::fmt;
use std::str::FromStr;

use email_address::EmailAddress;

/// A syntactically valid email address, trimmed and lower-cased, whose domain is not a
/// known disposable-mail service (the `mailchecker` crate's maintained list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let normalised = Self::normalise(raw);
        if normalised.is_empty() {
            return Err("Enter an email address.".into());
        }
        if normalised.len() > 254 {
            return Err("That email address is too long.".into());
        }
        let parsed = EmailAddress::from_str(&normalised)
            .map_err(|_| format!("`{}` is not a valid email address.", normalised))?;
        let domain = parsed.domain();
        if !domain.contains('.') || domain.starts_with('[') {
            return Err(format!("`{normalised}` is not a valid email address."));
        }
        if !mailchecker::is_valid(&normalised) {
            return Err(format!(
                "Disposable email addresses are not accepted ({domain}); use a permanent address."
            ));
        }
        Ok(Email(normalised))
    }

    /// The form used to look an address up: how it is stored. Lookups of addresses that
    /// would fail `parse` (e.g. disposable ones) simply find nothing.
    pub fn normalise(raw: &str) -> String {
        raw.trim().to_lowercase()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Email;

    #[test]
    fn addresses_are_trimmed_and_lower_cased() {
        let e = Email::parse("  Alice.Smith@Example.COM ").expect("valid");
        assert_eq!(e.as_str(), "alice.smith@example.com");
    }

    #[test]
    fn malformed_addresses_are_refused() {
        for bad in [
            "",
            "alice",
            "alice@",
            "@example.com",
            "a b@example.com",
            "alice@localhost",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn disposable_domains_are_refused() {
        let err = Email::parse("someone@mailinator.com").unwrap_err();
        assert!(err.contains("Disposable"), "{err}");
        assert!(Email::parse("someone@yopmail.com").is_err());
    }
}
