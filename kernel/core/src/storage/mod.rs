//! Storage: one diesel connection type over SQLite and PostgreSQL, a pool, transactions and
//! embedded migrations.
//!
//! The database URL selects the backend: `sqlite://path/to/file.db` or `postgres://...`.
//! All blocking database work runs on tokio's blocking pool through [`Db::read`] and
//! [`Db::write`]; the closures receive a [`DbConn`] and may use the diesel DSL directly.
//!
//! A transaction starts reading ([`Tx::reader`]) and becomes a writer at its first
//! [`Tx::conn`]. On SQLite only then does it wait for the one writer's turn, so that work that
//! computes or only reads (a plugin looping, a report) never holds up another company's
//! writes; see [`Tx::conn`] for what the upgrade means for isolation.

pub mod backup;
pub mod dialect;
mod migrate;
mod pool;
pub mod schema;
mod writer;

use std::sync::Arc;

use diesel::connection::SimpleConnection;

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
    /// The work ran past its deadline and was rolled back.
    #[error("the request ran past its deadline; nothing was saved")]
    Deadline,
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

    /// True when the database connection itself was lost (the server ended it, or the
    /// network did) rather than the statement failing: the server rolled back the open
    /// transaction (unless the loss came during its commit), and the pool replaces the
    /// connection.
    pub fn is_connection_lost(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        matches!(
            self,
            StoreError::Query(Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
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
    write_lock: Option<Arc<writer::WriterLock>>,
    /// Where the pool connects, for a connection of its own (PostgreSQL's `LISTEN`).
    target: pool::Target,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("backend", &self.backend).finish()
    }
}

/// An open transaction that owns its connection. Dropping it without [`Tx::commit`] rolls
/// back, so an error or a panic anywhere leaves nothing behind.
pub struct Tx {
    conn: r2d2::PooledConnection<pool::Manager>,
    /// The database's writer lock (SQLite), taken at the first write.
    lock: Option<Arc<writer::WriterLock>>,
    writer: Option<writer::WriterGuard>,
    /// Whose turn it is when the transaction writes: the company, or "" for kernel work.
    lane: String,
    /// The transaction writes (and, on SQLite, holds the writer's turn).
    writing: bool,
    open: bool,
}

impl std::fmt::Debug for Tx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx").field("open", &self.open).field("writing", &self.writing).finish()
    }
}

impl Tx {
    /// The connection, for work that writes: the first call makes the transaction a writer.
    ///
    /// On SQLite that means waiting for the writer's turn and restarting the transaction as
    /// `BEGIN IMMEDIATE` (with its savepoints recreated), because a snapshot taken while
    /// reading may be older than the last commit and SQLite refuses to write from a stale
    /// snapshot. Reads made before the first write therefore saw committed data as of their
    /// statement, the isolation PostgreSQL gives by default (read committed); from the first
    /// write on, the transaction is serialised with every other writer.
    pub fn conn(&mut self) -> Result<&mut DbConn, StoreError> {
        if !self.writing {
            self.start_writing()?;
        }
        Ok(&mut self.conn)
    }

    /// Writes of this transaction queue for the writer's turn in `lane` (a company), so that
    /// turns are shared fairly between companies.
    pub fn set_lane(&mut self, lane: &str) {
        lane.clone_into(&mut self.lane);
    }

    /// The connection, for reads: never waits for the writer's turn.
    pub fn reader(&mut self) -> &mut DbConn {
        &mut self.conn
    }

    /// True once the transaction writes (holds the writer's turn on SQLite, row locks on
    /// PostgreSQL); false while it has only read.
    pub fn is_writing(&self) -> bool {
        self.writing
    }

    fn start_writing(&mut self) -> Result<(), StoreError> {
        if let Some(lock) = &self.lock {
            let guard = lock.acquire(&self.lane);
            if let DbConn::Sqlite(c) = &mut *self.conn {
                let depth = AnsiTransactionManager::transaction_manager_status_mut(c)
                    .transaction_depth()?
                    .map_or(0, std::num::NonZeroU32::get);
                let mut sql = String::from("ROLLBACK; BEGIN IMMEDIATE;");
                for level in 1..depth {
                    sql.push_str(&format!(" SAVEPOINT diesel_savepoint_{level};"));
                }
                c.batch_execute(&sql)?;
            }
            self.writer = Some(guard);
        }
        self.writing = true;
        Ok(())
    }

    /// Commits the transaction.
    pub fn commit(mut self) -> Result<(), StoreError> {
        self.open = false;
        <DbConn as diesel::Connection>::TransactionManager::commit_transaction(&mut *self.conn)?;
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
    /// Connections of the pool: (handed out, open and idle).
    pub fn pool_use(&self) -> (u32, u32) {
        let state = self.pool.state();
        (state.connections.saturating_sub(state.idle_connections), state.idle_connections)
    }

    /// Opens a pool for `url` and applies pending migrations.
    pub fn open(url: &str) -> Result<Db, StoreError> {
        Db::open_with(url, PoolSettings::default())
    }

    /// Like [`Db::open`] with explicit pool settings.
    pub fn open_with(url: &str, settings: PoolSettings) -> Result<Db, StoreError> {
        let target = pool::Target::parse(url)?;
        let backend = target.backend();
        let pool = pool::build(target.clone(), &settings)?;
        let db = Db {
            pool,
            target,
            backend,
            write_lock: (backend == Backend::Sqlite).then(|| Arc::new(writer::WriterLock::default())),
        };
        let mut conn = db.pool.get()?;
        migrate::run(&mut conn)?;
        Ok(db)
    }

    /// The backend this handle talks to.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A PostgreSQL connection outside the pool, for a listener that holds it for as long as
    /// it runs (`LISTEN` belongs to one connection); `None` on SQLite.
    pub fn dedicated_postgres(&self) -> Result<Option<diesel::pg::PgConnection>, StoreError> {
        match &self.target {
            pool::Target::Sqlite(_) => Ok(None),
            pool::Target::Postgres(url) => Ok(Some(
                <diesel::pg::PgConnection as diesel::Connection>::establish(url)
                    .map_err(|e| StoreError::Task(format!("could not open a listening connection: {e}")))?,
            )),
        }
    }

    /// Runs `f` on a pooled connection outside any explicit transaction.
    pub fn read_blocking<T, E>(&self, f: impl FnOnce(&mut DbConn) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let mut conn = self.pool.get().map_err(StoreError::from)?;
        f(&mut conn)
    }

    /// Opens a transaction that reads until its first [`Tx::conn`] (blocking: waits for a
    /// connection).
    pub fn begin(&self) -> Result<Tx, StoreError> {
        let mut conn = self.pool.get()?;
        if let Err(e) = <DbConn as diesel::Connection>::TransactionManager::begin_transaction(&mut *conn) {
            let e = StoreError::from(e);
            if !e.is_connection_lost() {
                return Err(e);
            }
            // The connection died after its checkout test and nothing ran on it: take another
            // (the pool tests the dead one again and drops it).
            tracing::warn!(error = %e, "database connection lost before a transaction; retrying");
            conn = self.pool.get()?;
            <DbConn as diesel::Connection>::TransactionManager::begin_transaction(&mut *conn)?;
        }
        Ok(Tx { conn, lock: self.write_lock.clone(), writer: None, lane: String::new(), writing: false, open: true })
    }

    /// Runs `f` inside one write transaction: committed when `f` returns `Ok`, rolled back
    /// otherwise (and when `f` panics).
    pub fn write_blocking<T, E>(&self, f: impl FnOnce(&mut DbConn) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        // Kernel work that writes takes the writer's turn up front and runs no plugin code.
        let mut tx = self.begin()?;
        let value = f(tx.conn()?)?;
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
