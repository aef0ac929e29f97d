//! Storage quotas: records, stored bytes and events, per company and per plugin in a
//! company. Usage is counted in `plugin_usage`, in the same transaction as the change, so it
//! cannot drift; a change that would pass a quota is refused and what is stored stays.

use diesel::prelude::*;

use crate::plugin_error::PluginError;
use crate::storage::schema::plugin_usage;
use crate::storage::{DbConn, StoreError};

/// Quotas; `None` means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    /// Records of one company (all plugins).
    pub company_records: Option<i64>,
    /// Records of one plugin in one company.
    pub plugin_records: Option<i64>,
    /// Bytes of record data of one company.
    pub company_bytes: Option<i64>,
    /// Bytes of record data of one plugin in one company.
    pub plugin_bytes: Option<i64>,
    /// Events published by one company's plugins.
    pub company_events: Option<i64>,
    /// Events published by one plugin in one company.
    pub plugin_events: Option<i64>,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            company_records: Some(2_000_000),
            plugin_records: Some(1_000_000),
            company_bytes: Some(2 * 1024 * 1024 * 1024),
            plugin_bytes: Some(1024 * 1024 * 1024),
            company_events: Some(20_000_000),
            plugin_events: Some(10_000_000),
        }
    }
}

/// What a company or one of its plugins uses, or a change of that (negative: freed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Queryable)]
pub struct Usage {
    /// Records.
    pub records: i64,
    /// Bytes of record data.
    pub bytes: i64,
    /// Events published.
    pub events: i64,
}

impl std::ops::Add for Usage {
    type Output = Usage;

    fn add(self, o: Usage) -> Usage {
        Usage { records: self.records + o.records, bytes: self.bytes + o.bytes, events: self.events + o.events }
    }
}

/// The size a record's data takes when stored (its JSON text), counted without building it.
pub fn stored_bytes(data: &serde_json::Map<String, serde_json::Value>) -> i64 {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing a map of JSON values cannot fail.
    let _ = serde_json::to_writer(&mut count, data);
    count.0 as i64
}

/// A change would pass a quota.
#[derive(Debug, thiserror::Error)]
pub enum QuotaError {
    /// Over a quota.
    #[error("quota exceeded: {what} would reach {would} of the {limit} allowed{scope}; nothing was saved")]
    Exceeded {
        /// Records, bytes or events.
        what: &'static str,
        /// Whose quota (" for plugin x" or " for the company").
        scope: String,
        /// The quota.
        limit: i64,
        /// What the change would have made it.
        would: i64,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<QuotaError> for PluginError {
    fn from(e: QuotaError) -> Self {
        match e {
            QuotaError::Store(s) => PluginError::Store(s),
            e @ QuotaError::Exceeded { .. } => PluginError::Quota(e.to_string()),
        }
    }
}

/// Usage of each plugin in a company.
pub fn usage(conn: &mut DbConn, company_id: &str) -> Result<Vec<(String, Usage)>, StoreError> {
    let rows: Vec<(String, i64, i64, i64)> = plugin_usage::table
        .filter(plugin_usage::company_id.eq(company_id))
        .order(plugin_usage::plugin.asc())
        .select((plugin_usage::plugin, plugin_usage::records, plugin_usage::bytes, plugin_usage::events))
        .load(conn)?;
    Ok(rows.into_iter().map(|(p, records, bytes, events)| (p, Usage { records, bytes, events })).collect())
}

/// Applies a change of usage, refusing it when it grows past a quota.
pub fn charge(conn: &mut DbConn, quotas: &Quotas, company_id: &str, plugin: &str, d: Usage) -> Result<(), QuotaError> {
    let grows = d.records > 0 || d.bytes > 0 || d.events > 0;
    if grows {
        let all = usage(conn, company_id)?;
        let mine = all.iter().find(|(p, _)| p == plugin).map(|(_, u)| *u).unwrap_or_default();
        let total = all.iter().fold(Usage::default(), |a, (_, u)| a + *u);
        let for_plugin = format!(" for plugin {plugin} in this company");
        let checks = [
            ("records", d.records, mine.records, quotas.plugin_records, for_plugin.as_str()),
            ("records", d.records, total.records, quotas.company_records, " for the company"),
            ("bytes of record data", d.bytes, mine.bytes, quotas.plugin_bytes, for_plugin.as_str()),
            ("bytes of record data", d.bytes, total.bytes, quotas.company_bytes, " for the company"),
            ("events", d.events, mine.events, quotas.plugin_events, for_plugin.as_str()),
            ("events", d.events, total.events, quotas.company_events, " for the company"),
        ];
        for (what, delta, used, limit, scope) in checks {
            if let Some(limit) = limit
                && delta > 0
                && used + delta > limit
            {
                return Err(QuotaError::Exceeded { what, scope: scope.to_string(), limit, would: used + delta });
            }
        }
    }
    let n = diesel::update(plugin_usage::table.find((company_id, plugin)))
        .set((
            plugin_usage::records.eq(plugin_usage::records + d.records),
            plugin_usage::bytes.eq(plugin_usage::bytes + d.bytes),
            plugin_usage::events.eq(plugin_usage::events + d.events),
        ))
        .execute(conn)
        .map_err(StoreError::from)?;
    if n == 0 {
        insert(
            conn,
            company_id,
            plugin,
            Usage { records: d.records.max(0), bytes: d.bytes.max(0), events: d.events.max(0) },
        )?;
    }
    Ok(())
}

fn insert(conn: &mut DbConn, company_id: &str, plugin: &str, u: Usage) -> Result<(), StoreError> {
    diesel::insert_into(plugin_usage::table)
        .values((
            plugin_usage::company_id.eq(company_id),
            plugin_usage::plugin.eq(plugin),
            plugin_usage::records.eq(u.records),
            plugin_usage::bytes.eq(u.bytes),
            plugin_usage::events.eq(u.events),
        ))
        .execute(conn)?;
    Ok(())
}

/// Makes sure a plugin enabled in a company has its usage row, so that later changes only
/// update it (no insert races between concurrent first writes).
pub fn open(conn: &mut DbConn, company_id: &str, plugin: &str) -> Result<(), StoreError> {
    let exists: i64 = plugin_usage::table.find((company_id, plugin)).count().get_result(conn)?;
    if exists == 0 {
        insert(conn, company_id, plugin, Usage::default())?;
    }
    Ok(())
}
