//! Quarantine: a plugin whose calls keep hitting their limits in one company (time, memory,
//! holding the write lock) is stopped there. Its deliveries wait, its commands, webhooks,
//! schedules and hooks are refused, until the company's admin releases it. Other companies
//! are not affected.

use diesel::prelude::*;

use crate::clock;
use crate::plugin_error::Limit;
use crate::storage::schema::plugin_health;
use crate::storage::{DbConn, StoreError};

/// A plugin's standing in one company.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct Health {
    /// The plugin.
    pub plugin: String,
    /// Limit hits in the current window.
    pub strikes: i32,
    /// When it was quarantined, if it is.
    pub quarantined_at: Option<i64>,
    /// The last limit it hit ([`Limit::code`]).
    pub limit: Option<String>,
    /// What happened then, for the admin.
    pub reason: Option<String>,
}

/// True for the limits a misbehaving plugin hits (not the request's deadline, which may be
/// the caller's, nor a full node).
pub fn counts(limit: Limit) -> bool {
    matches!(limit, Limit::Time | Limit::Memory | Limit::WriteHold)
}

/// Records a limit hit; returns true when it put the plugin in quarantine just now.
pub fn strike(
    conn: &mut DbConn,
    company_id: &str,
    plugin: &str,
    limit: Limit,
    reason: &str,
    threshold: u32,
    window: std::time::Duration,
) -> Result<bool, StoreError> {
    let now = clock::now();
    let reason: String = reason.chars().take(1000).collect();
    let row: Option<(i32, i64, Option<i64>)> = plugin_health::table
        .find((company_id, plugin))
        .select((plugin_health::strikes, plugin_health::window_start, plugin_health::quarantined_at))
        .first(conn)
        .optional()?;
    let window = window.as_micros() as i64;
    let (strikes, start) = match row {
        Some((_, _, Some(_))) => return Ok(false),
        Some((n, start, None)) if now - start <= window => (n + 1, start),
        Some(_) => (1, now),
        None => {
            diesel::insert_into(plugin_health::table)
                .values((
                    plugin_health::company_id.eq(company_id),
                    plugin_health::plugin.eq(plugin),
                    plugin_health::strikes.eq(0),
                    plugin_health::window_start.eq(now),
                    plugin_health::quarantined_at.eq(None::<i64>),
                    plugin_health::limit_kind.eq(None::<String>),
                    plugin_health::reason.eq(None::<String>),
                ))
                .execute(conn)?;
            (1, now)
        }
    };
    let quarantine = strikes as u32 >= threshold.max(1);
    diesel::update(plugin_health::table.find((company_id, plugin)))
        .set((
            plugin_health::strikes.eq(strikes),
            plugin_health::window_start.eq(start),
            plugin_health::quarantined_at.eq(quarantine.then_some(now)),
            plugin_health::limit_kind.eq(Some(limit.code())),
            plugin_health::reason.eq(Some(reason)),
        ))
        .execute(conn)?;
    Ok(quarantine)
}

/// When the plugin was quarantined in the company, if it is.
pub fn quarantined(conn: &mut DbConn, company_id: &str, plugin: &str) -> Result<Option<i64>, StoreError> {
    let at: Option<Option<i64>> =
        plugin_health::table.find((company_id, plugin)).select(plugin_health::quarantined_at).first(conn).optional()?;
    Ok(at.flatten())
}

/// The standing of every plugin with strikes or in quarantine in the company.
pub fn list(conn: &mut DbConn, company_id: &str) -> Result<Vec<Health>, StoreError> {
    let rows: Vec<Health> = plugin_health::table
        .filter(plugin_health::company_id.eq(company_id))
        .order(plugin_health::plugin.asc())
        .select((
            plugin_health::plugin,
            plugin_health::strikes,
            plugin_health::quarantined_at,
            plugin_health::limit_kind,
            plugin_health::reason,
        ))
        .load(conn)?;
    Ok(rows)
}

/// Releases the plugin; false when it was not quarantined.
pub fn release(conn: &mut DbConn, company_id: &str, plugin: &str) -> Result<bool, StoreError> {
    if quarantined(conn, company_id, plugin)?.is_none() {
        return Ok(false);
    }
    diesel::update(plugin_health::table.find((company_id, plugin)))
        .set((plugin_health::strikes.eq(0), plugin_health::quarantined_at.eq(None::<i64>)))
        .execute(conn)?;
    Ok(true)
}
