//! TOTP input (`latchkey::idm::two_factor`): `matching_step` with arbitrary secret,
//! typed code, clock and last used step; the otpauth URL we hand to authenticator apps
//! (`totp(..).to_url()`) parsed back by totp-rs's `Totp::from_url`; and the recovery-code
//! normalisation.
//!
//! Invariants: never panics; a matching step is later than the last used one, within one
//! step of the clock, and the code is the one of that step; a code of the clock's step
//! or a neighbour matches (whatever whitespace was typed in it) unless already used; the
//! otpauth URL parses back to the same secret, issuer and account; a normalised recovery
//! code is upper-case alphanumeric, idempotent, and blind to case, spaces and dashes.
#![no_main]

use arbitrary::Arbitrary;
use latchkey::idm::two_factor::{matching_step, normalise_recovery, totp};
use libfuzzer_sys::fuzz_target;
use totp_rs::{Secret, Totp};

const STEP: i64 = 30;

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    secret: &'a [u8],
    code: &'a str,
    clock: Clock,
    last_step: i64,
    /// A real code: of the clock's step plus this (mod 5, minus 2), with whitespace.
    real: Option<(u8, Vec<(u8, Space)>)>,
    issuer: &'a str,
    account: &'a str,
    recovery: &'a str,
    recovery_bytes: [u8; 10],
}

/// The server's clock: from the system, never from the client; arbitrary within the
/// range where `step * 30` cannot overflow (see the README's fuzzing notes).
#[derive(Debug, Arbitrary)]
enum Clock {
    Plausible(u32),
    Any(i64),
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Space {
    Space,
    Tab,
    Newline,
    Nbsp,
}

fuzz_target!(|input: Input| {
    let now = match input.clock {
        Clock::Plausible(s) => 1_000_000_000 + i64::from(s),
        Clock::Any(n) => n.min(i64::MAX - 2 * STEP),
    };
    let last_step = input.last_step;

    // Arbitrary typed code.
    if let Some(step) = matching_step(input.secret, input.code, now, last_step) {
        assert!(step > last_step);
        assert!((now / STEP - 1..=now / STEP + 1).contains(&step));
        let typed: String = input.code.chars().filter(|c| !c.is_whitespace()).collect();
        let t = totp(input.secret, "x", "x").expect("a secret that matched builds");
        assert_eq!(t.generate((step * STEP) as u64).to_string(), typed);
    }

    // A real code, typed with whitespace.
    if let (Some((offset, spaces)), Ok(t)) = (&input.real, totp(input.secret, "x", "x")) {
        if now >= STEP {
            let target = now / STEP + i64::from(offset % 5) - 2;
            let code = t.generate((target * STEP) as u64).to_string();
            let mut typed = String::new();
            for (i, ch) in code.chars().enumerate() {
                typed.push(ch);
                for (at, s) in spaces.iter().take(8) {
                    if usize::from(*at) % 7 == i {
                        typed.push(match s {
                            Space::Space => ' ',
                            Space::Tab => '\t',
                            Space::Newline => '\n',
                            Space::Nbsp => '\u{a0}',
                        });
                    }
                }
            }
            let plain = matching_step(input.secret, &code, now, last_step);
            assert_eq!(matching_step(input.secret, &typed, now, last_step), plain);
            let in_window = (now / STEP - 1..=now / STEP + 1).contains(&target);
            if in_window && target > last_step {
                // Oldest matching step first: this one, or an earlier one whose code
                // happens to be the same.
                let got = plain.expect("a fresh code of the window matches");
                assert!(got <= target);
            }
            if target <= last_step || !in_window {
                assert!(plain.is_none_or(|s| s != target));
            }
        }
    }

    // The otpauth URL we show in the QR code parses back.
    if let Ok(t) = totp(input.secret, input.issuer, input.account) {
        if let Ok(url) = t.to_url() {
            let back = Totp::from_url(&url).expect("our otpauth URL parses");
            assert_eq!(back.secret().as_ref(), input.secret);
            assert_eq!(back.account_name(), input.account.replace(':', " "));
            assert_eq!(back.issuer(), Some(input.issuer.replace(':', " ").as_str()));
        }
    }

    // Recovery codes.
    let n = normalise_recovery(input.recovery);
    assert!(
        n.chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
    );
    assert_eq!(normalise_recovery(&n), n);
    assert_eq!(normalise_recovery(&input.recovery.to_ascii_lowercase()), n);
    let b32 = Secret::from(input.recovery_bytes.to_vec()).to_base32();
    let chars: Vec<char> = b32.chars().take(16).collect();
    let shown = chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-");
    let canonical = normalise_recovery(&shown);
    assert_eq!(canonical.len(), 16);
    assert_eq!(
        normalise_recovery(&shown.to_lowercase().replace('-', " ")),
        canonical
    );
    assert_eq!(normalise_recovery(&format!(" {shown}\n")), canonical);
});
