//! Memberships: which users belong to which company, with which role.

use diesel::prelude::*;

use super::IdentityError;
use super::companies::OWNER_ROLE;
use crate::clock;
use crate::paging::{Page, PageRequest};
use crate::storage::DbConn;
use crate::storage::schema::{memberships, users};

/// A member of a company as shown to other members.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct Member {
    /// User id.
    pub user_id: String,
    /// E-mail.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Role name in this company.
    pub role: String,
    /// When they joined.
    pub joined_at: i64,
}

/// The user's role in the company, or `None` when they are not a member.
pub fn role_of(conn: &mut DbConn, company_id: &str, user_id: &str) -> Result<Option<String>, IdentityError> {
    Ok(memberships::table.find((company_id, user_id)).select(memberships::role).first(conn).optional()?)
}

/// Ids of the company's members who hold one of `roles`.
pub fn with_roles(conn: &mut DbConn, company_id: &str, roles: &[&str]) -> Result<Vec<String>, IdentityError> {
    Ok(memberships::table
        .filter(memberships::company_id.eq(company_id))
        .filter(memberships::role.eq_any(roles))
        .select(memberships::user_id)
        .order(memberships::user_id.asc())
        .load(conn)?)
}

/// Adds a member; `Conflict` when they already are one.
pub fn add(conn: &mut DbConn, company_id: &str, user_id: &str, role: &str) -> Result<(), IdentityError> {
    if role_of(conn, company_id, user_id)?.is_some() {
        return Err(IdentityError::Conflict("the user is already a member of this company".into()));
    }
    diesel::insert_into(memberships::table)
        .values((
            memberships::company_id.eq(company_id),
            memberships::user_id.eq(user_id),
            memberships::role.eq(role),
            memberships::created_at.eq(clock::now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// One member.
pub fn get(conn: &mut DbConn, company_id: &str, user_id: &str) -> Result<Option<Member>, IdentityError> {
    Ok(memberships::table
        .inner_join(users::table)
        .filter(memberships::company_id.eq(company_id))
        .filter(memberships::user_id.eq(user_id))
        .select((users::id, users::email, users::name, memberships::role, memberships::created_at))
        .first(conn)
        .optional()?)
}

/// Members of a company ordered by user id.
pub fn list(conn: &mut DbConn, company_id: &str, page: &PageRequest) -> Result<Page<Member>, IdentityError> {
    let mut query = memberships::table
        .inner_join(users::table)
        .filter(memberships::company_id.eq(company_id))
        .select((users::id, users::email, users::name, memberships::role, memberships::created_at))
        .order(users::id.asc())
        .limit(page.fetch())
        .into_boxed();
    if let Some(after) = &page.after {
        query = query.filter(users::id.gt(after.clone()));
    }
    let rows: Vec<Member> = query.load(conn)?;
    Ok(Page::from_rows(rows, page, |m| m.user_id.clone()))
}

/// Changes a member's role.
pub fn set_role(conn: &mut DbConn, company_id: &str, user_id: &str, role: &str) -> Result<(), IdentityError> {
    let changed =
        diesel::update(memberships::table.find((company_id, user_id))).set(memberships::role.eq(role)).execute(conn)?;
    if changed == 0 { Err(IdentityError::NotFound) } else { Ok(()) }
}

/// Removes a member.
pub fn remove(conn: &mut DbConn, company_id: &str, user_id: &str) -> Result<(), IdentityError> {
    let changed = diesel::delete(memberships::table.find((company_id, user_id))).execute(conn)?;
    if changed == 0 { Err(IdentityError::NotFound) } else { Ok(()) }
}

/// Number of members holding a role.
pub fn count_with_role(conn: &mut DbConn, company_id: &str, role: &str) -> Result<i64, IdentityError> {
    Ok(memberships::table
        .filter(memberships::company_id.eq(company_id))
        .filter(memberships::role.eq(role))
        .count()
        .get_result(conn)?)
}

/// Number of owners; a company must always keep at least one.
pub fn count_owners(conn: &mut DbConn, company_id: &str) -> Result<i64, IdentityError> {
    count_with_role(conn, company_id, OWNER_ROLE)
}
