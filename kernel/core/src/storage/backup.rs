//! Backups of a SQLite database: a consistent copy taken while the server writes (`VACUUM
//! INTO` reads one snapshot, WAL included), and putting a copy back while no server runs (a
//! running `erp serve` holds the lock on `<file>.lock`, which a restore needs too).
//!
//! PostgreSQL has its own tools (`pg_dump`, `pg_restore`, continuous archiving); these refuse
//! a PostgreSQL URL and say so.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel::sqlite::SqliteConnection;

/// Errors of backup and restore.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The URL is not a SQLite file.
    #[error(
        "{0} is not a SQLite database; back up PostgreSQL with pg_dump --format=custom and restore with pg_restore (see the README)"
    )]
    NotSqlite(String),
    /// The backup would overwrite a file.
    #[error("{0} already exists; choose a new file for the backup")]
    Exists(PathBuf),
    /// A server runs on the database.
    #[error("an erp server is running on {0} (it holds {1}); stop it first")]
    InUse(PathBuf, PathBuf),
    /// The file is not a usable backup.
    #[error("{0} is not a usable backup: {1}")]
    Unusable(PathBuf, String),
    /// SQLite refused.
    #[error("{0}")]
    Sql(String),
    /// The file is not there.
    #[error("{0} does not exist")]
    Missing(PathBuf),
    /// The file system refused.
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
}

/// The file of a `sqlite://` URL; `None` for other backends and in-memory databases.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    let path = url.strip_prefix("sqlite://")?;
    (!path.is_empty() && path != ":memory:" && !path.starts_with("file:")).then(|| PathBuf::from(path))
}

/// The lock file beside a database file.
pub fn lock_file(db_file: &Path) -> PathBuf {
    with_suffix(db_file, ".lock")
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The lock a running server holds on its database's lock file; released on drop.
#[derive(Debug)]
pub struct ServerLock(#[allow(dead_code)] File);

impl ServerLock {
    /// Takes the lock alone: one server per SQLite file (its bus takes over the leases it finds
    /// at start, which only one process may do), and no restore while it runs.
    pub fn hold(db_file: &Path) -> Result<ServerLock, BackupError> {
        let path = lock_file(db_file);
        let file = open_lock(&path)?;
        match file.try_lock() {
            Ok(()) => Ok(ServerLock(file)),
            Err(TryLockError::WouldBlock) => Err(BackupError::InUse(db_file.to_path_buf(), path)),
            Err(TryLockError::Error(e)) => Err(BackupError::Io(path, e)),
        }
    }
}

fn open_lock(path: &Path) -> Result<File, BackupError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| BackupError::Io(path.to_path_buf(), e))
}

/// What a backup wrote.
#[derive(Debug)]
pub struct Backup {
    /// Size of the backup file.
    pub bytes: u64,
    /// How long it took.
    pub took: Duration,
}

/// Writes a consistent copy of the SQLite database at `url` to `to`, which must not exist.
/// Runs beside a server that writes: the copy is one snapshot, committed work only.
pub fn backup(url: &str, to: &Path) -> Result<Backup, BackupError> {
    let started = Instant::now();
    let file = sqlite_file(url).ok_or_else(|| BackupError::NotSqlite(url.to_string()))?;
    if !file.exists() {
        return Err(BackupError::Missing(file));
    }
    if to.exists() {
        return Err(BackupError::Exists(to.to_path_buf()));
    }
    // Written beside the target and renamed at the end, so a cut-off backup never looks whole.
    let partial = with_suffix(to, ".partial");
    let _ = std::fs::remove_file(&partial);
    let mut conn = open(&file)?;
    let target = partial.to_str().ok_or_else(|| BackupError::Sql(format!("{} is not UTF-8", partial.display())))?;
    conn.batch_execute(&format!("VACUUM INTO '{}'", target.replace('\'', "''"))).map_err(|e| {
        let _ = std::fs::remove_file(&partial);
        BackupError::Sql(format!("copying {}: {e}", file.display()))
    })?;
    drop(conn);
    if let Err(e) = check(&partial) {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    sync(&partial)?;
    std::fs::rename(&partial, to).map_err(|e| BackupError::Io(to.to_path_buf(), e))?;
    sync_dir(to);
    let bytes = std::fs::metadata(to).map_err(|e| BackupError::Io(to.to_path_buf(), e))?.len();
    Ok(Backup { bytes, took: started.elapsed() })
}

/// What a restore did.
#[derive(Debug)]
pub struct Restore {
    /// Where the replaced database was kept, if there was one.
    pub kept: Option<PathBuf>,
}

/// Puts the backup `from` in place of the SQLite database at `url`. Refuses while a server runs
/// on it, and a file that is not a whole backup of a database this binary can open. The
/// replaced database (with its WAL) is kept as `<file>.before-restore`.
pub fn restore(from: &Path, url: &str) -> Result<Restore, BackupError> {
    let file = sqlite_file(url).ok_or_else(|| BackupError::NotSqlite(url.to_string()))?;
    if !from.is_file() {
        return Err(BackupError::Missing(from.to_path_buf()));
    }
    check(from)?;
    let lock_path = lock_file(&file);
    let lock = open_lock(&lock_path)?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Err(BackupError::InUse(file, lock_path)),
        Err(TryLockError::Error(e)) => return Err(BackupError::Io(lock_path, e)),
    }
    let incoming = with_suffix(&file, ".restoring");
    std::fs::copy(from, &incoming).map_err(|e| BackupError::Io(incoming.clone(), e))?;
    sync(&incoming)?;
    // Fold the replaced database's WAL into it first, so that one file holds all of it.
    if file.exists() {
        open(&file)?
            .batch_execute("PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(|e| BackupError::Sql(format!("checkpointing {}: {e}", file.display())))?;
    }
    // A kept database is never overwritten: each restore keeps its own.
    let mut kept = with_suffix(&file, ".before-restore");
    let mut n = 1;
    while [kept.clone(), with_suffix(&kept, "-wal")].iter().any(|p| p.exists()) {
        n += 1;
        kept = with_suffix(&file, &format!(".before-restore-{n}"));
    }
    let mut moved = Vec::new();
    for suffix in ["", "-wal"] {
        let old = with_suffix(&file, suffix);
        if old.exists() {
            let to = with_suffix(&kept, suffix);
            if let Err(e) = std::fs::rename(&old, &to) {
                // Put back what moved, so the database is as it was.
                for (from, to) in moved.iter().rev() {
                    let _ = std::fs::rename(to, from);
                }
                return Err(BackupError::Io(old, e));
            }
            moved.push((old, to));
        }
    }
    let _ = std::fs::remove_file(with_suffix(&file, "-shm"));
    let kept = (!moved.is_empty()).then_some(kept);
    std::fs::rename(&incoming, &file).map_err(|e| BackupError::Io(file.clone(), e))?;
    sync_dir(&file);
    drop(lock);
    Ok(Restore { kept })
}

fn open(file: &Path) -> Result<SqliteConnection, BackupError> {
    let path = file.to_str().ok_or_else(|| BackupError::Sql(format!("{} is not UTF-8", file.display())))?;
    let mut conn =
        SqliteConnection::establish(path).map_err(|e| BackupError::Sql(format!("opening {}: {e}", file.display())))?;
    conn.batch_execute("PRAGMA busy_timeout = 30000;").map_err(|e| BackupError::Sql(e.to_string()))?;
    Ok(conn)
}

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

/// A whole SQLite database that this binary's migrations know all of.
fn check(file: &Path) -> Result<(), BackupError> {
    let unusable = |why: String| BackupError::Unusable(file.to_path_buf(), why);
    let mut conn = open(file).map_err(|e| unusable(e.to_string()))?;
    let result: Vec<Line> = diesel::sql_query("SELECT integrity_check AS line FROM pragma_integrity_check")
        .load(&mut conn)
        .map_err(|e| unusable(e.to_string()))?;
    if result.iter().map(|l| l.line.as_str()).ne(["ok"]) {
        return Err(unusable(format!(
            "the integrity check failed: {}",
            result.iter().map(|l| l.line.as_str()).take(3).collect::<Vec<_>>().join("; ")
        )));
    }
    let versions: Vec<Line> = diesel::sql_query("SELECT version AS line FROM __diesel_schema_migrations")
        .load(&mut conn)
        .map_err(|_| unusable("it holds no ERP database".into()))?;
    if let Some(unknown) = super::migrate::unknown_sqlite(versions.into_iter().map(|l| l.line)) {
        return Err(unusable(format!(
            "a newer version of erp wrote it (migration {unknown} is unknown to this binary); restore it with that version"
        )));
    }
    Ok(())
}

fn sync(file: &Path) -> Result<(), BackupError> {
    File::open(file).and_then(|f| f.sync_all()).map_err(|e| BackupError::Io(file.to_path_buf(), e))
}

/// Makes a rename durable (best effort: not every platform can open a folder).
fn sync_dir(file: &Path) {
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(d) = File::open(dir)
    {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_file() {
        assert_eq!(sqlite_file("sqlite://erp.db"), Some(PathBuf::from("erp.db")));
        assert_eq!(sqlite_file("sqlite:///var/lib/erp/erp.db"), Some(PathBuf::from("/var/lib/erp/erp.db")));
        assert_eq!(sqlite_file("postgres://u@h/db"), None);
        assert_eq!(sqlite_file("sqlite://:memory:"), None);
        assert_eq!(lock_file(Path::new("/x/erp.db")), PathBuf::from("/x/erp.db.lock"));
    }

    #[test]
    fn a_restore_waits_for_the_server_to_stop() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("erp.db");
        let url = format!("sqlite://{}", file.display());
        drop(super::super::Db::open(&url).unwrap());
        let copy = dir.path().join("copy.db");
        let made = backup(&url, &copy).unwrap();
        assert!(made.bytes > 0);
        assert!(matches!(backup(&url, &copy), Err(BackupError::Exists(_))), "never overwrites a backup");
        let server = ServerLock::hold(&file).unwrap();
        assert!(matches!(restore(&copy, &url), Err(BackupError::InUse(..))));
        assert!(matches!(ServerLock::hold(&file), Err(BackupError::InUse(..))), "one server per file");
        drop(server);
        let done = restore(&copy, &url).unwrap();
        assert_eq!(done.kept, Some(dir.path().join("erp.db.before-restore")));
        assert!(file.exists());
        let again = restore(&copy, &url).unwrap();
        assert_eq!(again.kept, Some(dir.path().join("erp.db.before-restore-2")), "an earlier kept copy stays");
        assert!(dir.path().join("erp.db.before-restore").exists());
    }

    #[test]
    fn broken_and_foreign_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("erp.db").display());
        let junk = dir.path().join("junk.db");
        std::fs::write(&junk, b"this is not a database at all, only some text").unwrap();
        assert!(matches!(restore(&junk, &url), Err(BackupError::Unusable(..))));
        let empty = dir.path().join("empty.db");
        SqliteConnection::establish(empty.to_str().unwrap()).unwrap().batch_execute("CREATE TABLE t (x)").unwrap();
        let err = restore(&empty, &url).unwrap_err();
        assert!(err.to_string().contains("holds no ERP database"), "{err}");
        assert!(!dir.path().join("erp.db").exists(), "nothing was replaced");
        assert!(matches!(backup("postgres://u@h/db", &junk), Err(BackupError::NotSqlite(_))));
    }
}
