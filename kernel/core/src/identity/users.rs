//! Creating and finding users.

use diesel::prelude::*;

use super::{IdentityError, User, normalize_email, passwords};
use crate::clock;
use crate::ids;
use crate::storage::DbConn;
use crate::storage::schema::users;
use crate::validation::{Checker, is_display_name, is_email};

/// What is needed to create a user.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Login e-mail.
    pub email: String,
    /// Initial password.
    pub password: String,
    /// Display name.
    pub name: String,
    /// Make the user a platform operator.
    pub is_superadmin: bool,
}

/// Validates and hashes outside any transaction (hashing is slow on purpose).
pub fn prepare(new: &NewUser) -> Result<PreparedUser, IdentityError> {
    let email = normalize_email(&new.email);
    let mut c = Checker::new();
    c.check(is_email(&email), "email", "is not a valid e-mail address");
    c.check(is_display_name(&new.name), "name", "must be 1 to 200 characters");
    if let Some(problem) = passwords::policy_problem(&new.password, &email) {
        c.add("password", problem);
    }
    c.finish()?;
    let password_hash = passwords::hash(&new.password).map_err(IdentityError::Internal)?;
    Ok(PreparedUser { email, name: new.name.trim().to_string(), password_hash, is_superadmin: new.is_superadmin })
}

/// A validated user with its password already hashed.
#[derive(Debug, Clone)]
pub struct PreparedUser {
    email: String,
    name: String,
    password_hash: String,
    is_superadmin: bool,
}

impl PreparedUser {
    /// The normalised e-mail.
    pub fn email(&self) -> &str {
        &self.email
    }
}

/// Stores a prepared user; `Conflict` when the e-mail is taken.
pub fn insert(conn: &mut DbConn, user: &PreparedUser) -> Result<User, IdentityError> {
    if find_by_email(conn, &user.email)?.is_some() {
        return Err(IdentityError::Conflict(format!("a user with e-mail {} already exists", user.email)));
    }
    let row = User {
        id: ids::new_id(),
        email: user.email.clone(),
        name: user.name.clone(),
        is_superadmin: user.is_superadmin,
        created_at: clock::now(),
        time_zone: None,
    };
    diesel::insert_into(users::table)
        .values((
            users::id.eq(&row.id),
            users::email.eq(&row.email),
            users::name.eq(&row.name),
            users::password_hash.eq(&user.password_hash),
            users::is_superadmin.eq(row.is_superadmin),
            users::created_at.eq(row.created_at),
        ))
        .execute(conn)
        .map_err(|e| match e {
            diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _) => {
                IdentityError::Conflict(format!("a user with e-mail {} already exists", user.email))
            }
            other => other.into(),
        })?;
    Ok(row)
}

/// Looks a user up by e-mail (normalised).
pub fn find_by_email(conn: &mut DbConn, email: &str) -> Result<Option<User>, IdentityError> {
    Ok(users::table.filter(users::email.eq(normalize_email(email))).select(User::as_select()).first(conn).optional()?)
}

/// Up to `limit` e-mails of users other than those in `except`, in e-mail order.
pub fn emails_except(conn: &mut DbConn, except: &[&str], limit: i64) -> Result<Vec<String>, IdentityError> {
    let except: Vec<String> = except.iter().map(|e| normalize_email(e)).collect();
    Ok(users::table
        .filter(users::email.ne_all(&except))
        .order(users::email.asc())
        .limit(limit)
        .select(users::email)
        .load(conn)?)
}

/// Looks a user up by id.
pub fn get(conn: &mut DbConn, id: &str) -> Result<Option<User>, IdentityError> {
    Ok(users::table.find(id).select(User::as_select()).first(conn).optional()?)
}

/// Whether `password` is the user's current password (a slow check, on purpose).
pub fn password_is(conn: &mut DbConn, user_id: &str, password: &str) -> Result<bool, IdentityError> {
    let stored: Option<String> = users::table.find(user_id).select(users::password_hash).first(conn).optional()?;
    Ok(stored.is_some_and(|hash| passwords::verify(&hash, password)))
}

/// Replaces a user's password with one hashed by [`prepare_password`] and signs the user out
/// everywhere, since whoever knew the old password may hold a token.
pub fn set_password(conn: &mut DbConn, user_id: &str, password: &PreparedPassword) -> Result<(), IdentityError> {
    let changed = diesel::update(users::table.find(user_id)).set(users::password_hash.eq(&password.0)).execute(conn)?;
    if changed == 0 {
        return Err(IdentityError::NotFound);
    }
    super::tokens::revoke_all(conn, user_id)?;
    Ok(())
}

/// A new password checked against the policy and hashed, outside any transaction.
#[derive(Debug, Clone)]
pub struct PreparedPassword(String);

/// Checks `password` against the policy for `email` and hashes it.
pub fn prepare_password(password: &str, email: &str) -> Result<PreparedPassword, IdentityError> {
    let mut c = Checker::new();
    if let Some(problem) = passwords::policy_problem(password, &normalize_email(email)) {
        c.add("password", problem);
    }
    c.finish()?;
    Ok(PreparedPassword(passwords::hash(password).map_err(IdentityError::Internal)?))
}
