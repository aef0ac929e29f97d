//! Roles: the built-in `owner`, `admin` and `member`, and custom roles that are named sets of
//! permissions, per company.

use diesel::prelude::*;

use super::AccessError;
use super::permissions::{self, COMPANY_READ, MEMBERS_READ, ROLES_READ};
use crate::clock;
use crate::storage::DbConn;
use crate::storage::schema::roles;
use crate::validation::{Checker, Invalid};

/// Full control, including other owners.
pub const OWNER: &str = "owner";
/// Everything except managing owners.
pub const ADMIN: &str = "admin";
/// Day-to-day work.
pub const MEMBER: &str = "member";

/// A role as listed to clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// Unique name within the company.
    pub name: String,
    /// What the role is for.
    pub description: String,
    /// Granted permissions (may contain wildcards).
    pub permissions: Vec<String>,
    /// Built-in roles cannot be changed or deleted.
    pub builtin: bool,
}

/// The built-in roles. Plugins add to `member` through their manifests (plugin runtime).
pub fn builtin() -> Vec<Role> {
    vec![
        Role {
            name: OWNER.into(),
            description: "Full control of the company".into(),
            permissions: vec!["*".into()],
            builtin: true,
        },
        Role {
            name: ADMIN.into(),
            description: "Administers the company; cannot manage owners".into(),
            permissions: vec!["*".into()],
            builtin: true,
        },
        Role {
            name: MEMBER.into(),
            description: "Works in the company".into(),
            permissions: vec![COMPANY_READ.into(), MEMBERS_READ.into(), ROLES_READ.into()],
            builtin: true,
        },
    ]
}

fn builtin_named(name: &str) -> Option<Role> {
    builtin().into_iter().find(|r| r.name == name)
}

#[derive(Queryable)]
struct RoleRow {
    name: String,
    description: String,
    permissions: String,
}

impl RoleRow {
    fn into_role(self) -> Result<Role, AccessError> {
        let permissions: Vec<String> = serde_json::from_str(&self.permissions)
            .map_err(|e| AccessError::Internal(format!("role {} has unreadable permissions: {e}", self.name)))?;
        Ok(Role { name: self.name, description: self.description, permissions, builtin: false })
    }
}

/// A role by name, built-in or custom.
pub fn get(conn: &mut DbConn, company_id: &str, name: &str) -> Result<Option<Role>, AccessError> {
    if let Some(role) = builtin_named(name) {
        return Ok(Some(role));
    }
    roles::table
        .find((company_id, name))
        .select((roles::name, roles::description, roles::permissions))
        .first::<RoleRow>(conn)
        .optional()?
        .map(RoleRow::into_role)
        .transpose()
}

/// All roles of a company: built-in first, then custom by name.
pub fn list(conn: &mut DbConn, company_id: &str) -> Result<Vec<Role>, AccessError> {
    let mut all = builtin();
    let rows: Vec<RoleRow> = roles::table
        .filter(roles::company_id.eq(company_id))
        .order(roles::name.asc())
        .select((roles::name, roles::description, roles::permissions))
        .load(conn)?;
    for row in rows {
        all.push(row.into_role()?);
    }
    Ok(all)
}

/// Checks a custom role definition.
pub fn validate(name: Option<&str>, description: &str, perms: &[String]) -> Result<(), Invalid> {
    let mut c = Checker::new();
    if let Some(name) = name {
        let well_formed = (1..=64).contains(&name.len())
            && name.starts_with(|ch: char| ch.is_ascii_lowercase())
            && name.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_' || ch == '-');
        c.check(
            well_formed,
            "name",
            "must be 1-64 characters: lower-case letters, digits, '_' or '-', starting with a letter",
        );
        c.check(builtin_named(name).is_none(), "name", "is the name of a built-in role");
    }
    c.check(description.chars().count() <= 500, "description", "must be at most 500 characters");
    c.check(perms.len() <= 500, "permissions", "at most 500 permissions");
    for (i, p) in perms.iter().enumerate() {
        c.check(
            permissions::is_valid(p),
            &format!("permissions[{i}]"),
            format!("{p:?} is not a permission (like crm.deal.write or crm.*)"),
        );
    }
    c.finish()
}

/// Creates a custom role; `Conflict` when the name is taken.
pub fn create(
    conn: &mut DbConn,
    company_id: &str,
    name: &str,
    description: &str,
    perms: &[String],
) -> Result<Role, AccessError> {
    validate(Some(name), description, perms)?;
    if get(conn, company_id, name)?.is_some() {
        return Err(AccessError::Conflict(format!("a role named {name} already exists")));
    }
    let perms = normalized(perms);
    diesel::insert_into(roles::table)
        .values((
            roles::company_id.eq(company_id),
            roles::name.eq(name),
            roles::description.eq(description),
            roles::permissions.eq(encode(&perms)?),
            roles::created_at.eq(clock::now()),
        ))
        .execute(conn)?;
    Ok(Role { name: name.into(), description: description.into(), permissions: perms, builtin: false })
}

/// Replaces a custom role's description and permissions.
pub fn update(
    conn: &mut DbConn,
    company_id: &str,
    name: &str,
    description: &str,
    perms: &[String],
) -> Result<Role, AccessError> {
    if builtin_named(name).is_some() {
        return Err(AccessError::Conflict(format!("built-in role {name} cannot be changed")));
    }
    validate(None, description, perms)?;
    let perms = normalized(perms);
    let changed = diesel::update(roles::table.find((company_id, name)))
        .set((roles::description.eq(description), roles::permissions.eq(encode(&perms)?)))
        .execute(conn)?;
    if changed == 0 {
        return Err(AccessError::NotFound);
    }
    Ok(Role { name: name.into(), description: description.into(), permissions: perms, builtin: false })
}

/// Deletes a custom role that no member holds.
pub fn delete(conn: &mut DbConn, company_id: &str, name: &str) -> Result<(), AccessError> {
    if builtin_named(name).is_some() {
        return Err(AccessError::Conflict(format!("built-in role {name} cannot be deleted")));
    }
    if get(conn, company_id, name)?.is_none() {
        return Err(AccessError::NotFound);
    }
    let holders = crate::identity::members::count_with_role(conn, company_id, name)
        .map_err(|e| AccessError::Internal(e.to_string()))?;
    if holders > 0 {
        return Err(AccessError::Conflict(format!("{holders} member(s) still hold role {name}")));
    }
    diesel::delete(roles::table.find((company_id, name))).execute(conn)?;
    Ok(())
}

fn normalized(perms: &[String]) -> Vec<String> {
    let mut v = perms.to_vec();
    v.sort();
    v.dedup();
    v
}

fn encode(perms: &[String]) -> Result<String, AccessError> {
    serde_json::to_string(perms).map_err(|e| AccessError::Internal(e.to_string()))
}
