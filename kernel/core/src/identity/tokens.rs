//! Bearer tokens: 256 random bits behind a recognisable prefix, stored only as SHA-256 hashes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use super::{IdentityError, User};
use crate::clock::{self, Micros};
use crate::ids;
use crate::storage::DbConn;
use crate::storage::schema::{tokens, users};

/// Every token starts with this, so leaked tokens are easy to find in logs and repositories.
pub const PREFIX: &str = "erp_";

/// Session tokens from a login live this long.
pub const SESSION_TTL: Micros = clock::seconds(12 * 3600);
/// Lifetime of a new API token when its creator names none.
pub const DEFAULT_API_TOKEN_DAYS: u32 = 90;

/// What a token was made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Issued by a password login.
    Session,
    /// Created on purpose for scripts and integrations.
    Api,
}

impl TokenKind {
    fn as_str(self) -> &'static str {
        match self {
            TokenKind::Session => "session",
            TokenKind::Api => "api",
        }
    }

    fn parse(text: &str) -> TokenKind {
        if text == "api" { TokenKind::Api } else { TokenKind::Session }
    }
}

/// A stored token (never the raw secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// Token id.
    pub id: String,
    /// Session or API.
    pub kind: TokenKind,
    /// A label chosen by the user.
    pub name: String,
    /// Creation time.
    pub created_at: Micros,
    /// Expiry, if any.
    pub expires_at: Option<Micros>,
    /// Revocation time, if revoked.
    pub revoked_at: Option<Micros>,
}

/// A freshly issued token: the only moment the raw secret exists.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// Stored metadata.
    pub info: TokenInfo,
    /// The raw bearer token to hand to the client once.
    pub secret: String,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = tokens)]
struct TokenRow {
    id: String,
    kind: String,
    name: String,
    created_at: i64,
    expires_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl From<TokenRow> for TokenInfo {
    fn from(r: TokenRow) -> TokenInfo {
        TokenInfo {
            id: r.id,
            kind: TokenKind::parse(&r.kind),
            name: r.name,
            created_at: r.created_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
        }
    }
}

/// SHA-256 of the raw token, hex. Tokens carry 256 bits of entropy, so a fast hash suffices.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn new_secret() -> Result<String, IdentityError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| IdentityError::Internal(format!("no randomness: {e}")))?;
    Ok(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// Issues a token for `user_id`.
pub fn issue(
    conn: &mut DbConn,
    user_id: &str,
    kind: TokenKind,
    name: &str,
    expires_at: Option<Micros>,
) -> Result<IssuedToken, IdentityError> {
    let secret = new_secret()?;
    let info = TokenInfo {
        id: ids::new_id(),
        kind,
        name: name.to_string(),
        created_at: clock::now(),
        expires_at,
        revoked_at: None,
    };
    diesel::insert_into(tokens::table)
        .values((
            tokens::id.eq(&info.id),
            tokens::user_id.eq(user_id),
            tokens::kind.eq(kind.as_str()),
            tokens::name.eq(&info.name),
            tokens::token_hash.eq(hash_secret(&secret)),
            tokens::created_at.eq(info.created_at),
            tokens::expires_at.eq(info.expires_at),
        ))
        .execute(conn)?;
    Ok(IssuedToken { info, secret })
}

/// The user behind a raw bearer token, with the token's id. Unknown, revoked and expired
/// tokens all give `None`.
pub fn authenticate(conn: &mut DbConn, secret: &str) -> Result<Option<(User, String)>, IdentityError> {
    if !secret.starts_with(PREFIX) || secret.len() > 128 {
        return Ok(None);
    }
    let now = clock::now();
    let found = tokens::table
        .inner_join(users::table)
        .filter(tokens::token_hash.eq(hash_secret(secret)))
        .filter(tokens::revoked_at.is_null())
        .filter(tokens::expires_at.is_null().or(tokens::expires_at.gt(now)))
        .select((User::as_select(), tokens::id))
        .first::<(User, String)>(conn)
        .optional()?;
    Ok(found)
}

/// The caller's tokens, newest first (revoked ones included, marked).
pub fn list(conn: &mut DbConn, user_id: &str) -> Result<Vec<TokenInfo>, IdentityError> {
    let rows = tokens::table
        .filter(tokens::user_id.eq(user_id))
        .order(tokens::id.desc())
        .limit(500)
        .select(TokenRow::as_select())
        .load(conn)?;
    Ok(rows.into_iter().map(TokenInfo::from).collect())
}

/// Revokes one of the user's tokens; `NotFound` when the user has no such live token.
pub fn revoke(conn: &mut DbConn, user_id: &str, token_id: &str) -> Result<(), IdentityError> {
    let changed = diesel::update(
        tokens::table
            .filter(tokens::id.eq(token_id))
            .filter(tokens::user_id.eq(user_id))
            .filter(tokens::revoked_at.is_null()),
    )
    .set(tokens::revoked_at.eq(clock::now()))
    .execute(conn)?;
    if changed == 0 { Err(IdentityError::NotFound) } else { Ok(()) }
}

/// Revokes every live token of the user; answers how many.
pub fn revoke_all(conn: &mut DbConn, user_id: &str) -> Result<usize, IdentityError> {
    Ok(diesel::update(tokens::table.filter(tokens::user_id.eq(user_id)).filter(tokens::revoked_at.is_null()))
        .set(tokens::revoked_at.eq(clock::now()))
        .execute(conn)?)
}

/// Compares two secrets without telling, through the time it takes, how much of them matched
/// (their hashes are compared in full).
pub fn same_secret(a: &str, b: &str) -> bool {
    let (x, y) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    x.iter().zip(y.iter()).fold(0u8, |acc, (p, q)| acc | (p ^ q)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_long_and_distinct() {
        let a = new_secret().expect("random");
        let b = new_secret().expect("random");
        assert!(a.starts_with(PREFIX));
        // 32 bytes -> 43 base64 characters: 256 bits of entropy.
        assert_eq!(a.len(), PREFIX.len() + 43);
        assert_ne!(a, b);
        assert_ne!(hash_secret(&a), a);
        assert_eq!(hash_secret(&a).len(), 64);
    }
}
