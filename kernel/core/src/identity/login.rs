//! Password login with per-account throttling of repeated failures.
//!
//! After [`FREE_ATTEMPTS`] consecutive failures an account is locked for [`FIRST_LOCK_SECS`],
//! doubling with each further failure up to [`MAX_LOCK_SECS`]. While locked, even the right
//! password is refused, so guessing cannot continue. The counters live in the database, so
//! the throttle holds across restarts and across several kernel nodes.

use diesel::prelude::*;

use super::tokens::{self, IssuedToken, TokenKind};
use super::{IdentityError, User, normalize_email, passwords};
use crate::clock;
use crate::storage::schema::users;
use crate::storage::{Db, DbConn};

/// Failures allowed before the account locks.
pub const FREE_ATTEMPTS: i32 = 5;
/// First lock duration.
pub const FIRST_LOCK_SECS: i64 = 30;
/// Longest lock duration.
pub const MAX_LOCK_SECS: i64 = 15 * 60;

/// The outcome of a successful login.
#[derive(Debug, Clone)]
pub struct LoggedIn {
    /// Who logged in.
    pub user: User,
    /// Their new session token.
    pub token: IssuedToken,
}

#[derive(Queryable)]
struct Credentials {
    id: String,
    password_hash: String,
    locked_until: Option<i64>,
}

/// Lock duration after `failures` consecutive failures.
pub fn lock_secs(failures: i32) -> Option<i64> {
    if failures < FREE_ATTEMPTS {
        return None;
    }
    let doublings = (failures - FREE_ATTEMPTS).min(16) as u32;
    Some((FIRST_LOCK_SECS << doublings).min(MAX_LOCK_SECS))
}

/// Checks e-mail and password and issues a session token. Blocking: call it on a blocking
/// thread. Password verification runs outside any transaction.
pub fn login(db: &Db, email: &str, password: &str) -> Result<LoggedIn, IdentityError> {
    let email = normalize_email(email);
    let creds: Option<Credentials> = db.read_blocking(|conn| -> Result<_, IdentityError> {
        Ok(users::table
            .filter(users::email.eq(&email))
            .select((users::id, users::password_hash, users::locked_until))
            .first(conn)
            .optional()?)
    })?;
    let Some(creds) = creds else {
        passwords::verify_dummy(password);
        return Err(IdentityError::InvalidCredentials);
    };
    let now = clock::now();
    if let Some(until) = creds.locked_until.filter(|&u| u > now) {
        let retry_after_secs = ((until - now) / 1_000_000).max(1) as u64;
        return Err(IdentityError::Throttled { retry_after_secs });
    }
    if !password.is_empty() && password.len() <= passwords::MAX_LEN && passwords::verify(&creds.password_hash, password)
    {
        db.write_blocking(|conn| {
            diesel::update(users::table.find(&creds.id))
                .set((users::failed_logins.eq(0), users::locked_until.eq(None::<i64>)))
                .execute(conn)?;
            let user = super::users::get(conn, &creds.id)?.ok_or(IdentityError::NotFound)?;
            let token =
                tokens::issue(conn, &user.id, TokenKind::Session, "login", Some(clock::now() + tokens::SESSION_TTL))?;
            Ok(LoggedIn { user, token })
        })
    } else {
        db.write_blocking(|conn| record_failure(conn, &creds.id))?;
        Err(IdentityError::InvalidCredentials)
    }
}

fn record_failure(conn: &mut DbConn, user_id: &str) -> Result<(), IdentityError> {
    diesel::update(users::table.find(user_id)).set(users::failed_logins.eq(users::failed_logins + 1)).execute(conn)?;
    let failures: i32 = users::table.find(user_id).select(users::failed_logins).first(conn)?;
    if let Some(secs) = lock_secs(failures) {
        diesel::update(users::table.find(user_id))
            .set(users::locked_until.eq(Some(clock::now() + clock::seconds(secs))))
            .execute(conn)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_grows_and_caps() {
        assert_eq!(lock_secs(4), None);
        assert_eq!(lock_secs(5), Some(30));
        assert_eq!(lock_secs(6), Some(60));
        assert_eq!(lock_secs(100), Some(MAX_LOCK_SECS));
    }
}
