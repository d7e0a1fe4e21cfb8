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

#[cfg(test)]
mod props {
    use super::Email;
    use proptest::prelude::*;

    /// Domains that are certainly not on the disposable-mail list.
    const DOMAINS: [&str; 5] = [
        "example.com",
        "gmail.com",
        "example.org",
        "mail.example.co.uk",
        "uni-example.edu",
    ];

    fn mixed_case(s: &str, upper: &[bool]) -> String {
        s.chars()
            .zip(upper.iter().cycle())
            .map(|(c, u)| if *u { c.to_ascii_uppercase() } else { c })
            .collect()
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_its_output_is_normalised(raw in any::<String>()) {
            if let Ok(e) = Email::parse(&raw) {
                let s = e.as_str();
                prop_assert_eq!(s, Email::normalise(&raw));
                prop_assert_eq!(s, s.trim());
                prop_assert_eq!(s.to_string(), s.to_lowercase());
                prop_assert!(s.len() <= 254);
                prop_assert!(s.contains('@'));
                prop_assert_eq!(e.to_string(), s);
                // It re-parses to itself.
                prop_assert_eq!(Email::parse(s), Ok(e.clone()));
            }
        }

        #[test]
        fn anything_like_an_email_text_normalises_idempotently(raw in ".{0,80}") {
            let once = Email::normalise(&raw);
            prop_assert_eq!(Email::normalise(&once), once.clone());
            prop_assert_eq!(Email::parse(&raw).is_ok(), Email::parse(&once).is_ok());
        }

        #[test]
        fn plain_addresses_are_accepted_whatever_their_case_and_surrounding_space(
            local in "[a-z0-9]{1,12}([._+-][a-z0-9]{1,12}){0,3}",
            domain in prop::sample::select(DOMAINS.to_vec()),
            upper in prop::collection::vec(any::<bool>(), 1..8),
            before in "[ \t\n]{0,3}",
            after in "[ \t\n]{0,3}",
        ) {
            let address = format!("{local}@{domain}");
            let typed = format!("{before}{}{after}", mixed_case(&address, &upper));
            let e = Email::parse(&typed);
            prop_assert!(e.is_ok(), "{:?} refused: {:?}", typed, e);
            let e = e.unwrap();
            prop_assert_eq!(e.as_str(), address);
        }

        #[test]
        fn text_without_an_at_sign_is_refused(raw in "[^@]{0,80}") {
            prop_assert!(Email::parse(&raw).is_err());
        }

        #[test]
        fn addresses_without_a_dotted_domain_are_refused(
            local in "[a-z0-9]{1,12}",
            host in "[a-z0-9]{1,20}",
        ) {
            let address = format!("{local}@{host}");
            prop_assert!(Email::parse(&address).is_err());
        }

        #[test]
        fn overlong_addresses_are_refused(local in "[a-z]{64}", label in "[a-z]{63}") {
            // 64 + 1 + 3 × (63 + 1) + 3 = 260 characters.
            let long = format!("{local}@{label}.{label}.{label}.com");
            prop_assert!(long.len() > 254);
            prop_assert!(Email::parse(&long).is_err());
        }
    }
}
