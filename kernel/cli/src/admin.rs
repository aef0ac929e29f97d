//! `erp admin ...`: direct administration against the database.

use anyhow::{Context, bail};

use erp_kernel::audit::{self, Actor, Entry, Outcome};
use erp_kernel::identity::users::{self, NewUser};
use erp_kernel::identity::{IdentityError, companies};
use erp_kernel::storage::Db;

/// Creates a user and prints its id.
pub fn create_user(
    db_url: &str,
    email: &str,
    password: &str,
    name: Option<&str>,
    superadmin: bool,
) -> anyhow::Result<()> {
    let db = Db::open(db_url).context("opening the database")?;
    let new = NewUser {
        email: email.to_string(),
        password: password.to_string(),
        name: name.unwrap_or(email).to_string(),
        is_superadmin: superadmin,
    };
    let prepared = users::prepare(&new)?;
    let user = db.write_blocking(|conn| {
        let user = users::insert(conn, &prepared)?;
        audit::record(
            conn,
            Entry {
                company_id: None,
                actor: &Actor::system(),
                action: "user.create",
                object_type: "user",
                object_id: Some(&user.id),
                outcome: Outcome::Success,
                detail: serde_json::json!({ "email": user.email, "is_superadmin": superadmin, "via": "cli" }),
            },
        )?;
        Ok::<_, IdentityError>(user)
    })?;
    println!("{}", user.id);
    Ok(())
}

/// Creates a company owned by the user with e-mail `owner` and prints its id.
pub fn create_company(db_url: &str, name: &str, owner: &str) -> anyhow::Result<()> {
    let db = Db::open(db_url).context("opening the database")?;
    let company = db.write_blocking(|conn| {
        let Some(user) = users::find_by_email(conn, owner)? else {
            return Ok(None);
        };
        let company = companies::create(conn, name, &user.id)?;
        audit::record(
            conn,
            Entry {
                company_id: Some(&company.id),
                actor: &Actor::system(),
                action: "company.create",
                object_type: "company",
                object_id: Some(&company.id),
                outcome: Outcome::Success,
                detail: serde_json::json!({ "name": company.name, "owner": user.email, "via": "cli" }),
            },
        )?;
        Ok::<_, IdentityError>(Some(company))
    })?;
    match company {
        Some(c) => {
            println!("{}", c.id);
            Ok(())
        }
        None => bail!("no user with e-mail {owner}; create it first with `erp admin create-user`"),
    }
}

/// Writes a consistent backup of the SQLite database at `db_url` to `to`.
pub fn backup(db_url: &str, to: &std::path::Path) -> anyhow::Result<()> {
    let done = erp_kernel::storage::backup::backup(db_url, to)?;
    println!(
        "Backed up {} to {} ({:.1} MB in {:.1} s)",
        db_url,
        to.display(),
        done.bytes as f64 / 1e6,
        done.took.as_secs_f64()
    );
    Ok(())
}

/// Puts the backup `from` in place of the SQLite database at `db_url`.
pub fn restore(from: &std::path::Path, db_url: &str) -> anyhow::Result<()> {
    let done = erp_kernel::storage::backup::restore(from, db_url)?;
    println!("Restored {} from {}", db_url, from.display());
    if let Some(kept) = done.kept {
        println!("The database it replaced is kept as {}", kept.display());
    }
    Ok(())
}
