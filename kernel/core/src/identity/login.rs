//! Password login with throttling of repeated failures per account and client address.
//!
//! Every attempt is counted *before* its password is checked, in one transaction that also
//! refuses it while the pair (e-mail, client address) is locked: however many attempts race,
//! at most [`FREE_ATTEMPTS`] of them are ever checked before the lock. After that the pair is
//! locked for [`FIRST_LOCK_SECS`], doubling with each further attempt up to [`MAX_LOCK_SECS`];
//! a successful login clears the pair. Locking a pair, not the account, means an attacker can
//! lock out only their own address, never the account's owner elsewhere. Unknown e-mails are
//! counted and answered exactly like known ones, so nothing tells which e-mails exist. The
//! counters live in the database: they hold across restarts and between kernel nodes.

use std::sync::atomic::{AtomicI64, Ordering};

use diesel::prelude::*;

use super::tokens::{self, IssuedToken, TokenKind};
use super::{IdentityError, User, normalize_email, passwords};
use crate::clock;
use crate::storage::dialect::{Bind, Sql};
use crate::storage::schema::{login_throttle, users};
use crate::storage::{Db, DbConn};

/// Attempts allowed per (e-mail, client) pair before it locks.
pub const FREE_ATTEMPTS: i32 = 5;
/// First lock duration.
pub const FIRST_LOCK_SECS: i64 = 30;
/// Longest lock duration.
pub const MAX_LOCK_SECS: i64 = 15 * 60;
/// How long an idle throttle row is kept.
const FORGET_AFTER_SECS: i64 = 24 * 3600;
/// Longest e-mail kept as a throttle key (RFC 5321 caps addresses at 254 characters).
const MAX_KEY_CHARS: usize = 320;

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
}

/// Lock duration after `attempts` counted attempts without a success.
pub fn lock_secs(attempts: i32) -> Option<i64> {
    if attempts < FREE_ATTEMPTS {
        return None;
    }
    let doublings = (attempts - FREE_ATTEMPTS).min(16) as u32;
    Some((FIRST_LOCK_SECS << doublings).min(MAX_LOCK_SECS))
}

/// Checks e-mail and password and issues a session token. `client` is the caller's address
/// (the throttle's second key). Blocking: call it on a blocking thread, under the caller's
/// cap on concurrent password checks. Password verification runs outside any transaction.
pub fn login(db: &Db, email: &str, password: &str, client: &str) -> Result<LoggedIn, IdentityError> {
    let email = normalize_email(email);
    let key: String = email.chars().take(MAX_KEY_CHARS).collect();
    let client: String = client.chars().take(64).collect();
    db.write_blocking(|conn| claim_attempt(conn, &key, &client))?;
    let creds: Option<Credentials> = db.read_blocking(|conn| -> Result<_, IdentityError> {
        Ok(users::table
            .filter(users::email.eq(&email))
            .select((users::id, users::password_hash))
            .first(conn)
            .optional()?)
    })?;
    let acceptable = !password.is_empty() && password.len() <= passwords::MAX_LEN;
    let Some(creds) = creds.filter(|_| acceptable) else {
        // The same work as a real check, so that the time tells nothing either.
        passwords::verify_dummy(password);
        return Err(IdentityError::InvalidCredentials);
    };
    if !passwords::verify(&creds.password_hash, password) {
        return Err(IdentityError::InvalidCredentials);
    }
    db.write_blocking(|conn| {
        diesel::delete(login_throttle::table.find((&key, &client))).execute(conn)?;
        let user = super::users::get(conn, &creds.id)?.ok_or(IdentityError::NotFound)?;
        let token =
            tokens::issue(conn, &user.id, TokenKind::Session, "login", Some(clock::now() + tokens::SESSION_TTL))?;
        Ok(LoggedIn { user, token })
    })
}

/// Counts one attempt of the pair, or refuses it while the pair is locked. One transaction:
/// the writer's turn on SQLite, the row lock on PostgreSQL, so no two attempts read the same
/// count.
fn claim_attempt(conn: &mut DbConn, email: &str, client: &str) -> Result<(), IdentityError> {
    let now = clock::now();
    forget_idle(conn, now)?;
    let mut insert = Sql::default();
    insert
        .push("INSERT INTO login_throttle (email, client, failures, locked_until, updated_at) VALUES (")
        .bind(Bind::Text(email.to_string()))
        .push(", ")
        .bind(Bind::Text(client.to_string()))
        .push(", 0, NULL, ")
        .bind(Bind::Int(now))
        .push(") ON CONFLICT (email, client) DO NOTHING");
    insert.execute(conn)?;
    let pair = login_throttle::table.find((email, client));
    let counted = diesel::update(pair)
        .filter(login_throttle::locked_until.is_null().or(login_throttle::locked_until.le(now)))
        .set((login_throttle::failures.eq(login_throttle::failures + 1), login_throttle::updated_at.eq(now)))
        .execute(conn)?;
    if counted == 0 {
        let until: Option<i64> = pair.select(login_throttle::locked_until).first(conn)?;
        let retry_after_secs = ((until.unwrap_or(now) - now) / 1_000_000).max(1) as u64;
        return Err(IdentityError::Throttled { retry_after_secs });
    }
    let attempts: i32 = pair.select(login_throttle::failures).first(conn)?;
    if let Some(secs) = lock_secs(attempts) {
        diesel::update(pair).set(login_throttle::locked_until.eq(Some(now + clock::seconds(secs)))).execute(conn)?;
    }
    Ok(())
}

/// Drops idle, unlocked pairs at most once a minute per process, so that attempts with
/// made-up e-mails cannot grow the table without bound.
fn forget_idle(conn: &mut DbConn, now: i64) -> Result<(), IdentityError> {
    static LAST: AtomicI64 = AtomicI64::new(0);
    let last = LAST.load(Ordering::Relaxed);
    if now - last < clock::seconds(60)
        || LAST.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_err()
    {
        return Ok(());
    }
    let cutoff = now - clock::seconds(FORGET_AFTER_SECS);
    diesel::delete(
        login_throttle::table
            .filter(login_throttle::updated_at.lt(cutoff))
            .filter(login_throttle::locked_until.is_null().or(login_throttle::locked_until.le(now))),
    )
    .execute(conn)?;
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
