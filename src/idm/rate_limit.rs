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
//! Account lockout is bounded: the per-account login limit counts failed attempts only,
//! in windows of one minute, so an attacker can keep an owner out only while attacking
//! from the per-IP budget, and a correct password goes through again at the latest a
//! minute after the failures stop.
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use super::error::{Error, Result};
use crate::config::RateLimitSettings;

const LOCAL_MAX_KEYS: usize = 200_000;

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
        }
    }
}

enum Shared {
    None,
    Redis(redis::aio::ConnectionManager),
}

pub struct RateLimiter {
    settings: RateLimitSettings,
    local: Mutex<HashMap<String, u32>>,
    shared: Shared,
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
            local: Mutex::new(HashMap::new()),
            shared,
        })
    }

    fn key(action: Action, subject: &Subject<'_>, window_id: i64) -> Option<String> {
        let who = match subject {
            Subject::Ip(Some(ip)) => format!("ip:{ip}"),
            Subject::Ip(None) => return None,
            Subject::Account(a) => format!("acct:{}", a.trim().to_lowercase()),
        };
        Some(format!("lk:rl:{}:{who}:{window_id}", action.name()))
    }

    /// Counts one attempt; RATE_LIMITED (with the seconds until the window ends) once
    /// the attempts of this window exceed the quota.
    pub async fn hit(&self, action: Action, subject: Subject<'_>, now: i64) -> Result<()> {
        self.count(action, subject, now, 1).await
    }

    /// Refuses when the quota is already used up, without counting this attempt.
    pub async fn check(&self, action: Action, subject: Subject<'_>, now: i64) -> Result<()> {
        self.count(action, subject, now, 0).await
    }

    async fn count(&self, action: Action, subject: Subject<'_>, now: i64, by: u32) -> Result<()> {
        let (limit, window) = action.quota(&self.settings);
        if limit == 0 {
            return Ok(()); // 0 turns a limit off
        }
        let window_id = now.div_euclid(window);
        let Some(key) = Self::key(action, &subject, window_id) else {
            return Ok(());
        };
        let used = match self.shared_count(&key, by, window).await {
            Some(n) => n,
            None => self.local_count(&key, by, window_id),
        };
        let over = if by == 0 { used >= limit } else { used > limit };
        if over {
            return Err(Error::RateLimited {
                retry_after: ((window_id + 1) * window - now).max(1) as u64,
            });
        }
        Ok(())
    }

    async fn shared_count(&self, key: &str, by: u32, window: i64) -> Option<u32> {
        let Shared::Redis(manager) = &self.shared else {
            return None;
        };
        let mut conn = manager.clone();
        let result: redis::RedisResult<(u32,)> = if by == 0 {
            redis::pipe()
                .cmd("GET")
                .arg(key)
                .query_async::<(Option<u32>,)>(&mut conn)
                .await
                .map(|(n,)| (n.unwrap_or(0),))
        } else {
            redis::pipe()
                .atomic()
                .cmd("INCRBY")
                .arg(key)
                .arg(by)
                .cmd("EXPIRE")
                .arg(key)
                .arg(window + 5)
                .ignore()
                .query_async(&mut conn)
                .await
        };
        match result {
            Ok((n,)) => Some(n),
            Err(e) => {
                tracing::warn!(error = %e, "rate limit: Redis unreachable, counting in process");
                None
            }
        }
    }

    fn local_count(&self, key: &str, by: u32, window_id: i64) -> u32 {
        let Ok(mut map) = self.local.lock() else {
            return 0;
        };
        if map.len() >= LOCAL_MAX_KEYS {
            // Keep only the current windows' counters.
            let suffix = format!(":{window_id}");
            map.retain(|k, _| k.ends_with(&suffix));
        }
        if by == 0 {
            return map.get(key).copied().unwrap_or(0);
        }
        let n = map.entry(key.to_owned()).or_insert(0);
        *n = n.saturating_add(by);
        *n
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
    async fn check_does_not_count() {
        let rl = RateLimiter::new(settings(), "").await.expect("limiter");
        for _ in 0..10 {
            rl.check(Action::Login, Subject::Account("a@example.com"), 6_000_000)
                .await
                .expect("peek");
        }
        for _ in 0..3 {
            rl.hit(Action::Login, Subject::Account("A@example.com"), 6_000_000)
                .await
                .expect("hit");
        }
        assert!(
            rl.check(Action::Login, Subject::Account("a@example.com"), 6_000_000)
                .await
                .is_err()
        );
    }
}
