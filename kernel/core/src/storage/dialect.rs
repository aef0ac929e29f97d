//! Where SQLite and PostgreSQL differ, in one place: placeholders and binds of generated SQL,
//! and row locks for claiming work. Everything above `storage` writes one code path.

use diesel::QueryableByName;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Nullable, Text};
use diesel::sqlite::Sqlite;

use super::DbConn;

/// A value bound into generated SQL.
#[derive(Debug, Clone, PartialEq)]
pub enum Bind {
    /// Text.
    Text(String),
    /// A floating-point number (index keys of numbers; exact values are rechecked).
    Num(f64),
    /// An integer.
    Int(i64),
    /// Text or NULL.
    NullableText(Option<String>),
}

/// The statement with its values bound, boxed for the backend the connection arm infers.
macro_rules! bound {
    ($sql:expr, $text:expr) => {{
        let mut q = diesel::sql_query($text).into_boxed();
        for b in &$sql.binds {
            q = match b {
                Bind::Text(s) => q.bind::<Text, _>(s.clone()),
                Bind::Num(n) => q.bind::<Double, _>(*n),
                Bind::Int(i) => q.bind::<BigInt, _>(*i),
                Bind::NullableText(s) => q.bind::<Nullable<Text>, _>(s.clone()),
            };
        }
        q
    }};
}

/// SQL text with `?` placeholders and their values, rendered for the backend when run.
#[derive(Debug, Default)]
pub struct Sql {
    text: String,
    binds: Vec<Bind>,
}

impl Sql {
    /// Appends SQL text (never a value: values go through [`Sql::bind`]).
    pub fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    /// Appends a placeholder for `b`.
    pub fn bind(&mut self, b: Bind) -> &mut Self {
        self.text.push('?');
        self.binds.push(b);
        self
    }

    /// Appends another fragment with its values.
    pub fn append(&mut self, other: Sql) -> &mut Self {
        self.text.push_str(&other.text);
        self.binds.extend(other.binds);
        self
    }

    /// Runs the query and reads its rows by column name.
    pub fn load<R>(&self, conn: &mut DbConn) -> QueryResult<Vec<R>>
    where
        R: QueryableByName<Sqlite> + QueryableByName<Pg> + 'static,
    {
        match conn {
            DbConn::Sqlite(c) => bound!(self, self.text.clone()).load::<R>(c),
            DbConn::Postgres(c) => bound!(self, numbered(&self.text)).load::<R>(c),
        }
    }

    /// Runs a statement that returns no rows; answers the number of rows it changed.
    pub fn execute(&self, conn: &mut DbConn) -> QueryResult<usize> {
        match conn {
            DbConn::Sqlite(c) => bound!(self, self.text.clone()).execute(c),
            DbConn::Postgres(c) => bound!(self, numbered(&self.text)).execute(c),
        }
    }
}

/// `?` placeholders as `$1, $2, ...` for PostgreSQL (generated SQL never has `?` in literals).
fn numbered(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut n = 0;
    for ch in text.chars() {
        if ch == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(ch);
        }
    }
    out
}

/// Loads the rows of a diesel query that this transaction claims: `FOR UPDATE SKIP LOCKED` on
/// PostgreSQL, so that several nodes claim disjoint rows; on SQLite the one writer already
/// excludes everybody else.
macro_rules! claim_rows {
    ($conn:expr, $query:expr) => {
        match $conn {
            $crate::storage::DbConn::Postgres(c) => $query.for_update().skip_locked().load(c),
            $crate::storage::DbConn::Sqlite(c) => $query.load(c),
        }
    };
}

/// Loads the rows of a diesel query locked for this transaction (`FOR UPDATE` on PostgreSQL,
/// waiting for other holders; on SQLite the one writer already holds everything).
macro_rules! lock_rows {
    ($conn:expr, $query:expr) => {
        match $conn {
            $crate::storage::DbConn::Postgres(c) => $query.for_update().load(c),
            $crate::storage::DbConn::Sqlite(c) => $query.load(c),
        }
    };
}

pub(crate) use {claim_rows, lock_rows};

/// Refreshes the query planner's statistics of the record tables after a burst of writes (a
/// demo, an import). PostgreSQL plans from them: a collection it believes empty is scanned
/// whole for every lookup by an indexed field, so filling it gets slower with every row until
/// autovacuum catches up. SQLite plans from its indexes alone and needs nothing here.
pub fn refresh_statistics(conn: &mut DbConn) -> QueryResult<()> {
    match conn {
        DbConn::Postgres(c) => {
            diesel::sql_query("ANALYZE records, record_keys, record_refs, record_unique").execute(c).map(|_| ())
        }
        DbConn::Sqlite(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres() {
        assert_eq!(numbered("a = ? AND b IN (?, ?)"), "a = $1 AND b IN ($2, $3)");
    }
}
