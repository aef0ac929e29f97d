//! Embedded migrations for both backends, applied at start-up.

use std::collections::HashSet;

use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::{DbConn, StoreError};

const SQLITE: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// Advisory lock key that serialises migrations between nodes starting at once.
const MIGRATION_LOCK: i64 = 0x4552_505f_4d49_4752;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Applies pending migrations; refuses a database that a newer version of the binary has
/// migrated (a downgrade), naming the migration this binary does not know.
pub(super) fn run(conn: &mut DbConn) -> Result<(), StoreError> {
    let failed = |e: BoxError| StoreError::Migration(e.to_string());
    match conn {
        DbConn::Sqlite(c) => {
            refuse_newer(unknown_applied(c, &SQLITE).map_err(failed)?)?;
            c.run_pending_migrations(SQLITE).map_err(failed)?;
        }
        DbConn::Postgres(c) => {
            c.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
            let result = unknown_applied(c, &POSTGRES)
                .map_err(failed)
                .and_then(refuse_newer)
                .and_then(|()| c.run_pending_migrations(POSTGRES).map(|_| ()).map_err(failed));
            c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))?;
            result?;
        }
    }
    Ok(())
}

/// The first migration recorded in the database that `source` does not have.
fn unknown_applied<DB, H>(harness: &mut H, source: &EmbeddedMigrations) -> Result<Option<String>, BoxError>
where
    DB: diesel::backend::Backend,
    H: MigrationHarness<DB>,
    EmbeddedMigrations: MigrationSource<DB>,
{
    let known: HashSet<String> =
        MigrationSource::<DB>::migrations(source)?.iter().map(|m| m.name().version().to_string()).collect();
    let mut applied: Vec<String> = harness.applied_migrations()?.iter().map(ToString::to_string).collect();
    applied.sort();
    Ok(applied.into_iter().find(|v| !known.contains(v)))
}

fn refuse_newer(unknown: Option<String>) -> Result<(), StoreError> {
    match unknown {
        None => Ok(()),
        Some(version) => Err(StoreError::Migration(format!(
            "this database was upgraded by a newer version of erp: it has migration {version}, which this binary does not know. Downgrades are not supported: run the newer binary, or restore the backup taken before the upgrade"
        ))),
    }
}

/// The first of `applied` (migration versions read from a SQLite file) that this binary does
/// not have.
pub(super) fn unknown_sqlite(applied: impl Iterator<Item = String>) -> Option<String> {
    let known: HashSet<String> = MigrationSource::<diesel::sqlite::Sqlite>::migrations(&SQLITE)
        .map(|all| all.iter().map(|m| m.name().version().to_string()).collect())
        .unwrap_or_default();
    let mut applied: Vec<String> = applied.collect();
    applied.sort();
    applied.into_iter().find(|v| !known.contains(v))
}

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;

    use crate::storage::{Db, StoreError};

    #[test]
    fn a_database_from_a_newer_binary_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("erp.db").display());
        drop(Db::open(&url).unwrap());
        let db = Db::open(&url).unwrap();
        db.write_blocking(|conn| {
            conn.batch_execute("INSERT INTO __diesel_schema_migrations (version) VALUES ('29991231000000')")
                .map_err(StoreError::from)
        })
        .unwrap();
        drop(db);
        let err = Db::open(&url).unwrap_err().to_string();
        assert!(err.contains("29991231000000") && err.contains("newer version of erp"), "{err}");
        assert!(err.contains("restore the backup taken before the upgrade"), "{err}");
    }
}
