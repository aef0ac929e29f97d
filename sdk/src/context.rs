//! Who and where the plugin runs for: company, user, locale, configuration.

use serde::de::DeserializeOwned;

use crate::bindings::erp::plugin::context as wit;
use crate::error::Result;

/// The scope of the current invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// The company every host call is scoped to.
    pub company_id: String,
    /// The user the plugin acts for, if any.
    pub user_id: Option<String>,
    /// The caller's language, such as `ru` or `en`.
    pub locale: String,
    /// This plugin's name.
    pub plugin: String,
    /// This plugin's version.
    pub plugin_version: String,
}

/// The current invocation's scope.
pub fn current() -> Context {
    let c = wit::current();
    Context {
        company_id: c.company_id,
        user_id: c.user_id,
        locale: c.locale,
        plugin: c.plugin,
        plugin_version: c.plugin_version,
    }
}

/// This company's configuration of the plugin, deserialised into `T`.
pub fn config<T: DeserializeOwned>() -> Result<T> {
    Ok(serde_json::from_str(&wit::config())?)
}

/// True when the user the plugin acts for holds `permission` in this company.
pub fn has_permission(permission: &str) -> bool {
    wit::has_permission(permission)
}
