//! One-click unsubscription from a plugin's mailing: the link in the letter
//! ([`crate::links::unsubscribe_url`]) names the company, the plugin and the message's key,
//! signed with the server's key; confirming it marks the message and tells the plugin once,
//! with `<plugin>.mail.unsubscribed`, however often the link is followed.

use diesel::prelude::*;

use super::MailError;
use super::outbox::{self, Queued};
use crate::clock;
use crate::links;
use crate::plugins::Kernel;
use crate::session::Session;
use crate::storage::schema::{companies, mail_outbox};

/// What following an unsubscribe link did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribed {
    /// The company whose mail it was.
    pub company: String,
    /// The address that will get no more of it.
    pub recipient: String,
    /// False when the link had been confirmed before.
    pub first: bool,
}

/// The message an unsubscribe link stands for, and its company's name.
fn find(conn: &mut crate::storage::DbConn, token_parts: &[String]) -> Result<(Queued, String), MailError> {
    let [company, source, key] = token_parts else { return Err(MailError::NotFound(GONE)) };
    let found: Option<Queued> = mail_outbox::table
        .filter(mail_outbox::company_id.eq(company))
        .filter(mail_outbox::source.eq(source))
        .filter(mail_outbox::mail_key.eq(key))
        .select(Queued::as_select())
        .first(conn)
        .optional()?;
    let q = found.ok_or(MailError::NotFound(GONE))?;
    let name: String = companies::table.find(company).select(companies::name).first(conn)?;
    Ok((q, name))
}

const GONE: &str = "this unsubscribe link is not valid (it may be cut short, or the letter was deleted)";

/// The parts of a valid unsubscribe token.
fn parts(kernel: &dyn Kernel, token: &str) -> Result<Vec<String>, MailError> {
    links::verify(kernel.secrets(), links::UNSUBSCRIBE, token).ok_or(MailError::NotFound(GONE))
}

/// What the link stands for, without changing anything: the confirmation page shows it.
pub fn preview(kernel: &dyn Kernel, token: &str) -> Result<Unsubscribed, MailError> {
    let parts = parts(kernel, token)?;
    let (q, company) = kernel.db().read_blocking(|conn| find(conn, &parts))?;
    Ok(Unsubscribed { company, recipient: q.recipient, first: q.unsubscribed_at.is_none() })
}

/// Confirms the link: the message is marked and its plugin hears of it in the same
/// transaction, the first time only. Blocks: call it on a blocking thread.
pub fn confirm(kernel: &dyn Kernel, token: &str) -> Result<Unsubscribed, MailError> {
    let parts = parts(kernel, token)?;
    let mut session = Session::begin(kernel.db(), parts.first().map_or("", String::as_str), None)?;
    let (q, company) = find(session.conn()?, &parts)?;
    let changed = diesel::update(mail_outbox::table.find(&q.id).filter(mail_outbox::unsubscribed_at.is_null()))
        .set(mail_outbox::unsubscribed_at.eq(clock::now()))
        .execute(session.conn()?)?;
    if changed == 1 {
        outbox::announce(kernel, &mut session, &q, "unsubscribed", None)?;
        session.commit()?;
    }
    Ok(Unsubscribed { company, recipient: q.recipient, first: changed == 1 })
}
