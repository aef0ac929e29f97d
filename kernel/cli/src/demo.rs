//! `erp serve --demo`: a demo company with its people, created once, and each plugin's own
//! sample data in it.

use anyhow::Context;

use erp_kernel::Platform;
use erp_kernel::access::{CompanyScope, roles};
use erp_kernel::audit::{self, Actor, Entry, Outcome};
use erp_kernel::identity::profile::{self, CompanyProfile};
use erp_kernel::identity::users::{self, NewUser};
use erp_kernel::identity::{IdentityError, companies, members};
use erp_kernel::paging::PageRequest;
use erp_kernel::plugins::demo::{self, DemoPerson};
use erp_kernel::plugins::lifecycle::{self, EnableRequest};
use erp_kernel::session::Session;

/// Demo owner's login.
pub const EMAIL: &str = "demo@example.com";
/// The fixed, publicly known password older versions gave the demo people; a start with
/// `--demo` replaces it wherever it is still set.
const OLD_PASSWORD: &str = "demo-password";

/// The demo's colleagues, who share the owner's password.
pub const COLLEAGUES: &[&str] = &["anna.sales@example.com", "ivan.store@example.com"];
/// Demo company name.
pub const COMPANY: &str = "Демо Мебель";

/// How to set the demo up.
#[derive(Debug, Default, Clone)]
pub struct DemoOptions {
    /// The demo people's password; a random one when not given.
    pub password: Option<String>,
    /// Add the demo to a database that already has other users.
    pub allow_existing: bool,
}

/// What `--demo` set up.
#[derive(Debug)]
pub struct Demo {
    /// The demo company's id.
    pub company_id: String,
    /// The password of the demo people when they were created now; `None` when they already
    /// existed (their password is the one printed when they were created).
    pub new_password: Option<String>,
    /// Demo people still had the fixed password of older versions, which now is `new_password`.
    pub old_password_replaced: bool,
}

/// Refuses a database that has users who are not the demo's, unless `allow_existing`: the demo
/// makes its owner a platform operator, which nobody should find in their real data by surprise.
pub fn check(platform: &Platform, options: &DemoOptions) -> anyhow::Result<()> {
    if let Some(password) = &options.password {
        for email in std::iter::once(EMAIL).chain(COLLEAGUES.iter().copied()) {
            if let Some(problem) = erp_kernel::identity::passwords::policy_problem(password, email) {
                anyhow::bail!("--demo-password {problem}");
            }
        }
    }
    if options.allow_existing {
        return Ok(());
    }
    let demo: Vec<&str> = std::iter::once(EMAIL).chain(COLLEAGUES.iter().copied()).collect();
    let others = platform.db.read_blocking(|conn| users::emails_except(conn, &demo, 2))?;
    if let Some(first) = others.first() {
        anyhow::bail!(
            "--demo would add a demo company and a platform operator ({EMAIL}) to a database that already has other users ({first}{}); start without --demo, use a new database (--db), or pass --demo-allow-existing",
            if others.len() > 1 { ", ..." } else { "" }
        );
    }
    Ok(())
}

/// A password for the demo people: 16 letters and digits from the system's random source.
pub fn random_password() -> anyhow::Result<String> {
    // No 0/O or 1/l/I: the password is read off a terminal and typed.
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    // Bytes past the last whole multiple of the alphabet are dropped, so every character is
    // equally likely.
    let cut = 256 - 256 % ALPHABET.len();
    let mut password = String::new();
    while password.len() < 16 {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no random source for the demo password: {e}"))?;
        password.extend(
            bytes.iter().map(|b| usize::from(*b)).filter(|b| *b < cut).map(|b| ALPHABET[b % ALPHABET.len()] as char),
        );
    }
    password.truncate(16);
    Ok(password)
}

/// Creates the demo owner, company, colleagues, a custom role and sample data unless they
/// exist. New people get `options.password`, or a random password.
pub fn ensure(platform: &Platform, options: &DemoOptions) -> anyhow::Result<Demo> {
    check(platform, options)?;
    let db = &platform.db;
    let owner_exists = db.read_blocking(|conn| users::find_by_email(conn, EMAIL))?.is_some();
    let password = match &options.password {
        Some(p) => p.clone(),
        None => random_password()?,
    };
    let people = [
        NewUser {
            email: EMAIL.into(), password: password.clone(), name: "Дмитрий Орлов".into(), is_superadmin: true
        },
        NewUser {
            email: COLLEAGUES[0].into(),
            password: password.clone(),
            name: "Анна Петрова".into(),
            is_superadmin: false,
        },
        NewUser {
            email: COLLEAGUES[1].into(),
            password: password.clone(),
            name: "Иван Соколов".into(),
            is_superadmin: false,
        },
    ];
    let mut prepared = Vec::new();
    let mut replaced = Vec::new();
    for p in &people {
        match db.read_blocking(|conn| users::find_by_email(conn, &p.email))? {
            None => prepared.push(users::prepare(p).with_context(|| format!("the demo password for {}", p.email))?),
            Some(user) => {
                if db.read_blocking(|conn| users::password_is(conn, &user.id, OLD_PASSWORD))? {
                    let new = users::prepare_password(&password, &p.email)
                        .with_context(|| format!("the demo password for {}", p.email))?;
                    replaced.push((user, new));
                }
            }
        }
    }
    let company = db.write_blocking(|conn| {
        for p in &prepared {
            users::insert(conn, p)?;
        }
        for (user, new) in &replaced {
            users::set_password(conn, &user.id, new)?;
            audit::record(
                conn,
                Entry {
                    company_id: None,
                    actor: &Actor::system(),
                    action: "user.password.replace",
                    object_type: "user",
                    object_id: Some(&user.id),
                    outcome: Outcome::Success,
                    detail: serde_json::json!({ "email": user.email, "via": "demo", "reason": "the old fixed demo password" }),
                },
            )?;
        }
        let owner = users::find_by_email(conn, EMAIL)?.ok_or(IdentityError::NotFound)?;
        if let Some(existing) = companies::find_by_name(conn, COMPANY)? {
            // Only the demo's own company gets its sample data, never someone's real one.
            if members::role_of(conn, &existing.id, &owner.id)?.as_deref() != Some(roles::OWNER) {
                return Err(IdentityError::Conflict(format!(
                    "a company named {COMPANY:?} exists that {EMAIL} does not own; --demo will not put sample data in it"
                )));
            }
            return Ok::<_, IdentityError>(existing);
        }
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
        profile::set(conn, &company.id, COMPANY, demo_profile())?;
        // An outgoing webhook to show how events reach another system: paused, since its
        // address is an example; an administrator points it at a real receiver and resumes it.
        let hook = erp_kernel::bus::webhooks::Change {
            url: Some("https://siem.example.com/erp".into()),
            events: Some(vec!["kernel.plugin.*".into(), "kernel.file.downloaded".into()]),
            description: Some(
                "Включения модулей и скачивания файлов для службы безопасности (пример: укажите свой адрес и включите)"
                    .into(),
            ),
            active: Some(false),
        };
        erp_kernel::bus::webhooks::create(conn, &company.id, &owner.id, &hook)
            .map_err(|e| IdentityError::Internal(e.to_string()))?;
        for (email, role) in [(COLLEAGUES[0], roles::MEMBER), (COLLEAGUES[1], "supervisor")] {
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
    let old_password_replaced = !replaced.is_empty();
    Ok(Demo {
        company_id: company.id,
        new_password: (!owner_exists || old_password_replaced).then_some(password),
        old_password_replaced,
    })
}

/// The demo company's details, as its documents show them (fictitious, with valid check digits).
fn demo_profile() -> CompanyProfile {
    CompanyProfile {
        legal_name: "ООО «Демо Мебель»".into(),
        tax_id: "7712345671".into(),
        kpp: "771201001".into(),
        registration_number: "1127746000000".into(),
        address: "125009, г. Москва, ул. Примерная, д. 1, офис 10".into(),
        phone: "+7 495 000-00-00".into(),
        email: "office@example.com".into(),
        bank_name: "АО «Демо Банк»".into(),
        bank_bic: "044525000".into(),
        bank_account: "40702810000000000001".into(),
        bank_corr_account: "30101810400000000000".into(),
        director: "Смирнов Алексей Викторович".into(),
        accountant: "Кузнецова Ольга Петровна".into(),
        time_zone: "Europe/Moscow".into(),
        currency: "RUB".into(),
    }
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
            // The demo company's mail goes to its mailbox stub, so plugins that send mail may.
            grants: manifest
                .capabilities
                .iter()
                .map(|c| c.collection.clone())
                .chain(manifest.mail.as_ref().map(|_| erp_manifest::MAIL_GRANT.to_string()))
                .collect(),
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

/// Points the demo company's outgoing mail at the demo mailbox stub on `port`, unless someone
/// has set up another server there; answers whether it did.
pub fn use_mailbox(platform: &Platform, company_id: &str, port: u16) -> anyhow::Result<bool> {
    use erp_kernel::mail::settings;
    platform
        .db
        .write_blocking(|conn| {
            let current = settings::get(conn, company_id)?;
            if current.as_ref().is_some_and(|s| !s.smtp_host.is_empty() && s.smtp_host != "127.0.0.1") {
                return Ok(false);
            }
            // The mailbox, if someone set one up, stays as it is.
            let mut change = current.as_ref().map(settings::Change::from).unwrap_or_default();
            change.from_address = "sales@demo-mebel.example".into();
            change.from_name = COMPANY.into();
            change.smtp_host = "127.0.0.1".into();
            change.smtp_port = port;
            change.smtp_security = "none".into();
            settings::put(platform, conn, company_id, &change)?;
            Ok::<_, erp_kernel::mail::MailError>(true)
        })
        .map_err(|e| anyhow::anyhow!("setting up the demo mailbox: {e}"))
}
