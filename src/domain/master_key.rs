//! The deployment's master key (setting `master_key`), parsed once when the settings
//! load: it encrypts secrets at rest with XChaCha20-Poly1305.
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use serde::{Deserialize, Deserializer};

/// The deployment's master key. Empty setting: no encryption at rest.
#[derive(Clone, Default)]
pub struct MasterKey(Option<XChaCha20Poly1305>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "MasterKey(set)"
        } else {
            "MasterKey(none)"
        })
    }
}

impl MasterKey {
    pub fn parse(b64: &str) -> Result<Self, String> {
        if b64.trim().is_empty() {
            return Ok(MasterKey(None));
        }
        let raw = STANDARD
            .decode(b64.trim())
            .map_err(|_| "not valid base64".to_string())?;
        if raw.len() != 32 {
            return Err(format!("decodes to {} bytes, expected 32", raw.len()));
        }
        let cipher = XChaCha20Poly1305::new_from_slice(&raw).map_err(|e| e.to_string())?;
        Ok(MasterKey(Some(cipher)))
    }

    pub fn is_set(&self) -> bool {
        self.0.is_some()
    }

    /// base64(nonce || ciphertext), or None when no master key is set.
    pub fn seal(&self, plain: &[u8]) -> anyhow::Result<Option<String>> {
        let Some(cipher) = &self.0 else {
            return Ok(None);
        };
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = cipher
            .encrypt(&XNonce::from(nonce), plain)
            .map_err(|_| anyhow::anyhow!("encryption failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(Some(STANDARD.encode(out)))
    }

    pub fn open(&self, sealed: &str) -> anyhow::Result<Vec<u8>> {
        let cipher = self.0.as_ref().ok_or_else(|| {
            anyhow::anyhow!("a secret is encrypted but no master_key is configured")
        })?;
        let raw = STANDARD.decode(sealed)?;
        if raw.len() < 24 {
            anyhow::bail!("sealed secret too short");
        }
        let (nonce, ct) = raw.split_at(24);
        let nonce: [u8; 24] = nonce.try_into()?;
        cipher
            .decrypt(&XNonce::from(nonce), ct)
            .map_err(|_| anyhow::anyhow!("cannot decrypt a stored secret: wrong master_key?"))
    }
}

/// Read from the settings as a string: empty, or the base64 of 32 bytes.
impl<'de> Deserialize<'de> for MasterKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        MasterKey::parse(&text).map_err(|e| {
            serde::de::Error::custom(format!(
                "must be empty or the base64 of exactly 32 bytes ({e})"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_key_round_trips_and_detects_tampering() {
        let key = MasterKey::parse(&STANDARD.encode([7u8; 32])).expect("key");
        let sealed = key.seal(b"secret").expect("seal").expect("some");
        assert_eq!(key.open(&sealed).expect("open"), b"secret");
        let other = MasterKey::parse(&STANDARD.encode([8u8; 32])).expect("key");
        assert!(other.open(&sealed).is_err());
        assert!(MasterKey::parse("c2hvcnQ=").is_err());
        assert!(!MasterKey::parse("").expect("empty").is_set());
    }
}
