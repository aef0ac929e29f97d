//! The record store: typed access to the collections declared in the manifest.
//!
//! Collections are named `name` for the plugin's own, or `plugin.name` for another plugin's
//! collection that the admin granted. Every call is scoped to the current company.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::bindings::erp::plugin::store as wit;
use crate::error::Result;

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
    let answer: AggregateAnswer = serde_json::from_str(&wit::aggregate(collection, &request.to_json().to_string())?)?;
    Ok(answer.groups)
}

/// A filter over record fields. Build it with [`Filter::eq`] and friends.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// One comparison.
    Cmp {
        /// Field name (or `id`, `created_at`, `updated_at`).
        field: String,
        /// Operator: `eq`, `ne`, `lt`, `lte`, `gt`, `gte`, `in`, `prefix`, `contains`.
        op: &'static str,
        /// The value compared with.
        value: Value,
    },
    /// All must hold.
    And(Vec<Filter>),
    /// At least one must hold.
    Or(Vec<Filter>),
}

impl Filter {
    fn cmp(field: &str, op: &'static str, value: impl Into<Value>) -> Filter {
        Filter::Cmp { field: field.to_string(), op, value: value.into() }
    }
    /// `field == value`.
    pub fn eq(field: &str, value: impl Into<Value>) -> Filter {
        Filter::cmp(field, "eq", value)
    }
    /// `field != value`.
    pub fn ne(field: &str, value: impl Into<Value>) -> Filter {
        Filter::cmp(field, "ne", value)
    }
    /// `field < value`.
    pub fn lt(field: &str, value: impl Into<Value>) -> Filter {
        Filter::cmp(field, "lt", value)
    }
    /// `field <= value`.
    pub fn lte(field: &str, value: impl Into<Value>) -> Filter {
        Filter::cmp(field, "lte", value)
    }
    /// `field > value`.
    pub fn gt(field: &str, value: impl Into<Value>) -> Filter {
        Filter::cmp(field, "gt", value)
    }
    /// `field >= value`.
    pub fn gte(field: &str, value: impl Into<Value>) -> Filter {
        Filter::cmp(field, "gte", value)
    }
    /// `field` is one of `values`.
    pub fn is_in(field: &str, values: Vec<Value>) -> Filter {
        Filter::cmp(field, "in", Value::Array(values))
    }
    /// Text `field` starts with `prefix`.
    pub fn prefix(field: &str, prefix: &str) -> Filter {
        Filter::cmp(field, "prefix", prefix)
    }
    /// Text `field` contains `needle`, ignoring case.
    pub fn contains(field: &str, needle: &str) -> Filter {
        Filter::cmp(field, "contains", needle)
    }
    /// All of `filters`.
    pub fn and(filters: Vec<Filter>) -> Filter {
        Filter::And(filters)
    }
    /// Any of `filters`.
    pub fn or(filters: Vec<Filter>) -> Filter {
        Filter::Or(filters)
    }

    /// The JSON form the kernel understands.
    pub fn to_json(&self) -> Value {
        match self {
            Filter::Cmp { field, op, value } => json!({ "field": field, "op": op, "value": value }),
            Filter::And(v) => json!({ "and": v.iter().map(Filter::to_json).collect::<Vec<_>>() }),
            Filter::Or(v) => json!({ "or": v.iter().map(Filter::to_json).collect::<Vec<_>>() }),
        }
    }
}

/// A query: filter, sort, page size and cursor.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    filter: Option<Filter>,
    sort: Option<(String, bool)>,
    limit: Option<u32>,
    cursor: Option<String>,
}

impl Query {
    /// All records, oldest first.
    pub fn new() -> Query {
        Query::default()
    }
    /// Only records matching `filter`.
    pub fn filter(mut self, filter: Filter) -> Query {
        self.filter = Some(filter);
        self
    }
    /// Sort ascending by an indexed field (or `id`, `created_at`, `updated_at`).
    pub fn sort_asc(mut self, field: &str) -> Query {
        self.sort = Some((field.to_string(), false));
        self
    }
    /// Sort descending by an indexed field (or `id`, `created_at`, `updated_at`).
    pub fn sort_desc(mut self, field: &str) -> Query {
        self.sort = Some((field.to_string(), true));
        self
    }
    /// At most `limit` records per page (1..=500).
    pub fn limit(mut self, limit: u32) -> Query {
        self.limit = Some(limit);
        self
    }
    /// Continue after a previous page.
    pub fn cursor(mut self, cursor: impl Into<String>) -> Query {
        self.cursor = Some(cursor.into());
        self
    }

    /// The JSON form the kernel understands.
    pub fn to_json(&self) -> Value {
        let mut q = serde_json::Map::new();
        if let Some(f) = &self.filter {
            q.insert("filter".into(), f.to_json());
        }
        if let Some((field, desc)) = &self.sort {
            q.insert("sort".into(), json!({ "field": field, "desc": desc }));
        }
        if let Some(l) = self.limit {
            q.insert("limit".into(), json!(l));
        }
        if let Some(c) = &self.cursor {
            q.insert("cursor".into(), json!(c));
        }
        Value::Object(q)
    }
}

/// An aggregation: group records and compute metrics per group.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Aggregate {
    filter: Option<Filter>,
    group_by: Vec<String>,
    metrics: Vec<Value>,
}

impl Aggregate {
    /// An aggregation over all records (one group unless [`Aggregate::group_by`] is used).
    pub fn new() -> Aggregate {
        Aggregate::default()
    }
    /// Only records matching `filter`.
    pub fn filter(mut self, filter: Filter) -> Aggregate {
        self.filter = Some(filter);
        self
    }
    /// Group by a field.
    pub fn group_by(mut self, field: &str) -> Aggregate {
        self.group_by.push(field.to_string());
        self
    }
    /// Number of records, named `count`.
    pub fn count(mut self) -> Aggregate {
        self.metrics.push(json!({ "op": "count" }));
        self
    }
    /// `sum`, `min`, `max` or `avg` of a field, named `<op>_<field>`.
    pub fn metric(mut self, op: &str, field: &str) -> Aggregate {
        self.metrics.push(json!({ "op": op, "field": field }));
        self
    }

    /// The JSON form the kernel understands.
    pub fn to_json(&self) -> Value {
        let mut a = serde_json::Map::new();
        if let Some(f) = &self.filter {
            a.insert("filter".into(), f.to_json());
        }
        a.insert("group_by".into(), json!(self.group_by));
        a.insert("metrics".into(), Value::Array(self.metrics.clone()));
        Value::Object(a)
    }
}

/// One group of an aggregation.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Group {
    /// The group's values of the `group_by` fields.
    pub key: serde_json::Map<String, Value>,
    /// Metric name to value. Sums of decimals are exact decimal strings.
    pub values: serde_json::Map<String, Value>,
}

impl Group {
    /// A metric as exact decimal text (sums come as strings, counts as integers), for the
    /// plugin to parse into its decimal type.
    pub fn number(&self, name: &str) -> Option<String> {
        let v = self.values.get(name)?;
        v.as_str().map(str::to_string).or_else(|| v.as_i64().map(|i| i.to_string()))
    }

    /// The text of a `group_by` field in this group.
    pub fn key_text(&self, field: &str) -> Option<&str> {
        self.key.get(field).and_then(Value::as_str)
    }
}

#[derive(Deserialize)]
struct AggregateAnswer {
    groups: Vec<Group>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_json() {
        let q = Query::new()
            .filter(Filter::and(vec![Filter::eq("status", "open"), Filter::gte("amount", "10.00")]))
            .sort_desc("created_at")
            .limit(20);
        assert_eq!(
            q.to_json(),
            json!({
                "filter": { "and": [
                    { "field": "status", "op": "eq", "value": "open" },
                    { "field": "amount", "op": "gte", "value": "10.00" }
                ] },
                "sort": { "field": "created_at", "desc": true },
                "limit": 20
            })
        );
    }

    #[test]
    fn aggregate_json() {
        let a = Aggregate::new().group_by("stage").count().metric("sum", "amount");
        assert_eq!(
            a.to_json(),
            json!({ "group_by": ["stage"], "metrics": [{ "op": "count" }, { "op": "sum", "field": "amount" }] })
        );
    }
}
