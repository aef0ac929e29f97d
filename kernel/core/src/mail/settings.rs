//! A company's mail settings: the SMTP relay it sends through and the IMAP mailbox read into a
//! plugin's inbox. Passwords are sealed with the server's secrets key and never handed back.

use diesel::prelude::*;

use super::MailError;
use crate::clock;
use crate::plugins::Kernel;
use crate::secrets::SecretKey;
use crate::storage::schema::{mail_received, mail_settings};
use crate::storage::{DbConn, StoreError};
use crate::validation::{FieldError, Invalid};

/// How a connection to a mail server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain at first, then upgraded with STARTTLS (refused when the server cannot).
    Starttls,
    /// TLS from the first byte (SMTPS on 465, IMAPS on 993).
    Tls,
    /// No encryption: only for a relay on the same trusted network.
    None,
}

impl Security {
    /// The name settings use.
    pub fn as_str(self) -> &'static str {
        match self {
            Security::Starttls => "starttls",
            Security::Tls => "tls",
            Security::None => "none",
        }
    }

    /// The setting named `text`.
    pub fn parse(text: &str) -> Option<Security> {
        match text {
            "starttls" => Some(Security::Starttls),
            "tls" => Some(Security::Tls),
            "none" => Some(Security::None),
            _ => None,
        }
    }
}

/// A company's stored mail settings.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = mail_settings)]
pub struct Stored {
    /// The company.
    pub company_id: String,
    /// The address mail is sent from.
    pub from_address: String,
    /// The name shown with it.
    pub from_name: String,
    /// SMTP relay host (empty: no sending).
    pub smtp_host: String,
    /// Its port.
    pub smtp_port: i32,
    /// `starttls`, `tls` or `none`.
    pub smtp_security: String,
    /// User name (empty: no authentication).
    pub smtp_username: String,
    /// Sealed password.
    pub smtp_password: Option<String>,
    /// IMAP host (empty: no mailbox).
    pub imap_host: String,
    /// Its port.
    pub imap_port: i32,
    /// `starttls`, `tls` or `none`.
    pub imap_security: String,
    /// User name.
    pub imap_username: String,
    /// Sealed password.
    pub imap_password: Option<String>,
    /// The folder read.
    pub imap_folder: String,
    /// The plugin webhook new messages are handed to: `plugin/webhook`.
    pub deliver_to: String,
    /// The mailbox's UIDVALIDITY when last read.
    pub imap_uid_validity: Option<i64>,
    /// The highest UID read.
    pub imap_last_uid: Option<i64>,
    /// When the mailbox was last checked.
    pub imap_checked_at: Option<i64>,
    /// Why the last check failed.
    pub imap_error: Option<String>,
    /// When the settings last changed.
    pub updated_at: i64,
}

impl Stored {
    /// The SMTP password in plain text (empty when none is set).
    pub fn smtp_password(&self, key: &SecretKey) -> Result<String, MailError> {
        Ok(self.smtp_password.as_deref().map(|p| key.open(p)).transpose()?.unwrap_or_default())
    }

    /// The IMAP password in plain text (empty when none is set).
    pub fn imap_password(&self, key: &SecretKey) -> Result<String, MailError> {
        Ok(self.imap_password.as_deref().map(|p| key.open(p)).transpose()?.unwrap_or_default())
    }

    /// The plugin and webhook new messages go to.
    pub fn delivery(&self) -> Option<(&str, &str)> {
        self.deliver_to.split_once('/')
    }
}

/// The settings as an administrator sends them: every field but the passwords replaces what is
/// stored; a password left out stays, an empty one is removed.
#[derive(Debug, Clone, Default)]
pub struct Change {
    /// The address mail is sent from.
    pub from_address: String,
    /// The name shown with it.
    pub from_name: String,
    /// SMTP relay host (empty: no sending).
    pub smtp_host: String,
    /// Its port (0: 587 for STARTTLS, 465 for TLS, 25 for none).
    pub smtp_port: u16,
    /// `starttls`, `tls` or `none`.
    pub smtp_security: String,
    /// User name (empty: no authentication).
    pub smtp_username: String,
    /// New password; `None` keeps the stored one.
    pub smtp_password: Option<String>,
    /// IMAP host (empty: no mailbox).
    pub imap_host: String,
    /// Its port (0: 993 for TLS, 143 otherwise).
    pub imap_port: u16,
    /// `starttls`, `tls` or `none`.
    pub imap_security: String,
    /// User name.
    pub imap_username: String,
    /// New password; `None` keeps the stored one.
    pub imap_password: Option<String>,
    /// The folder read (empty: `INBOX`).
    pub imap_folder: String,
    /// `plugin/webhook` new messages are handed to; required with a mailbox.
    pub deliver_to: String,
}

impl From<&Stored> for Change {
    /// The stored settings as a change that keeps them (and the passwords) as they are.
    fn from(s: &Stored) -> Change {
        Change {
            from_address: s.from_address.clone(),
            from_name: s.from_name.clone(),
            smtp_host: s.smtp_host.clone(),
            smtp_port: u16::try_from(s.smtp_port).unwrap_or(0),
            smtp_security: s.smtp_security.clone(),
            smtp_username: s.smtp_username.clone(),
            smtp_password: None,
            imap_host: s.imap_host.clone(),
            imap_port: u16::try_from(s.imap_port).unwrap_or(0),
            imap_security: s.imap_security.clone(),
            imap_username: s.imap_username.clone(),
            imap_password: None,
            imap_folder: s.imap_folder.clone(),
            deliver_to: s.deliver_to.clone(),
        }
    }
}

/// Whether the plugin's webhook `hook` declares that it takes raw e-mail messages.
pub fn takes_mail(manifest: &erp_manifest::Manifest, hook: &str) -> bool {
    manifest.webhooks.iter().any(|w| w.name == hook && w.mail)
}

/// Whether `host` is a host name or an IP address (no scheme, port or path).
fn is_host(host: &str) -> bool {
    if host.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// Whether `address` is one e-mail address (`name@domain`), as the SMTP envelope needs it.
pub fn is_address(address: &str) -> bool {
    address.len() <= 320 && address.parse::<lettre::Address>().is_ok()
}

fn text_ok(problems: &mut Vec<FieldError>, field: &str, value: &str, max: usize) {
    if value.chars().count() > max {
        problems.push(FieldError::new(field, format!("must be at most {max} characters")));
    } else if value.chars().any(char::is_control) {
        problems.push(FieldError::new(field, "must not hold control characters"));
    }
}

fn check(kernel: &dyn Kernel, conn: &mut DbConn, company_id: &str, c: &Change) -> Result<(), MailError> {
    let mut problems = Vec::new();
    for (field, value, max) in [
        ("from_name", &c.from_name, 200),
        ("smtp_username", &c.smtp_username, 320),
        ("imap_username", &c.imap_username, 320),
        ("imap_folder", &c.imap_folder, 200),
        ("deliver_to", &c.deliver_to, 200),
    ] {
        text_ok(&mut problems, field, value, max);
    }
    for (field, value) in [("smtp_password", &c.smtp_password), ("imap_password", &c.imap_password)] {
        if let Some(v) = value {
            text_ok(&mut problems, field, v, 1000);
        }
    }
    for (field, host) in [("smtp_host", &c.smtp_host), ("imap_host", &c.imap_host)] {
        if !host.is_empty() && !is_host(host) {
            problems.push(FieldError::new(field, "must be a host name or an IP address, without a scheme or a port"));
        }
    }
    for (field, security) in [("smtp_security", &c.smtp_security), ("imap_security", &c.imap_security)] {
        if !security.is_empty() && Security::parse(security).is_none() {
            problems.push(FieldError::new(field, "must be starttls, tls or none"));
        }
    }
    if !c.from_address.is_empty() && !is_address(&c.from_address) {
        problems.push(FieldError::new("from_address", "must be an e-mail address such as sales@example.com"));
    }
    if !c.smtp_host.is_empty() && c.from_address.is_empty() {
        problems.push(FieldError::new("from_address", "is required to send mail"));
    }
    if !c.imap_host.is_empty() {
        if c.imap_username.is_empty() {
            problems.push(FieldError::new("imap_username", "is required to read a mailbox"));
        }
        match c.deliver_to.split_once('/') {
            Some((plugin, hook)) => {
                let declared = kernel
                    .plugins()
                    .active(conn, company_id, plugin)
                    .ok()
                    .is_some_and(|a| takes_mail(&a.loaded.manifest, hook));
                if !declared {
                    problems.push(FieldError::new(
                        "deliver_to",
                        format!(
                            "{plugin}/{hook} is not a webhook that takes e-mail, of a plugin enabled in this company"
                        ),
                    ));
                }
            }
            None => problems.push(FieldError::new(
                "deliver_to",
                "must name the plugin webhook new messages go to, such as inbox/email",
            )),
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(MailError::Invalid(Invalid(problems))) }
}

/// The company's settings, if it has any.
pub fn get(conn: &mut DbConn, company_id: &str) -> Result<Option<Stored>, StoreError> {
    Ok(mail_settings::table.find(company_id).select(Stored::as_select()).first(conn).optional()?)
}

/// Messages the company's mailbox has handed on.
pub fn received_count(conn: &mut DbConn, company_id: &str) -> Result<i64, StoreError> {
    Ok(mail_received::table.filter(mail_received::company_id.eq(company_id)).count().get_result(conn)?)
}

fn seal(key: &SecretKey, new: &Option<String>, old: Option<String>) -> Result<Option<String>, MailError> {
    match new.as_deref() {
        None => Ok(old),
        Some("") => Ok(None),
        Some(p) => Ok(Some(key.seal(p)?)),
    }
}

/// Replaces the company's settings; the mailbox is read afresh when its server, account or
/// folder changes.
pub fn put(kernel: &dyn Kernel, conn: &mut DbConn, company_id: &str, c: &Change) -> Result<Stored, MailError> {
    check(kernel, conn, company_id, c)?;
    let old = get(conn, company_id)?;
    let smtp_security = Security::parse(&c.smtp_security).unwrap_or(Security::Starttls);
    let imap_security = Security::parse(&c.imap_security).unwrap_or(Security::Tls);
    let smtp_port = match (c.smtp_port, smtp_security) {
        (0, Security::Starttls) => 587,
        (0, Security::Tls) => 465,
        (0, Security::None) => 25,
        (p, _) => p,
    };
    let imap_port = match (c.imap_port, imap_security) {
        (0, Security::Tls) => 993,
        (0, _) => 143,
        (p, _) => p,
    };
    let folder = if c.imap_folder.trim().is_empty() { "INBOX".to_string() } else { c.imap_folder.trim().to_string() };
    let same_mailbox = old.as_ref().is_some_and(|o| {
        o.imap_host == c.imap_host
            && o.imap_port == i32::from(imap_port)
            && o.imap_username == c.imap_username
            && o.imap_folder == folder
    });
    let key = kernel.secrets();
    let row = Stored {
        company_id: company_id.to_string(),
        from_address: c.from_address.trim().to_string(),
        from_name: c.from_name.trim().to_string(),
        smtp_host: c.smtp_host.trim().to_ascii_lowercase(),
        smtp_port: i32::from(smtp_port),
        smtp_security: smtp_security.as_str().to_string(),
        smtp_username: c.smtp_username.clone(),
        smtp_password: seal(key, &c.smtp_password, old.as_ref().and_then(|o| o.smtp_password.clone()))?,
        imap_host: c.imap_host.trim().to_ascii_lowercase(),
        imap_port: i32::from(imap_port),
        imap_security: imap_security.as_str().to_string(),
        imap_username: c.imap_username.clone(),
        imap_password: seal(key, &c.imap_password, old.as_ref().and_then(|o| o.imap_password.clone()))?,
        imap_folder: folder,
        deliver_to: c.deliver_to.clone(),
        imap_uid_validity: old.as_ref().filter(|_| same_mailbox).and_then(|o| o.imap_uid_validity),
        imap_last_uid: old.as_ref().filter(|_| same_mailbox).and_then(|o| o.imap_last_uid),
        imap_checked_at: old.as_ref().filter(|_| same_mailbox).and_then(|o| o.imap_checked_at),
        imap_error: old.as_ref().filter(|_| same_mailbox).and_then(|o| o.imap_error.clone()),
        updated_at: clock::now(),
    };
    diesel::delete(mail_settings::table.find(company_id)).execute(conn)?;
    diesel::insert_into(mail_settings::table)
        .values((
            mail_settings::company_id.eq(&row.company_id),
            mail_settings::from_address.eq(&row.from_address),
            mail_settings::from_name.eq(&row.from_name),
            mail_settings::smtp_host.eq(&row.smtp_host),
            mail_settings::smtp_port.eq(row.smtp_port),
            mail_settings::smtp_security.eq(&row.smtp_security),
            mail_settings::smtp_username.eq(&row.smtp_username),
            mail_settings::smtp_password.eq(&row.smtp_password),
            mail_settings::imap_host.eq(&row.imap_host),
            mail_settings::imap_port.eq(row.imap_port),
            mail_settings::imap_security.eq(&row.imap_security),
            mail_settings::imap_username.eq(&row.imap_username),
            mail_settings::imap_password.eq(&row.imap_password),
            mail_settings::imap_folder.eq(&row.imap_folder),
            mail_settings::deliver_to.eq(&row.deliver_to),
            mail_settings::imap_uid_validity.eq(row.imap_uid_validity),
            mail_settings::imap_last_uid.eq(row.imap_last_uid),
            mail_settings::imap_checked_at.eq(row.imap_checked_at),
            mail_settings::imap_error.eq(&row.imap_error),
            mail_settings::updated_at.eq(row.updated_at),
        ))
        .execute(conn)?;
    Ok(row)
}

/// Removes the company's settings (the record of messages read stays, so that configuring the
/// same mailbox again does not bring them in twice).
pub fn delete(conn: &mut DbConn, company_id: &str) -> Result<bool, StoreError> {
    Ok(diesel::delete(mail_settings::table.find(company_id)).execute(conn)? > 0)
}

/// Records how a check of the mailbox went: the new watermark, or why it failed.
pub fn checked(
    conn: &mut DbConn,
    company_id: &str,
    watermark: Option<(i64, i64)>,
    error: Option<&str>,
) -> Result<(), StoreError> {
    let now = clock::now();
    let target = mail_settings::table.find(company_id);
    match watermark {
        Some((validity, last)) => diesel::update(target)
            .set((
                mail_settings::imap_uid_validity.eq(validity),
                mail_settings::imap_last_uid.eq(last),
                mail_settings::imap_checked_at.eq(now),
                mail_settings::imap_error.eq(error),
            ))
            .execute(conn)?,
        None => diesel::update(target)
            .set((mail_settings::imap_checked_at.eq(now), mail_settings::imap_error.eq(error)))
            .execute(conn)?,
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_addresses_are_checked() {
        assert!(is_host("smtp.example.com"));
        assert!(is_host("127.0.0.1"));
        assert!(is_host("::1"));
        assert!(!is_host("smtp://example.com"));
        assert!(!is_host("example.com:25"));
        assert!(!is_host("-bad.example.com"));
        assert!(!is_host(""));
        assert!(is_address("sales@example.com"));
        assert!(!is_address("Sales <sales@example.com>"));
        assert!(!is_address("not an address"));
    }
}
