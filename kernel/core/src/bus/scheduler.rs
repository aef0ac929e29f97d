//! Plugin schedules: each declared schedule runs per company that enabled the plugin, never
//! overlapping with itself (a lease guards each run), and after downtime it runs once, not
//! once per missed slot.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::BusKernel;
use crate::clock::{self, Micros};
use crate::plugins::PluginError;
use crate::plugins::host::Call;
use crate::plugins::manifest::{ScheduleSpec, parse_interval};
use crate::schedule::Cron;
use crate::session::Session;
use crate::storage::DbConn;
use crate::storage::dialect::claim_rows;
use crate::storage::schema::{company_plugins, schedule_runs};

/// Longest a run may hold its lease (far beyond the longest plugin time limit).
const RUN_LEASE: Micros = clock::seconds(300);

/// The first firing time of a schedule strictly after `after`.
pub fn next_run(spec: &ScheduleSpec, after: Micros) -> Option<Micros> {
    if let Some(every) = spec.every.as_deref().and_then(parse_interval) {
        return Some(after + clock::seconds(every as i64));
    }
    let cron = Cron::parse(spec.cron.as_deref()?).ok()?;
    let t = DateTime::<Utc>::from_timestamp_micros(after)?;
    cron.next_after(t).map(|n| n.timestamp_micros())
}

/// Makes sure every schedule of every enabled plugin has a row, and removes rows whose
/// plugin or schedule is gone. Returns whether anything changed.
fn sync_rows(platform: &dyn BusKernel, conn: &mut DbConn, now: Micros, write: bool) -> Result<bool, PluginError> {
    let mut changed = false;
    let enabled: Vec<(String, String)> =
        company_plugins::table.select((company_plugins::company_id, company_plugins::plugin)).load(conn)?;
    let existing: HashSet<(String, String, String)> = schedule_runs::table
        .select((schedule_runs::company_id, schedule_runs::plugin, schedule_runs::schedule))
        .load::<(String, String, String)>(conn)?
        .into_iter()
        .collect();
    let mut wanted = HashSet::new();
    for (company, plugin) in enabled {
        let Some(manifest) = platform.plugins().current_manifest(conn, &plugin)? else { continue };
        for s in &manifest.schedules {
            let key = (company.clone(), plugin.clone(), s.name.clone());
            if !existing.contains(&key) {
                changed = true;
                if !write {
                    return Ok(true);
                }
                // Interval schedules first run one interval after enabling; cron ones at their slot.
                let Some(next) = next_run(s, now) else { continue };
                diesel::insert_into(schedule_runs::table)
                    .values((
                        schedule_runs::company_id.eq(&company),
                        schedule_runs::plugin.eq(&plugin),
                        schedule_runs::schedule.eq(&s.name),
                        schedule_runs::next_run_at.eq(next),
                        schedule_runs::runs.eq(0_i64),
                    ))
                    .execute(conn)?;
            }
            wanted.insert(key);
        }
    }
    for (company, plugin, schedule) in existing.difference(&wanted) {
        changed = true;
        if !write {
            return Ok(true);
        }
        diesel::delete(schedule_runs::table.find((company, plugin, schedule))).execute(conn)?;
    }
    Ok(changed)
}

/// A schedule run this node claimed.
#[derive(Debug, Clone, Queryable)]
struct Due {
    company_id: String,
    plugin: String,
    schedule: String,
}

/// Runs every due schedule once; returns how many ran.
pub fn tick(platform: &dyn BusKernel) -> Result<usize, PluginError> {
    let me = platform.bus().node.clone();
    let now = clock::now();
    // Idle ticks stay read-only: only take the write lock when rows change or runs are due.
    let busy = platform.db().read_blocking(|conn| {
        let due: i64 = schedule_runs::table
            .filter(schedule_runs::next_run_at.le(now))
            .filter(schedule_runs::lease_until.is_null().or(schedule_runs::lease_until.lt(now)))
            .count()
            .get_result(conn)?;
        Ok::<_, PluginError>(due > 0 || sync_rows(platform, conn, now, false)?)
    })?;
    if !busy {
        return Ok(0);
    }
    let due: Vec<Due> = platform.db().write_blocking(|conn| {
        sync_rows(platform, conn, now, true)?;
        let q = schedule_runs::table
            .filter(schedule_runs::next_run_at.le(now))
            .filter(schedule_runs::lease_until.is_null().or(schedule_runs::lease_until.lt(now)))
            .order(schedule_runs::next_run_at.asc())
            .limit(50)
            .select((schedule_runs::company_id, schedule_runs::plugin, schedule_runs::schedule));
        let due: Vec<Due> = claim_rows!(conn, q)?;
        for d in &due {
            diesel::update(schedule_runs::table.find((&d.company_id, &d.plugin, &d.schedule)))
                .set((
                    schedule_runs::lease_owner.eq(&me),
                    schedule_runs::lease_until.eq(now + RUN_LEASE),
                    schedule_runs::last_started_at.eq(now),
                ))
                .execute(conn)?;
        }
        Ok::<_, PluginError>(due)
    })?;
    for d in &due {
        // One failing run must not hold up the others.
        if let Err(e) = run_one(platform, d, &me) {
            tracing::error!(plugin = %d.plugin, schedule = %d.schedule, error = %e, "could not run a schedule");
            let released = platform.db().write_blocking(|conn| {
                diesel::update(
                    schedule_runs::table
                        .find((&d.company_id, &d.plugin, &d.schedule))
                        .filter(schedule_runs::lease_owner.eq(&me)),
                )
                .set((schedule_runs::lease_owner.eq(None::<String>), schedule_runs::lease_until.eq(None::<i64>)))
                .execute(conn)
                .map_err(crate::storage::StoreError::from)
            });
            if let Err(e) = released {
                tracing::error!(error = %e, "could not release a schedule lease");
            }
        }
    }
    Ok(due.len())
}

fn run_one(platform: &dyn BusKernel, d: &Due, me: &str) -> Result<(), PluginError> {
    let mut session = Session::begin(platform.db(), &d.company_id, None)?;
    let active = match platform.plugins().active(session.reader()?, &d.company_id, &d.plugin) {
        Ok(a) => Arc::new(a),
        // Disabled since: the next tick removes the row.
        Err(PluginError::NotFound(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    let Some(spec) = active.loaded.manifest.schedules.iter().find(|s| s.name == d.schedule).cloned() else {
        return Ok(());
    };
    let outcome =
        platform.plugins().invoke(platform, &mut session, &active, None, Call::Schedule { name: &d.schedule });
    let finished = clock::now();
    let next = next_run(&spec, finished).unwrap_or(finished + clock::seconds(3600));
    let settle = |conn: &mut DbConn, error: Option<String>| -> Result<usize, PluginError> {
        Ok(diesel::update(
            schedule_runs::table
                .find((&d.company_id, &d.plugin, &d.schedule))
                .filter(schedule_runs::lease_owner.eq(me)),
        )
        .set((
            schedule_runs::next_run_at.eq(next),
            schedule_runs::lease_owner.eq(None::<String>),
            schedule_runs::lease_until.eq(None::<i64>),
            schedule_runs::last_finished_at.eq(finished),
            schedule_runs::last_error.eq(error),
            schedule_runs::runs.eq(schedule_runs::runs + 1),
        ))
        .execute(conn)?)
    };
    match outcome {
        Ok(_) => {
            // The run's effects and the schedule's advance commit together.
            if settle(session.conn()?, None)? == 1 {
                session.commit()?;
            }
        }
        Err(e) => {
            drop(session);
            tracing::warn!(plugin = %d.plugin, schedule = %d.schedule, error = %e, "scheduled run failed");
            platform.db().write_blocking(|conn| settle(conn, Some(e.to_string())))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(every: Option<&str>, cron: Option<&str>) -> ScheduleSpec {
        ScheduleSpec { name: "s".into(), every: every.map(str::to_string), cron: cron.map(str::to_string) }
    }

    #[test]
    fn next_runs() {
        let t0 = clock::parse_rfc3339("2026-11-29T10:15:00Z").expect("time");
        assert_eq!(next_run(&spec(Some("15m"), None), t0), Some(t0 + clock::seconds(900)));
        assert_eq!(next_run(&spec(None, Some("0 3 * * *")), t0), clock::parse_rfc3339("2026-11-30T03:00:00Z"));
    }
}
