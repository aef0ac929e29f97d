//! The outbound log: one row per request to a host outside the platform (who made it, the
//! method, `scheme://host:port`, the status or why it was refused, how long it took), for the
//! company's administrators. Never bodies, paths or queries: they may hold tokens.

use diesel::prelude::*;

use crate::clock;
use crate::paging::{Page, PageRequest};
use crate::storage::schema::outbound_log;
use crate::storage::{DbConn, StoreError};

/// How long rows are kept.
pub const KEEP_DAYS: i64 = 30;

/// A request as the log keeps it.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    /// The company the request was made for.
    pub company_id: &'a str,
    /// The plugin that made it, or `webhooks`.
    pub source: &'a str,
    /// HTTP method.
    pub method: &'a str,
    /// `scheme://host:port` (of the last hop when redirected).
    pub host: &'a str,
    /// The answer's status, if one came.
    pub status: Option<u16>,
    /// `ok`, `denied`, `invalid`, `limit` or `failed`.
    pub outcome: &'a str,
    /// Why it was refused or failed.
    pub error: Option<&'a str>,
    /// Milliseconds from the start to the answer or the failure.
    pub duration_ms: u32,
}

/// A logged request.
#[derive(Debug, Clone, PartialEq, Queryable)]
pub struct LogRow {
    /// Row id (time-ordered).
    pub id: String,
    /// The plugin that made it, or `webhooks`.
    pub source: String,
    /// HTTP method.
    pub method: String,
    /// `scheme://host:port`.
    pub host: String,
    /// The answer's status, if one came.
    pub status: Option<i32>,
    /// `ok`, `denied`, `invalid`, `limit` or `failed`.
    pub outcome: String,
    /// Why it was refused or failed.
    pub error: Option<String>,
    /// Milliseconds it took.
    pub duration_ms: i32,
    /// When it was made (microseconds since the epoch, UTC).
    pub created_at: i64,
}

/// Writes one row.
pub fn record(conn: &mut DbConn, e: &Entry<'_>) -> Result<(), StoreError> {
    let error: Option<String> = e.error.map(|m| m.chars().take(500).collect());
    diesel::insert_into(outbound_log::table)
        .values((
            outbound_log::id.eq(crate::ids::new_id()),
            outbound_log::company_id.eq(e.company_id),
            outbound_log::source.eq(e.source),
            outbound_log::method.eq(e.method),
            outbound_log::host.eq(e.host),
            outbound_log::status.eq(e.status.map(i32::from)),
            outbound_log::outcome.eq(e.outcome),
            outbound_log::error.eq(error),
            outbound_log::duration_ms.eq(i32::try_from(e.duration_ms).unwrap_or(i32::MAX)),
            outbound_log::created_at.eq(clock::now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// A company's requests, newest first, optionally of one source.
pub fn list(
    conn: &mut DbConn,
    company_id: &str,
    source: Option<&str>,
    page: &PageRequest,
) -> Result<Page<LogRow>, StoreError> {
    let mut q = outbound_log::table
        .filter(outbound_log::company_id.eq(company_id))
        .select((
            outbound_log::id,
            outbound_log::source,
            outbound_log::method,
            outbound_log::host,
            outbound_log::status,
            outbound_log::outcome,
            outbound_log::error,
            outbound_log::duration_ms,
            outbound_log::created_at,
        ))
        .into_boxed();
    if let Some(s) = source {
        q = q.filter(outbound_log::source.eq(s.to_string()));
    }
    if let Some(after) = &page.after {
        q = q.filter(outbound_log::id.lt(after.clone()));
    }
    let rows: Vec<LogRow> = q.order(outbound_log::id.desc()).limit(page.fetch()).load(conn)?;
    Ok(Page::from_rows(rows, page, |r| r.id.clone()))
}

/// Deletes rows older than [`KEEP_DAYS`]; answers how many.
pub fn prune(conn: &mut DbConn) -> Result<usize, StoreError> {
    let before = clock::now() - KEEP_DAYS * 86_400 * 1_000_000;
    Ok(diesel::delete(outbound_log::table.filter(outbound_log::created_at.lt(before))).execute(conn)?)
}
