//! Checking a company's mailbox: new messages are handed, each in its own transaction, to the
//! plugin webhook the settings name (the CRM's e-mail channel, say) as `message/rfc822`, once
//! per Message-ID however often the mailbox is checked or a message is copied into it again.
//! Delivery reports about the company's own mail are not handed on: they mark the message they
//! report on ([`bounces`]).

use std::time::Instant;

use diesel::prelude::*;

use super::imap::{self, Mailbox};
use super::settings::{self, Security, Stored};
use super::{MailError, SOURCE, bounces, record, time_limit};
use crate::clock;
use crate::outbound::{Caller, OutboundError};
use crate::plugin_error::PluginError;
use crate::plugins::{Kernel, lifecycle};
use crate::session::Session;
use crate::storage::schema::{mail_received, mail_settings};
use crate::storage::{DbConn, StoreError};

/// Largest message handed on (the inbound webhook limit); larger ones are left in the mailbox.
pub const MAX_MESSAGE_BYTES: u32 = 1024 * 1024;

/// What one check of the mailbox brought.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// New messages found.
    pub found: usize,
    /// Handed to the plugin.
    pub delivered: usize,
    /// Already handed on before (the same Message-ID).
    pub duplicates: usize,
    /// The plugin refused them (not an e-mail it understands).
    pub refused: usize,
    /// Larger than [`MAX_MESSAGE_BYTES`], left in the mailbox.
    pub too_large: usize,
    /// Reports that a sent message could not be delivered, applied to it.
    pub bounces: usize,
    /// Other delivery reports (delays, reports on unknown messages), read and left alone.
    pub reports: usize,
}

/// The message's Message-ID, or a digest of it when it has none.
fn message_key(raw: &[u8]) -> String {
    let id = mail_parser::MessageParser::default()
        .parse_headers(raw)
        .and_then(|m| m.message_id().map(|id| id.trim().to_string()))
        .filter(|id| !id.is_empty() && id.len() <= 500);
    match id {
        Some(id) => id,
        None => {
            use sha2::{Digest, Sha256};
            format!("sha256:{}", hex::encode(Sha256::digest(raw)))
        }
    }
}

fn seen(conn: &mut DbConn, company_id: &str, key: &str) -> Result<bool, StoreError> {
    Ok(mail_received::table.find((company_id, key)).count().get_result::<i64>(conn)? > 0)
}

fn remember(conn: &mut DbConn, company_id: &str, key: &str, status: u16) -> Result<(), StoreError> {
    diesel::insert_into(mail_received::table)
        .values((
            mail_received::company_id.eq(company_id),
            mail_received::message_id.eq(key),
            mail_received::received_at.eq(clock::now()),
            mail_received::status.eq(i32::from(status)),
        ))
        .execute(conn)?;
    Ok(())
}

/// How handing one message on went.
enum Handed {
    Delivered,
    Duplicate,
    Refused,
    Bounce,
    Report,
}

/// Hands one message to the plugin in a transaction of its own, remembered with it.
fn hand_on(kernel: &dyn Kernel, s: &Stored, raw: Vec<u8>) -> Result<Handed, MailError> {
    let key = message_key(&raw);
    let company = s.company_id.as_str();
    // A delivery report is news of the company's own mail, never a lead.
    if let Some(report) = bounces::parse(&raw) {
        let mut session = Session::begin(kernel.db(), company, None)?;
        if seen(session.reader()?, company, &key)? {
            return Ok(Handed::Duplicate);
        }
        let bounced = bounces::apply(kernel, &mut session, &report)?;
        remember(session.conn()?, company, &key, 200)?;
        session.commit()?;
        return Ok(if bounced { Handed::Bounce } else { Handed::Report });
    }
    let (plugin, hook) =
        s.delivery().ok_or(MailError::NotConfigured("the mailbox names no webhook to hand mail to"))?;
    let mut session = Session::begin(kernel.db(), company, None)?;
    if seen(session.reader()?, company, &key)? {
        return Ok(Handed::Duplicate);
    }
    let active = kernel
        .plugins()
        .active(session.reader()?, company, plugin)
        .map_err(|e| MailError::NotConfigured(not_enabled(e)))?;
    if !settings::takes_mail(&active.loaded.manifest, hook) {
        return Err(MailError::NotConfigured("the plugin the mailbox hands mail to has no webhook that takes e-mail"));
    }
    let headers = vec![("content-type".to_string(), "message/rfc822".to_string())];
    let answer = lifecycle::run_webhook(kernel, &mut session, &std::sync::Arc::new(active), hook, "POST", headers, raw);
    match answer {
        Ok(a) => {
            remember(session.conn()?, company, &key, a.status)?;
            session.commit()?;
            Ok(Handed::Delivered)
        }
        // The plugin looked at it and said no: remembered, so it is not offered again.
        Err(PluginError::Refused { error, .. }) => {
            drop(session);
            tracing::info!(company, message = %key, %error, "the inbox refused a message from the mailbox");
            kernel.db().write_blocking(|conn| remember(conn, company, &key, 422))?;
            Ok(Handed::Refused)
        }
        Err(e) => Err(MailError::Outbound(OutboundError::Failed(format!("{plugin} could not take the message: {e}")))),
    }
}

fn not_enabled(_: PluginError) -> &'static str {
    "the plugin the mailbox hands mail to is not enabled in this company"
}

/// Checks the company's mailbox now and hands new messages on. Blocks: call it on a blocking
/// thread.
pub fn poll(kernel: &dyn Kernel, company_id: &str) -> Result<Report, MailError> {
    let s = kernel
        .db()
        .read_blocking(|conn| settings::get(conn, company_id))?
        .filter(|s| !s.imap_host.is_empty())
        .ok_or(MailError::NotConfigured("no mailbox is set up for this company"))?;
    let outcome = check(kernel, &s);
    let error = outcome.as_ref().err().map(ToString::to_string);
    let watermark = outcome.as_ref().ok().map(|(w, _)| *w);
    kernel.db().write_blocking(|conn| settings::checked(conn, company_id, watermark, error.as_deref()))?;
    outcome.map(|(_, r)| r)
}

type Checked = ((i64, i64), Report);

fn check(kernel: &dyn Kernel, s: &Stored) -> Result<Checked, MailError> {
    let caller = Caller { company_id: &s.company_id, source: SOURCE, granted: Vec::new() };
    kernel.outbound().admit(kernel.plugins().metrics(), &caller)?;
    let started = Instant::now();
    let host = format!("imap://{}:{}", s.imap_host, s.imap_port);
    let fetched = connect(kernel, s);
    record(kernel, &s.company_id, "IMAP", &host, started, fetched.as_ref().map(|_| ()));
    let fetched = fetched?;
    let mut report = Report { found: fetched.messages.len(), ..Report::default() };
    let previous = match (s.imap_uid_validity, s.imap_last_uid) {
        (Some(v), Some(l)) if v == i64::from(fetched.uid_validity) => l,
        _ => 0,
    };
    let mut last = previous;
    for found in fetched.messages {
        match found.raw {
            None => report.too_large += 1,
            Some(raw) => match hand_on(kernel, s, raw) {
                Ok(Handed::Delivered) => report.delivered += 1,
                Ok(Handed::Duplicate) => report.duplicates += 1,
                Ok(Handed::Refused) => report.refused += 1,
                Ok(Handed::Bounce) => report.bounces += 1,
                Ok(Handed::Report) => report.reports += 1,
                // Stop here: the next check starts again from this message.
                Err(e) => {
                    kernel.db().write_blocking(|conn| {
                        settings::checked(conn, &s.company_id, Some((i64::from(fetched.uid_validity), last)), None)
                    })?;
                    return Err(e);
                }
            },
        }
        last = i64::from(found.uid);
    }
    Ok(((i64::from(fetched.uid_validity), last.max(i64::from(fetched.last_uid))), report))
}

fn connect(kernel: &dyn Kernel, s: &Stored) -> Result<imap::Fetched, MailError> {
    let port =
        u16::try_from(s.imap_port).map_err(|_| OutboundError::Invalid("the IMAP port is out of range".into()))?;
    let address = kernel
        .outbound()
        .resolve(&s.imap_host, port)?
        .into_iter()
        .next()
        .ok_or_else(|| OutboundError::Denied(format!("{} has no address the platform may reach", s.imap_host)))?;
    let since = match (s.imap_uid_validity, s.imap_last_uid) {
        (Some(v), Some(l)) => Some((u32::try_from(v).unwrap_or(0), u32::try_from(l).unwrap_or(0))),
        _ => None,
    };
    let mailbox = Mailbox {
        address,
        host: s.imap_host.clone(),
        security: Security::parse(&s.imap_security).unwrap_or(Security::Tls),
        username: s.imap_username.clone(),
        password: s.imap_password(kernel.secrets())?,
        folder: s.imap_folder.clone(),
        since,
        max_bytes: MAX_MESSAGE_BYTES,
        roots: kernel.outbound().settings().extra_roots.clone(),
    };
    Ok(kernel.outbound().block_on(time_limit(kernel), imap::fetch(mailbox))?)
}

/// Companies whose mailbox was last checked more than `every` ago (or never).
pub fn due(conn: &mut DbConn, every: std::time::Duration) -> Result<Vec<String>, StoreError> {
    let before = clock::now() - i64::try_from(every.as_micros()).unwrap_or(i64::MAX);
    Ok(mail_settings::table
        .filter(mail_settings::imap_host.ne(""))
        .filter(mail_settings::imap_checked_at.is_null().or(mail_settings::imap_checked_at.lt(before)))
        .select(mail_settings::company_id)
        .order(mail_settings::imap_checked_at.asc())
        .load(conn)?)
}

/// Checks every mailbox that is due; failures are recorded on the company's settings.
pub fn poll_due(kernel: &dyn Kernel, every: std::time::Duration) -> Result<usize, StoreError> {
    let companies = kernel.db().read_blocking(|conn| due(conn, every))?;
    for company in &companies {
        match poll(kernel, company) {
            Ok(r) if r.found > 0 => tracing::info!(company, ?r, "read the company's mailbox"),
            Ok(_) => {}
            Err(e) => tracing::info!(company, error = %e, "the company's mailbox could not be read"),
        }
    }
    Ok(companies.len())
}
