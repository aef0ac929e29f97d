//! The audit log: who did what to which object in which company, with what outcome.
//!
//! Successful changes are recorded in the same transaction as the change itself, so an audit
//! record exists exactly when the change committed. Refusals for missing permissions are
//! recorded on their own, because the refused change never commits, and [`refusals`] folds
//! repeats of one refusal within a minute into one record.

pub mod refusals;

use diesel::prelude::*;

use crate::clock;
use crate::ids;
use crate::paging::{Page, PageRequest};
use crate::storage::schema::audit_log;
use crate::storage::{DbConn, StoreError};

/// Who acted, and in which request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actor {
    /// The user, when known.
    pub user_id: Option<String>,
    /// The HTTP request id, when there was one.
    pub request_id: Option<String>,
}

impl Actor {
    /// A user acting in a request.
    pub fn user(user_id: &str, request_id: Option<&str>) -> Actor {
        Actor { user_id: Some(user_id.to_string()), request_id: request_id.map(str::to_string) }
    }

    /// The command line or the kernel itself.
    pub fn system() -> Actor {
        Actor::default()
    }
}

/// How an audited action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The change committed.
    Success,
    /// The caller lacked a permission.
    Denied,
    /// The action failed (for example a wrong password).
    Failure,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Denied => "denied",
            Outcome::Failure => "failure",
        }
    }
}

/// An audit record to write.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    /// The company, or `None` for platform-level actions.
    pub company_id: Option<&'a str>,
    /// Who acted.
    pub actor: &'a Actor,
    /// Dotted action name such as `member.add`.
    pub action: &'a str,
    /// Kind of object acted on, such as `user` or `role`.
    pub object_type: &'a str,
    /// The object's id, when there is one.
    pub object_id: Option<&'a str>,
    /// How it ended.
    pub outcome: Outcome,
    /// Extra facts as JSON (never secrets).
    pub detail: serde_json::Value,
}

/// A stored audit record.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct Record {
    /// Record id (time-ordered).
    pub id: String,
    /// Company.
    pub company_id: Option<String>,
    /// Acting user.
    pub actor_id: Option<String>,
    /// Action name.
    pub action: String,
    /// Object kind.
    pub object_type: String,
    /// Object id.
    pub object_id: Option<String>,
    /// `success`, `denied` or `failure`.
    pub outcome: String,
    /// JSON text.
    pub detail: String,
    /// HTTP request id.
    pub request_id: Option<String>,
    /// Time.
    pub at: i64,
}

/// Longest request id kept: it comes from the client's `X-Request-Id` header.
pub const MAX_REQUEST_ID_CHARS: usize = 128;

/// A client-supplied request id as stored: printable ASCII only, at most
/// [`MAX_REQUEST_ID_CHARS`] characters.
pub fn bounded_request_id(raw: &str) -> String {
    raw.chars().filter(|c| c.is_ascii_graphic()).take(MAX_REQUEST_ID_CHARS).collect()
}

/// Writes one audit record on `conn` (inside the caller's transaction).
pub fn record(conn: &mut DbConn, entry: Entry<'_>) -> Result<(), StoreError> {
    let request_id = entry.actor.request_id.as_deref().map(bounded_request_id);
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::id.eq(ids::new_id()),
            audit_log::company_id.eq(entry.company_id),
            audit_log::actor_id.eq(entry.actor.user_id.as_deref()),
            audit_log::action.eq(entry.action),
            audit_log::object_type.eq(entry.object_type),
            audit_log::object_id.eq(entry.object_id),
            audit_log::outcome.eq(entry.outcome.as_str()),
            audit_log::detail.eq(entry.detail.to_string()),
            audit_log::request_id.eq(request_id),
            audit_log::at.eq(clock::now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// A company's audit records, newest first.
pub fn list(conn: &mut DbConn, company_id: &str, page: &PageRequest) -> Result<Page<Record>, StoreError> {
    let mut query = audit_log::table
        .filter(audit_log::company_id.eq(company_id))
        .order(audit_log::id.desc())
        .limit(page.fetch())
        .select(Record::as_select())
        .into_boxed();
    if let Some(before) = &page.after {
        query = query.filter(audit_log::id.lt(before.clone()));
    }
    let rows = query.load(conn)?;
    Ok(Page::from_rows(rows, page, |r| r.id.clone()))
}
