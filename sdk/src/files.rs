//! Files the kernel keeps for the company (WIT 0.2.0).
//!
//! [`create`] stores content as a new file; put its id into a `file` field of a record to keep
//! it (`{"attachment": {"id": file.id}}`): a file no record holds is removed after a day.
//! Reading goes through a record the plugin may read, so a plugin reaches only the files of
//! records it can see. Everything counts against the invocation's byte budget and the
//! company's file quota.

use serde_json::{Value, json};

use crate::bindings::erp::plugin::files as wit;
use crate::error::Result;

/// Most bytes one [`read`] answers.
pub const MAX_READ: u32 = 1024 * 1024;

/// What the kernel knows of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// Id: what a record's `file` field holds.
    pub id: String,
    /// Name, cleaned of paths and control characters.
    pub name: String,
    /// Content type.
    pub content_type: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the content, in hex.
    pub sha256: String,
    /// When it was stored (RFC 3339 UTC).
    pub created_at: String,
}

impl FileInfo {
    /// The value a record's `file` field takes to hold this file.
    pub fn field_value(&self) -> Value {
        json!({ "id": self.id })
    }
}

impl From<wit::FileInfo> for FileInfo {
    fn from(f: wit::FileInfo) -> FileInfo {
        FileInfo {
            id: f.id,
            name: f.name,
            content_type: f.content_type,
            size: f.size,
            sha256: f.sha256,
            created_at: f.created_at,
        }
    }
}

/// Stores `content` as a new file named `name` (type guessed from the name when `None`).
pub fn create(name: &str, content_type: Option<&str>, content: &[u8]) -> Result<FileInfo> {
    Ok(wit::create(name, content_type, content)?.into())
}

/// Describes a file the plugin may read.
pub fn info(id: &str) -> Result<FileInfo> {
    Ok(wit::info(id)?.into())
}

/// Reads up to `length` bytes (at most [`MAX_READ`]) from `offset`; empty at the end.
pub fn read(id: &str, offset: u64, length: u32) -> Result<Vec<u8>> {
    Ok(wit::read(id, offset, length.min(MAX_READ))?)
}

/// Reads a whole file (mind the invocation's byte budget for large ones).
pub fn read_all(id: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let piece = read(id, out.len() as u64, MAX_READ)?;
        if piece.is_empty() {
            return Ok(out);
        }
        out.extend_from_slice(&piece);
    }
}

/// The files attached to a record (`collection` as in [`crate::store`]).
pub fn attached(collection: &str, record_id: &str) -> Result<Vec<FileInfo>> {
    Ok(wit::attached(collection, record_id)?.into_iter().map(FileInfo::from).collect())
}
