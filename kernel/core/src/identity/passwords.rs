//! Password hashing with argon2id (m = 19456 KiB, t = 2, p = 1: the OWASP minimum).

use std::collections::HashSet;
use std::sync::OnceLock;

use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, PasswordHasher, Version};
use parking_lot::Mutex;

/// Memory cost in KiB.
pub const M_COST: u32 = 19_456;
/// Iterations.
pub const T_COST: u32 = 2;
/// Parallelism.
pub const P_COST: u32 = 1;

/// Shortest password accepted.
pub const MIN_LEN: usize = 8;
/// Longest password accepted (bounds hashing work per request).
pub const MAX_LEN: usize = 1024;

fn hasher() -> Result<Argon2<'static>, argon2::Error> {
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(M_COST, T_COST, P_COST, None)?))
}

/// Hashes a password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`).
pub fn hash(password: &str) -> Result<String, String> {
    let hasher = hasher().map_err(|e| e.to_string())?;
    hasher.hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(|e| e.to_string())
}

/// True when `password` matches the stored PHC string. The parameters come from the string,
/// so hashes made with stronger settings keep verifying.
pub fn verify(stored: &str, password: &str) -> bool {
    verify_pooled(stored, password).unwrap_or(false)
}

/// Argon2's working memory (19 MiB per check), kept for reuse. Allocating it afresh on each
/// blocking thread leaves every thread's malloc arena holding its own copies after the free:
/// a login flood then grew the server by hundreds of MiB although checks were capped.
static MEMORY: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());
/// Buffers kept for reuse; more checks than this at once allocate and free their own.
const POOLED: usize = 4;

fn verify_pooled(stored: &str, password: &str) -> Option<bool> {
    let phc = PasswordHash::new(stored).ok()?;
    let params = Params::try_from(&phc).ok()?;
    let algorithm = Algorithm::try_from(phc.algorithm.as_str()).ok()?;
    let version = phc.version.map(Version::try_from).transpose().ok()?.unwrap_or_default();
    let (salt, expected) = (phc.salt.as_ref()?, phc.hash.as_ref()?);
    let mut out = vec![0u8; expected.len()];
    let blocks = params.block_count();
    let mut memory = MEMORY.lock().pop().filter(|m| m.len() == blocks).unwrap_or_else(|| vec![Block::new(); blocks]);
    let computed = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
        password.as_bytes(),
        salt.as_ref(),
        &mut out,
        &mut memory[..],
    );
    {
        let mut pool = MEMORY.lock();
        if pool.len() < POOLED {
            pool.push(memory);
        }
    }
    computed.ok()?;
    // Constant time: the answer must not depend on where the bytes first differ.
    let diff = out.iter().zip(expected.as_bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b));
    Some(diff == 0)
}

/// Spends the same work as a real verification, so that a login for an unknown e-mail takes
/// as long as one with a wrong password.
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    if let Some(stored) = DUMMY.get_or_init(|| hash("not a real password").ok()) {
        let _ = verify(stored, password);
    }
}

/// Common passwords shipped with the binary, refused as new passwords.
const COMMON: &str = include_str!("common_passwords.txt");

fn is_common(password: &str) -> bool {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    let set = SET.get_or_init(|| COMMON.lines().filter(|l| !l.is_empty() && !l.starts_with('#')).collect());
    set.contains(password.to_lowercase().as_str())
}

/// Checks a new password against the policy (OWASP ASVS level 2): 8 to 1024 characters, not
/// one of the common passwords, not the account's e-mail or the e-mail's local part. Any
/// character is allowed and nothing about character classes is demanded.
pub fn policy_problem(password: &str, email: &str) -> Option<String> {
    let len = password.chars().count();
    let lowered = password.trim().to_lowercase();
    let email = email.trim().to_lowercase();
    let local = email.split('@').next().unwrap_or_default();
    if len < MIN_LEN {
        Some(format!("must be at least {MIN_LEN} characters"))
    } else if password.len() > MAX_LEN {
        Some(format!("must be at most {MAX_LEN} bytes"))
    } else if !email.is_empty() && (lowered == email || lowered == local) {
        Some("must not be the e-mail address".to_string())
    } else if is_common(password) {
        Some("is one of the most common passwords; choose another".to_string())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_argon2id_with_required_strength_and_verifies() {
        let stored = hash("correct horse").expect("hash");
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{stored}");
        assert!(verify(&stored, "correct horse"));
        assert!(!verify(&stored, "wrong horse"));
        assert!(!verify("garbage", "correct horse"));
    }

    #[test]
    fn policy() {
        let email = "anna.petrova@example.com";
        assert!(policy_problem("short", email).is_some());
        assert!(policy_problem("long enough", email).is_none());
        assert!(policy_problem(&"x".repeat(2000), email).is_some());
        for common in ["12345678", "password", "Password1", "qwertyuiop", "йцукенгш"] {
            assert!(policy_problem(common, email).expect(common).contains("common"), "{common}");
        }
        assert!(policy_problem("Anna.Petrova@example.com", email).expect("e-mail").contains("e-mail"));
        assert!(policy_problem("anna.petrova", email).expect("local part").contains("e-mail"));
        assert!(policy_problem("correct horse battery", email).is_none());
    }
}
