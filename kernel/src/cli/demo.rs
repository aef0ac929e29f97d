//! `erp serve --demo`: a demo company with sample data, created once.

use crate::access::roles;
use crate::audit::{self, Actor, Entry, Outcome};
use crate::identity::users::{self, NewUser};
use crate::identity::{IdentityError, companies, members};
use crate::storage::Db;

/// Demo owner's login.
pub const EMAIL: &str = "demo@example.com";
/// Demo owner's password (demo data only; printed at start-up).
pub const PASSWORD: &str = "demo-password";
/// Demo company name.
pub const COMPANY: &str = "Demo Company";

/// What `--demo` set up.
#[derive(Debug)]
pub struct Demo {
    /// The demo company's id.
    pub company_id: String,
}

/// Creates the demo owner, company, colleagues and a custom role unless they exist.
pub fn ensure(db: &Db) -> anyhow::Result<Demo> {
    let people = [
        NewUser { email: EMAIL.into(), password: PASSWORD.into(), name: "Demo Owner".into(), is_superadmin: true },
        NewUser {
            email: "anna.sales@example.com".into(),
            password: PASSWORD.into(),
            name: "Anna Petrova".into(),
            is_superadmin: false,
        },
        NewUser {
            email: "ivan.store@example.com".into(),
            password: PASSWORD.into(),
            name: "Ivan Sokolov".into(),
            is_superadmin: false,
        },
    ];
    let mut prepared = Vec::new();
    for p in &people {
        let exists = db.read_blocking(|conn| users::find_by_email(conn, &p.email))?.is_some();
        if !exists {
            prepared.push(users::prepare(p)?);
        }
    }
    let company = db.write_blocking(|conn| {
        for p in &prepared {
            users::insert(conn, p)?;
        }
        if let Some(existing) = companies::find_by_name(conn, COMPANY)? {
            return Ok::<_, IdentityError>(existing);
        }
        let owner = users::find_by_email(conn, EMAIL)?.ok_or(IdentityError::NotFound)?;
        let company = companies::create(conn, COMPANY, &owner.id)?;
        crate::access::roles::create(
            conn,
            &company.id,
            "supervisor",
            "Sees members, roles and the audit log",
            &[
                "kernel.company.read".into(),
                "kernel.members.read".into(),
                "kernel.roles.read".into(),
                "kernel.audit.read".into(),
            ],
        )
        .map_err(|e| IdentityError::Internal(e.to_string()))?;
        for (email, role) in [("anna.sales@example.com", roles::MEMBER), ("ivan.store@example.com", "supervisor")] {
            let user = users::find_by_email(conn, email)?.ok_or(IdentityError::NotFound)?;
            members::add(conn, &company.id, &user.id, role)?;
        }
        audit::record(
            conn,
            Entry {
                company_id: Some(&company.id),
                actor: &Actor::system(),
                action: "company.create",
                object_type: "company",
                object_id: Some(&company.id),
                outcome: Outcome::Success,
                detail: serde_json::json!({ "name": COMPANY, "via": "demo" }),
            },
        )?;
        Ok(company)
    })?;
    Ok(Demo { company_id: company.id })
}
