//! Bulk loading for `erp bench`: the rows the record store writes for records, their index
//! keys, references and unique values, inserted many at a time so that loading a million
//! records takes seconds rather than hours.

use diesel::connection::SimpleConnection;

use erp_kernel::Platform;
use erp_kernel::storage::{Backend, StoreError};

/// Rows waiting to be inserted, all in one company and plugin.
pub struct Rows<'a> {
    company_id: &'a str,
    plugin: &'a str,
    records: Vec<String>,
    keys: Vec<String>,
    refs: Vec<String>,
    unique: Vec<String>,
}

impl<'a> Rows<'a> {
    /// Nothing yet, for records of `plugin` in `company_id`.
    pub fn new(company_id: &'a str, plugin: &'a str) -> Rows<'a> {
        Rows { company_id, plugin, records: Vec::new(), keys: Vec::new(), refs: Vec::new(), unique: Vec::new() }
    }

    /// A record of `collection` with its data as JSON text (no single quotes in it).
    pub fn record(&mut self, id: &str, collection: &str, version: i64, data: &str) {
        let (co, p) = (self.company_id, self.plugin);
        self.records.push(format!("('{id}', '{co}', '{p}', '{collection}', {version}, '{data}', 0, 0)"));
    }

    /// The text index key of a field.
    pub fn key(&mut self, id: &str, collection: &str, field: &str, text: &str) {
        let (co, p) = (self.company_id, self.plugin);
        self.keys.push(format!("('{id}', '{co}', '{p}', '{collection}', '{field}', '{text}')"));
    }

    /// A reference field, also indexed.
    pub fn reference(&mut self, id: &str, collection: &str, field: &str, to: &str) {
        self.key(id, collection, field, to);
        self.refs.push(format!("('{id}', '{field}', '{to}')"));
    }

    /// A unique field, also indexed.
    pub fn unique(&mut self, id: &str, collection: &str, field: &str, value: &str) {
        self.key(id, collection, field, value);
        let (co, p) = (self.company_id, self.plugin);
        self.unique.push(format!("('{co}', '{p}', '{collection}', '{field}', '{value}', '{id}')"));
    }

    /// Records waiting.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Inserts what is waiting in one transaction and starts over.
    pub fn flush(&mut self, platform: &Platform) -> anyhow::Result<()> {
        let mut sql = String::new();
        let mut add = |table: &str, columns: &str, rows: &mut Vec<String>| {
            if !rows.is_empty() {
                sql.push_str(&format!("INSERT INTO {table} ({columns}) VALUES {};", rows.join(", ")));
                rows.clear();
            }
        };
        add("records", "id, company_id, plugin, collection, version, data, created_at, updated_at", &mut self.records);
        add("record_keys", "record_id, company_id, plugin, collection, field, key_text", &mut self.keys);
        add("record_refs", "from_id, field, to_id", &mut self.refs);
        add("record_unique", "company_id, plugin, collection, field, value, record_id", &mut self.unique);
        if !sql.is_empty() {
            platform.db.write_blocking(|conn| conn.batch_execute(&sql).map_err(StoreError::from))?;
        }
        Ok(())
    }
}

/// After a bulk load PostgreSQL's planner statistics are stale until autovacuum catches up;
/// the benchmarks measure the steady state.
pub fn analyze(platform: &Platform) -> anyhow::Result<()> {
    if platform.db.backend() == Backend::Postgres {
        platform.db.read_blocking(|conn| {
            conn.batch_execute("ANALYZE records; ANALYZE record_keys; ANALYZE record_refs; ANALYZE record_unique;")
                .map_err(StoreError::from)
        })?;
    }
    Ok(())
}
