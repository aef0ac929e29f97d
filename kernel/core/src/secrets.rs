//! Secrets the platform must read back, such as a company's mailbox passwords: sealed with
//! AES-256-GCM under the server's secrets key before they reach the database, so a copy of the
//! database (a backup, a leaked dump) does not give them away.
//!
//! The same key signs the links the platform sends out (an unsubscribe link in a mailing), under
//! a sub-key of their own, so a link cannot be forged and needs no login.
//!
//! The key comes from configuration or from a key file the server creates on first start
//! beside its data (readable by its owner only). Every node of one database needs the same key.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const PREFIX: &str = "sealed:v1:";
const NONCE: usize = 12;

/// The 32 bytes of a key written as 64 hex digits or in base64, as configuration gives keys.
pub fn key_bytes(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    hex::decode(text)
        .ok()
        .or_else(|| base64::engine::general_purpose::STANDARD.decode(text).ok())
        .filter(|b| b.len() == 32)
}

/// Why a secret could not be sealed or opened.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum SecretError {
    /// The stored value is not one this server sealed, or the key changed since.
    #[error("a stored secret cannot be read with this server's secrets key; enter it again")]
    Unreadable,
    /// No randomness for a nonce.
    #[error("no randomness to seal a secret: {0}")]
    Random(String),
}

/// The server's key for secrets.
#[derive(Clone)]
pub struct SecretKey {
    aead: Aes256Gcm,
    /// The sub-key links are signed with, derived from the key.
    signing: [u8; 32],
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

impl SecretKey {
    /// A key written as 64 hex digits or as base64 of 32 bytes.
    pub fn parse(text: &str) -> Result<SecretKey, String> {
        let bytes = key_bytes(text).ok_or("the secrets key must be 32 bytes, written as 64 hex digits or in base64")?;
        SecretKey::from_bytes(&bytes)
    }

    fn from_bytes(bytes: &[u8]) -> Result<SecretKey, String> {
        let aead = Aes256Gcm::new_from_slice(bytes).map_err(|e| e.to_string())?;
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(bytes).map_err(|e| e.to_string())?;
        mac.update(b"erp signed links v1");
        Ok(SecretKey { aead, signing: mac.finalize().into_bytes().into() })
    }

    /// A fresh random key (what a platform without configuration uses: secrets it seals do not
    /// outlive the process).
    pub fn random() -> Result<SecretKey, String> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| format!("no randomness for a key: {e}"))?;
        SecretKey::from_bytes(&bytes)
    }

    /// The key kept in `path`, created there (owner-only) when the file does not exist yet.
    pub fn load_or_create(path: &Path) -> Result<SecretKey, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => SecretKey::parse(&text).map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = [0u8; 32];
                getrandom::fill(&mut bytes).map_err(|e| format!("no randomness for a key: {e}"))?;
                if publish_private(path, &format!("{}\n", hex::encode(bytes)))
                    .map_err(|e| format!("cannot create the secrets key file {}: {e}", path.display()))?
                {
                    SecretKey::parse(&hex::encode(bytes))
                } else {
                    // Another node starting beside this one made the key first: use theirs.
                    SecretKey::load_or_create(path)
                }
            }
            Err(e) => Err(format!("cannot read the secrets key file {}: {e}", path.display())),
        }
    }

    /// `plain`, sealed: a prefix, then base64 of a random nonce and the ciphertext.
    pub fn seal(&self, plain: &str) -> Result<String, SecretError> {
        let mut nonce = [0u8; NONCE];
        getrandom::fill(&mut nonce).map_err(|e| SecretError::Random(e.to_string()))?;
        let sealed =
            self.aead.encrypt(Nonce::from_slice(&nonce), plain.as_bytes()).map_err(|_| SecretError::Unreadable)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}", base64::engine::general_purpose::STANDARD.encode(out)))
    }

    /// The plain text of a value [`SecretKey::seal`] made with this key.
    pub fn open(&self, sealed: &str) -> Result<String, SecretError> {
        let bytes = sealed
            .strip_prefix(PREFIX)
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .filter(|b| b.len() > NONCE)
            .ok_or(SecretError::Unreadable)?;
        let (nonce, body) = bytes.split_at(NONCE);
        let plain = self.aead.decrypt(Nonce::from_slice(nonce), body).map_err(|_| SecretError::Unreadable)?;
        String::from_utf8(plain).map_err(|_| SecretError::Unreadable)
    }

    /// HMAC-SHA256 of `data` for `purpose` under the signing sub-key: a signature made for one
    /// purpose is worth nothing for another.
    pub fn sign(&self, purpose: &str, data: &[u8]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.signing).expect("HMAC takes keys of any length");
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    /// Whether `signature` (whole or a prefix of at least 16 bytes) is this key's for `purpose`
    /// and `data`, compared in constant time.
    pub fn verify(&self, purpose: &str, data: &[u8], signature: &[u8]) -> bool {
        if signature.len() < 16 || signature.len() > 32 {
            return false;
        }
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.signing).expect("HMAC takes keys of any length");
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(data);
        mac.verify_truncated_left(signature).is_ok()
    }
}

/// Writes `text` to a private file beside `path` and links it in place only if nothing is there
/// yet, so nodes starting at once never read a half-written key; false when another won.
fn publish_private(path: &Path, text: &str) -> std::io::Result<bool> {
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.tmp", hex::encode(suffix)));
    let temp = path.with_file_name(name);
    let written = write_private(&temp, text).and_then(|()| std::fs::hard_link(&temp, path));
    let _ = std::fs::remove_file(&temp);
    match written {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_with_their_key_only() {
        let key = SecretKey::random().expect("key");
        let sealed = key.seal("пароль от почты").expect("seal");
        assert!(!sealed.contains("пароль"));
        assert_ne!(sealed, key.seal("пароль от почты").expect("seal"), "each seal has its own nonce");
        assert_eq!(key.open(&sealed).expect("open"), "пароль от почты");
        let other = SecretKey::random().expect("key");
        assert_eq!(other.open(&sealed), Err(SecretError::Unreadable));
        assert_eq!(key.open("plain text"), Err(SecretError::Unreadable));
    }

    #[test]
    fn a_key_file_is_created_once_and_read_back() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("secrets.key");
        let first = SecretKey::load_or_create(&path).expect("create");
        let sealed = first.seal("x").expect("seal");
        let again = SecretKey::load_or_create(&path).expect("load");
        assert_eq!(again.open(&sealed).expect("open"), "x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o077, 0, "the key file is private");
        }
    }

    #[test]
    fn nodes_starting_at_once_share_one_key() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("shared.secret-key");
        let keys: Vec<SecretKey> = (0..8)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || SecretKey::load_or_create(&path).expect("key"))
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().expect("thread"))
            .collect();
        let sealed = keys[0].seal("общий").expect("seal");
        for key in &keys {
            assert_eq!(key.open(&sealed).expect("every node opens it"), "общий");
        }
        let left: Vec<_> = std::fs::read_dir(dir.path()).expect("list").collect();
        assert_eq!(left.len(), 1, "no temporary files are left behind");
    }
}
