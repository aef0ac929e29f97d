//! Mail waiting to go out. A message is queued in the transaction that decided to send it
//! ([`enqueue`]), so it exists exactly when that change committed; the node's mail worker
//! ([`deliver_due`]) claims due messages under a lease, sends each outside any transaction and
//! records the outcome: sent, refused for good by the relay, or retried with backoff until the
//! attempts run out. Sending is at least once; the Message-ID comes from the row's id, so a
//! message sent twice after a crash carries the same id both times.
//!
//! Notifications whose recipient chose "app and e-mail" are queued here by the same worker.

use diesel::prelude::*;

use super::message::Outgoing;
use super::{MailError, message};
use crate::clock;
use crate::ids;
use crate::notify::{self, Text};
use crate::outbound::OutboundError;
use crate::paging::{Page, PageRequest};
use crate::plugins::Kernel;
use crate::storage::schema::{companies, mail_outbox, notifications, users};
use crate::storage::{DbConn, StoreError};

/// Waiting to be sent (or being sent, under a lease).
pub const QUEUED: &str = "queued";
/// Handed to the relay.
pub const SENT: &str = "sent";
/// The relay refused it for good (an unknown recipient, a rejected sender).
pub const REFUSED: &str = "refused";
/// Not sent after the last attempt.
pub const FAILED: &str = "failed";

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
    /// `queued`, `sent`, `refused` or `failed`.
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
}

/// Queues `m` for the company in the caller's transaction; answers its id. The message is
/// checked now, so a bad one is refused to whoever queues it.
pub fn enqueue(conn: &mut DbConn, company_id: &str, source: &str, m: &Outgoing) -> Result<String, MailError> {
    let placeholder = "outbox@example.com".parse().map_err(|_| MailError::NotConfigured("no placeholder sender"))?;
    message::build(placeholder, m)?;
    let id = ids::new_id();
    insert(conn, &id, company_id, source, m)?;
    Ok(id)
}

fn insert(conn: &mut DbConn, id: &str, company_id: &str, source: &str, m: &Outgoing) -> Result<(), StoreError> {
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

/// Queues the e-mails of notifications whose recipients want them by mail; answers how many.
pub fn queue_notifications(conn: &mut DbConn, limit: i64) -> Result<usize, StoreError> {
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
            insert(conn, id, company_id, NOTIFICATIONS, &m)?;
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

/// What became of one message.
fn settle(conn: &mut DbConn, q: &Queued, outcome: &Result<String, MailError>) -> Result<(), StoreError> {
    let now = clock::now();
    let mine = mail_outbox::table.filter(mail_outbox::id.eq(&q.id)).filter(mail_outbox::next_at.eq(q.next_at));
    match outcome {
        Ok(message_id) => diesel::update(mine)
            .set((
                mail_outbox::status.eq(SENT),
                mail_outbox::message_id.eq(message_id),
                mail_outbox::sent_at.eq(now),
                mail_outbox::error.eq(None::<String>),
            ))
            .execute(conn)?,
        // The company's rate: not the message's fault, so not an attempt.
        Err(MailError::Outbound(OutboundError::Limit(e))) => diesel::update(mine)
            .set((
                mail_outbox::next_at.eq(now + 60 * 1_000_000),
                mail_outbox::attempts.eq(q.attempts - 1),
                mail_outbox::error.eq(e),
            ))
            .execute(conn)?,
        Err(e) if !e.is_transient() && !matches!(e, MailError::NotConfigured(_) | MailError::Secret(_)) => {
            diesel::update(mine)
                .set((mail_outbox::status.eq(REFUSED), mail_outbox::error.eq(e.to_string())))
                .execute(conn)?
        }
        Err(e) if q.attempts >= MAX_ATTEMPTS => diesel::update(mine)
            .set((mail_outbox::status.eq(FAILED), mail_outbox::error.eq(e.to_string())))
            .execute(conn)?,
        Err(e) => diesel::update(mine)
            .set((mail_outbox::next_at.eq(now + backoff_micros(q.attempts)), mail_outbox::error.eq(e.to_string())))
            .execute(conn)?,
    };
    Ok(())
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
        kernel.db().write_blocking(|conn| queue_notifications(conn, 200))?;
    } else if !due {
        return Ok(0);
    }
    let claimed = kernel.db().write_blocking(|conn| claim(conn, limit))?;
    for q in &claimed {
        let outcome = match serde_json::from_str::<Outgoing>(&q.message) {
            Ok(mut m) => {
                m.idempotency_key = Some(q.id.clone());
                super::send(kernel, &q.company_id, &m)
            }
            Err(e) => Err(MailError::Rejected(format!("the queued message cannot be read: {e}"))),
        };
        if let Err(e) = &outcome {
            tracing::info!(company = q.company_id, id = q.id, error = %e, "a queued message was not sent");
        }
        kernel.db().write_blocking(|conn| settle(conn, q, &outcome))?;
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
