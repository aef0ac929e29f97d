//! Mail waiting to go out. A message is queued in the transaction that decided to send it
//! ([`enqueue`]), so it exists exactly when that change committed; the node's mail worker
//! ([`deliver_due`]) claims due messages under a lease, sends each outside any transaction and
//! records the outcome: sent, refused for good by the relay, or retried with backoff until the
//! attempts run out. Sending is at least once; the Message-ID comes from the row's id, so a
//! message sent twice after a crash carries the same id both times.
//!
//! Notifications whose recipient chose "app and e-mail" are queued here by the same worker.

use diesel::prelude::*;

use super::message::{Attached, Outgoing};
use super::{MailError, message, settings};
use crate::clock;
use crate::ids;
use crate::notify::{self, Text};
use crate::outbound::OutboundError;
use crate::paging::{Page, PageRequest};
use crate::plugins::Kernel;
use crate::plugins::host::{PluginMail, QueuedMail};
use crate::records::RecordError;
use crate::storage::schema::{companies, mail_outbox, notifications, users};
use crate::storage::{DbConn, StoreError};
use crate::validation::Invalid;

/// Waiting to be sent (or being sent, under a lease).
pub const QUEUED: &str = "queued";
/// Handed to the relay.
pub const SENT: &str = "sent";
/// The relay refused it for good (an unknown recipient, a rejected sender).
pub const REFUSED: &str = "refused";
/// Not sent after the last attempt.
pub const FAILED: &str = "failed";
/// Sent, then returned by the recipient's server (a bounce in the company's mailbox).
pub const BOUNCED: &str = "bounced";

/// Attempts before a message is given up.
pub const MAX_ATTEMPTS: i32 = 8;
/// How long a claimed message is left to its sender before another may take it.
const LEASE_MICROS: i64 = 5 * 60 * 1_000_000;
/// Who queued a notification's e-mail.
pub const NOTIFICATIONS: &str = "notifications";

/// A queued message and its state.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = mail_outbox)]
pub struct Queued {
    /// Id (time-ordered); the Message-ID is made from it.
    pub id: String,
    /// The company it is sent for.
    pub company_id: String,
    /// What queued it: a plugin or `notifications`.
    pub source: String,
    /// The first recipient, for lists.
    pub recipient: String,
    /// The subject, for lists.
    pub subject: String,
    /// The message ([`Outgoing`] as JSON).
    pub message: String,
    /// `queued`, `sent`, `refused`, `failed` or `bounced`.
    pub status: String,
    /// Attempts made.
    pub attempts: i32,
    /// When it is next tried (or its lease ends).
    pub next_at: i64,
    /// Why the last attempt failed.
    pub error: Option<String>,
    /// Its Message-ID once sent.
    pub message_id: Option<String>,
    /// When queued.
    pub created_at: i64,
    /// When sent.
    pub sent_at: Option<i64>,
    /// The key a plugin queued it under.
    pub mail_key: Option<String>,
    /// When its recipient followed its unsubscribe link.
    pub unsubscribed_at: Option<i64>,
    /// When its recipient's server sent it back.
    pub bounced_at: Option<i64>,
}

pub use crate::plugins::host::MAX_KEY_CHARS;
/// Most messages one company may queue in a day: a runaway plugin or mailing stops here
/// instead of burning the company's relay and reputation.
pub const DAILY_LIMIT: i64 = 20_000;

/// Queues `m` for the company in the caller's transaction; answers its id. The message is
/// checked now, so a bad one is refused to whoever queues it.
pub fn enqueue(conn: &mut DbConn, company_id: &str, source: &str, m: &Outgoing) -> Result<String, MailError> {
    let placeholder = "outbox@example.com".parse().map_err(|_| MailError::NotConfigured("no placeholder sender"))?;
    message::build(placeholder, m)?;
    let id = ids::new_id();
    insert(conn, &id, company_id, source, None, m)?;
    Ok(id)
}

/// Queues a plugin's message under its own `key` in the caller's transaction: the same key
/// again answers the first message and queues nothing, so a handler that runs twice sends once.
/// The Message-ID is fixed now, from the company's sender domain, so the plugin can thread
/// replies to it before it goes out.
pub fn enqueue_keyed(
    conn: &mut DbConn,
    company_id: &str,
    source: &str,
    key: &str,
    mut m: Outgoing,
) -> Result<QueuedMail, MailError> {
    crate::plugins::host::check_key(key).map_err(MailError::Invalid)?;
    let earlier: Option<(String, Option<String>, String)> = mail_outbox::table
        .filter(mail_outbox::company_id.eq(company_id))
        .filter(mail_outbox::source.eq(source))
        .filter(mail_outbox::mail_key.eq(key))
        .select((mail_outbox::id, mail_outbox::message_id, mail_outbox::message))
        .first(conn)
        .optional()?;
    if let Some((id, sent_id, text)) = earlier {
        let fixed = serde_json::from_str::<Outgoing>(&text).ok().and_then(|o| o.message_id);
        let message_id = sent_id.or(fixed).unwrap_or_default();
        return Ok(QueuedMail { id, message_id, created: false });
    }
    let day_ago = clock::now() - 24 * 3600 * 1_000_000;
    let today: i64 = mail_outbox::table
        .filter(mail_outbox::company_id.eq(company_id))
        .filter(mail_outbox::created_at.gt(day_ago))
        .count()
        .get_result(conn)?;
    if today >= DAILY_LIMIT {
        return Err(MailError::Outbound(OutboundError::Limit(format!(
            "the company has queued {DAILY_LIMIT} messages in the last day"
        ))));
    }
    let stored = settings::get(conn, company_id)?
        .filter(|s| !s.smtp_host.is_empty())
        .ok_or(MailError::NotConfigured("no outgoing mail server is set up for this company"))?;
    let from: lettre::message::Mailbox = stored
        .from_address
        .parse()
        .map_err(|_| MailError::NotConfigured("the company's sender address is not an e-mail address"))?;
    let id = ids::new_id();
    let message_id = message::new_message_id(Some(&id), from.email.domain());
    m.message_id = Some(message_id.clone());
    m.idempotency_key = None;
    message::build(from, &m)?;
    insert(conn, &id, company_id, source, Some(key), &m)?;
    Ok(QueuedMail { id, message_id, created: true })
}

/// A plugin's message (WIT 0.2.2), queued under its key; refusals in the records layer's
/// words, as plugin calls report them.
pub fn queue_plugin_mail(
    conn: &mut DbConn,
    company_id: &str,
    plugin: &str,
    mail: PluginMail,
) -> Result<QueuedMail, RecordError> {
    let outgoing = Outgoing {
        to: mail.to,
        cc: mail.cc,
        reply_to: mail.reply_to,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        attachments: mail
            .attachments
            .into_iter()
            .map(|f| Attached { name: f.name, content_type: f.content_type, bytes: f.bytes })
            .collect(),
        in_reply_to: mail.in_reply_to,
        references: mail.references,
        unsubscribe_url: mail.unsubscribe_url,
        ..Outgoing::default()
    };
    enqueue_keyed(conn, company_id, plugin, &mail.key, outgoing).map_err(|e| match e {
        MailError::Invalid(i) => RecordError::Invalid(i),
        MailError::NotConfigured(m) => RecordError::Invalid(Invalid::one("mail", m)),
        MailError::Outbound(OutboundError::Limit(m)) => RecordError::Quota(m),
        MailError::Store(s) => RecordError::Store(s),
        other => RecordError::Internal(other.to_string()),
    })
}

fn insert(
    conn: &mut DbConn,
    id: &str,
    company_id: &str,
    source: &str,
    key: Option<&str>,
    m: &Outgoing,
) -> Result<(), StoreError> {
    let now = clock::now();
    let text = serde_json::to_string(m).map_err(|e| StoreError::Task(e.to_string()))?;
    diesel::insert_into(mail_outbox::table)
        .values((
            mail_outbox::id.eq(id),
            mail_outbox::company_id.eq(company_id),
            mail_outbox::source.eq(source),
            mail_outbox::recipient.eq(m.to.first().cloned().unwrap_or_default()),
            mail_outbox::subject.eq(m.subject.chars().take(300).collect::<String>()),
            mail_outbox::message.eq(text),
            mail_outbox::status.eq(QUEUED),
            mail_outbox::attempts.eq(0),
            mail_outbox::next_at.eq(now),
            mail_outbox::created_at.eq(now),
            mail_outbox::mail_key.eq(key),
        ))
        .execute(conn)?;
    Ok(())
}

/// The company's messages, newest first, optionally of one status.
pub fn list(
    conn: &mut DbConn,
    company_id: &str,
    status: Option<&str>,
    page: &PageRequest,
) -> Result<Page<Queued>, StoreError> {
    let mut q =
        mail_outbox::table.filter(mail_outbox::company_id.eq(company_id)).select(Queued::as_select()).into_boxed();
    if let Some(s) = status {
        q = q.filter(mail_outbox::status.eq(s.to_string()));
    }
    if let Some(after) = &page.after {
        q = q.filter(mail_outbox::id.lt(after.clone()));
    }
    let rows: Vec<Queued> = q.order(mail_outbox::id.desc()).limit(page.fetch()).load(conn)?;
    Ok(Page::from_rows(rows, page, |r| r.id.clone()))
}

/// A notification's words for an e-mail: every language it carries, Russian first.
fn words(stored: &str, joiner: &str) -> String {
    match Text::from_json(stored) {
        Text::One(s) => s,
        Text::ByLanguage(map) => {
            let mut langs: Vec<&String> = map.keys().collect();
            langs.sort_by_key(|l| (l.as_str() != "ru", l.as_str() != "en", l.as_str().to_string()));
            let mut seen: Vec<&str> = Vec::new();
            for l in langs {
                let w = map[l].as_str();
                if !w.is_empty() && !seen.contains(&w) {
                    seen.push(w);
                }
            }
            seen.join(joiner)
        }
    }
}

/// Queues the e-mails of notifications whose recipients want them by mail, each with a link
/// that opens it (and the record it names) when the server has a public address; answers how
/// many.
pub fn queue_notifications(
    conn: &mut DbConn,
    public: Option<&crate::links::PublicUrl>,
    limit: i64,
) -> Result<usize, StoreError> {
    type Row = (String, String, String, String, String, String);
    let wanted: Vec<Row> = notifications::table
        .inner_join(users::table.on(users::id.eq(notifications::user_id)))
        .inner_join(companies::table.on(companies::id.eq(notifications::company_id)))
        .filter(notifications::mail_state.eq(notify::inbox::MAIL_WANTED))
        .select((
            notifications::id,
            notifications::company_id,
            users::email,
            notifications::title,
            notifications::body,
            companies::name,
        ))
        .order(notifications::id.asc())
        .limit(limit)
        .load(conn)?;
    for (id, company_id, email, title, body, company) in &wanted {
        let mut text = words(body, "\n\n");
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        if let Some(public) = public {
            text.push_str(&crate::links::notification_url(public, company_id, id));
            text.push_str("\n\n");
        }
        text.push_str(&format!("— {company}"));
        let m = Outgoing {
            to: vec![email.clone()],
            subject: words(title, " / ").replace(['\r', '\n'], " "),
            text,
            ..Outgoing::default()
        };
        // The notification's id is the message's: queued once however often this runs.
        let exists = mail_outbox::table.find(id).count().get_result::<i64>(conn)? > 0;
        if !exists {
            insert(conn, id, company_id, NOTIFICATIONS, None, &m)?;
        }
        diesel::update(notifications::table.find(id))
            .set(notifications::mail_state.eq(notify::inbox::MAIL_QUEUED))
            .execute(conn)?;
    }
    Ok(wanted.len())
}

/// Claims up to `limit` due messages under a lease.
fn claim(conn: &mut DbConn, limit: i64) -> Result<Vec<Queued>, StoreError> {
    let now = clock::now();
    let due: Vec<Queued> = mail_outbox::table
        .filter(mail_outbox::status.eq(QUEUED))
        .filter(mail_outbox::next_at.le(now))
        .select(Queued::as_select())
        .order(mail_outbox::next_at.asc())
        .limit(limit)
        .load(conn)?;
    let mut mine = Vec::new();
    for mut q in due {
        let lease = now + LEASE_MICROS;
        let taken = diesel::update(
            mail_outbox::table
                .filter(mail_outbox::id.eq(&q.id))
                .filter(mail_outbox::status.eq(QUEUED))
                .filter(mail_outbox::next_at.eq(q.next_at)),
        )
        .set((mail_outbox::next_at.eq(lease), mail_outbox::attempts.eq(q.attempts + 1)))
        .execute(conn)?;
        if taken == 1 {
            q.next_at = lease;
            q.attempts += 1;
            mine.push(q);
        }
    }
    Ok(mine)
}

/// Minutes to wait after the `attempt`-th failure: 1, 2, 4 … at most two hours.
fn backoff_micros(attempt: i32) -> i64 {
    let minutes = 1i64 << attempt.clamp(1, 8).saturating_sub(1);
    minutes.min(120) * 60 * 1_000_000
}

/// What became of one message; answers its final status once it has one.
fn settle(
    conn: &mut DbConn,
    q: &Queued,
    outcome: &Result<String, MailError>,
) -> Result<Option<&'static str>, StoreError> {
    let now = clock::now();
    let mine = mail_outbox::table.filter(mail_outbox::id.eq(&q.id)).filter(mail_outbox::next_at.eq(q.next_at));
    let (status, changed) = match outcome {
        Ok(message_id) => (
            Some(SENT),
            diesel::update(mine)
                .set((
                    mail_outbox::status.eq(SENT),
                    mail_outbox::message_id.eq(message_id),
                    mail_outbox::sent_at.eq(now),
                    mail_outbox::error.eq(None::<String>),
                ))
                .execute(conn)?,
        ),
        // The company's rate: not the message's fault, so not an attempt.
        Err(MailError::Outbound(OutboundError::Limit(e))) => (
            None,
            diesel::update(mine)
                .set((
                    mail_outbox::next_at.eq(now + 60 * 1_000_000),
                    mail_outbox::attempts.eq(q.attempts - 1),
                    mail_outbox::error.eq(e),
                ))
                .execute(conn)?,
        ),
        Err(e) if !e.is_transient() && !matches!(e, MailError::NotConfigured(_) | MailError::Secret(_)) => (
            Some(REFUSED),
            diesel::update(mine)
                .set((mail_outbox::status.eq(REFUSED), mail_outbox::error.eq(e.to_string())))
                .execute(conn)?,
        ),
        Err(e) if q.attempts >= MAX_ATTEMPTS => (
            Some(FAILED),
            diesel::update(mine)
                .set((mail_outbox::status.eq(FAILED), mail_outbox::error.eq(e.to_string())))
                .execute(conn)?,
        ),
        Err(e) => (
            None,
            diesel::update(mine)
                .set((mail_outbox::next_at.eq(now + backoff_micros(q.attempts)), mail_outbox::error.eq(e.to_string())))
                .execute(conn)?,
        ),
    };
    // Another node took the message over after the lease ran out: its outcome counts.
    Ok(status.filter(|_| changed == 1))
}

/// The event telling the plugin that queued a message what became of it.
fn outcome_event(q: &Queued, status: &str, outcome: &Result<String, MailError>) -> (String, serde_json::Value) {
    let name = format!("{}.mail.{}", q.source, if status == SENT { "sent" } else { "failed" });
    let payload = serde_json::json!({
        "id": q.id,
        "key": q.mail_key,
        "message_id": outcome.as_ref().ok(),
        "status": status,
        "error": outcome.as_ref().err().map(ToString::to_string),
    });
    (name, payload)
}

/// Tells the plugin that queued `q` later news of it (`bounced`, `unsubscribed`) as
/// `<plugin>.mail.<what>`, in the session's transaction; mail the kernel queued itself has no
/// one to tell.
pub(super) fn announce(
    kernel: &dyn Kernel,
    session: &mut crate::session::Session,
    q: &Queued,
    what: &str,
    error: Option<&str>,
) -> Result<(), MailError> {
    if q.source == NOTIFICATIONS || q.mail_key.is_none() {
        return Ok(());
    }
    let name = format!("{}.mail.{what}", q.source);
    let payload = serde_json::json!({
        "id": q.id,
        "key": q.mail_key,
        "message_id": q.message_id,
        "status": what,
        "error": error,
    });
    kernel.emit(session, crate::events::NewEvent { name: &name, source: "kernel", payload, collection: None })?;
    Ok(())
}

/// Records what became of a message and, for a plugin's message that reached its end, emits
/// `<plugin>.mail.sent` or `<plugin>.mail.failed` in the same transaction.
fn finish(kernel: &dyn Kernel, q: &Queued, outcome: &Result<String, MailError>) -> Result<(), StoreError> {
    if q.source == NOTIFICATIONS || q.mail_key.is_none() {
        kernel.db().write_blocking(|conn| settle(conn, q, outcome))?;
        return Ok(());
    }
    let mut session = crate::session::Session::begin(kernel.db(), &q.company_id, None)?;
    let Some(status) = settle(session.conn()?, q, outcome)? else { return session.commit() };
    let (name, payload) = outcome_event(q, status, outcome);
    let event = crate::events::NewEvent { name: &name, source: "kernel", payload, collection: None };
    match kernel.emit(&mut session, event) {
        Ok(_) => session.commit(),
        Err(e) => {
            // A subscriber that cannot take the news must not keep the message queued.
            tracing::warn!(company = q.company_id, id = q.id, error = %e, "the outcome of a message was not announced");
            drop(session);
            kernel.db().write_blocking(|conn| settle(conn, q, outcome)).map(|_| ())
        }
    }
}

/// Queues notifications' e-mails, then sends up to `limit` due messages; answers how many were
/// tried. Blocks: call it on a blocking thread.
pub fn deliver_due(kernel: &dyn Kernel, limit: i64) -> Result<usize, StoreError> {
    // A plain read first: an idle node takes no turn at writing every few seconds.
    let (wanted, due) = kernel.db().read_blocking(|conn| {
        let now = clock::now();
        let wanted = diesel::select(diesel::dsl::exists(
            notifications::table.filter(notifications::mail_state.eq(notify::inbox::MAIL_WANTED)),
        ))
        .get_result::<bool>(conn)?;
        let due = diesel::select(diesel::dsl::exists(
            mail_outbox::table.filter(mail_outbox::status.eq(QUEUED)).filter(mail_outbox::next_at.le(now)),
        ))
        .get_result::<bool>(conn)?;
        Ok::<_, StoreError>((wanted, due))
    })?;
    if wanted {
        kernel.db().write_blocking(|conn| queue_notifications(conn, kernel.public_url(), 200))?;
    } else if !due {
        return Ok(0);
    }
    let claimed = kernel.db().write_blocking(|conn| claim(conn, limit))?;
    // One connection per company for the round: a mailing's letters share it.
    let mut connections = super::Connections::default();
    for q in &claimed {
        let outcome = match serde_json::from_str::<Outgoing>(&q.message) {
            Ok(mut m) => {
                if m.message_id.is_none() {
                    m.idempotency_key = Some(q.id.clone());
                }
                super::send_on(kernel, &q.company_id, &m, &mut connections)
            }
            Err(e) => Err(MailError::Rejected(format!("the queued message cannot be read: {e}"))),
        };
        if let Err(e) = &outcome {
            tracing::info!(company = q.company_id, id = q.id, error = %e, "a queued message was not sent");
        }
        finish(kernel, q, &outcome)?;
    }
    Ok(claimed.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_two_hours() {
        let minutes: Vec<i64> = (1..=9).map(|a| backoff_micros(a) / 60_000_000).collect();
        assert_eq!(minutes, [1, 2, 4, 8, 16, 32, 64, 120, 120]);
    }

    #[test]
    fn notification_words_carry_every_language_russian_first() {
        assert_eq!(words("\"Hello\"", " / "), "Hello");
        assert_eq!(words(r#"{"en":"Call","ru":"Звонок"}"#, " / "), "Звонок / Call");
        assert_eq!(words(r#"{"en":"Same","ru":"Same"}"#, " / "), "Same");
    }
}
