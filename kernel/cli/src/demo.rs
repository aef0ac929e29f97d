//! `erp serve --demo`: a demo company with sample data, created once.

use anyhow::Context;
use serde_json::json;

use erp_kernel::Platform;
use erp_kernel::access::{CompanyScope, roles};
use erp_kernel::audit::{self, Actor, Entry, Outcome};
use erp_kernel::identity::users::{self, NewUser};
use erp_kernel::identity::{IdentityError, companies, members};
use erp_kernel::plugins::PluginError;
use erp_kernel::plugins::lifecycle::{self, EnableRequest};
use erp_kernel::records::{self, Caller, Collection};
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
    sample_notes(platform, &company.id).context("creating the demo notes")?;
    let mut team = Vec::new();
    for email in [EMAIL, "anna.sales@example.com"] {
        let user = db.read_blocking(|conn| users::find_by_email(conn, email))?.context("a demo user is missing")?;
        team.push((user.id, user.name));
    }
    // The books first, so that the stock moves and won deals below post to them; then stock,
    // which the CRM demo's won deals reserve once the event bus runs.
    super::demo_accounting::sample_accounting(platform, &company.id).context("creating the demo books")?;
    super::demo_hr::sample_hr(platform, &company.id).context("creating the demo staff")?;
    super::demo_warehouse::sample_warehouse(platform, &company.id).context("creating the demo warehouse")?;
    super::demo_crm::sample_crm(platform, &company.id, &team).context("creating the demo CRM data")?;
    super::demo_marketing::sample_marketing(platform, &company.id).context("creating the demo campaigns")?;
    Ok(Demo { company_id: company.id })
}

/// Enables the bundled notes plugin for the demo company and adds a few notes, once.
fn sample_notes(platform: &Platform, company_id: &str) -> Result<(), PluginError> {
    let mut session = Session::begin(&platform.db, company_id, None)?;
    if platform.plugins.enabled_names(session.conn()?, company_id)?.iter().any(|n| n == "notes") {
        return Ok(());
    }
    let scope = CompanyScope::system(company_id);
    let enabled = lifecycle::enable(platform, &mut session, &scope, "notes", EnableRequest::default())?;
    let book = Collection::new(enabled.manifest.clone(), "notebook")
        .ok_or_else(|| PluginError::Internal("notes has no notebook".into()))?;
    let note = Collection::new(enabled.manifest.clone(), "note")
        .ok_or_else(|| PluginError::Internal("notes has no note".into()))?;
    let caller = Caller::User(&scope);
    let work = records::create(&mut session, platform, caller, &book, json!({ "name": "Work" }))?;
    let samples = [
        json!({ "title": "Call Romashka LLC about the renewal", "priority": "high", "due": "2026-12-05", "notebook": work.id, "words": 6, "cost": "0.00" }),
        json!({ "title": "Prepare the Q4 price list", "priority": "normal", "due": "2026-12-15", "notebook": work.id, "words": 5, "pinned": true }),
        json!({ "title": "Order office paper", "priority": "low", "notebook": work.id, "words": 3, "cost": "1250.50" }),
    ];
    for s in samples {
        records::create(&mut session, platform, caller, &note, s)?;
    }
    session.commit()?;
    Ok(())
}
