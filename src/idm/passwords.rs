//! Argon2id password hashing on a fixed pool of threads, off the async runtime, so
//! that a burst of logins queues here instead of starving the token checks.
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};

use super::error::{Error, Result};

/// OWASP's Argon2id parameters: m = 19 MiB, t = 2, p = 1.
const M_COST: u32 = 19_456;
const T_COST: u32 = 2;
const P_COST: u32 = 1;

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

/// How many hashes may wait for a hashing thread before callers are told to retry.
const QUEUE: usize = 1024;

type Job = Box<dyn FnOnce() + Send>;

/// A fixed pool of hashing threads (one per core). Argon2 needs 19 MiB per hash; on
/// the same few threads that memory is reused rather than spread over every thread of
/// a blocking pool (which kept hundreds of MiB resident), and hashing can never occupy
/// the threads that serve token and key checks.
#[derive(Clone)]
pub struct Hasher {
    jobs: SyncSender<Job>,
    /// Verified against when the email is unknown, so that the answer costs the same.
    dummy: Arc<String>,
}

impl Hasher {
    pub fn new(threads: usize) -> anyhow::Result<Self> {
        let (tx, rx) = sync_channel::<Job>(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    loop {
                        let job = match rx.lock() {
                            Ok(r) => r.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return, // the Hasher is gone
                        }
                    }
                })?;
        }
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        tx.send(Box::new(move || {
            let _ = done_tx.send(hash_blocking("latchkey-dummy-password-for-timing"));
        }))
        .map_err(|_| anyhow::anyhow!("hashing threads stopped"))?;
        let dummy = done_rx.recv()??;
        Ok(Self {
            jobs: tx,
            dummy: Arc::new(dummy),
        })
    }

    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(Error::RateLimited { retry_after: 1 }),
            Err(TrySendError::Disconnected(_)) => {
                return Err(Error::Internal(anyhow::anyhow!("hashing threads stopped")));
            }
        }
        rx.await
            .map_err(|_| Error::Internal(anyhow::anyhow!("a hashing thread panicked")))
    }

    #[tracing::instrument(skip_all)]
    pub async fn hash(&self, password: &str) -> Result<String> {
        let password = password.to_owned();
        Ok(self.run(move || hash_blocking(&password)).await??)
    }

    /// Checks `password` against `hash`; with no hash (unknown user, social-only
    /// account) it checks against a dummy so that the time taken is the same.
    #[tracing::instrument(skip_all)]
    pub async fn verify(&self, hash: Option<&str>, password: &str) -> Result<Verified> {
        let known = hash.is_some();
        let hash = hash
            .map(str::to_owned)
            .unwrap_or_else(|| (*self.dummy).clone());
        let password = password.to_owned();
        let (ok, outdated) = self.run(move || verify_blocking(&hash, &password)).await?;
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
