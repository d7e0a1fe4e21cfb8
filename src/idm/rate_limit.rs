//! Rate limits for everything that checks a credential or sends mail, per client IP and
//! per account. Every attempt is counted where it is made, in the core, so twenty
//! aliased `login` fields in one document, or twenty entries of a batch, are twenty
//! attempts.
//!
//! Fixed windows: a counter per (action, subject, window). In process by default; with
//! `redis_url` the counters live in Redis (INCR + EXPIRE) so that every instance
//! enforces one limit. If Redis cannot be reached the instance falls back to its own
//! counters (and logs it) rather than refusing every login or letting every one through.
//!
//! Account lockout is bounded: the per-account limit of a secret check (a password, a
//! second-factor code) counts failed attempts only, in windows of one minute, so an
//! attacker can keep an owner out only while attacking from the per-IP budget, and a
//! correct secret goes through again at the latest a minute after the failures stop.
//! A check takes its account slot *before* the secret is looked at (`begin_secret_check`)
//! and gives it back only when the secret was right, so concurrent guesses are counted
//! as they start, not as they fail: at most `limit` wrong guesses per window, however
//! many are in flight.
//!
//! Memory is bounded in bytes: a subject longer than `MAX_SUBJECT_BYTES` is counted by
//! its SHA-256, so every key is short, and the in-process table holds at most
//! `LOCAL_MAX_BYTES` of keys.
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use super::error::{Error, Result};
use crate::config::RateLimitSettings;

/// Subjects longer than this are counted by their hash.
const MAX_SUBJECT_BYTES: usize = 96;
/// What one entry of the in-process table costs beyond its key (the counter, the
/// hash table's own slot and the String's header), for the byte budget.
const ENTRY_OVERHEAD: usize = 64;
/// The in-process table's budget: ~100 k counters.
const LOCAL_MAX_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Password logins, per IP (every attempt) and per account (failures).
    Login,
    Signup,
    Refresh,
    /// Second-factor codes, per IP.
    SecondFactor,
    /// Mail-sending requests (password reset, verification), per IP and per address.
    Mail,
    /// One-time token checks (confirm*, validatePasswordResetToken), per IP.
    TokenCheck,
    /// Invitations sent, per tenant and per inviter.
    Invite,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::Login => "login",
            Action::Signup => "signup",
            Action::Refresh => "refresh",
            Action::SecondFactor => "2fa",
            Action::Mail => "mail",
            Action::TokenCheck => "token",
            Action::Invite => "invite",
        }
    }

    /// (attempts, window in seconds) from the settings.
    fn quota(self, s: &RateLimitSettings) -> (u32, i64) {
        match self {
            Action::Login | Action::SecondFactor => (s.login_per_minute, 60),
            Action::Signup => (s.signup_per_hour, 3600),
            Action::Refresh => (s.refresh_per_minute, 60),
            Action::Mail => (s.reset_per_hour, 3600),
            Action::TokenCheck => (s.token_checks_per_hour, 3600),
            Action::Invite => (s.invitations_per_hour, 3600),
        }
    }
}

enum Shared {
    None,
    Redis(redis::aio::ConnectionManager),
}

#[derive(Default)]
struct Local {
    /// Counter and the end of its window, by key.
    counts: HashMap<String, (u32, i64)>,
    /// Bytes held by `counts`, as `ENTRY_OVERHEAD` + key length per entry.
    bytes: usize,
}

pub struct RateLimiter {
    settings: RateLimitSettings,
    local: Mutex<Local>,
    shared: Shared,
}

/// An account slot taken by `begin_secret_check`; `passed` gives it back.
#[must_use = "call `passed` when the secret was right"]
pub struct SecretCheck {
    /// The counter the slot was taken from (None: no account limit applies).
    key: Option<String>,
    window: i64,
}

/// The subject a counter is kept for.
pub enum Subject<'a> {
    Ip(Option<IpAddr>),
    Account(&'a str),
}

impl RateLimiter {
    /// Connects to Redis when `redis_url` is set (an unreachable Redis stops start-up:
    /// a misconfigured URL should be noticed, not silently ignored).
    pub async fn new(settings: RateLimitSettings, redis_url: &str) -> anyhow::Result<Self> {
        let shared = if redis_url.is_empty() {
            Shared::None
        } else {
            let client = redis::Client::open(redis_url)
                .map_err(|e| anyhow::anyhow!("setting `redis_url`: {e}"))?;
            let manager = redis::aio::ConnectionManager::new(client)
                .await
                .map_err(|e| anyhow::anyhow!("setting `redis_url`: cannot connect: {e}"))?;
            Shared::Redis(manager)
        };
        Ok(Self {
            settings,
            local: Mutex::new(Local::default()),
            shared,
        })
    }

    fn key(action: Action, subject: &Subject<'_>, window_id: i64) -> Option<String> {
        let who = match subject {
            Subject::Ip(Some(ip)) => format!("ip:{ip}"),
            Subject::Ip(None) => return None,
            Subject::Account(a) => {
                let a = a.trim();
                if a.len() > MAX_SUBJECT_BYTES {
                    // Long subjects (an attacker's 250 KB "email") by their hash, so
                    // that no key is longer than a few dozen bytes.
                    format!("acct#{}", hex::encode(Sha256::digest(a.as_bytes())))
                } else {
                    format!("acct:{a}")
                }
            }
        };
        Some(format!("lk:rl:{}:{who}:{window_id}", action.name()))
    }

    /// Starts a check of a secret (a password, a second-factor code) of `account` from
    /// `ip`: counts the attempt against the IP, and takes one of the account's slots
    /// before the secret is looked at. RATE_LIMITED when either is used up. Call
    /// `passed` when the secret was right, which gives the account slot back (only
    /// failures count against an account).
    pub async fn begin_secret_check(
        &self,
        action: Action,
        account: &str,
        ip: Option<IpAddr>,
        now: i64,
    ) -> Result<SecretCheck> {
        self.hit(action, Subject::Ip(ip), now).await?;
        let (limit, window) = action.quota(&self.settings);
        let key = Self::key(action, &Subject::Account(account), now.div_euclid(window));
        let check = SecretCheck {
            key: key.filter(|_| limit > 0),
            window,
        };
        if let Err(e) = self.hit(action, Subject::Account(account), now).await {
            // A refused attempt checked nothing: it does not hold a slot either.
            self.passed(check).await;
            return Err(e);
        }
        Ok(check)
    }

    /// The secret of `check` was right (or it was never checked): its account slot is
    /// given back.
    pub async fn passed(&self, check: SecretCheck) {
        let Some(key) = check.key else {
            return;
        };
        if let Shared::Redis(manager) = &self.shared {
            let mut conn = manager.clone();
            let done: redis::RedisResult<()> = redis::pipe()
                .atomic()
                .cmd("DECR")
                .arg(&key)
                .ignore()
                .cmd("EXPIRE")
                .arg(&key)
                .arg(check.window + 5)
                .ignore()
                .query_async(&mut conn)
                .await;
            if done.is_ok() {
                return;
            }
        }
        if let Ok(mut local) = self.local.lock()
            && let Some((n, _)) = local.counts.get_mut(&key)
        {
            *n = n.saturating_sub(1);
        }
    }

    /// Bytes the in-process counters hold (for tests and metrics).
    pub fn local_bytes(&self) -> usize {
        self.local.lock().map(|l| l.bytes).unwrap_or(0)
    }

    /// Counts one attempt; RATE_LIMITED (with the seconds until the window ends) once
    /// the attempts of this window exceed the quota.
    pub async fn hit(&self, action: Action, subject: Subject<'_>, now: i64) -> Result<()> {
        self.count(action, subject, now).await
    }

    async fn count(&self, action: Action, subject: Subject<'_>, now: i64) -> Result<()> {
        let (limit, window) = action.quota(&self.settings);
        if limit == 0 {
            return Ok(()); // 0 turns a limit off
        }
        let window_id = now.div_euclid(window);
        let Some(key) = Self::key(action, &subject, window_id) else {
            return Ok(());
        };
        let used = match self.shared_count(&key, window).await {
            Some(n) => n,
            None => self.local_count(&key, (window_id + 1) * window, now),
        };
        if used > limit {
            return Err(Error::RateLimited {
                retry_after: ((window_id + 1) * window - now).max(1) as u64,
            });
        }
        Ok(())
    }

    async fn shared_count(&self, key: &str, window: i64) -> Option<u32> {
        let Shared::Redis(manager) = &self.shared else {
            return None;
        };
        let mut conn = manager.clone();
        let result: redis::RedisResult<(u32,)> = redis::pipe()
            .atomic()
            .cmd("INCR")
            .arg(key)
            .cmd("EXPIRE")
            .arg(key)
            .arg(window + 5)
            .ignore()
            .query_async(&mut conn)
            .await;
        match result {
            Ok((n,)) => Some(n),
            Err(e) => {
                tracing::warn!(error = %e, "rate limit: Redis unreachable, counting in process");
                None
            }
        }
    }

    fn local_count(&self, key: &str, window_end: i64, now: i64) -> u32 {
        let Ok(mut local) = self.local.lock() else {
            return 0;
        };
        if let Some((n, _)) = local.counts.get_mut(key) {
            *n = n.saturating_add(1);
            return *n;
        }
        if local.bytes + ENTRY_OVERHEAD + key.len() > LOCAL_MAX_BYTES {
            local.shrink(now);
        }
        local.bytes += ENTRY_OVERHEAD + key.len();
        local.counts.insert(key.to_owned(), (1, window_end));
        1
    }
}

impl Local {
    /// Makes room: first the counters of past windows go; if the current windows alone
    /// fill the budget, those that counted a single attempt (which no limit is near)
    /// go too; failing that, everything (the limits restart rather than the memory grow).
    fn shrink(&mut self, now: i64) {
        self.counts.retain(|_, (_, end)| *end > now);
        self.recount();
        if self.bytes * 4 > LOCAL_MAX_BYTES * 3 {
            self.counts.retain(|_, (n, _)| *n > 1);
            self.recount();
        }
        if self.bytes * 4 > LOCAL_MAX_BYTES * 3 {
            tracing::warn!("rate limit: the in-process counters are full; starting over");
            self.counts.clear();
            self.bytes = 0;
        }
    }

    fn recount(&mut self) {
        self.bytes = self.counts.keys().map(|k| ENTRY_OVERHEAD + k.len()).sum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> RateLimitSettings {
        RateLimitSettings {
            login_per_minute: 3,
            ..RateLimitSettings::default()
        }
    }

    #[tokio::test]
    async fn the_attempt_over_the_quota_is_refused_until_the_window_ends() {
        let rl = RateLimiter::new(settings(), "").await.expect("limiter");
        let ip = Subject::Ip(Some("192.0.2.1".parse().unwrap()));
        let t0 = 6_000_000; // a window start
        for _ in 0..3 {
            rl.hit(
                Action::Login,
                Subject::Ip(Some("192.0.2.1".parse().unwrap())),
                t0 + 10,
            )
            .await
            .expect("within quota");
        }
        match rl.hit(Action::Login, ip, t0 + 10).await {
            Err(Error::RateLimited { retry_after }) => assert_eq!(retry_after, 50),
            other => panic!("expected RATE_LIMITED, got {other:?}"),
        }
        // Another address, and the next window, are untouched.
        rl.hit(
            Action::Login,
            Subject::Ip(Some("192.0.2.2".parse().unwrap())),
            t0 + 10,
        )
        .await
        .expect("other ip");
        rl.hit(
            Action::Login,
            Subject::Ip(Some("192.0.2.1".parse().unwrap())),
            t0 + 60,
        )
        .await
        .expect("next window");
    }

    #[tokio::test]
    async fn a_secret_check_takes_its_slot_first_and_a_right_secret_gives_it_back() {
        let rl = RateLimiter::new(settings(), "").await.expect("limiter");
        let t = 6_000_000;
        let ip = |n: u8| Some(IpAddr::from([192, 0, 2, n]));
        // Three checks in flight at once: the fourth is refused before any finishes.
        let a = rl
            .begin_secret_check(Action::Login, "v@example.com", ip(1), t)
            .await;
        let b = rl
            .begin_secret_check(Action::Login, "v@example.com", ip(2), t)
            .await;
        let c = rl
            .begin_secret_check(Action::Login, "v@example.com", ip(3), t)
            .await;
        assert!(a.is_ok() && b.is_ok() && c.is_ok());
        assert!(matches!(
            rl.begin_secret_check(Action::Login, "v@example.com", ip(4), t)
                .await,
            Err(Error::RateLimited { .. })
        ));
        // One of them was the right password: its slot comes back, and one more.
        rl.passed(c.expect("slot")).await;
        let d = rl
            .begin_secret_check(Action::Login, "v@example.com", ip(5), t)
            .await;
        assert!(d.is_ok());
        assert!(
            rl.begin_secret_check(Action::Login, "v@example.com", ip(6), t)
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn long_subjects_cost_a_few_dozen_bytes_each() {
        let rl = RateLimiter::new(
            RateLimitSettings {
                reset_per_hour: 5,
                ..RateLimitSettings::default()
            },
            "",
        )
        .await
        .expect("limiter");
        let huge = "x".repeat(250_000);
        for i in 0..200u32 {
            let subject = format!("{i}{huge}@example.com");
            rl.hit(Action::Mail, Subject::Account(&subject), 6_000_000)
                .await
                .expect("within quota");
        }
        assert!(rl.local_bytes() < 200 * 256, "{} bytes", rl.local_bytes());
    }

    #[tokio::test]
    async fn the_table_stays_within_its_byte_budget() {
        let rl = RateLimiter::new(settings(), "").await.expect("limiter");
        for i in 0..(2 * LOCAL_MAX_BYTES / ENTRY_OVERHEAD) {
            rl.local_count(&format!("lk:rl:mail:ip:{i}:1"), 7200, 10);
            assert!(rl.local_bytes() <= LOCAL_MAX_BYTES);
        }
    }
}
