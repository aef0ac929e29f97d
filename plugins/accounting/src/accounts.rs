//! Accounts: finding them by id, code or role, and the rules a chart must keep.

use erp_sdk::store::{self, Filter, Query, Record};
use erp_sdk::{Error, Result, Value};

use crate::model::Account;
use crate::util;

/// An account by id or code.
pub fn find(field: &str, key: &str) -> Result<Record<Account>> {
    util::by_id_or_code("account", field, key)
}

/// The account that plays `role` in this chart (the first by code when several do).
pub fn by_role(role: &str) -> Result<Record<Account>> {
    let q =
        Query::new().filter(Filter::and(vec![Filter::eq("role", role), Filter::eq("active", true)])).sort_asc("code");
    store::first("account", q)?.ok_or_else(|| {
        Error::failed(format!("no active account is marked as used for {role}: set one in the chart of accounts"))
    })
}

/// True when other accounts hang under this one: such a group account is not posted to.
pub fn has_children(id: &str) -> Result<bool> {
    Ok(store::first::<Value>("account", Query::new().filter(Filter::eq("parent", id)))?.is_some())
}

/// An account a line may post to: active and not a group of sub-accounts.
pub fn postable(field: &str, key: &str) -> Result<Record<Account>> {
    let a = find(field, key)?;
    if !a.data.active {
        return Err(Error::invalid(field, format!("account {} is closed", a.data.code)));
    }
    if has_children(&a.id)? {
        return Err(Error::invalid(field, format!("account {} has sub-accounts: post to one of them", a.data.code)));
    }
    Ok(a)
}

/// Validation of an account write: a code of digits and dots, a parent that exists and is
/// not the account itself or below it.
pub fn validate(id: &str, after: &Value) -> Result<()> {
    let code = after["code"].as_str().unwrap_or_default();
    if code.is_empty() || !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '.') {
        return Err(Error::invalid("code", "must be letters, digits and dots, such as 62.01"));
    }
    let mut parent = after["parent"].as_str().map(str::to_string);
    let mut hops = 0;
    while let Some(p) = parent {
        if p == id || hops > 20 {
            return Err(Error::invalid("parent", "would put the account under itself"));
        }
        parent = store::get::<Account>("account", &p)?.data.parent;
        hops += 1;
    }
    Ok(())
}
