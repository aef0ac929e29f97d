//! Idempotency keys: a client that retries a POST with the same `Idempotency-Key` gets the
//! first answer instead of a second change. A key is remembered per credential for the
//! settings' time to live (24 hours by default); while its first request runs, a retry is
//! told so; a request that failed on the server's side (5xx) forgets its key, since it
//! changed nothing, so it can be retried.

use diesel::prelude::*;

use crate::clock;
use crate::storage::schema::idempotency_keys;
use crate::storage::{DbConn, StoreError};

/// Status stored while the first request runs.
const RUNNING: i32 = 0;

/// Longest key accepted.
pub const MAX_KEY_LEN: usize = 255;

/// What to do with a request carrying a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// First time: run it, then [`finish`] or [`forget`].
    Run,
    /// Seen with the same request: answer this again.
    Replay {
        /// HTTP status.
        status: u16,
        /// The stored answer (see [`finish`]).
        response: String,
    },
    /// Seen with a different request.
    Mismatch,
    /// The first request with this key is still running.
    Running,
}

/// Claims `key` for `owner` (a hash of the credential) and the request's hash.
pub fn claim(
    conn: &mut DbConn,
    owner: &str,
    key: &str,
    request_hash: &str,
    running_for: std::time::Duration,
) -> Result<Claim, StoreError> {
    let now = clock::now();
    // Forget what expired (indexed; usually nothing).
    diesel::delete(idempotency_keys::table.filter(idempotency_keys::expires_at.lt(now))).execute(conn)?;
    let found: Option<(String, i32, String)> = idempotency_keys::table
        .find((owner, key))
        .select((idempotency_keys::request_hash, idempotency_keys::status, idempotency_keys::response))
        .first(conn)
        .optional()?;
    match found {
        Some((hash, _, _)) if hash != request_hash => Ok(Claim::Mismatch),
        Some((_, RUNNING, _)) => Ok(Claim::Running),
        Some((_, status, response)) => Ok(Claim::Replay { status: status as u16, response }),
        None => {
            // Until it finishes, the claim lasts as long as the request may run, so that a
            // crash in between does not block the key for a day.
            diesel::insert_into(idempotency_keys::table)
                .values((
                    idempotency_keys::owner.eq(owner),
                    idempotency_keys::idem_key.eq(key),
                    idempotency_keys::request_hash.eq(request_hash),
                    idempotency_keys::status.eq(RUNNING),
                    idempotency_keys::response.eq(""),
                    idempotency_keys::created_at.eq(now),
                    idempotency_keys::expires_at.eq(now + running_for.as_micros() as i64),
                ))
                .execute(conn)?;
            Ok(Claim::Run)
        }
    }
}

/// Stores the answer of the first request.
pub fn finish(
    conn: &mut DbConn,
    owner: &str,
    key: &str,
    status: u16,
    response: &str,
    ttl: std::time::Duration,
) -> Result<(), StoreError> {
    let expires = clock::now() + ttl.as_micros() as i64;
    diesel::update(idempotency_keys::table.find((owner, key)))
        .set((
            idempotency_keys::status.eq(i32::from(status)),
            idempotency_keys::response.eq(response),
            idempotency_keys::expires_at.eq(expires),
        ))
        .execute(conn)?;
    Ok(())
}

/// Forgets a key whose request changed nothing.
pub fn forget(conn: &mut DbConn, owner: &str, key: &str) -> Result<(), StoreError> {
    diesel::delete(idempotency_keys::table.find((owner, key))).execute(conn)?;
    Ok(())
}
