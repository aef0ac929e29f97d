//! File fields of records. A write names files by id; each must be the company's and free
//! to attach (an upload of the person or plugin call's own user, one stored for nobody by a
//! call that acts for nobody, or already this very field's),
//! is then attached, and the field holds its name, size and type from the kernel's own
//! record of the upload, never the client's. Files a write replaces or clears, and the files of
//! a deleted record, are forgotten and their bytes given back to the company's quota.

use serde_json::{Map, Value};

use super::{Collection, RecordError};
use crate::files::catalog;
use crate::storage::DbConn;
use crate::validation::{FieldError, Invalid};
use erp_manifest::FieldType;

/// Who attaches: the user behind the write (a person, or the user a plugin works for), or
/// nobody (`None`: a schedule, an event handler), who may attach only files stored for nobody.
#[derive(Debug, Clone, Copy)]
pub(super) struct Attacher<'a> {
    pub user: Option<&'a str>,
}

fn file_id(v: Option<&Value>) -> Option<&str> {
    v?.get("id")?.as_str()
}

fn file_fields(coll: &Collection) -> Result<Vec<String>, RecordError> {
    Ok(coll.spec()?.fields.iter().filter(|(_, f)| f.kind == FieldType::File).map(|(n, _)| n.clone()).collect())
}

/// Attaches the files `after` names to record `record_id` and fills in what they are;
/// forgets the ones `before` held that `after` no longer does.
pub(super) fn attach(
    conn: &mut DbConn,
    company_id: &str,
    who: Attacher<'_>,
    coll: &Collection,
    record_id: &str,
    before: Option<&Map<String, Value>>,
    after: &mut Map<String, Value>,
) -> Result<(), RecordError> {
    let mut errors = Vec::new();
    for name in file_fields(coll)? {
        let old = file_id(before.and_then(|b| b.get(&name))).map(str::to_string);
        let new = file_id(after.get(&name)).map(str::to_string);
        if let Some(id) = &new {
            match catalog::get(conn, company_id, id)? {
                None => errors.push(FieldError::new(&name, "is not a file uploaded to this company")),
                Some(file) if file.attached_to(&coll.plugin, &coll.name, record_id, &name) => {
                    after.insert(name.clone(), file.summary());
                }
                Some(file) if file.record_id.is_some() => errors.push(FieldError::new(
                    &name,
                    "is a file attached to another record; upload it again to attach a copy",
                )),
                Some(file) if file.uploaded_by.as_deref() != who.user => {
                    errors.push(FieldError::new(&name, "is a file someone else uploaded"));
                }
                Some(file) => {
                    catalog::attach(conn, &file, &coll.plugin, &coll.name, record_id, &name)?;
                    after.insert(name.clone(), file.summary());
                }
            }
        }
        if let Some(old) = old
            && new.as_deref() != Some(old.as_str())
        {
            catalog::remove(conn, company_id, &old)?;
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(RecordError::Invalid(Invalid(errors))) }
}

/// Forgets the files of a deleted record.
pub(super) fn release(
    conn: &mut DbConn,
    company_id: &str,
    coll: &Collection,
    data: &Map<String, Value>,
) -> Result<(), RecordError> {
    for name in file_fields(coll)? {
        if let Some(id) = file_id(data.get(&name)) {
            catalog::remove(conn, company_id, id)?;
        }
    }
    Ok(())
}
