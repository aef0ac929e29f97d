//! The record store: typed access to the collections declared in the manifest.
//!
//! Collections are named `name` for the plugin's own, or `plugin.name` for another plugin's
//! collection that the admin granted. Every call is scoped to the current company.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::erp::plugin::store as wit;
use crate::error::Result;

/// The query language, shared with the kernel (crate `erp-query`).
pub use erp_query::{Aggregate, Filter, Group, Metric, MetricOp, Op, Query, Sort};

/// A stored record with typed data.
#[derive(Debug, Clone, PartialEq)]
pub struct Record<T> {
    /// Record id.
    pub id: String,
    /// Version for optimistic concurrency.
    pub version: u64,
    /// The fields.
    pub data: T,
    /// Creation time (RFC 3339 UTC).
    pub created_at: String,
    /// Last change (RFC 3339 UTC).
    pub updated_at: String,
}

impl<T: DeserializeOwned> Record<T> {
    fn from_entry(e: wit::Entry) -> Result<Record<T>> {
        Ok(Record {
            id: e.id,
            version: e.version,
            data: serde_json::from_str(&e.data)?,
            created_at: e.created_at,
            updated_at: e.updated_at,
        })
    }
}

/// One page of query results.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The records.
    pub records: Vec<Record<T>>,
    /// Cursor for the next page, if any.
    pub next_cursor: Option<String>,
}

/// Reads a record.
pub fn get<T: DeserializeOwned>(collection: &str, id: &str) -> Result<Record<T>> {
    Record::from_entry(wit::get(collection, id)?)
}

/// Creates a record.
pub fn create<T: Serialize + DeserializeOwned>(collection: &str, data: &T) -> Result<Record<T>> {
    Record::from_entry(wit::create(collection, &serde_json::to_string(data)?)?)
}

/// Changes the fields in `patch` (a JSON object; `null` clears a field). With
/// `expected_version`, a concurrent change makes this a `Conflict`.
pub fn update<T: DeserializeOwned>(
    collection: &str,
    id: &str,
    patch: &impl Serialize,
    expected_version: Option<u64>,
) -> Result<Record<T>> {
    Record::from_entry(wit::update(collection, id, &serde_json::to_string(patch)?, expected_version)?)
}

/// Deletes a record.
pub fn delete(collection: &str, id: &str, expected_version: Option<u64>) -> Result<()> {
    Ok(wit::delete(collection, id, expected_version)?)
}

/// Runs a query.
pub fn query<T: DeserializeOwned>(collection: &str, query: &Query) -> Result<Page<T>> {
    let page = wit::query(collection, &query.to_json().to_string())?;
    Ok(Page {
        records: page.entries.into_iter().map(Record::from_entry).collect::<Result<_>>()?,
        next_cursor: page.next_cursor,
    })
}

/// Every record a query matches, read page by page (500 at a time). More than `cap` records
/// is an error rather than a silent cut: a command that needs more must page itself.
pub fn query_all<T: DeserializeOwned>(collection: &str, query: Query, cap: usize) -> Result<Vec<Record<T>>> {
    let mut out = Vec::new();
    let mut q = query.limit(500);
    loop {
        let page = self::query::<T>(collection, &q)?;
        out.extend(page.records);
        match page.next_cursor {
            Some(_) if out.len() >= cap => {
                return Err(crate::Error::Failed(format!("more than {cap} {collection} records to read")));
            }
            Some(c) => q = q.cursor(c),
            None => return Ok(out),
        }
    }
}

/// The first record a query matches, if any.
pub fn first<T: DeserializeOwned>(collection: &str, query: Query) -> Result<Option<Record<T>>> {
    Ok(self::query::<T>(collection, &query.limit(1))?.records.into_iter().next())
}

/// Runs an aggregation and returns its groups.
pub fn aggregate(collection: &str, request: &Aggregate) -> Result<Vec<Group>> {
    let answer: erp_query::AggregateAnswer =
        serde_json::from_str(&wit::aggregate(collection, &request.to_json().to_string())?)?;
    Ok(answer.groups)
}
