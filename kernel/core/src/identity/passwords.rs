//! Password hashing with argon2id (m = 19456 KiB, t = 2, p = 1: the OWASP minimum).

use std::sync::OnceLock;

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

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
    match hasher() {
        Ok(h) => h.verify_password(password.as_bytes(), stored).is_ok(),
        Err(_) => false,
    }
}

/// Spends the same work as a real verification, so that a login for an unknown e-mail takes
/// as long as one with a wrong password.
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    if let Some(stored) = DUMMY.get_or_init(|| hash("not a real password").ok()) {
        let _ = verify(stored, password);
    }
}

/// Checks a new password against the policy.
pub fn policy_problem(password: &str) -> Option<String> {
    let len = password.chars().count();
    if len < MIN_LEN {
        Some(format!("must be at least {MIN_LEN} characters"))
    } else if password.len() > MAX_LEN {
        Some(format!("must be at most {MAX_LEN} bytes"))
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
        assert!(policy_problem("short").is_some());
        assert!(policy_problem("long enough").is_none());
        assert!(policy_problem(&"x".repeat(2000)).is_some());
    }
}
