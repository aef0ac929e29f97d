//! Files for plugins (WIT 0.2.0): storing a file for the company, and reading one only through
//! a record the plugin may read (or one it stored in the same invocation). Content crosses in
//! pieces counted against the invocation's byte budget; nothing else of the company's files is
//! reachable, and a file's existence leaks to no plugin that may not read it.

use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::Value;

use super::HostState;
use crate::files::{self, ByteStream, FileError, FileRow, catalog, names};
use crate::records::{self, Caller, RecordError};
use crate::validation::Invalid;

/// Most bytes one `read` answers.
pub(crate) const MAX_READ_BYTES: usize = 1024 * 1024;
/// Most bytes one `create` takes (larger files come through the HTTP API, streamed).
pub(crate) const MAX_CREATE_BYTES: usize = 16 * 1024 * 1024;

/// A file kept open between reads of one invocation.
pub(crate) struct Reading {
    id: String,
    /// Bytes of the content already taken from `stream` and `pending`.
    position: u64,
    stream: ByteStream,
    pending: Bytes,
}

fn not_found() -> RecordError {
    RecordError::NotFound("file".to_string())
}

fn file_error(e: FileError) -> RecordError {
    match e {
        FileError::TooLarge { .. } | FileError::Quota { .. } => RecordError::Quota(e.to_string()),
        FileError::Invalid(m) => RecordError::Invalid(Invalid::one("name", m)),
        FileError::NotFound => not_found(),
        FileError::Store(s) => RecordError::Store(s),
        other => RecordError::Internal(other.to_string()),
    }
}

fn blocked(e: std::io::Error) -> RecordError {
    RecordError::Internal(format!("file storage failed: {e}"))
}

/// Stores `content` as a new, unattached file of the company: staged and sealed first, then
/// registered in the invocation's transaction (so a rolled-back call keeps no file; its blob
/// goes with the next sweep), then its blob kept.
pub(super) fn create(
    state: &mut HostState,
    name: &str,
    content_type: Option<&str>,
    content: Vec<u8>,
) -> Result<FileRow, RecordError> {
    if content.len() > MAX_CREATE_BYTES {
        return Err(RecordError::Quota(format!(
            "a file stored by a plugin may have at most {MAX_CREATE_BYTES} bytes; nothing was kept"
        )));
    }
    let clean = names::clean_name(name).map_err(|m| RecordError::Invalid(Invalid::one("name", m)))?;
    let content_type = names::content_type(content_type, &clean);
    let store = state.platform.files().clone();
    let staged = files::block_on(store.stage(content)).map_err(blocked)?.map_err(file_error)?;
    let company = state.session.company_id.clone();
    let uploaded_by = state.session.user_id.clone();
    let new = catalog::NewFile {
        company_id: &company,
        sha256: &staged.sha256,
        size: staged.size,
        name: &clean,
        content_type: &content_type,
        uploaded_by: uploaded_by.as_deref(),
    };
    let row = catalog::register(state.session.conn()?, store.company_bytes(), new).map_err(file_error)?;
    // A blob that cannot be kept must not leave a registered file behind: the whole call
    // stops and its transaction rolls back.
    files::block_on(store.keep_staged(staged)).map_err(blocked)?.map_err(|e| RecordError::Internal(e.to_string()))?;
    state.stored_files.push(row.id.clone());
    Ok(row)
}

/// The file if this call may read it: one it stored, a pending upload of the person it works
/// for, or one held by a record it may read (the field must show it to the plugin, too).
/// Anything else is not found.
pub(super) fn readable(state: &mut HostState, id: &str) -> Result<FileRow, RecordError> {
    let id = crate::ids::parse(id).ok_or_else(not_found)?;
    let company = state.session.company_id.clone();
    let file = catalog::get(state.session.reader()?, &company, &id)?.ok_or_else(not_found)?;
    if state.stored_files.contains(&file.id) {
        return Ok(file);
    }
    // A pending upload of the person the call works for: they handed it to the plugin (a
    // drive names the file it is given).
    let pending_of_caller = file.record_id.is_none()
        && file.uploaded_by.is_some()
        && file.uploaded_by.as_deref() == state.session.user_id.as_deref();
    if pending_of_caller {
        return Ok(file);
    }
    let (Some(plugin), Some(coll)) = (&file.plugin, &file.collection) else { return Err(not_found()) };
    let name = if plugin == state.plugin() { coll.clone() } else { format!("{plugin}.{coll}") };
    let coll = state.collection(&name).map_err(|_| not_found())?;
    let caller = state.caller();
    if records::holds_file(state.session.reader()?, Caller::Plugin(&caller), &coll, &file)? {
        Ok(file)
    } else {
        Err(not_found())
    }
}

/// Up to `length` bytes of a readable file from `offset`; empty at the end. Reading on from
/// where the previous read of the same file ended continues the open stream.
pub(super) fn read(state: &mut HostState, id: &str, offset: u64, length: usize) -> Result<Vec<u8>, RecordError> {
    let file = readable(state, id)?;
    if offset >= file.size.max(0) as u64 || length == 0 {
        return Ok(Vec::new());
    }
    let reading = match state.reading.take() {
        Some(r) if r.id == file.id && r.position <= offset => r,
        _ => {
            let store = state.platform.files().clone();
            let row = file.clone();
            let stream =
                files::block_on(async move { store.read(&row).await }).map_err(blocked)?.map_err(file_error)?;
            Reading { id: file.id.clone(), position: 0, stream, pending: Bytes::new() }
        }
    };
    let (reading, out) = files::block_on(take(reading, offset, length)).map_err(blocked)?.map_err(file_error)?;
    state.reading = Some(reading);
    Ok(out)
}

/// The whole content of a readable file of at most `max` bytes (an e-mail attachment).
pub(super) fn read_whole(state: &mut HostState, id: &str, max: usize) -> Result<(FileRow, Vec<u8>), RecordError> {
    let file = readable(state, id)?;
    let size = usize::try_from(file.size.max(0)).unwrap_or(usize::MAX);
    if size > max {
        return Err(RecordError::Quota(format!("{} has {size} bytes; at most {max} fit", file.name)));
    }
    let store = state.platform.files().clone();
    let row = file.clone();
    let content = files::block_on(async move {
        let mut stream = store.read(&row).await?;
        let mut out = Vec::with_capacity(size);
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk?);
            if out.len() > max {
                return Err(FileError::TooLarge { limit: max as u64 });
            }
        }
        Ok(out)
    })
    .map_err(blocked)?
    .map_err(file_error)?;
    Ok((file, content))
}

/// Skips to `offset` and takes up to `length` bytes.
async fn take(mut r: Reading, offset: u64, length: usize) -> Result<(Reading, Vec<u8>), FileError> {
    let mut out = Vec::with_capacity(length.min(MAX_READ_BYTES));
    while out.len() < length {
        if r.pending.is_empty() {
            match r.stream.next().await {
                Some(piece) => r.pending = piece?,
                None => break,
            }
            continue;
        }
        if r.position < offset {
            let skip = (offset - r.position).min(r.pending.len() as u64) as usize;
            let _ = r.pending.split_to(skip);
            r.position += skip as u64;
            continue;
        }
        let n = (length - out.len()).min(r.pending.len());
        out.extend_from_slice(&r.pending.split_to(n));
        r.position += n as u64;
    }
    Ok((r, out))
}

/// The files attached to a record the plugin may read, in the order they were stored.
pub(super) fn attached(state: &mut HostState, collection: &str, record_id: &str) -> Result<Vec<FileRow>, RecordError> {
    let coll = state.collection(collection)?;
    let company = state.session.company_id.clone();
    let caller = state.caller();
    let found = records::get(state.session.reader()?, &company, Caller::Plugin(&caller), &coll, record_id)?;
    let rows = catalog::on_record(state.session.reader()?, &company, &coll.plugin, &coll.name, record_id)?;
    // Only what the record shows this plugin (a field hidden from it hides its file).
    Ok(rows
        .into_iter()
        .filter(|f| {
            f.field.as_deref().and_then(|name| found.data.get(name)).and_then(|v| v.get("id")).and_then(Value::as_str)
                == Some(f.id.as_str())
        })
        .collect())
}
