//! Connection pool: parses the database URL and opens correctly configured connections.

use std::time::Duration;

use diesel::Connection;
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;

use super::{Backend, DbConn, StoreError};

/// Pool sizing.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// Maximum connections kept open.
    pub max_size: u32,
    /// How long a caller waits for a free connection.
    pub timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings { max_size: 16, timeout: Duration::from_secs(30) }
    }
}

/// Where connections go.
#[derive(Debug, Clone)]
pub(super) enum Target {
    Sqlite(String),
    Postgres(String),
}

impl Target {
    pub(super) fn parse(url: &str) -> Result<Target, StoreError> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(StoreError::BadUrl(url.to_string()));
            }
            Ok(Target::Sqlite(path.to_string()))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Target::Postgres(url.to_string()))
        } else {
            Err(StoreError::BadUrl(url.to_string()))
        }
    }

    pub(super) fn backend(&self) -> Backend {
        match self {
            Target::Sqlite(_) => Backend::Sqlite,
            Target::Postgres(_) => Backend::Postgres,
        }
    }
}

pub(super) struct Manager {
    target: Target,
}

impl r2d2::ManageConnection for Manager {
    type Connection = DbConn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConn, Self::Error> {
        match &self.target {
            Target::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(path).map_err(diesel::r2d2::Error::ConnectionError)?;
                // WAL lets readers run beside the writer; FULL sync makes every acknowledged
                // commit survive a crash of the process or the machine.
                conn.batch_execute(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 30000;",
                )
                .map_err(diesel::r2d2::Error::QueryError)?;
                Ok(DbConn::Sqlite(conn))
            }
            Target::Postgres(url) => {
                let conn = PgConnection::establish(url).map_err(diesel::r2d2::Error::ConnectionError)?;
                Ok(DbConn::Postgres(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), Self::Error> {
        conn.batch_execute("SELECT 1").map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        use diesel::r2d2::R2D2Connection;
        conn.is_broken()
    }
}

pub(super) fn build(target: Target, settings: &PoolSettings) -> Result<r2d2::Pool<Manager>, StoreError> {
    let max_size = match target {
        // One file, one writer; but a transaction keeps its connection while its plugin code
        // computes before writing, so allow enough for several companies' lanes at once.
        Target::Sqlite(_) => settings.max_size.max(32),
        Target::Postgres(_) => settings.max_size,
    };
    // A server's connection can die while it sits in the pool (a restart, a failover,
    // `pg_terminate_backend`): test it with `SELECT 1` when it is checked out and replace it
    // when that fails. SQLite's connections are open files and do not die that way.
    let test_on_check_out = matches!(target, Target::Postgres(_));
    Ok(r2d2::Pool::builder()
        .max_size(max_size)
        .min_idle(Some(1))
        .connection_timeout(settings.timeout)
        .test_on_check_out(test_on_check_out)
        .error_handler(Box::new(LogErrors))
        .build(Manager { target })?)
}

/// Reports connections that failed their test or could not be opened (r2d2 otherwise logs
/// through the `log` crate).
#[derive(Debug)]
struct LogErrors;

impl r2d2::HandleError<diesel::r2d2::Error> for LogErrors {
    fn handle_error(&self, error: diesel::r2d2::Error) {
        tracing::warn!(error = %error, "a database connection failed its test or could not be opened");
    }
}
