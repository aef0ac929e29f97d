//! Where file contents live: a content-addressed blob store behind one interface. The local
//! disk is the default; an S3-compatible object store implements the same four operations for
//! nodes that share no disk.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use tokio::io::AsyncRead;

/// A readable blob.
pub type BlobReader = Box<dyn AsyncRead + Send + Unpin>;

/// Blobs by key (the SHA-256 of the content, in hex). Putting a key that exists replaces it
/// with the same content and counts as a fresh write, so a sweep never takes a blob that an
/// upload has just put.
#[async_trait::async_trait]
pub trait BlobStore: Send + Sync + fmt::Debug {
    /// Moves a staged local file in under `key`.
    async fn put(&self, key: &str, staged: &Path) -> io::Result<()>;
    /// Opens a blob for reading; `NotFound` when there is none.
    async fn open(&self, key: &str) -> io::Result<BlobReader>;
    /// Removes a blob; a missing one is not an error.
    async fn remove(&self, key: &str) -> io::Result<()>;
    /// Keys of the blobs last written before `before`.
    async fn written_before(&self, before: SystemTime) -> io::Result<Vec<String>>;
}

/// True for a key this store accepts: 64 lower-case hex digits.
pub fn valid_key(key: &str) -> bool {
    key.len() == 64 && key.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn bad_key(key: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("not a blob key: {key:?}"))
}

/// Blobs as files under a directory: `blobs/ab/cd/abcd…`.
#[derive(Debug, Clone)]
pub struct LocalDisk {
    root: PathBuf,
}

impl LocalDisk {
    /// A store under `root` (made on the first put).
    pub fn new(root: impl Into<PathBuf>) -> LocalDisk {
        LocalDisk { root: root.into() }
    }

    fn path(&self, key: &str) -> io::Result<PathBuf> {
        if !valid_key(key) {
            return Err(bad_key(key));
        }
        Ok(self.root.join(&key[..2]).join(&key[2..4]).join(key))
    }
}

#[async_trait::async_trait]
impl BlobStore for LocalDisk {
    async fn put(&self, key: &str, staged: &Path) -> io::Result<()> {
        let path = self.path(key)?;
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        // A rename is atomic: readers see the old blob or the new one, never a part.
        tokio::fs::rename(staged, &path).await
    }

    async fn open(&self, key: &str) -> io::Result<BlobReader> {
        let file = tokio::fs::File::open(self.path(key)?).await?;
        Ok(Box::new(file))
    }

    async fn remove(&self, key: &str) -> io::Result<()> {
        match tokio::fs::remove_file(self.path(key)?).await {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    async fn written_before(&self, before: SystemTime) -> io::Result<Vec<String>> {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || {
            let mut keys = Vec::new();
            for a in read_dir_or_empty(&root)? {
                for b in read_dir_or_empty(&a)? {
                    for blob in read_dir_or_empty(&b)? {
                        let Some(key) = blob.file_name().and_then(|n| n.to_str()).map(str::to_string) else {
                            continue;
                        };
                        let modified = std::fs::metadata(&blob).and_then(|m| m.modified());
                        if valid_key(&key) && modified.is_ok_and(|m| m < before) {
                            keys.push(key);
                        }
                    }
                }
            }
            Ok(keys)
        })
        .await
        .map_err(io::Error::other)?
    }
}

fn read_dir_or_empty(dir: &Path) -> io::Result<Vec<PathBuf>> {
    match std::fs::read_dir(dir) {
        Ok(entries) => Ok(entries.filter_map(|e| e.ok().map(|e| e.path())).collect()),
        Err(e) if e.kind() == io::ErrorKind::NotFound || e.kind() == io::ErrorKind::NotADirectory => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn blobs_are_put_read_listed_and_removed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = LocalDisk::new(dir.path().join("blobs"));
        let key = "ab".repeat(32);
        let staged = dir.path().join("staged");
        std::fs::write(&staged, b"hello").expect("write");
        store.put(&key, &staged).await.expect("put");
        assert!(!staged.exists(), "the staged file is moved, not copied");
        let mut text = String::new();
        store.open(&key).await.expect("open").read_to_string(&mut text).await.expect("read");
        assert_eq!(text, "hello");
        let later = SystemTime::now() + std::time::Duration::from_secs(5);
        assert_eq!(store.written_before(later).await.expect("list"), vec![key.clone()]);
        assert!(store.written_before(SystemTime::UNIX_EPOCH).await.expect("list").is_empty());
        store.remove(&key).await.expect("remove");
        store.remove(&key).await.expect("removing twice is fine");
        assert_eq!(store.open(&key).await.err().map(|e| e.kind()), Some(io::ErrorKind::NotFound));
        assert!(store.open("../../etc/passwd").await.is_err(), "only hex keys name blobs");
    }
}
