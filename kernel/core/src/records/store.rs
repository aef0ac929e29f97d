//! Rows of the record store: records, their index keys, unique values and references.

use std::collections::HashSet;

use diesel::prelude::*;
use serde_json::{Map, Value};

use super::values::{self, Key};
use super::{Collection, RecordError, StoredRecord};
use crate::clock;
use crate::storage::DbConn;
use crate::storage::schema::{record_keys, record_refs, record_unique, records};
use crate::validation::{FieldError, Invalid};
use erp_manifest::FieldType;

#[derive(Queryable)]
struct Row {
    id: String,
    version: i64,
    data: String,
    created_at: i64,
    updated_at: i64,
    created_by: Option<String>,
    updated_by: Option<String>,
}

type RowColumns = (
    records::id,
    records::version,
    records::data,
    records::created_at,
    records::updated_at,
    records::created_by,
    records::updated_by,
);

pub(super) const ROW: RowColumns = (
    records::id,
    records::version,
    records::data,
    records::created_at,
    records::updated_at,
    records::created_by,
    records::updated_by,
);

impl Row {
    fn into_record(self) -> Result<StoredRecord, RecordError> {
        let data = match serde_json::from_str::<Value>(&self.data) {
            Ok(Value::Object(m)) => m,
            _ => return Err(RecordError::Internal(format!("record {} holds unreadable data", self.id))),
        };
        Ok(StoredRecord {
            id: self.id,
            version: self.version,
            data,
            created_at: self.created_at,
            updated_at: self.updated_at,
            created_by: self.created_by,
            updated_by: self.updated_by,
        })
    }
}

/// A raw row: `(id, version, data, created_at, updated_at, created_by, updated_by)`.
pub(super) type RowTuple = (String, i64, String, i64, i64, Option<String>, Option<String>);

/// Parses raw rows.
pub(super) fn rows_to_records(rows: Vec<RowTuple>) -> Result<Vec<StoredRecord>, RecordError> {
    rows.into_iter()
        .map(|(id, version, data, created_at, updated_at, created_by, updated_by)| {
            Row { id, version, data, created_at, updated_at, created_by, updated_by }.into_record()
        })
        .collect()
}

/// One record of a collection in a company.
pub fn load(
    conn: &mut DbConn,
    company_id: &str,
    coll: &Collection,
    id: &str,
) -> Result<Option<StoredRecord>, RecordError> {
    let row: Option<Row> = records::table
        .filter(records::id.eq(id))
        .filter(records::company_id.eq(company_id))
        .filter(records::plugin.eq(&coll.plugin))
        .filter(records::collection.eq(&coll.name))
        .select(ROW)
        .first(conn)
        .optional()?;
    row.map(Row::into_record).transpose()
}

/// Checks that every ref points at an existing record of its target collection.
pub fn check_refs(
    conn: &mut DbConn,
    company_id: &str,
    coll: &Collection,
    data: &Map<String, Value>,
) -> Result<(), RecordError> {
    let mut errors = Vec::new();
    for (name, spec) in &coll.spec()?.fields {
        let targets: Vec<&str> = match (spec.kind, spec.items, data.get(name)) {
            (FieldType::Ref, _, Some(Value::String(id))) => vec![id.as_str()],
            (FieldType::Json, Some(FieldType::Ref), Some(Value::Array(ids))) => {
                ids.iter().filter_map(Value::as_str).collect()
            }
            _ => continue,
        };
        let Some(to) = &spec.to else { continue };
        let (plugin, collection) = match to.split_once('.') {
            Some((p, c)) => (p, c),
            None => (coll.plugin.as_str(), to.as_str()),
        };
        // A list may hold thousands of records (a segment's snapshot): one query per chunk.
        for chunk in targets.chunks(500) {
            let found: HashSet<String> = records::table
                .filter(records::id.eq_any(chunk))
                .filter(records::company_id.eq(company_id))
                .filter(records::plugin.eq(plugin))
                .filter(records::collection.eq(collection))
                .select(records::id)
                .load::<String>(conn)?
                .into_iter()
                .collect();
            for target in chunk.iter().filter(|t| !found.contains(**t)) {
                errors.push(FieldError::new(name, format!("no {to} record with id {target}")));
            }
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(RecordError::Invalid(Invalid(errors))) }
}

/// Checks unique fields against other records of the collection.
pub fn check_unique(
    conn: &mut DbConn,
    company_id: &str,
    coll: &Collection,
    data: &Map<String, Value>,
    except: Option<&str>,
) -> Result<(), RecordError> {
    let mut errors = Vec::new();
    for (name, spec) in &coll.spec()?.fields {
        if !spec.unique {
            continue;
        }
        let Some(text) = data.get(name).and_then(|v| values::unique_text(spec.kind, v)) else { continue };
        let holder: Option<String> = record_unique::table
            .filter(record_unique::company_id.eq(company_id))
            .filter(record_unique::plugin.eq(&coll.plugin))
            .filter(record_unique::collection.eq(&coll.name))
            .filter(record_unique::field.eq(name))
            .filter(record_unique::value.eq(&text))
            .select(record_unique::record_id)
            .first(conn)
            .optional()?;
        if holder.is_some_and(|h| Some(h.as_str()) != except) {
            errors.push(FieldError::new(name, "must be unique: another record already has this value"));
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(RecordError::Invalid(Invalid(errors))) }
}

fn write_derived(
    conn: &mut DbConn,
    company_id: &str,
    coll: &Collection,
    id: &str,
    data: &Map<String, Value>,
) -> Result<(), RecordError> {
    for (name, spec) in &coll.spec()?.fields {
        let Some(value) = data.get(name) else { continue };
        // A list of items is indexed item by item; any other field by its one value.
        let keys: Vec<Key> = match (spec.items, value) {
            (Some(item), Value::Array(items)) if spec.indexed => {
                let mut keys: Vec<Key> = items.iter().filter_map(|i| values::index_key(item, i)).collect();
                keys.dedup();
                keys
            }
            (Some(_), _) => Vec::new(),
            (None, _) if spec.is_indexed() => values::index_key(spec.kind, value).into_iter().collect(),
            (None, _) => Vec::new(),
        };
        for key in keys {
            let (text, num) = match key {
                Key::Text(t) => (Some(t), None),
                Key::Num(n) => (None, Some(n)),
            };
            diesel::insert_into(record_keys::table)
                .values((
                    record_keys::record_id.eq(id),
                    record_keys::company_id.eq(company_id),
                    record_keys::plugin.eq(&coll.plugin),
                    record_keys::collection.eq(&coll.name),
                    record_keys::field.eq(name),
                    record_keys::key_text.eq(text),
                    record_keys::key_num.eq(num),
                ))
                .execute(conn)?;
        }
        if spec.unique
            && let Some(text) = values::unique_text(spec.kind, value)
        {
            let inserted = diesel::insert_into(record_unique::table)
                .values((
                    record_unique::company_id.eq(company_id),
                    record_unique::plugin.eq(&coll.plugin),
                    record_unique::collection.eq(&coll.name),
                    record_unique::field.eq(name),
                    record_unique::value.eq(&text),
                    record_unique::record_id.eq(id),
                ))
                .execute(conn);
            if let Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) =
                inserted
            {
                return Err(RecordError::Invalid(Invalid::one(
                    name,
                    "must be unique: another record already has this value",
                )));
            }
            inserted?;
        }
        if spec.kind == FieldType::Ref
            && let Value::String(target) = value
        {
            diesel::insert_into(record_refs::table)
                .values((record_refs::from_id.eq(id), record_refs::field.eq(name), record_refs::to_id.eq(target)))
                .execute(conn)?;
        }
    }
    Ok(())
}

fn clear_derived(conn: &mut DbConn, id: &str) -> Result<(), RecordError> {
    diesel::delete(record_keys::table.filter(record_keys::record_id.eq(id))).execute(conn)?;
    diesel::delete(record_unique::table.filter(record_unique::record_id.eq(id))).execute(conn)?;
    diesel::delete(record_refs::table.filter(record_refs::from_id.eq(id))).execute(conn)?;
    Ok(())
}

/// Inserts a validated record with its keys.
pub fn insert(
    conn: &mut DbConn,
    company_id: &str,
    coll: &Collection,
    id: String,
    data: Map<String, Value>,
    actor: Option<&str>,
) -> Result<StoredRecord, RecordError> {
    let now = clock::now();
    let record = StoredRecord {
        id,
        version: 1,
        data,
        created_at: now,
        updated_at: now,
        created_by: actor.map(str::to_string),
        updated_by: actor.map(str::to_string),
    };
    diesel::insert_into(records::table)
        .values((
            records::id.eq(&record.id),
            records::company_id.eq(company_id),
            records::plugin.eq(&coll.plugin),
            records::collection.eq(&coll.name),
            records::version.eq(record.version),
            records::data.eq(Value::Object(record.data.clone()).to_string()),
            records::created_at.eq(record.created_at),
            records::updated_at.eq(record.updated_at),
            records::created_by.eq(&record.created_by),
            records::updated_by.eq(&record.updated_by),
        ))
        .execute(conn)?;
    write_derived(conn, company_id, coll, &record.id, &record.data)?;
    Ok(record)
}

/// Replaces a record's data, bumping its version. `Conflict` when someone else changed it
/// since `current` was read.
pub fn replace(
    conn: &mut DbConn,
    company_id: &str,
    coll: &Collection,
    current: &StoredRecord,
    data: Map<String, Value>,
    actor: Option<&str>,
) -> Result<StoredRecord, RecordError> {
    let now = clock::now().max(current.updated_at);
    let changed = diesel::update(
        records::table
            .filter(records::id.eq(&current.id))
            .filter(records::company_id.eq(company_id))
            .filter(records::version.eq(current.version)),
    )
    .set((
        records::version.eq(current.version + 1),
        records::data.eq(Value::Object(data.clone()).to_string()),
        records::updated_at.eq(now),
        records::updated_by.eq(actor),
    ))
    .execute(conn)?;
    if changed == 0 {
        return Err(RecordError::Conflict(format!("record {} was changed by someone else; reload it", current.id)));
    }
    clear_derived(conn, &current.id)?;
    write_derived(conn, company_id, coll, &current.id, &data)?;
    Ok(StoredRecord {
        id: current.id.clone(),
        version: current.version + 1,
        data,
        created_at: current.created_at,
        updated_at: now,
        created_by: current.created_by.clone(),
        updated_by: actor.map(str::to_string),
    })
}

/// Deletes a record that no other record references.
pub fn remove(conn: &mut DbConn, company_id: &str, current: &StoredRecord) -> Result<(), RecordError> {
    let referrers: i64 = record_refs::table.filter(record_refs::to_id.eq(&current.id)).count().get_result(conn)?;
    if referrers > 0 {
        return Err(RecordError::Conflict(format!("{referrers} record(s) still refer to this record")));
    }
    clear_derived(conn, &current.id)?;
    let changed = diesel::delete(
        records::table
            .filter(records::id.eq(&current.id))
            .filter(records::company_id.eq(company_id))
            .filter(records::version.eq(current.version)),
    )
    .execute(conn)?;
    if changed == 0 {
        return Err(RecordError::Conflict(format!("record {} was changed by someone else; reload it", current.id)));
    }
    Ok(())
}

/// Rewrites the index keys of every record of a collection (after an upgrade adds indexes).
pub fn reindex(conn: &mut DbConn, coll: &Collection) -> Result<u64, RecordError> {
    let mut after = String::new();
    let mut count = 0;
    loop {
        let batch: Vec<(String, String, String)> = records::table
            .filter(records::plugin.eq(&coll.plugin))
            .filter(records::collection.eq(&coll.name))
            .filter(records::id.gt(&after))
            .order(records::id.asc())
            .limit(500)
            .select((records::id, records::company_id, records::data))
            .load(conn)?;
        let Some(last) = batch.last() else { break };
        after = last.0.clone();
        for (id, company_id, data) in batch {
            let Ok(Value::Object(data)) = serde_json::from_str::<Value>(&data) else { continue };
            clear_derived(conn, &id)?;
            write_derived(conn, &company_id, coll, &id, &data)?;
            count += 1;
        }
    }
    Ok(count)
}
