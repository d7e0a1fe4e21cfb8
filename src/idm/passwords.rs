//! Argon2id password hashing on a fixed pool of threads, off the async runtime, so
//! that a burst of logins queues here instead of starving the token checks.
use std::sync::mpsc::{RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use std::cell::RefCell;

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{ARGON2ID_IDENT, Algorithm, Argon2, Block, Params, PasswordVerifier as _, Version};
use rand::RngCore;

use super::error::{Error, Result};

/// OWASP's Argon2id parameters: m = 19 MiB, t = 2, p = 1.
const M_COST: u32 = 19_456;
const T_COST: u32 = 2;
const P_COST: u32 = 1;
const OUTPUT_LEN: usize = 32;

fn params() -> anyhow::Result<Params> {
    Params::new(M_COST, T_COST, P_COST, None).map_err(|e| anyhow::anyhow!("argon2 params: {e}"))
}

fn argon2() -> anyhow::Result<Argon2<'static>> {
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params()?))
}

thread_local! {
    /// This thread's Argon2 working memory (19 MiB), allocated once and reused: no
    /// allocator churn or page faults per hash, and a resident size fixed by the
    /// number of hashing threads.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// A hashing thread idle this long gives its working memory back to the system.
const IDLE_RELEASE: Duration = Duration::from_secs(2);

/// Frees this thread's working memory and asks the allocator to return free pages to
/// the system, so that an idle server stays small.
fn release_memory() {
    let had = MEMORY.with(|m| !std::mem::take(&mut *m.borrow_mut()).is_empty());
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if had {
        // SAFETY: malloc_trim only releases free memory held by glibc's allocator; it
        // touches no live allocation and is safe to call from any thread.
        unsafe {
            libc::malloc_trim(0);
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = had;
}

/// Computes the raw Argon2id output with today's parameters in this thread's memory.
fn compute(password: &[u8], salt: &[u8], out: &mut [u8]) -> anyhow::Result<()> {
    let params = params()?;
    let argon = argon2()?;
    MEMORY.with(|m| {
        let mut mem = m.borrow_mut();
        if mem.len() != params.block_count() {
            *mem = vec![Block::default(); params.block_count()];
        }
        argon
            .hash_password_into_with_memory(password, salt, out, &mut mem[..])
            .map_err(|e| anyhow::anyhow!("argon2: {e}"))
    })
}

/// Hashes on the calling thread, as a PHC string (the benchmark measures the raw rate
/// with this and `verify_blocking`).
pub fn hash_blocking(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let mut out = [0u8; OUTPUT_LEN];
    compute(password.as_bytes(), &salt, &mut out)?;
    let phc = PasswordHash {
        algorithm: ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params()?).map_err(|e| anyhow::anyhow!("{e}"))?,
        salt: Some(Salt::new(&salt).map_err(|e| anyhow::anyhow!("{e}"))?),
        hash: Some(Output::new(&out).map_err(|e| anyhow::anyhow!("{e}"))?),
    };
    Ok(phc.to_string())
}

/// Verifies and says whether the stored hash uses parameters other than today's
/// (those are verified with the library's general path and then upgraded).
pub fn verify_blocking(hash: &str, password: &str) -> (bool, bool) {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return (false, false);
    };
    let current = parsed.algorithm == ARGON2ID_IDENT
        && parsed.version == Some(Version::V0x13.into())
        && parsed.hash.as_ref().is_some_and(|h| h.len() == OUTPUT_LEN)
        && Params::try_from(&parsed)
            .is_ok_and(|p| (p.m_cost(), p.t_cost(), p.p_cost()) == (M_COST, T_COST, P_COST));
    if !current {
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        return (ok, true);
    }
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return (false, false);
    };
    let mut out = [0u8; OUTPUT_LEN];
    if compute(password.as_bytes(), salt.as_ref(), &mut out).is_err() {
        return (false, false);
    }
    // Output's equality is constant-time.
    (Output::new(&out).is_ok_and(|o| &o == expected), false)
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
                            Ok(r) => r.recv_timeout(IDLE_RELEASE),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(RecvTimeoutError::Timeout) => release_memory(),
                            Err(RecvTimeoutError::Disconnected) => return, // the Hasher is gone
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

    #[test]
    fn our_hashes_and_the_librarys_verify_each_other() {
        use argon2::PasswordHasher as _;
        let ours = hash_blocking("interop-Password-1").expect("hash");
        let parsed = PasswordHash::new(&ours).expect("phc");
        assert!(
            Argon2::default()
                .verify_password(b"interop-Password-1", &parsed)
                .is_ok()
        );
        let theirs = argon2()
            .expect("argon2")
            .hash_password(b"interop-Password-1")
            .expect("hash")
            .to_string();
        assert_eq!(
            verify_blocking(&theirs, "interop-Password-1"),
            (true, false)
        );
        assert_eq!(
            verify_blocking(&theirs, "interop-Password-2"),
            (false, false)
        );
        assert_eq!(verify_blocking("not a hash", "x"), (false, false));
    }

    #[tokio::test]
    async fn older_parameters_ask_for_a_rehash() {
        use argon2::PasswordHasher as _;
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
