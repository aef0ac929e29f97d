//! Demo data without knowing any plugin: each plugin that declares `[demo]` fills a demo
//! company through its own code, called in steps (the protocol is [`erp_query::demo`]); the
//! kernel only orders the plugins and runs the steps.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::Value;

use super::host::{Answer, Call};
use super::manifest::Manifest;
use super::{Kernel, PluginError};
use crate::access::CompanyScope;
use crate::access::permissions::PLUGINS_MANAGE;
use crate::session::Session;

pub use erp_query::demo::{DEMO_COMMAND, DemoAnswer, DemoPerson, DemoRequest, MAX_DEMO_STEPS};

/// The order in which demos run: after each plugin's dependencies and the plugins its
/// `[demo] after` names (those present), otherwise by name. Plugins caught in a cycle of
/// `after`s come last, by name.
pub fn order(manifests: &[Arc<Manifest>]) -> Vec<String> {
    let names: BTreeSet<&str> = manifests.iter().map(|m| m.plugin.name.as_str()).collect();
    let mut before: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for m in manifests {
        let after = m.demo.iter().flat_map(|d| d.after.iter());
        let needs = m.dependencies.keys().chain(after).map(String::as_str).filter(|n| names.contains(n));
        before.entry(m.plugin.name.as_str()).or_default().extend(needs);
    }
    let mut done: Vec<String> = Vec::new();
    while let Some(next) = before
        .iter()
        .find(|(name, needs)| !done.iter().any(|d| d == *name) && needs.iter().all(|n| done.iter().any(|d| d == n)))
        .map(|(name, _)| name.to_string())
    {
        done.push(next);
    }
    let rest: Vec<String> = before.keys().filter(|n| !done.iter().any(|d| d == *n)).map(|n| n.to_string()).collect();
    done.extend(rest);
    done
}

/// Runs the demo of a plugin enabled in the session's company to its end, in the session's
/// transaction, and returns how many steps it took.
pub fn run(
    platform: &dyn Kernel,
    session: &mut Session,
    scope: &CompanyScope,
    plugin: &str,
    people: &[DemoPerson],
    today: &str,
) -> Result<u32, PluginError> {
    scope.require(PLUGINS_MANAGE).map_err(|_| PluginError::Forbidden(PLUGINS_MANAGE.into()))?;
    let company = session.company_id.clone();
    let active = Arc::new(platform.plugins().active(session.reader()?, &company, plugin)?);
    if active.loaded.manifest.demo.is_none() {
        return Err(PluginError::NotFound(format!("demo data of plugin {plugin}")));
    }
    let failed = |reason: String| PluginError::Failed { plugin: plugin.to_string(), reason, limit: None };
    let mut state = Value::Null;
    for step in 0..MAX_DEMO_STEPS {
        let request = DemoRequest { step, today: today.to_string(), people: people.to_vec(), state };
        let input = serde_json::to_string(&request).map_err(|e| PluginError::Internal(e.to_string()))?;
        let call = Call::Command { name: DEMO_COMMAND, input: &input };
        let started = std::time::Instant::now();
        let answer = match platform.plugins().invoke(platform, session, &active, Some(scope.clone()), call)? {
            Answer::Json(out) => serde_json::from_str::<DemoAnswer>(&out)
                .map_err(|e| failed(format!("demo step {step} answered {e}, not a demo answer")))?,
            other => return Err(PluginError::Internal(format!("unexpected answer {other:?}"))),
        };
        tracing::debug!(plugin, step, ms = started.elapsed().as_millis() as u64, "demo step");
        // Each step fills collections further: let the planner know before the next one.
        crate::storage::dialect::refresh_statistics(session.conn()?)
            .map_err(|e| PluginError::Internal(e.to_string()))?;
        if answer.done {
            return Ok(step + 1);
        }
        state = answer.state;
    }
    Err(failed(format!("the demo did not finish in {MAX_DEMO_STEPS} steps")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn manifest(name: &str, deps: &[&str], after: Option<&[&str]>) -> Arc<Manifest> {
        let dependencies: serde_json::Map<String, Value> =
            deps.iter().map(|d| (d.to_string(), json!("^0.1"))).collect();
        let mut m =
            json!({ "plugin": { "name": name, "version": "0.1.0", "wit": "0.1.0" }, "dependencies": dependencies });
        if let Some(after) = after {
            m["demo"] = json!({ "after": after });
        }
        Arc::new(serde_json::from_value(m).expect("a manifest"))
    }

    #[test]
    fn demos_run_after_what_they_build_on() {
        let all = [
            manifest("marketing", &["crm"], Some(&[])),
            manifest("crm", &[], Some(&["accounting", "warehouse", "missing"])),
            manifest("warehouse", &[], Some(&["accounting"])),
            manifest("notes", &[], Some(&[])),
            manifest("accounting", &[], Some(&[])),
        ];
        assert_eq!(order(&all), ["accounting", "notes", "warehouse", "crm", "marketing"]);
        // A cycle of `after`s does not lose anyone.
        let cycle = [manifest("a", &[], Some(&["b"])), manifest("b", &[], Some(&["a"])), manifest("c", &[], None)];
        assert_eq!(order(&cycle), ["c", "a", "b"]);
    }
}
