//! Storage: one diesel connection type over SQLite and PostgreSQL, a pool, transactions and
//! embedded migrations.
//!
//! The database URL selects the backend: `sqlite://path/to/file.db` or `postgres://...`.
//! All blocking database work runs on tokio's blocking pool through [`Db::read`] and
//! [`Db::write`]; the closures receive a [`DbConn`] and may use the diesel DSL directly.

pub mod dialect;
mod migrate;
mod pool;
pub mod schema;

use std::sync::Arc;

use parking_lot::{ArcMutexGuard, Mutex, RawMutex};

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;

pub use pool::PoolSettings;

/// A connection to either backend. Queries written with the diesel DSL run on both.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    /// A PostgreSQL connection.
    Postgres(PgConnection),
    /// An SQLite connection (WAL mode, foreign keys on).
    Sqlite(SqliteConnection),
}

/// Which database engine a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL is not one the kernel understands.
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://...")]
    BadUrl(String),
    /// No connection could be obtained from the pool.
    #[error("database unavailable: {0}")]
    Pool(#[from] r2d2::Error),
    /// A query failed.
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    /// Migrations could not be applied.
    #[error("migration failed: {0}")]
    Migration(String),
    /// The blocking task running the database work was cancelled or panicked.
    #[error("database task failed: {0}")]
    Task(String),
}

impl StoreError {
    /// True when the error is a unique-constraint violation.
    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            StoreError::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _
            ))
        )
    }
}

/// A pooled database handle. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: r2d2::Pool<pool::Manager>,
    backend: Backend,
    /// SQLite has one writer at a time; serialising writers in-process avoids busy-waiting.
    write_lock: Option<Arc<Mutex<()>>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("backend", &self.backend).finish()
    }
}

/// An open write transaction that owns its connection. Dropping it without
/// [`Tx::commit`] rolls back, so an error or a panic anywhere leaves nothing behind.
pub struct Tx {
    conn: r2d2::PooledConnection<pool::Manager>,
    _writer: Option<ArcMutexGuard<RawMutex, ()>>,
    open: bool,
}

impl std::fmt::Debug for Tx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx").field("open", &self.open).finish()
    }
}

impl Tx {
    /// The connection inside the transaction.
    pub fn conn(&mut self) -> &mut DbConn {
        &mut self.conn
    }

    /// Commits the transaction.
    pub fn commit(mut self) -> Result<(), StoreError> {
        self.open = false;
        <DbConn as diesel::Connection>::TransactionManager::commit_transaction(&mut self.conn)?;
        Ok(())
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        if self.open
            && let Err(e) = <DbConn as diesel::Connection>::TransactionManager::rollback_transaction(&mut self.conn)
        {
            tracing::warn!(error = %e, "rollback failed");
        }
    }
}

impl Db {
    /// Opens a pool for `url` and applies pending migrations.
    pub fn open(url: &str) -> Result<Db, StoreError> {
        Db::open_with(url, PoolSettings::default())
    }

    /// Like [`Db::open`] with explicit pool settings.
    pub fn open_with(url: &str, settings: PoolSettings) -> Result<Db, StoreError> {
        let target = pool::Target::parse(url)?;
        let backend = target.backend();
        let pool = pool::build(target, &settings)?;
        let db = Db { pool, backend, write_lock: (backend == Backend::Sqlite).then(|| Arc::new(Mutex::new(()))) };
        let mut conn = db.pool.get()?;
        migrate::run(&mut conn)?;
        Ok(db)
    }

    /// The backend this handle talks to.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Runs `f` on a pooled connection outside any explicit transaction.
    pub fn read_blocking<T, E>(&self, f: impl FnOnce(&mut DbConn) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let mut conn = self.pool.get().map_err(StoreError::from)?;
        f(&mut conn)
    }

    /// Opens a write transaction (blocking: waits for a connection, and on SQLite for the
    /// writer's turn).
    pub fn begin(&self) -> Result<Tx, StoreError> {
        // Wait for the writer's turn before taking a connection, so that waiting writers do
        // not hold connections that readers need.
        let writer = self.write_lock.as_ref().map(|lock| lock.lock_arc());
        let mut conn = self.pool.get()?;
        begin(&mut conn)?;
        Ok(Tx { conn, _writer: writer, open: true })
    }

    /// Runs `f` inside one write transaction: committed when `f` returns `Ok`, rolled back
    /// otherwise (and when `f` panics).
    pub fn write_blocking<T, E>(&self, f: impl FnOnce(&mut DbConn) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let mut tx = self.begin()?;
        let value = f(tx.conn())?;
        tx.commit()?;
        Ok(value)
    }

    /// Async wrapper of [`Db::read_blocking`] on tokio's blocking pool.
    pub async fn read<T, E>(&self, f: impl FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let db = self.clone();
        run_blocking(move || db.read_blocking(f)).await
    }

    /// Async wrapper of [`Db::write_blocking`] on tokio's blocking pool.
    pub async fn write<T, E>(&self, f: impl FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let db = self.clone();
        run_blocking(move || db.write_blocking(f)).await
    }
}

/// Runs blocking work on tokio's blocking pool, turning a panic into an error.
pub async fn run_blocking<T, E>(f: impl FnOnce() -> Result<T, E> + Send + 'static) -> Result<T, E>
where
    T: Send + 'static,
    E: From<StoreError> + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result,
        Err(join) => Err(StoreError::Task(join.to_string()).into()),
    }
}

/// Opens a write transaction; on SQLite it takes the write lock up front (`BEGIN IMMEDIATE`)
/// so that a transaction never fails half-way on lock upgrade.
fn begin(conn: &mut DbConn) -> diesel::QueryResult<()> {
    match conn {
        DbConn::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE"),
        DbConn::Postgres(c) => AnsiTransactionManager::begin_transaction(c),
    }
}
