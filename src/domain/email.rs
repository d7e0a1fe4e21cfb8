use std::fmt;
use std::str::FromStr;

use email_address::EmailAddress;
use unicode_normalization::UnicodeNormalization;

/// A syntactically valid email address in its canonical form (see `normalise`), whose
/// domain is not a known disposable-mail service (the `mailchecker` crate's list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

/// Longer input is no address, and is refused before any Unicode work is done on it.
const MAX_INPUT_BYTES: usize = 1024;

/// Why an address has no canonical form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Uncanonical {
    Empty,
    TooLong,
    Malformed,
    /// A non-ASCII character that case folding or compatibility normalisation would
    /// turn into another address (KELVIN SIGN `K` into `k`, fullwidth letters, ...).
    Confusable,
}

/// The one rule by which two typed addresses are the same account: trimmed; the domain
/// in its IDNA ASCII (punycode) form, lower case; the local part lower-cased. An address
/// is refused when it could name someone else's mailbox after such folding: a local part
/// that is not in NFKC form, or holds a non-ASCII character whose lower case has ASCII
/// in it; a domain whose non-ASCII label does not become an `xn--` label (it would
/// silently become another, ASCII, domain).
fn canonical(raw: &str) -> Result<String, Uncanonical> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(Uncanonical::Empty);
    }
    if raw.len() > MAX_INPUT_BYTES {
        return Err(Uncanonical::TooLong);
    }
    let (local, domain) = raw.rsplit_once('@').ok_or(Uncanonical::Malformed)?;
    if local.is_empty() || domain.is_empty() {
        return Err(Uncanonical::Malformed);
    }
    let local = if local.is_ascii() {
        local.to_ascii_lowercase()
    } else {
        let folds_to_ascii = local
            .chars()
            .any(|c| !c.is_ascii() && c.to_lowercase().any(|l| l.is_ascii()));
        if folds_to_ascii || local.nfkc().ne(local.chars()) {
            return Err(Uncanonical::Confusable);
        }
        local.to_lowercase()
    };
    let domain = if domain.is_ascii() {
        domain.to_ascii_lowercase()
    } else {
        let ascii = idna::domain_to_ascii(domain).map_err(|_| Uncanonical::Malformed)?;
        let typed: Vec<&str> = domain.split('.').collect();
        let mapped: Vec<&str> = ascii.split('.').collect();
        let same_labels = typed.len() == mapped.len()
            && typed.iter().zip(&mapped).all(|(t, m)| {
                if t.is_ascii() {
                    t.eq_ignore_ascii_case(m)
                } else {
                    m.starts_with("xn--")
                }
            });
        if !same_labels {
            return Err(Uncanonical::Confusable);
        }
        ascii
    };
    Ok(format!("{local}@{domain}"))
}

/// Whether `domain` (canonical: lower case, ASCII) or a parent of it is on the
/// `mailchecker` list of disposable-mail services. (The list is read directly: the
/// crate's `is_valid` also runs its own address syntax check, which refuses
/// international local parts and punycode labels that are valid addresses.)
fn is_disposable(domain: &str) -> bool {
    static LIST: std::sync::OnceLock<std::collections::HashSet<&'static str>> =
        std::sync::OnceLock::new();
    let list = LIST.get_or_init(|| mailchecker::blacklist().into_iter().collect());
    let mut rest = domain;
    loop {
        if list.contains(rest) {
            return true;
        }
        match rest.split_once('.') {
            Some((_, parent)) if parent.contains('.') => rest = parent,
            _ => return false,
        }
    }
}

impl Email {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let shown = || raw.trim().chars().take(80).collect::<String>();
        let normalised = canonical(raw).map_err(|why| match why {
            Uncanonical::Empty => "Enter an email address.".to_owned(),
            Uncanonical::TooLong => "That email address is too long.".to_owned(),
            Uncanonical::Malformed => format!("`{}` is not a valid email address.", shown()),
            Uncanonical::Confusable => format!(
                "`{}` cannot be used: it has characters that stand for other letters (such as the Kelvin sign for K); type the address in plain letters.",
                shown()
            ),
        })?;
        if normalised.len() > 254 {
            return Err("That email address is too long.".into());
        }
        let parsed = EmailAddress::from_str(&normalised)
            .map_err(|_| format!("`{}` is not a valid email address.", shown()))?;
        let domain = parsed.domain();
        if !domain.contains('.') || domain.starts_with('[') {
            return Err(format!("`{}` is not a valid email address.", shown()));
        }
        if is_disposable(domain) {
            return Err(format!(
                "Disposable email addresses are not accepted ({domain}); use a permanent address."
            ));
        }
        Ok(Email(normalised))
    }

    /// The form an address is stored and looked up in; None when no account can have
    /// it (lookups of it find nothing). Lookups of addresses that would fail `parse`
    /// for other reasons (a disposable domain) simply find nothing too.
    pub fn normalise(raw: &str) -> Option<String> {
        canonical(raw).ok()
    }

    /// A key for counting attempts against an address: its canonical form, or the
    /// trimmed input when it has none.
    pub fn lookup_key(raw: &str) -> String {
        Self::normalise(raw).unwrap_or_else(|| raw.trim().to_owned())
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
    fn characters_that_fold_into_other_letters_are_refused() {
        for bad in [
            "\u{212A}ate@example.com",  // KELVIN SIGN, lower-cases to k
            "\u{FF4B}ate@example.com",  // FULLWIDTH k (NFKC: k)
            "\u{0130}van@example.com",  // I WITH DOT: lower case is i + U+0307
            "kate@\u{212A}example.com", // IDNA maps it to an ASCII domain
            "cafe\u{0301}@example.com", // not NFKC (decomposed)
            "\u{FB01}le@example.com",   // the fi ligature
        ] {
            let err = Email::parse(bad).unwrap_err();
            assert!(
                err.contains("cannot be used") || err.contains("not a valid"),
                "{bad}: {err}"
            );
            assert_eq!(Email::normalise(bad), None, "{bad}");
        }
    }

    #[test]
    fn international_addresses_have_one_form() {
        let typed = Email::parse("Jos\u{00E9}@Ex\u{00E4}mple.com").expect("valid");
        assert_eq!(typed.as_str(), "jos\u{00E9}@xn--exmple-cua.com");
        assert_eq!(
            Email::normalise("jos\u{00C9}@xn--exmple-cua.com").as_deref(),
            Some(typed.as_str())
        );
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
                prop_assert_eq!(Some(s.to_owned()), Email::normalise(&raw));
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
            if let Some(once) = Email::normalise(&raw) {
                prop_assert_eq!(Email::normalise(&once), Some(once.clone()));
                prop_assert_eq!(Email::parse(&raw).is_ok(), Email::parse(&once).is_ok());
            }
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
