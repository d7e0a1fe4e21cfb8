//! The codes: TOTP (RFC 6238) for a secret and a time step, and recovery codes.
//! Pure functions of their input and `now`.
use rand::RngCore;
use totp_rs::{Builder, Secret, Totp};

use crate::idm::error::{Error, Result};

pub const RECOVERY_CODE_COUNT: usize = 10;
const STEP_SECS: i64 = 30;

/// The authenticator for `secret`, labelled `issuer:account` (their colons made spaces).
pub fn totp(secret: &[u8], issuer: &str, account: &str) -> Result<Totp> {
    Builder::new()
        .with_secret(secret.to_vec())
        .with_issuer(Some(issuer.replace(':', " ")))
        .with_account_name(account.replace(':', " "))
        .build()
        .map_err(|e| Error::Internal(anyhow::anyhow!("totp: {e}")))
}

/// The time step `code` matches at `now` (±1 step), if it is later than `last_step`.
pub fn matching_step(secret: &[u8], code: &str, now: i64, last_step: i64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) || now < STEP_SECS {
        return None;
    }
    let t = totp(secret, "x", "x").ok()?;
    let origin = now / STEP_SECS;
    // Oldest first, so that a code of an already used step cannot hide a newer match.
    (origin - 1..=origin + 1)
        .filter(|step| *step > last_step)
        .find(|step| {
            // Checked: a clock near i64::MAX must not overflow (found by fuzzing).
            let at = step
                .checked_mul(STEP_SECS)
                .and_then(|t| u64::try_from(t).ok());
            at.is_some_and(|at| t.check(&code, at) == u64::try_from(*step).ok())
        })
}

/// A recovery code as typed: case, spaces and dashes do not matter.
pub fn normalise_recovery(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Ten codes of 80 random bits each, shown as XXXX-XXXX-XXXX-XXXX (base32).
pub(super) fn new_recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODE_COUNT)
        .map(|_| {
            let mut bytes = [0u8; 10];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            let b32 = Secret::from(bytes.to_vec()).to_base32();
            let chars: Vec<char> = b32.chars().take(16).collect();
            chars
                .chunks(4)
                .map(|c| c.iter().collect::<String>())
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect()
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_clock_at_the_end_of_time_does_not_overflow() {
        assert_eq!(
            matching_step(b"12345678901234567890", "123456", i64::MAX, 0),
            None
        );
    }

    use super::*;

    const SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc6238_vectors_match_at_a_fixed_clock() {
        // RFC 6238 appendix B (SHA-1), last six digits.
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert!(
                matching_step(SECRET, code, time, 0).is_some(),
                "{time} {code}"
            );
        }
    }

    #[test]
    fn a_step_either_side_is_accepted_and_no_further() {
        let t = totp(SECRET, "i", "a").expect("totp");
        let now = 1_700_000_000;
        let code_at = |secs: i64| t.generate(secs as u64).to_string();
        assert!(matching_step(SECRET, &code_at(now - 30), now, 0).is_some());
        assert!(matching_step(SECRET, &code_at(now + 30), now, 0).is_some());
        assert!(matching_step(SECRET, &code_at(now - 90), now, 0).is_none());
        assert!(matching_step(SECRET, &code_at(now + 90), now, 0).is_none());
    }

    #[test]
    fn a_used_step_is_never_accepted_again() {
        let t = totp(SECRET, "i", "a").expect("totp");
        let now = 1_700_000_000;
        let code = t.generate(now as u64).to_string();
        let step = matching_step(SECRET, &code, now, 0).expect("first use");
        assert_eq!(step, now / 30);
        assert_eq!(matching_step(SECRET, &code, now, step), None);
        assert_eq!(matching_step(SECRET, &code, now + 10, step), None);
    }

    #[test]
    fn malformed_codes_are_refused() {
        for bad in ["", "12345", "1234567", "abcdef", "12 34 5x"] {
            assert_eq!(matching_step(SECRET, bad, 1_700_000_000, 0), None);
        }
    }

    #[test]
    fn recovery_codes_are_distinct_and_typed_loosely() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        let mut uniq = codes.clone();
        uniq.sort();
        uniq.dedup();
        assert_eq!(uniq.len(), 10);
        assert!(
            codes
                .iter()
                .all(|c| c.len() == 19 && c.matches('-').count() == 3)
        );
        assert_eq!(
            normalise_recovery(&codes[0].to_lowercase().replace('-', " ")),
            normalise_recovery(&codes[0])
        );
    }
}
