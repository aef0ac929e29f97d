//! The kernel's record of files: one row per upload (who, what, how big, which blob), where
//! it is attached, and what a company's files take against its quota. Usage changes in the same
//! transaction as the row, so it cannot drift.

use diesel::prelude::*;
use serde_json::{Value, json};

use super::FileError;
use crate::storage::schema::{file_usage, files, records};
use crate::storage::{DbConn, StoreError};

/// One stored file.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = files)]
pub struct FileRow {
    /// Id: what a record's file field holds.
    pub id: String,
    /// Owning company.
    pub company_id: String,
    /// SHA-256 of the content, in hex: the blob's key.
    pub sha256: String,
    /// Bytes.
    pub size: i64,
    /// Name, cleaned (see `names::clean_name`).
    pub name: String,
    /// Content type.
    pub content_type: String,
    /// Who uploaded it.
    pub uploaded_by: Option<String>,
    /// When (µs).
    pub created_at: i64,
    /// Plugin of the record it is attached to.
    pub plugin: Option<String>,
    /// Collection of that record.
    pub collection: Option<String>,
    /// That record.
    pub record_id: Option<String>,
    /// The record's field.
    pub field: Option<String>,
    /// When it was attached (µs).
    pub attached_at: Option<i64>,
}

impl FileRow {
    /// What a record's file field shows of it.
    pub fn summary(&self) -> Value {
        json!({ "id": self.id, "name": self.name, "size": self.size, "content_type": self.content_type })
    }

    /// True when it is attached to this record's field.
    pub fn attached_to(&self, plugin: &str, collection: &str, record_id: &str, field: &str) -> bool {
        self.plugin.as_deref() == Some(plugin)
            && self.collection.as_deref() == Some(collection)
            && self.record_id.as_deref() == Some(record_id)
            && self.field.as_deref() == Some(field)
    }
}

/// An upload to register.
#[derive(Debug, Clone)]
pub struct NewFile<'a> {
    /// Owning company.
    pub company_id: &'a str,
    /// The blob's key.
    pub sha256: &'a str,
    /// Bytes.
    pub size: i64,
    /// Clean name.
    pub name: &'a str,
    /// Content type.
    pub content_type: &'a str,
    /// Who uploaded it.
    pub uploaded_by: Option<&'a str>,
}

/// What a company's files take.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileUsage {
    /// Files.
    pub files: i64,
    /// Bytes.
    pub bytes: i64,
}

/// What a company's files take now.
pub fn usage(conn: &mut DbConn, company_id: &str) -> Result<FileUsage, StoreError> {
    let row: Option<(i64, i64)> =
        file_usage::table.find(company_id).select((file_usage::files, file_usage::bytes)).first(conn).optional()?;
    Ok(row.map(|(files, bytes)| FileUsage { files, bytes }).unwrap_or_default())
}

/// Registers an upload, counting it against the company's quota (`None`: unlimited). Over
/// the quota, nothing is registered.
pub fn register(conn: &mut DbConn, company_bytes: Option<i64>, f: NewFile<'_>) -> Result<FileRow, FileError> {
    // One conditional update: two uploads racing for the last bytes cannot both pass.
    let limit = company_bytes.unwrap_or(i64::MAX);
    let counted =
        diesel::update(file_usage::table.find(f.company_id).filter(file_usage::bytes.le(limit.saturating_sub(f.size))))
            .set((file_usage::files.eq(file_usage::files + 1), file_usage::bytes.eq(file_usage::bytes + f.size)))
            .execute(conn)
            .map_err(StoreError::from)?;
    if counted == 0 {
        let exists: i64 = file_usage::table.find(f.company_id).count().get_result(conn).map_err(StoreError::from)?;
        if exists > 0 || f.size > limit {
            let used = usage(conn, f.company_id)?.bytes;
            return Err(FileError::Quota { limit, used, size: f.size });
        }
        // The company's first file.
        diesel::insert_into(file_usage::table)
            .values((file_usage::company_id.eq(f.company_id), file_usage::files.eq(1i64), file_usage::bytes.eq(f.size)))
            .execute(conn)
            .map_err(StoreError::from)?;
    }
    let row = FileRow {
        id: crate::ids::new_id(),
        company_id: f.company_id.to_string(),
        sha256: f.sha256.to_string(),
        size: f.size,
        name: f.name.to_string(),
        content_type: f.content_type.to_string(),
        uploaded_by: f.uploaded_by.map(str::to_string),
        created_at: crate::clock::now(),
        plugin: None,
        collection: None,
        record_id: None,
        field: None,
        attached_at: None,
    };
    diesel::insert_into(files::table)
        .values((
            files::id.eq(&row.id),
            files::company_id.eq(&row.company_id),
            files::sha256.eq(&row.sha256),
            files::size.eq(row.size),
            files::name.eq(&row.name),
            files::content_type.eq(&row.content_type),
            files::uploaded_by.eq(&row.uploaded_by),
            files::created_at.eq(row.created_at),
        ))
        .execute(conn)
        .map_err(StoreError::from)?;
    Ok(row)
}

/// A file of a company.
pub fn get(conn: &mut DbConn, company_id: &str, id: &str) -> Result<Option<FileRow>, StoreError> {
    Ok(files::table
        .filter(files::id.eq(id))
        .filter(files::company_id.eq(company_id))
        .select(FileRow::as_select())
        .first(conn)
        .optional()?)
}

/// The files attached to one record, oldest first.
pub fn on_record(
    conn: &mut DbConn,
    company_id: &str,
    plugin: &str,
    collection: &str,
    record_id: &str,
) -> Result<Vec<FileRow>, StoreError> {
    Ok(files::table
        .filter(files::company_id.eq(company_id))
        .filter(files::record_id.eq(record_id))
        .filter(files::plugin.eq(plugin))
        .filter(files::collection.eq(collection))
        .order((files::created_at.asc(), files::id.asc()))
        .select(FileRow::as_select())
        .load(conn)?)
}

/// Attaches a file to a record's field.
pub fn attach(
    conn: &mut DbConn,
    file: &FileRow,
    plugin: &str,
    collection: &str,
    record_id: &str,
    field: &str,
) -> Result<(), StoreError> {
    diesel::update(files::table.find(&file.id))
        .set((
            files::plugin.eq(plugin),
            files::collection.eq(collection),
            files::record_id.eq(record_id),
            files::field.eq(field),
            files::attached_at.eq(crate::clock::now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Forgets a file and gives its bytes back to the company's quota. The blob stays until the
/// sweep finds nothing uses it.
pub fn remove(conn: &mut DbConn, company_id: &str, id: &str) -> Result<(), StoreError> {
    let size: Option<i64> = files::table
        .filter(files::id.eq(id))
        .filter(files::company_id.eq(company_id))
        .select(files::size)
        .first(conn)
        .optional()?;
    let Some(size) = size else { return Ok(()) };
    diesel::delete(files::table.find(id)).execute(conn)?;
    diesel::update(file_usage::table.find(company_id))
        .set((file_usage::files.eq(file_usage::files - 1), file_usage::bytes.eq(file_usage::bytes - size)))
        .execute(conn)?;
    Ok(())
}

/// Files nobody will use any more: uploads never attached since `unattached_before`, and
/// files whose record is gone. At most `limit`.
pub fn abandoned(conn: &mut DbConn, unattached_before: i64, limit: i64) -> Result<Vec<(String, String)>, StoreError> {
    let mut out: Vec<(String, String)> = files::table
        .filter(files::record_id.is_null())
        .filter(files::created_at.lt(unattached_before))
        .select((files::company_id, files::id))
        .limit(limit)
        .load(conn)?;
    let gone: Vec<(String, String)> = files::table
        .filter(files::record_id.is_not_null())
        .filter(diesel::dsl::not(diesel::dsl::exists(
            records::table
                .filter(records::id.nullable().eq(files::record_id))
                .filter(records::company_id.eq(files::company_id)),
        )))
        .select((files::company_id, files::id))
        .limit(limit)
        .load(conn)?;
    out.extend(gone);
    Ok(out)
}

/// True when some file's content is this blob.
pub fn blob_in_use(conn: &mut DbConn, sha256: &str) -> Result<bool, StoreError> {
    Ok(diesel::select(diesel::dsl::exists(files::table.filter(files::sha256.eq(sha256)))).get_result(conn)?)
}
