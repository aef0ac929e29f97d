//! The record store: collections declared in plugin manifests, stored by the kernel, always
//! scoped to one company.
//!
//! Every write is validated against the declared schema (types, required, unique, refs,
//! enums), runs the owner's validation hook when the collection asks for it, bumps the version
//! for optimistic concurrency, and emits a record event in the same transaction. Reads strip
//! sensitive fields the caller may not see.

pub mod aggregate;
mod attachments;
pub mod query;
pub mod store;
pub use erp_manifest::values;

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::access::CompanyScope;
use crate::events::{self, NewEvent};
use crate::fair_use::quota::{self, QuotaError, Usage, stored_bytes};
use crate::plugin_error::PluginError;
use crate::session::Session;
use crate::storage::{DbConn, StoreError};
use crate::validation::Invalid;
use erp_manifest::{Access, CapabilitySpec, CollectionSpec, Manifest};
use erp_query::RecordChange;

pub use values::check_value;

/// Errors of the record store.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// No such record or collection (or not visible to the caller).
    #[error("not found: {0}")]
    NotFound(String),
    /// A permission or capability is missing.
    #[error("missing permission {0}")]
    Forbidden(String),
    /// The collection is kept by its plugin; nobody else writes it.
    #[error("{0} is kept by the {1} plugin: change it through the plugin's commands")]
    ReadOnly(String, String),
    /// The data failed validation.
    #[error("{0}")]
    Invalid(#[from] Invalid),
    /// Stale version or a reference that prevents the change.
    #[error("{0}")]
    Conflict(String),
    /// A storage quota would be exceeded; nothing was saved.
    #[error("{0}")]
    Quota(String),
    /// A plugin's hook refused or failed.
    #[error("{0}")]
    Plugin(#[from] PluginError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Something that should not happen.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<RecordError> for PluginError {
    fn from(e: RecordError) -> Self {
        match e {
            RecordError::Plugin(p) => p,
            RecordError::NotFound(m) => PluginError::NotFound(m),
            RecordError::Forbidden(m) => PluginError::Forbidden(m),
            e @ RecordError::ReadOnly(..) => PluginError::Forbidden(e.to_string()),
            RecordError::Invalid(i) => PluginError::InvalidInput(i),
            RecordError::Conflict(m) => PluginError::Conflict(m),
            RecordError::Quota(m) => PluginError::Quota(m),
            RecordError::Store(s) => PluginError::Store(s),
            RecordError::Internal(m) => PluginError::Internal(m),
        }
    }
}

impl From<QuotaError> for RecordError {
    fn from(e: QuotaError) -> Self {
        match e {
            QuotaError::Store(s) => RecordError::Store(s),
            e @ QuotaError::Exceeded { .. } => RecordError::Quota(e.to_string()),
        }
    }
}

impl From<diesel::result::Error> for RecordError {
    fn from(e: diesel::result::Error) -> Self {
        RecordError::Store(StoreError::Query(e))
    }
}

/// A declared collection and the manifest that declares it.
#[derive(Debug, Clone)]
pub struct Collection {
    /// Owning plugin.
    pub plugin: String,
    /// Collection name.
    pub name: String,
    /// The owner's manifest (of the version currently installed).
    pub manifest: Arc<Manifest>,
}

impl Collection {
    /// Looks a collection up in a manifest.
    pub fn new(manifest: Arc<Manifest>, name: &str) -> Option<Collection> {
        manifest.collections.contains_key(name).then(|| Collection {
            plugin: manifest.plugin.name.clone(),
            name: name.to_string(),
            manifest,
        })
    }

    /// The declaration.
    pub fn spec(&self) -> Result<&CollectionSpec, RecordError> {
        self.manifest.collections.get(&self.name).ok_or_else(|| RecordError::NotFound(self.qualified()))
    }

    /// `plugin.collection`.
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.plugin, self.name)
    }

    /// Permission to read.
    pub fn read_permission(&self) -> String {
        self.manifest.read_permission(&self.name)
    }

    /// Permission to write.
    pub fn write_permission(&self) -> String {
        self.manifest.write_permission(&self.name)
    }

    /// Permission to see sensitive fields.
    pub fn sensitive_permission(&self) -> String {
        self.manifest.sensitive_permission(&self.name)
    }

    /// The record rule: (owner field, permission that lifts it).
    pub fn owner_rule(&self) -> Option<(String, String)> {
        self.manifest.owner_rule(&self.name)
    }
}

/// A record rule in force for one caller: only records whose `field` names `user` (holds it,
/// or lists it), or that the rule's open field opens, exist for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnRecords {
    /// The caller's user id.
    pub user: String,
    /// The rule as declared: its owner field, and the permission that would lift it.
    pub rule: erp_manifest::manifest::RecordRule,
}

impl OwnRecords {
    /// True when the record is the caller's, or open to every reader.
    pub fn owns(&self, data: &Map<String, Value>) -> bool {
        names(&self.rule, data, &self.user)
    }

    /// The filter that keeps the caller's records, joined with the caller's own filter.
    pub fn narrow(&self, filter: Option<&Value>) -> Value {
        let op = if self.rule.list { "has" } else { "eq" };
        let mut own = json!({ "field": self.rule.field, "op": op, "value": self.user });
        if let Some(open) = &self.rule.open_field {
            own = json!({ "or": [own, { "field": open, "op": "eq", "value": true }] });
        }
        match filter {
            Some(f) => json!({ "and": [f, own] }),
            None => own,
        }
    }
}

/// True when `rule` applies to the caller: a person without the permission that lifts it (or
/// any person, for a members-only rule). The kernel itself (a scope without a user) is never
/// bound.
pub fn binds(rule: &erp_manifest::manifest::RecordRule, scope: &CompanyScope) -> bool {
    scope.user().is_some() && (rule.strict || !scope.can(&rule.all_permission))
}

/// True when a record's fields name `user` under `rule` (or its open field opens it).
pub fn names(rule: &erp_manifest::manifest::RecordRule, data: &Map<String, Value>, user: &str) -> bool {
    if let Some(open) = &rule.open_field
        && data.get(open).and_then(Value::as_bool) == Some(true)
    {
        return true;
    }
    match data.get(&rule.field) {
        Some(Value::String(s)) => s == user,
        Some(Value::Array(items)) => items.iter().any(|i| i.as_str() == Some(user)),
        _ => false,
    }
}

/// A stored record.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRecord {
    /// Id.
    pub id: String,
    /// Version, bumped by each change.
    pub version: i64,
    /// Fields.
    pub data: Map<String, Value>,
    /// Creation time (µs).
    pub created_at: i64,
    /// Last change (µs).
    pub updated_at: i64,
    /// Creator.
    pub created_by: Option<String>,
    /// Last editor.
    pub updated_by: Option<String>,
}

/// What a caller may see of a collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Visibility {
    /// Sensitive fields are visible.
    pub sensitive: bool,
}

/// Who is using the record store.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    /// A user through the REST API.
    User(&'a CompanyScope),
    /// A plugin through the WIT store interface.
    Plugin(&'a PluginCaller),
}

/// A plugin using the store: its own collections fully, others only as declared and granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginCaller {
    /// The calling plugin.
    pub name: String,
    /// Capabilities its manifest declares.
    pub declared: Vec<CapabilitySpec>,
    /// Collections (`plugin.collection`) the company's admin granted.
    pub granted: Vec<String>,
}

impl Caller<'_> {
    /// The record rule that applies to this caller, if any. Plugins are not bound by it (the
    /// owning plugin applies it in its commands); users are unless they hold the collection's
    /// `all_permission`.
    pub fn own_records(&self, coll: &Collection) -> Option<OwnRecords> {
        let Caller::User(scope) = self else { return None };
        let rule = coll.manifest.record_rule(&coll.name)?;
        if !binds(&rule, scope) {
            return None;
        }
        Some(OwnRecords { user: scope.user().unwrap_or_default().to_string(), rule })
    }

    /// The scope of a person making the call: not a plugin, and not the kernel itself (a
    /// scope without a user: tools, the test kit's fixtures).
    pub fn person(&self) -> Option<&CompanyScope> {
        match self {
            Caller::User(scope) if scope.user().is_some() => Some(scope),
            _ => None,
        }
    }

    /// The user behind the call, for `created_by`.
    pub fn user_id(&self) -> Option<&str> {
        match self {
            Caller::User(s) => s.user(),
            Caller::Plugin(_) => None,
        }
    }

    /// Checks access and says what the caller may see.
    pub fn check(&self, coll: &Collection, access: Access) -> Result<Visibility, RecordError> {
        let owner = matches!(self, Caller::Plugin(p) if p.name == coll.plugin);
        if access == Access::Write && !owner && coll.spec()?.read_only {
            return Err(RecordError::ReadOnly(coll.qualified(), coll.plugin.clone()));
        }
        match self {
            Caller::User(scope) => {
                let needed = match access {
                    Access::Read => coll.read_permission(),
                    Access::Write => coll.write_permission(),
                };
                if !scope.can(&needed) {
                    return Err(RecordError::Forbidden(needed));
                }
                Ok(Visibility { sensitive: scope.can(&coll.sensitive_permission()) })
            }
            Caller::Plugin(p) => {
                if p.name == coll.plugin {
                    return Ok(Visibility { sensitive: true });
                }
                let qualified = coll.qualified();
                let cap = p.declared.iter().find(|c| c.collection == qualified);
                match cap {
                    Some(c) if c.access >= access && p.granted.contains(&qualified) => {
                        Ok(Visibility { sensitive: c.sensitive })
                    }
                    Some(_) if !p.granted.contains(&qualified) => Err(RecordError::Forbidden(format!(
                        "capability {qualified} (not granted to {} in this company)",
                        p.name
                    ))),
                    _ => Err(RecordError::Forbidden(format!(
                        "capability {qualified} with {access:?} access (not declared by {})",
                        p.name
                    ))),
                }
            }
        }
    }
}

/// What kind of write a validation hook sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    /// New record.
    Create,
    /// Changed record.
    Update,
    /// Deleted record.
    Delete,
}

/// A write about to be stored, as the owner's validation hook sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteCheck {
    /// Create, update or delete.
    pub kind: WriteKind,
    /// The record id.
    pub record_id: String,
    /// Before (update, delete).
    pub before: Option<Value>,
    /// After (create, update).
    pub after: Option<Value>,
}

/// Calls into plugins during writes. The plugin host implements it.
pub trait Hooks {
    /// Runs the owning plugin's validation hook; an error vetoes the write.
    fn validate_write(&self, session: &mut Session, coll: &Collection, check: &WriteCheck) -> Result<(), RecordError>;

    /// Emits a record event (synchronous subscribers may veto).
    fn publish(&self, session: &mut Session, event: NewEvent<'_>) -> Result<(), RecordError>;

    /// The storage quotas writes are held to; `None`: unlimited.
    fn quotas(&self) -> Option<crate::fair_use::Quotas> {
        None
    }
}

/// Hooks that do nothing (kernel-internal writes, tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHooks;

impl Hooks for NoHooks {
    fn validate_write(&self, _: &mut Session, _: &Collection, _: &WriteCheck) -> Result<(), RecordError> {
        Ok(())
    }

    fn publish(&self, session: &mut Session, event: NewEvent<'_>) -> Result<(), RecordError> {
        let (company, actor, depth) = (session.company_id.clone(), session.user_id.clone(), session.chain);
        events::insert(session.conn()?, &company, &event, actor.as_deref(), depth)?;
        Ok(())
    }
}

fn as_object(data: Value, field: &str) -> Result<Map<String, Value>, RecordError> {
    match data {
        Value::Object(m) => Ok(m),
        _ => Err(RecordError::Invalid(Invalid::one(field, "must be a JSON object of fields"))),
    }
}

fn refuse_hidden_writes(coll: &Collection, vis: Visibility, data: &Map<String, Value>) -> Result<(), RecordError> {
    if vis.sensitive {
        return Ok(());
    }
    let hidden = query::sensitive_fields(coll, data);
    if hidden.is_empty() {
        Ok(())
    } else {
        Err(RecordError::Forbidden(format!("{} (to write {})", coll.sensitive_permission(), hidden.join(", "))))
    }
}

fn emit(
    session: &mut Session,
    hooks: &dyn Hooks,
    coll: &Collection,
    what: &str,
    payload: Value,
) -> Result<(), RecordError> {
    let name = format!("{}.{}.{what}", coll.plugin, coll.name);
    hooks.publish(session, NewEvent { name: &name, source: &coll.plugin, payload, collection: Some(&coll.name) })
}

/// Strips what the caller may not see: sensitive fields without the permission, and, for
/// users, fields the current schema no longer declares (plugins still see those, so that
/// their migrations can read them).
fn shown(mut r: StoredRecord, coll: &Collection, vis: Visibility, caller: Caller<'_>) -> StoredRecord {
    let owner = matches!(caller, Caller::Plugin(p) if p.name == coll.plugin);
    if !owner {
        readable_fields(&mut r.data, coll.spec().ok(), vis.sensitive);
    }
    r
}

/// Keeps what a reader other than the owning plugin may see of a record's fields: declared
/// fields only, sensitive ones only when `sensitive` is allowed. Without the schema, nothing.
pub fn readable_fields(data: &mut Map<String, Value>, spec: Option<&CollectionSpec>, sensitive: bool) {
    match spec {
        Some(spec) => data.retain(|k, _| spec.fields.get(k).is_some_and(|f| sensitive || !f.sensitive)),
        None => data.clear(),
    }
}

/// One record, as the caller may see it.
pub fn get(
    conn: &mut DbConn,
    company_id: &str,
    caller: Caller<'_>,
    coll: &Collection,
    id: &str,
) -> Result<StoredRecord, RecordError> {
    let vis = caller.check(coll, Access::Read)?;
    let found = store::load(conn, company_id, coll, id)?
        .filter(|r| caller.own_records(coll).is_none_or(|rule| rule.owns(&r.data)))
        .ok_or_else(|| RecordError::NotFound(format!("{} {id}", coll.qualified())))?;
    Ok(shown(found, coll, vis, caller))
}

/// People may not set fields the plugin computes; sending back the value a record already
/// holds is not a change and passes.
fn refuse_computed_writes(
    caller: Caller<'_>,
    spec: &CollectionSpec,
    data: &Map<String, Value>,
    current: Option<&Map<String, Value>>,
) -> Result<(), RecordError> {
    // Plugins write what they compute; the kernel itself may too.
    if caller.person().is_none() {
        return Ok(());
    }
    let errors: Vec<crate::validation::FieldError> = data
        .iter()
        .filter(|(k, _)| spec.fields.get(*k).is_some_and(|f| f.computed))
        .filter(|(k, v)| match current {
            None => !v.is_null(),
            Some(cur) => cur.get(*k).unwrap_or(&Value::Null) != *v,
        })
        .map(|(k, _)| crate::validation::FieldError::new(k, "is set by the plugin and cannot be written"))
        .collect();
    if errors.is_empty() { Ok(()) } else { Err(RecordError::Invalid(Invalid(errors))) }
}

/// A person typing a user field names a member of the company; values the record already
/// holds stay valid after that person leaves, and plugins and the kernel are trusted.
fn check_users(
    conn: &mut DbConn,
    caller: Caller<'_>,
    spec: &CollectionSpec,
    data: &Map<String, Value>,
    current: Option<&Map<String, Value>>,
) -> Result<(), RecordError> {
    let Some(scope) = caller.person() else { return Ok(()) };
    let mut errors = Vec::new();
    let is_user = |f: &erp_manifest::FieldSpec| f.items.unwrap_or(f.kind) == erp_manifest::FieldType::User;
    for (name, _) in spec.fields.iter().filter(|(_, f)| is_user(f)) {
        let held = current.and_then(|c| c.get(name));
        // A list's items are checked one by one; those it already held stay valid.
        let named: Vec<&str> = match data.get(name) {
            Some(Value::String(user)) if held != data.get(name) => vec![user.as_str()],
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .filter(|u| !held.and_then(Value::as_array).is_some_and(|h| h.iter().any(|x| x.as_str() == Some(u))))
                .collect(),
            _ => Vec::new(),
        };
        for user in named {
            let member = crate::identity::members::role_of(conn, &scope.company_id, user)
                .map_err(|e| RecordError::Internal(e.to_string()))?;
            if member.is_none() {
                let message = match data.get(name) {
                    Some(Value::Array(_)) => format!("lists {user}, who is not a member of this company"),
                    _ => "is not a member of this company".to_string(),
                };
                errors.push(crate::validation::FieldError::new(name, message));
                break;
            }
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(RecordError::Invalid(Invalid(errors))) }
}

/// Fills the `default_to_creator` user fields a person's new record leaves out with that
/// person, when they are a member of the company (not an operator acting from outside it).
fn default_to_creator(
    session: &mut Session,
    caller: Caller<'_>,
    spec: &CollectionSpec,
    data: &mut Map<String, Value>,
) -> Result<(), RecordError> {
    let Some(scope) = caller.person() else { return Ok(()) };
    let Some(user) = scope.user() else { return Ok(()) };
    let mut member = None;
    for (name, _) in spec.fields.iter().filter(|(_, f)| f.default_to_creator) {
        if data.get(name).is_some_and(|v| !v.is_null()) {
            continue;
        }
        if member.is_none() {
            let role = crate::identity::members::role_of(session.reader()?, &scope.company_id, user)
                .map_err(|e| RecordError::Internal(e.to_string()))?;
            member = Some(role.is_some());
        }
        if member == Some(true) {
            data.insert(name.clone(), Value::String(user.to_string()));
        }
    }
    Ok(())
}

/// Creates a record.
pub fn create(
    session: &mut Session,
    hooks: &dyn Hooks,
    caller: Caller<'_>,
    coll: &Collection,
    data: Value,
) -> Result<StoredRecord, RecordError> {
    let vis = caller.check(coll, Access::Write)?;
    let mut data = as_object(data, "data")?;
    refuse_hidden_writes(coll, vis, &data)?;
    if let Some(rule) = caller.own_records(coll) {
        // Records of a caller bound by the rule are theirs.
        match data.get(&rule.rule.field) {
            None | Some(Value::Null) => {
                let me = Value::String(rule.user.clone());
                data.insert(rule.rule.field.clone(), if rule.rule.list { Value::Array(vec![me]) } else { me });
            }
            Some(_) if rule.owns(&data) => {}
            Some(_) => return Err(not_yours(&rule)),
        }
    }
    let spec = coll.spec()?;
    refuse_computed_writes(caller, spec, &data, None)?;
    default_to_creator(session, caller, spec, &mut data)?;
    let data = values::validate_object(&spec.fields, &data)?;
    let company = session.company_id.clone();
    store::check_refs(session.reader()?, &company, coll, &data)?;
    check_users(session.reader()?, caller, spec, &data, None)?;
    store::check_unique(session.reader()?, &company, coll, &data, None)?;
    let id = crate::ids::new_id();
    let (has_files, attacher) = (spec.has_files(), attacher(session, caller));
    // Hooks, the write and its event succeed together or leave nothing behind.
    let created = session.atomically(|session| {
        if spec.validate {
            let check = WriteCheck {
                kind: WriteKind::Create,
                record_id: id.clone(),
                before: None,
                after: Some(Value::Object(data.clone())),
            };
            hooks.validate_write(session, coll, &check)?;
        }
        let mut data = data;
        if has_files {
            let who = attachments::Attacher { user: attacher.as_deref() };
            attachments::attach(session.conn()?, &company, who, coll, &id, None, &mut data)?;
        }
        charge(session, hooks, coll, Usage { records: 1, bytes: stored_bytes(&data), events: 0 })?;
        let created = store::insert(session.conn()?, &company, coll, id, data, caller.user_id())?;
        emit(session, hooks, coll, "created", RecordChange::created(&created.id, created.data.clone()).to_json())?;
        Ok::<_, RecordError>(created)
    })?;
    Ok(shown(created, coll, vis, caller))
}

/// Applies a patch (`null` clears a field). With `expected_version`, a stale version is a
/// conflict.
pub fn update(
    session: &mut Session,
    hooks: &dyn Hooks,
    caller: Caller<'_>,
    coll: &Collection,
    id: &str,
    patch: Value,
    expected_version: Option<i64>,
) -> Result<StoredRecord, RecordError> {
    // The answer shows the record, so changing it also takes the right to read it.
    caller.check(coll, Access::Read)?;
    let vis = caller.check(coll, Access::Write)?;
    let patch = as_object(patch, "patch")?;
    refuse_hidden_writes(coll, vis, &patch)?;
    let company = session.company_id.clone();
    let current = load_current(session, coll, id, expected_version, caller)?;
    if let Some(rule) = caller.own_records(coll)
        && (patch.contains_key(&rule.rule.field)
            || rule.rule.open_field.as_ref().is_some_and(|o| patch.contains_key(o)))
    {
        // The record as it would be must still be the caller's.
        let mut after = current.data.clone();
        for (k, v) in &patch {
            after.insert(k.clone(), v.clone());
        }
        if !rule.owns(&after) {
            return Err(not_yours(&rule));
        }
    }
    let spec = coll.spec()?;
    refuse_computed_writes(caller, spec, &patch, Some(&current.data))?;
    // Unknown fields in the patch are errors even when they would be cleared.
    let unknown: Vec<&String> = patch.keys().filter(|k| !spec.fields.contains_key(*k)).collect();
    if !unknown.is_empty() {
        return Err(RecordError::Invalid(Invalid(
            unknown
                .into_iter()
                .map(|k| crate::validation::FieldError::new(k, "is not a field of this collection"))
                .collect(),
        )));
    }
    // Fields the current schema no longer declares (after an upgrade) are dropped on write.
    let mut merged = current.data.clone();
    merged.retain(|k, _| spec.fields.contains_key(k));
    for (k, v) in patch {
        if v.is_null() {
            merged.remove(&k);
        } else {
            merged.insert(k, v);
        }
    }
    let merged = values::validate_object(&spec.fields, &merged)?;
    store::check_refs(session.reader()?, &company, coll, &merged)?;
    check_users(session.reader()?, caller, spec, &merged, Some(&current.data))?;
    store::check_unique(session.reader()?, &company, coll, &merged, Some(id))?;
    let (has_files, attacher) = (spec.has_files(), attacher(session, caller));
    let updated = session.atomically(|session| {
        if spec.validate {
            let check = WriteCheck {
                kind: WriteKind::Update,
                record_id: id.to_string(),
                before: Some(Value::Object(current.data.clone())),
                after: Some(Value::Object(merged.clone())),
            };
            hooks.validate_write(session, coll, &check)?;
        }
        let mut merged = merged;
        if has_files {
            let who = attachments::Attacher { user: attacher.as_deref() };
            attachments::attach(session.conn()?, &company, who, coll, id, Some(&current.data), &mut merged)?;
        }
        let grown = stored_bytes(&merged) - stored_bytes(&current.data);
        charge(session, hooks, coll, Usage { records: 0, bytes: grown, events: 0 })?;
        let updated = store::replace(session.conn()?, &company, coll, &current, merged, caller.user_id())?;
        let payload = RecordChange::updated(id, updated.version, current.data.clone(), updated.data.clone()).to_json();
        emit(session, hooks, coll, "updated", payload)?;
        Ok::<_, RecordError>(updated)
    })?;
    Ok(shown(updated, coll, vis, caller))
}

/// Deletes a record no other record refers to.
pub fn delete(
    session: &mut Session,
    hooks: &dyn Hooks,
    caller: Caller<'_>,
    coll: &Collection,
    id: &str,
    expected_version: Option<i64>,
) -> Result<(), RecordError> {
    caller.check(coll, Access::Write)?;
    let company = session.company_id.clone();
    let current = load_current(session, coll, id, expected_version, caller)?;
    let validate = coll.spec()?.validate;
    let has_files = coll.spec()?.has_files();
    session.atomically(|session| {
        if validate {
            let check = WriteCheck {
                kind: WriteKind::Delete,
                record_id: id.to_string(),
                before: Some(Value::Object(current.data.clone())),
                after: None,
            };
            hooks.validate_write(session, coll, &check)?;
        }
        charge(session, hooks, coll, Usage { records: -1, bytes: -stored_bytes(&current.data), events: 0 })?;
        store::remove(session.conn()?, &company, &current)?;
        if has_files {
            attachments::release(session.conn()?, &company, coll, &current.data)?;
        }
        emit(session, hooks, coll, "deleted", RecordChange::deleted(id, current.data).to_json())
    })
}

/// True when `caller` may have `file` through the record holding it: the record in `coll`
/// is readable to them, and the field that holds the file is one they see (a sensitive field
/// hidden from them hides its file). Anything else is `false`, never an error that would
/// tell a file exists.
pub fn holds_file(
    conn: &mut DbConn,
    caller: Caller<'_>,
    coll: &Collection,
    file: &crate::files::FileRow,
) -> Result<bool, RecordError> {
    let (Some(record), Some(field)) = (&file.record_id, &file.field) else { return Ok(false) };
    if file.plugin.as_deref() != Some(coll.plugin.as_str()) || file.collection.as_deref() != Some(coll.name.as_str()) {
        return Ok(false);
    }
    let found = match get(conn, &file.company_id, caller, coll, record) {
        Ok(r) => r,
        Err(RecordError::NotFound(_) | RecordError::Forbidden(_)) => return Ok(false),
        Err(e) => return Err(e),
    };
    Ok(found.data.get(field).and_then(|v| v.get("id")).and_then(Value::as_str) == Some(file.id.as_str()))
}

/// The user whose uploads a write may attach: the person writing, or the user a plugin call
/// works for; `None` for the kernel's own writes.
fn attacher(session: &Session, caller: Caller<'_>) -> Option<String> {
    match caller {
        Caller::User(scope) => scope.user().map(str::to_string),
        Caller::Plugin(_) => session.user_id.clone(),
    }
}

/// Counts a change against the company's and the plugin's quotas.
fn charge(session: &mut Session, hooks: &dyn Hooks, coll: &Collection, delta: Usage) -> Result<(), RecordError> {
    let Some(quotas) = hooks.quotas() else { return Ok(()) };
    let company = session.company_id.clone();
    Ok(quota::charge(session.conn()?, &quotas, &company, &coll.plugin, delta)?)
}

/// Refusal to give a record to another user without the permission that lifts the rule.
fn not_yours(rule: &OwnRecords) -> RecordError {
    if rule.rule.strict {
        return RecordError::Forbidden(format!(
            "a place among {} (records that leave out their writer)",
            rule.rule.field
        ));
    }
    RecordError::Forbidden(format!("{} (to set {} to another user)", rule.rule.all_permission, rule.rule.field))
}

/// The stored record a change applies to; `NotFound` when a record rule hides it from the
/// caller, `Conflict` when the caller's expected version is stale.
fn load_current(
    session: &mut Session,
    coll: &Collection,
    id: &str,
    expected_version: Option<i64>,
    caller: Caller<'_>,
) -> Result<StoredRecord, RecordError> {
    let company = session.company_id.clone();
    let current = store::load(session.reader()?, &company, coll, id)?
        .filter(|r| caller.own_records(coll).is_none_or(|rule| rule.owns(&r.data)))
        .ok_or_else(|| RecordError::NotFound(format!("{} {id}", coll.qualified())))?;
    match expected_version {
        Some(v) if v != current.version => Err(RecordError::Conflict(format!(
            "record {id} is at version {}, not {v}: someone changed it; reload it",
            current.version
        ))),
        _ => Ok(current),
    }
}

/// Runs a query.
pub fn find(
    conn: &mut DbConn,
    company_id: &str,
    caller: Caller<'_>,
    coll: &Collection,
    req: &query::QueryRequest,
) -> Result<query::RecordPage, RecordError> {
    let vis = caller.check(coll, Access::Read)?;
    let narrowed;
    let req = match caller.own_records(coll) {
        Some(rule) => {
            narrowed = query::QueryRequest { filter: Some(rule.narrow(req.filter.as_ref())), ..req.clone() };
            &narrowed
        }
        None => req,
    };
    let plan = query::plan(coll, req, vis)?;
    let mut page = query::run(conn, company_id, coll, &plan)?;
    page.records = page.records.into_iter().map(|r| shown(r, coll, vis, caller)).collect();
    Ok(page)
}

/// Runs an aggregation.
pub fn aggregate(
    conn: &mut DbConn,
    company_id: &str,
    caller: Caller<'_>,
    coll: &Collection,
    req: &aggregate::AggregateRequest,
) -> Result<Value, RecordError> {
    let vis = caller.check(coll, Access::Read)?;
    match caller.own_records(coll) {
        Some(rule) => {
            let narrowed =
                aggregate::AggregateRequest { filter: Some(rule.narrow(req.filter.as_ref())), ..req.clone() };
            aggregate::run(conn, company_id, coll, &narrowed, vis)
        }
        None => aggregate::run(conn, company_id, coll, req, vis),
    }
}
