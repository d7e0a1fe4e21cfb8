//! A software WebAuthn authenticator on P-256, speaking the browser's JSON both ways:
//! it takes `options.publicKey` as the server sends it and answers what
//! `credential.toJSON()` gives in a browser (base64url fields, "none" attestation).
//! Its knobs make the attack cases: the origin and RP ID it signs for, whether it
//! verifies the user, and its signature counter.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::ecdsa::{DerSignature, SigningKey, signature::Signer};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub struct Credential {
    pub id: Vec<u8>,
    key: SigningKey,
    user_handle: Vec<u8>,
    pub counter: u32,
}

pub struct SoftAuthenticator {
    /// The origin written in clientDataJSON (what a browser would put there).
    pub origin: String,
    /// When set, signs for this RP ID instead of the one the options name.
    pub rp_id_override: Option<String>,
    /// Whether the authenticator verified the user (PIN/biometric): the UV flag.
    pub user_verified: bool,
    pub credentials: Vec<Credential>,
}

impl Default for SoftAuthenticator {
    fn default() -> Self {
        Self {
            origin: "http://localhost:8080".into(),
            rp_id_override: None,
            user_verified: true,
            credentials: Vec::new(),
        }
    }
}

fn cbor_bytes(out: &mut Vec<u8>, b: &[u8]) {
    match b.len() {
        n if n < 24 => out.push(0x40 | n as u8),
        n if n < 256 => out.extend([0x58, n as u8]),
        n => {
            out.push(0x59);
            out.extend((n as u16).to_be_bytes());
        }
    }
    out.extend(b);
}

fn cbor_text(out: &mut Vec<u8>, s: &str) {
    assert!(s.len() < 24);
    out.push(0x60 | s.len() as u8);
    out.extend(s.as_bytes());
}

const UP: u8 = 0x01;
const UV: u8 = 0x04;
const BE: u8 = 0x08;
const BS: u8 = 0x10;
const AT: u8 = 0x40;

impl SoftAuthenticator {
    fn flags(&self) -> u8 {
        UP | BE | BS | if self.user_verified { UV } else { 0 }
    }

    fn rp_hash(&self, named: &str) -> [u8; 32] {
        let rp = self.rp_id_override.as_deref().unwrap_or(named);
        Sha256::digest(rp.as_bytes()).into()
    }

    fn client_data(&self, kind: &str, challenge: &str) -> String {
        json!({ "type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": false })
            .to_string()
    }

    /// `navigator.credentials.create`; refuses (like a browser) when one of its
    /// credentials is in excludeCredentials.
    pub fn create(&mut self, options: &Value) -> Result<Value, String> {
        let pk = &options["publicKey"];
        let excluded: Vec<String> = pk["excludeCredentials"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|c| c["id"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        if self
            .credentials
            .iter()
            .any(|c| excluded.contains(&B64.encode(&c.id)))
        {
            return Err("InvalidStateError: credential excluded".into());
        }
        let challenge = pk["challenge"].as_str().ok_or("no challenge")?;
        let rp_id = pk["rp"]["id"].as_str().ok_or("no rp.id")?;
        let user_handle = B64
            .decode(pk["user"]["id"].as_str().ok_or("no user.id")?)
            .map_err(|e| e.to_string())?;
        let key = SigningKey::random(&mut rand::rngs::OsRng);
        let id: Vec<u8> = (0..32).map(|_| rand::random::<u8>()).collect();
        let point = key.verifying_key().to_encoded_point(false);
        let (x, y) = (point.x().ok_or("x")?, point.y().ok_or("y")?);
        // COSE_Key {1: 2 (EC2), 3: -7 (ES256), -1: 1 (P-256), -2: x, -3: y}
        let mut cose = vec![0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21];
        cbor_bytes(&mut cose, x);
        cose.push(0x22);
        cbor_bytes(&mut cose, y);
        let mut auth_data = self.rp_hash(rp_id).to_vec();
        auth_data.push(self.flags() | AT);
        auth_data.extend(0u32.to_be_bytes());
        auth_data.extend([0u8; 16]);
        auth_data.extend((id.len() as u16).to_be_bytes());
        auth_data.extend(&id);
        auth_data.extend(&cose);
        let mut att = vec![0xa3];
        cbor_text(&mut att, "fmt");
        cbor_text(&mut att, "none");
        cbor_text(&mut att, "attStmt");
        att.push(0xa0);
        cbor_text(&mut att, "authData");
        cbor_bytes(&mut att, &auth_data);
        let client_data = self.client_data("webauthn.create", challenge);
        let cred_id = B64.encode(&id);
        self.credentials.push(Credential {
            id,
            key,
            user_handle,
            counter: 0,
        });
        Ok(json!({
            "id": cred_id,
            "rawId": cred_id,
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "response": {
                "clientDataJSON": B64.encode(client_data),
                "attestationObject": B64.encode(att),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
        }))
    }

    /// `navigator.credentials.get` with credential `index` (which must be allowed when
    /// allowCredentials is not empty).
    pub fn get_with(&mut self, index: usize, options: &Value) -> Result<Value, String> {
        let pk = &options["publicKey"];
        let challenge = pk["challenge"].as_str().ok_or("no challenge")?.to_owned();
        let rp_id = pk["rpId"].as_str().ok_or("no rpId")?.to_owned();
        let allowed: Vec<&str> = pk["allowCredentials"]
            .as_array()
            .map(|a| a.iter().filter_map(|c| c["id"].as_str()).collect())
            .unwrap_or_default();
        let flags = self.flags();
        let rp_hash = self.rp_hash(&rp_id);
        let client_data = self.client_data("webauthn.get", &challenge);
        let cred = self
            .credentials
            .get_mut(index)
            .ok_or("no such credential")?;
        let id = B64.encode(&cred.id);
        if !allowed.is_empty() && !allowed.contains(&id.as_str()) {
            return Err("NotAllowedError: credential not allowed".into());
        }
        cred.counter += 1;
        let mut auth_data = rp_hash.to_vec();
        auth_data.push(flags);
        auth_data.extend(cred.counter.to_be_bytes());
        let mut signed = auth_data.clone();
        signed.extend(Sha256::digest(client_data.as_bytes()));
        let sig: DerSignature = cred.key.sign(&signed);
        Ok(json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "response": {
                "clientDataJSON": B64.encode(client_data),
                "authenticatorData": B64.encode(auth_data),
                "signature": B64.encode(sig.as_bytes()),
                "userHandle": B64.encode(&cred.user_handle),
            },
            "clientExtensionResults": {},
        }))
    }

    pub fn get(&mut self, options: &Value) -> Result<Value, String> {
        self.get_with(0, options)
    }
}
