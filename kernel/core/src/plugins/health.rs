//! A plugin's health in a company: limit hits count as strikes, enough of them quarantine the
//! plugin there (`kernel.plugin.quarantined` in the event log, an audit record), and the
//! company's admin releases it (`kernel.plugin.released`). The counting is in
//! `fair_use::quarantine`; this module ties it to events, audit and permissions.

use serde_json::json;

use super::{Kernel, Limit, PluginError};
use crate::access::CompanyScope;
use crate::access::permissions::{COMPANY_READ, PLUGINS_MANAGE};
use crate::access::roles;
use crate::audit::{self, Actor, Entry, Outcome};
use crate::events::NewEvent;
use crate::fair_use::quarantine::{self, Health};
use crate::identity::members;
use crate::notify::{Importance, NewNotification, Text};
use crate::session::Session;
use crate::storage::{DbConn, Tx};

/// The plugin, limit and reason of a failure that counts as a strike, if it is one.
fn strike_of(err: &PluginError) -> Option<(&str, Limit, &str)> {
    match err {
        PluginError::Failed { plugin, reason, limit: Some(limit) } if quarantine::counts(*limit) => {
            Some((plugin, *limit, reason))
        }
        _ => None,
    }
}

/// Counts a failure inside `tx` (which the caller commits); quarantines the plugin in the
/// company when it was one strike too many.
pub fn strike_in(platform: &dyn Kernel, mut tx: Tx, company_id: &str, err: &PluginError) -> Result<Tx, PluginError> {
    let Some((plugin, limit, reason)) = strike_of(err) else { return Ok(tx) };
    let settings = &platform.fair().settings;
    if !quarantine::strike(tx.conn()?, company_id, plugin, limit, reason, settings.strikes, settings.strike_window)? {
        return Ok(tx);
    }
    tracing::warn!(company = company_id, plugin, reason, "plugin quarantined in a company");
    let mut session = Session::from_tx(tx, company_id, None);
    let payload = json!({ "plugin": plugin, "limit": limit.code(), "reason": reason, "strikes": settings.strikes });
    platform.emit(
        &mut session,
        NewEvent { name: "kernel.plugin.quarantined", source: "kernel", payload, collection: None },
    )?;
    audit::record(
        session.conn()?,
        Entry {
            company_id: Some(company_id),
            actor: &Actor { user_id: None, request_id: None },
            action: "plugin.quarantine",
            object_type: "plugin",
            object_id: Some(plugin),
            outcome: Outcome::Success,
            detail: json!({ "limit": limit.code(), "reason": reason }),
        },
    )?;
    tell_admins(platform, &mut session, plugin, reason, settings.strikes)?;
    Ok(session.into_tx()?)
}

/// Tells the company's owners and admins that a plugin was quarantined, in their bell.
fn tell_admins(
    platform: &dyn Kernel,
    session: &mut Session,
    plugin: &str,
    reason: &str,
    strikes: u32,
) -> Result<(), PluginError> {
    let company = session.company_id.clone();
    let admins = members::with_roles(session.conn()?, &company, &[roles::OWNER, roles::ADMIN])
        .map_err(|e| PluginError::Internal(e.to_string()))?;
    if admins.is_empty() {
        return Ok(());
    }
    let title = Text::ByLanguage(
        [
            ("en".to_string(), format!("Plugin {plugin} was stopped in this company")),
            ("ru".to_string(), format!("Плагин {plugin} остановлен в этой компании")),
        ]
        .into(),
    );
    let body = Text::ByLanguage(
        [
            (
                "en".to_string(),
                format!("It hit its limits {strikes} times ({reason}). Check it, then release it under Plugins."),
            ),
            (
                "ru".to_string(),
                format!(
                    "Он {strikes} раз превысил лимиты ({reason}). Проверьте его и снимите карантин в разделе «Плагины»."
                ),
            ),
        ]
        .into(),
    );
    let note = NewNotification {
        company_id: &company,
        recipients: &admins,
        source: "kernel",
        kind: "kernel.plugin_quarantined",
        title: &title,
        body: &body,
        link: None,
        importance: Importance::High,
    };
    platform.notify(session, &note).map_err(|e| PluginError::Internal(e.to_string()))?;
    Ok(())
}

/// Counts a failure of work whose transaction was rolled back, in a transaction of its own.
pub fn note_failure(platform: &dyn Kernel, company_id: &str, err: &PluginError) {
    if strike_of(err).is_none() {
        return;
    }
    let result = (|| {
        let tx = platform.db().begin()?;
        strike_in(platform, tx, company_id, err)?.commit()?;
        Ok::<_, PluginError>(())
    })();
    if let Err(e) = result {
        tracing::error!(error = %e, company = company_id, "could not count a plugin's limit hit");
    }
}

/// Plugins of the scope's company with strikes or in quarantine.
pub fn list(conn: &mut DbConn, scope: &CompanyScope) -> Result<Vec<Health>, PluginError> {
    scope.require(COMPANY_READ).map_err(|_| PluginError::Forbidden(COMPANY_READ.into()))?;
    Ok(quarantine::list(conn, &scope.company_id)?)
}

/// Releases a quarantined plugin in the scope's company.
pub fn release(
    platform: &dyn Kernel,
    session: &mut Session,
    scope: &CompanyScope,
    name: &str,
) -> Result<(), PluginError> {
    scope.require(PLUGINS_MANAGE).map_err(|_| PluginError::Forbidden(PLUGINS_MANAGE.into()))?;
    let company = session.company_id.clone();
    if !quarantine::release(session.conn()?, &company, name)? {
        return Err(PluginError::Conflict(format!("plugin {name} is not quarantined in this company")));
    }
    let actor = Actor { user_id: scope.user().map(str::to_string), request_id: session.request_id.clone() };
    audit::record(
        session.conn()?,
        Entry {
            company_id: Some(&company),
            actor: &actor,
            action: "plugin.release",
            object_type: "plugin",
            object_id: Some(name),
            outcome: Outcome::Success,
            detail: json!({}),
        },
    )?;
    let payload = json!({ "plugin": name });
    platform.emit(session, NewEvent { name: "kernel.plugin.released", source: "kernel", payload, collection: None })?;
    Ok(())
}
