//! Argon2id password hashing, off the async runtime and with bounded concurrency, so
//! that a burst of logins queues here instead of starving the token checks.
use std::sync::Arc;

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use tokio::sync::Semaphore;

/// OWASP's Argon2id parameters: m = 19 MiB, t = 2, p = 1.
const M_COST: u32 = 19_456;
const T_COST: u32 = 2;
const P_COST: u32 = 1;

#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    /// Verified against when the email is unknown, so that the answer costs the same.
    dummy: Arc<String>,
}

fn argon2() -> anyhow::Result<Argon2<'static>> {
    let params = Params::new(M_COST, T_COST, P_COST, None)
        .map_err(|e| anyhow::anyhow!("argon2 params: {e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes on the calling thread (the benchmark measures the raw rate with this).
pub fn hash_blocking(password: &str) -> anyhow::Result<String> {
    let hash = argon2()?
        .hash_password(password.as_bytes())
        .map_err(|e| anyhow::anyhow!("argon2 hash: {e}"))?;
    Ok(hash.to_string())
}

/// Verifies and says whether the stored hash uses parameters other than today's.
pub fn verify_blocking(hash: &str, password: &str) -> (bool, bool) {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return (false, false);
    };
    let Ok(argon) = argon2() else {
        return (false, false);
    };
    let ok = argon.verify_password(password.as_bytes(), &parsed).is_ok();
    let outdated = parsed.algorithm.as_str() != "argon2id"
        || Params::try_from(&parsed)
            .map(|p| (p.m_cost(), p.t_cost(), p.p_cost()) != (M_COST, T_COST, P_COST))
            .unwrap_or(true);
    (ok, outdated)
}

pub struct Verified {
    pub ok: bool,
    /// The hash should be replaced by one with the current parameters.
    pub needs_rehash: bool,
}

impl Hasher {
    pub fn new(concurrency: usize) -> anyhow::Result<Self> {
        Ok(Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy: Arc::new(hash_blocking("latchkey-dummy-password-for-timing")?),
        })
    }

    #[tracing::instrument(skip_all)]
    pub async fn hash(&self, password: &str) -> anyhow::Result<String> {
        let _permit = self.permits.acquire().await?;
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || hash_blocking(&password)).await?
    }

    /// Checks `password` against `hash`; with no hash (unknown user, social-only
    /// account) it checks against a dummy so that the time taken is the same.
    #[tracing::instrument(skip_all)]
    pub async fn verify(&self, hash: Option<&str>, password: &str) -> anyhow::Result<Verified> {
        let _permit = self.permits.acquire().await?;
        let known = hash.is_some();
        let hash = hash
            .map(str::to_owned)
            .unwrap_or_else(|| (*self.dummy).clone());
        let password = password.to_owned();
        let (ok, outdated) =
            tokio::task::spawn_blocking(move || verify_blocking(&hash, &password)).await?;
        Ok(Verified {
            ok: ok && known,
            needs_rehash: ok && known && outdated,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_wrong_passwords_fail() {
        let h = Hasher::new(2).expect("hasher");
        let hash = h.hash("correct-Horse-battery-9").await.expect("hash");
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(
            h.verify(Some(&hash), "correct-Horse-battery-9")
                .await
                .expect("v")
                .ok
        );
        assert!(!h.verify(Some(&hash), "wrong").await.expect("v").ok);
        assert!(
            !h.verify(None, "latchkey-dummy-password-for-timing")
                .await
                .expect("v")
                .ok
        );
    }

    #[tokio::test]
    async fn older_parameters_ask_for_a_rehash() {
        let old = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8_192, 1, 1, None).expect("params"),
        )
        .hash_password(b"pw-older-params")
        .expect("hash")
        .to_string();
        let h = Hasher::new(1).expect("hasher");
        let v = h.verify(Some(&old), "pw-older-params").await.expect("v");
        assert!(v.ok && v.needs_rehash);
    }
}
