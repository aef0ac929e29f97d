//! `erp serve --demo`: a demo company with its people, created once, and each plugin's own
//! sample data in it.

use anyhow::Context;

use erp_kernel::Platform;
use erp_kernel::access::{CompanyScope, roles};
use erp_kernel::audit::{self, Actor, Entry, Outcome};
use erp_kernel::identity::users::{self, NewUser};
use erp_kernel::identity::{IdentityError, companies, members};
use erp_kernel::paging::PageRequest;
use erp_kernel::plugins::demo::{self, DemoPerson};
use erp_kernel::plugins::lifecycle::{self, EnableRequest};
use erp_kernel::session::Session;

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

/// Creates the demo owner, company, colleagues, a custom role and sample data unless they
/// exist.
pub fn ensure(platform: &Platform) -> anyhow::Result<Demo> {
    let db = &platform.db;
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
        erp_kernel::access::roles::create(
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
    seed(platform, &company.id)?;
    Ok(Demo { company_id: company.id })
}

/// Enables every installed plugin that has demo data, in the order their demos build on each
/// other, granting what each asks for, and runs its demo. A plugin already enabled in the
/// company is left as it is, so this runs once.
fn seed(platform: &Platform, company_id: &str) -> anyhow::Result<()> {
    let manifests: Vec<_> = platform
        .db
        .read_blocking(|conn| lifecycle::list(platform, conn))?
        .into_iter()
        .map(|p| p.manifest)
        .filter(|m| m.demo.is_some())
        .collect();
    let people = people(platform, company_id)?;
    let today = chrono::DateTime::from_timestamp_micros(erp_kernel::clock::now())
        .unwrap_or_default()
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    for name in demo::order(&manifests) {
        let Some(manifest) = manifests.iter().find(|m| m.plugin.name == name) else { continue };
        let spec = manifest.demo.clone().unwrap_or_default();
        let mut session = Session::begin(&platform.db, company_id, None)?;
        if platform.plugins.enabled_names(session.conn()?, company_id)?.contains(&name) {
            continue;
        }
        let scope = CompanyScope::system(company_id);
        let request = EnableRequest {
            grants: manifest.capabilities.iter().map(|c| c.collection.clone()).collect(),
            config: spec.config_json(),
            webhook_secret: spec.webhook_secret.clone(),
        };
        lifecycle::enable(platform, &mut session, &scope, &name, request)
            .and_then(|_| demo::run(platform, &mut session, &scope, &name, &people, &today))
            .with_context(|| format!("creating the demo data of {name}"))?;
        session.commit()?;
    }
    Ok(())
}

/// The company's members for the demos: owners first, then by when they joined and e-mail.
fn people(platform: &Platform, company_id: &str) -> anyhow::Result<Vec<DemoPerson>> {
    let page = PageRequest::first(erp_kernel::paging::MAX_LIMIT);
    let mut members = platform.db.read_blocking(|conn| members::list(conn, company_id, &page))?.items;
    members.sort_by(|a, b| {
        (a.role != roles::OWNER, a.joined_at, &a.email).cmp(&(b.role != roles::OWNER, b.joined_at, &b.email))
    });
    Ok(members
        .into_iter()
        .map(|m| DemoPerson { user_id: m.user_id, name: m.name, email: m.email, role: m.role })
        .collect())
}
