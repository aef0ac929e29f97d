//! Companies: the tenants. Every domain record belongs to exactly one.

use diesel::prelude::*;

use super::IdentityError;
use crate::clock;
use crate::ids;
use crate::paging::{Page, PageRequest};
use crate::storage::DbConn;
use crate::storage::schema::{companies, memberships};
use crate::validation::{Invalid, is_display_name};

/// Built-in role given to a company's creator.
pub const OWNER_ROLE: &str = "owner";

/// A company (tenant).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = companies)]
pub struct Company {
    /// Company id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Creation time.
    pub created_at: i64,
}

/// Creates a company with `owner_id` as its owner.
pub fn create(conn: &mut DbConn, name: &str, owner_id: &str) -> Result<Company, IdentityError> {
    if !is_display_name(name) {
        return Err(Invalid::one("name", "must be 1 to 200 characters").into());
    }
    let company = Company { id: ids::new_id(), name: name.trim().to_string(), created_at: clock::now() };
    diesel::insert_into(companies::table)
        .values((
            companies::id.eq(&company.id),
            companies::name.eq(&company.name),
            companies::created_at.eq(company.created_at),
        ))
        .execute(conn)?;
    super::members::add(conn, &company.id, owner_id, OWNER_ROLE)?;
    Ok(company)
}

/// A company by id.
pub fn get(conn: &mut DbConn, id: &str) -> Result<Option<Company>, IdentityError> {
    Ok(companies::table.find(id).select(Company::as_select()).first(conn).optional()?)
}

/// Finds a company by exact name (used by the CLI and the demo set-up).
pub fn find_by_name(conn: &mut DbConn, name: &str) -> Result<Option<Company>, IdentityError> {
    Ok(companies::table
        .filter(companies::name.eq(name))
        .order(companies::id.asc())
        .select(Company::as_select())
        .first(conn)
        .optional()?)
}

/// The companies a user belongs to, with their role in each, ordered by id.
pub fn list_for_user(
    conn: &mut DbConn,
    user_id: &str,
    page: &PageRequest,
) -> Result<Page<(Company, String)>, IdentityError> {
    let mut query = memberships::table
        .inner_join(companies::table)
        .filter(memberships::user_id.eq(user_id))
        .select((Company::as_select(), memberships::role))
        .order(companies::id.asc())
        .limit(page.fetch())
        .into_boxed();
    if let Some(after) = &page.after {
        query = query.filter(companies::id.gt(after.clone()));
    }
    let rows: Vec<(Company, String)> = query.load(conn)?;
    Ok(Page::from_rows(rows, page, |(c, _)| c.id.clone()))
}
