//! Files: uploads streamed to a staging file while their SHA-256 is computed (and, with a key
//! configured, sealed with AES-256-GCM), kept once per content in a [`BlobStore`], registered
//! against the company's quota, attached to at most one record's field, and read back as a
//! stream. Who may download a file is decided by the record that holds it (see
//! `records::attachments` and the API's file routes); nothing here serves a URL.

pub mod blob;
pub mod catalog;
pub mod names;
pub mod seal;

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::Stream;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub use blob::{BlobStore, LocalDisk};
pub use catalog::{FileRow, FileUsage};
pub use seal::FileKey;

use crate::storage::{Db, StoreError};

/// Default largest file: 256 MiB.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;
/// Default room for one company's files: 20 GiB.
pub const DEFAULT_COMPANY_FILE_BYTES: i64 = 20 * 1024 * 1024 * 1024;
/// How long an upload may wait to be attached to a record before it is removed.
pub const UNATTACHED_TTL: Duration = Duration::from_secs(24 * 3600);
/// How old an unused blob or a staging file must be before the sweep removes it, so that an
/// upload in flight is never swept.
const SWEEP_GRACE: Duration = Duration::from_secs(3600);
/// Bytes gathered before a write to the staging file.
const WRITE_BUFFER: usize = 256 * 1024;

/// A file could not be kept or read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Larger than the per-file limit; nothing was kept.
    #[error("the file is larger than the {limit} bytes a file may have; nothing was kept")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// The company's room for files would be passed; nothing was kept.
    #[error("quota exceeded: the company's files would take {} of the {limit} bytes allowed; nothing was kept", used + size)]
    Quota {
        /// The company's room.
        limit: i64,
        /// What its files take now.
        used: i64,
        /// This file.
        size: i64,
    },
    /// A bad name or type.
    #[error("{0}")]
    Invalid(&'static str),
    /// No such file, or not one the caller may know about.
    #[error("no such file")]
    NotFound,
    /// The upload stopped before its end; nothing was kept.
    #[error("the upload was interrupted; nothing was kept")]
    Interrupted,
    /// A stored blob cannot be read back.
    #[error(transparent)]
    Seal(#[from] seal::SealError),
    /// The disk or object store failed.
    #[error("file storage failed: {0}")]
    Io(#[from] io::Error),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where files go and how large they may be.
#[derive(Debug, Clone)]
pub struct FileSettings {
    /// The directory of blobs (`blobs/`) and uploads in flight (`staging/`).
    pub dir: PathBuf,
    /// Seals new blobs with this key (existing plain blobs stay readable).
    pub key: Option<FileKey>,
    /// Largest file.
    pub max_file_bytes: u64,
    /// Room for one company's files (`None`: unlimited).
    pub company_bytes: Option<i64>,
}

impl FileSettings {
    /// Default limits, files under `dir`, no encryption.
    pub fn in_dir(dir: impl Into<PathBuf>) -> FileSettings {
        FileSettings {
            dir: dir.into(),
            key: None,
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            company_bytes: Some(DEFAULT_COMPANY_FILE_BYTES),
        }
    }
}

/// The file service of a node. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Files {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<dyn BlobStore>,
    staging: PathBuf,
    key: Option<FileKey>,
    max_file_bytes: u64,
    company_bytes: Option<i64>,
}

impl Files {
    /// Files on the local disk under `settings.dir`.
    pub fn open(settings: FileSettings) -> Files {
        let store = Arc::new(LocalDisk::new(settings.dir.join("blobs")));
        Files::with_store(store, settings)
    }

    /// Files in another blob store (an object store shared by several nodes); uploads are
    /// still staged under `settings.dir`.
    pub fn with_store(store: Arc<dyn BlobStore>, settings: FileSettings) -> Files {
        Files {
            inner: Arc::new(Inner {
                store,
                staging: settings.dir.join("staging"),
                key: settings.key,
                max_file_bytes: settings.max_file_bytes,
                company_bytes: settings.company_bytes,
            }),
        }
    }

    /// The largest file.
    pub fn max_file_bytes(&self) -> u64 {
        self.inner.max_file_bytes
    }

    /// Room for one company's files.
    pub fn company_bytes(&self) -> Option<i64> {
        self.inner.company_bytes
    }

    /// Starts an upload into the staging directory.
    pub async fn begin_upload(&self) -> Result<Upload, FileError> {
        tokio::fs::create_dir_all(&self.inner.staging).await?;
        let path = self.inner.staging.join(format!("{}.part", crate::ids::new_id()));
        let file = tokio::fs::OpenOptions::new().write(true).create_new(true).open(&path).await?;
        let (sealer, header) = seal::Sealer::new(self.inner.key.as_ref())?;
        let mut out = Vec::with_capacity(WRITE_BUFFER + seal::CHUNK + 64);
        out.extend_from_slice(&header);
        Ok(Upload {
            file: Some(file),
            path,
            hasher: Sha256::new(),
            sealer: Some(sealer),
            size: 0,
            limit: self.inner.max_file_bytes,
            out,
            done: false,
        })
    }

    /// Registers a staged upload for a company (counted against its quota) and keeps its
    /// content. Over the quota, or when keeping fails, nothing stays.
    pub async fn keep(&self, db: &Db, staged: Staged, upload: Uploaded) -> Result<FileRow, FileError> {
        let name = names::clean_name(&upload.name).map_err(FileError::Invalid)?;
        let content_type = names::content_type(upload.content_type.as_deref(), &name);
        let (sha, size, limit) = (staged.sha256.clone(), staged.size, self.inner.company_bytes);
        let row = db
            .write(move |conn| {
                let new = catalog::NewFile {
                    company_id: &upload.company_id,
                    sha256: &sha,
                    size,
                    name: &name,
                    content_type: &content_type,
                    uploaded_by: upload.uploaded_by.as_deref(),
                };
                catalog::register(conn, limit, new)
            })
            .await?;
        if let Err(e) = self.put(staged).await {
            let (company, id) = (row.company_id.clone(), row.id.clone());
            if let Err(undo) = db.write(move |conn| catalog::remove(conn, &company, &id)).await {
                tracing::error!(error = %undo, "could not forget a file whose content was not kept");
            }
            return Err(e);
        }
        Ok(row)
    }

    /// Stages content that is already in memory (a plugin's file), as an upload would.
    pub async fn stage(&self, content: Vec<u8>) -> Result<Staged, FileError> {
        let mut upload = self.begin_upload().await?;
        for piece in content.chunks(seal::CHUNK) {
            upload.write(piece).await?;
        }
        upload.finish().await
    }

    /// Keeps a staged upload's content under its SHA-256 (for a file registered by the caller).
    pub async fn keep_staged(&self, staged: Staged) -> Result<(), FileError> {
        self.put(staged).await
    }

    async fn put(&self, mut staged: Staged) -> Result<(), FileError> {
        self.inner.store.put(&staged.sha256, &staged.path).await?;
        staged.moved = true;
        Ok(())
    }

    /// The content of a file, as a stream of bytes.
    pub async fn read(&self, file: &FileRow) -> Result<ByteStream, FileError> {
        let reader = match self.inner.store.open(&file.sha256).await {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(FileError::NotFound),
            other => other?,
        };
        let opener = seal::Opener::new(self.inner.key.as_ref());
        let state = ReadState { reader, opener: Some(opener), buf: vec![0u8; seal::CHUNK] };
        Ok(Box::pin(futures_util::stream::unfold(state, next_piece)))
    }

    /// Removes what nobody uses any more: uploads not attached within a day, files whose
    /// record is gone, blobs no file names, and staging leftovers of crashed uploads.
    pub async fn sweep(&self, db: &Db) -> Result<Swept, FileError> {
        self.sweep_with(db, UNATTACHED_TTL, SWEEP_GRACE).await
    }

    /// [`Files::sweep`] with its own waits: how long an upload may stay unattached, and how
    /// old an unused blob or staging file must be.
    pub async fn sweep_with(&self, db: &Db, unattached_ttl: Duration, grace: Duration) -> Result<Swept, FileError> {
        let mut swept = Swept::default();
        let before = crate::clock::now() - unattached_ttl.as_micros() as i64;
        loop {
            let gone = db
                .write(move |conn| {
                    let gone = catalog::abandoned(conn, before, 500)?;
                    for (company, id) in &gone {
                        catalog::remove(conn, company, id)?;
                    }
                    Ok::<_, StoreError>(gone.len())
                })
                .await?;
            swept.files += gone;
            if gone < 500 {
                break;
            }
        }
        let old = SystemTime::now() - grace;
        for key in self.inner.store.written_before(old).await? {
            let k = key.clone();
            if !db.read(move |conn| catalog::blob_in_use(conn, &k)).await? {
                self.inner.store.remove(&key).await?;
                swept.blobs += 1;
            }
        }
        swept.staging = remove_older(&self.inner.staging, old).await?;
        Ok(swept)
    }
}

/// Runs file I/O for a caller that may not await (a plugin's host call, on a blocking thread
/// inside a transaction): on a short-lived thread in the node's runtime, or in a small runtime
/// of its own where there is none.
pub fn block_on<F>(work: F) -> io::Result<F::Output>
where
    F: std::future::Future + Send,
    F::Output: Send,
{
    let handle = tokio::runtime::Handle::try_current().ok();
    std::thread::scope(|scope| {
        let worker = scope.spawn(move || match handle {
            Some(handle) => Ok(handle.block_on(work)),
            None => tokio::runtime::Builder::new_current_thread().enable_all().build().map(|rt| rt.block_on(work)),
        });
        worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// What a sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// File rows.
    pub files: usize,
    /// Blobs.
    pub blobs: usize,
    /// Staging leftovers.
    pub staging: usize,
}

async fn remove_older(dir: &Path, before: SystemTime) -> io::Result<usize> {
    let mut entries = match tokio::fs::read_dir(dir).await {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut n = 0;
    while let Some(entry) = entries.next_entry().await? {
        let modified = entry.metadata().await.and_then(|m| m.modified());
        if modified.is_ok_and(|m| m < before) && tokio::fs::remove_file(entry.path()).await.is_ok() {
            n += 1;
        }
    }
    Ok(n)
}

/// A file's content as it is read.
pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

struct ReadState {
    reader: blob::BlobReader,
    opener: Option<seal::Opener>,
    buf: Vec<u8>,
}

async fn next_piece(mut st: ReadState) -> Option<(io::Result<Bytes>, ReadState)> {
    loop {
        let opener = st.opener.as_mut()?;
        let n = match st.reader.read(&mut st.buf).await {
            Ok(n) => n,
            Err(e) => {
                st.opener = None;
                return Some((Err(e), st));
            }
        };
        let mut out = Vec::new();
        let step = if n == 0 {
            let last = st.opener.take()?;
            last.finish(&mut out)
        } else {
            opener.push(&st.buf[..n], &mut out)
        };
        match step {
            Err(e) => {
                st.opener = None;
                return Some((Err(io::Error::new(io::ErrorKind::InvalidData, e)), st));
            }
            Ok(()) if out.is_empty() && n != 0 => continue,
            Ok(()) if out.is_empty() => return None,
            Ok(()) => return Some((Ok(Bytes::from(out)), st)),
        }
    }
}

/// What an upload says about itself.
#[derive(Debug, Clone)]
pub struct Uploaded {
    /// The company it is for.
    pub company_id: String,
    /// The name the client gave.
    pub name: String,
    /// The type the client gave.
    pub content_type: Option<String>,
    /// Who uploads it.
    pub uploaded_by: Option<String>,
}

/// An upload in flight: content goes to a staging file as it comes. Dropped before
/// [`Upload::finish`], it leaves nothing behind.
pub struct Upload {
    file: Option<tokio::fs::File>,
    path: PathBuf,
    hasher: Sha256,
    sealer: Option<seal::Sealer>,
    size: u64,
    limit: u64,
    out: Vec<u8>,
    done: bool,
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload").field("path", &self.path).field("size", &self.size).finish()
    }
}

impl Upload {
    /// Adds the next piece of content; past the per-file limit it fails and the upload is void.
    pub async fn write(&mut self, data: &[u8]) -> Result<(), FileError> {
        self.size += data.len() as u64;
        if self.size > self.limit {
            return Err(FileError::TooLarge { limit: self.limit });
        }
        self.hasher.update(data);
        let sealer = self.sealer.as_mut().ok_or(FileError::Interrupted)?;
        sealer.push(data, &mut self.out)?;
        if self.out.len() >= WRITE_BUFFER {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), FileError> {
        let file = self.file.as_mut().ok_or(FileError::Interrupted)?;
        file.write_all(&self.out).await?;
        self.out.clear();
        Ok(())
    }

    /// Ends the content: the staged file is complete and on disk.
    pub async fn finish(mut self) -> Result<Staged, FileError> {
        let sealer = self.sealer.take().ok_or(FileError::Interrupted)?;
        sealer.finish(&mut self.out)?;
        self.flush().await?;
        let mut file = self.file.take().ok_or(FileError::Interrupted)?;
        file.flush().await?;
        file.sync_all().await?;
        drop(file);
        self.done = true;
        let sha256 = hex::encode(std::mem::take(&mut self.hasher).finalize());
        Ok(Staged { path: self.path.clone(), sha256, size: self.size as i64, moved: false })
    }

    /// Bytes received so far.
    pub fn size(&self) -> u64 {
        self.size
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if !self.done {
            drop(self.file.take());
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A complete upload waiting to be kept; dropped instead, it is removed.
#[derive(Debug)]
pub struct Staged {
    path: PathBuf,
    /// SHA-256 of the content, in hex.
    pub sha256: String,
    /// Bytes of content.
    pub size: i64,
    moved: bool,
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.moved {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
