//! A unit of work: one transaction in one company, on behalf of one actor.
//!
//! The transaction is owned here so that it can be lent to a plugin invocation (whose store
//! must own it) and taken back afterwards, however deep plugins call back into the kernel.
//! It reads until the first write ([`Session::conn`]); reads that may come before any write
//! use [`Session::reader`], so that plugin code computing before it writes holds no lock.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Instant;

use crate::storage::{Db, DbConn, StoreError, Tx};

/// Deepest chain of plugin calls (a command writing a record whose hook writes another, ...).
pub const MAX_DEPTH: u32 = 8;

/// One transaction in one company.
#[derive(Debug)]
pub struct Session {
    tx: Option<Tx>,
    /// The company every operation is scoped to.
    pub company_id: String,
    /// The user the work is done for, if any.
    pub user_id: Option<String>,
    /// The HTTP request id, if any.
    pub request_id: Option<String>,
    /// The caller's language.
    pub locale: String,
    /// How many plugin invocations deep this work is.
    pub depth: u32,
    /// How many events led to this work (0 for a user's own change); events it emits get
    /// this as their depth.
    pub chain: u32,
    /// Throw the changes away at commit: the work only reads (a report or a timeline), so
    /// whatever it wrote must not stay.
    pub discard: bool,
    /// The moment the work must be finished by (the request's deadline): plugin code still
    /// running then is interrupted, and the work does not commit.
    pub deadline: Option<Arc<Deadline>>,
    /// Plugin code may hold the write lock only briefly (see the plugin host); kernel
    /// maintenance such as an upgrade's migration is exempt.
    pub bounded_writes: bool,
}

impl Session {
    /// Opens a write transaction for work in `company_id`.
    pub fn begin(db: &Db, company_id: &str, user_id: Option<&str>) -> Result<Session, StoreError> {
        let mut tx = db.begin()?;
        tx.set_lane(company_id);
        Ok(Session {
            tx: Some(tx),
            company_id: company_id.to_string(),
            user_id: user_id.map(str::to_string),
            request_id: None,
            locale: "en".to_string(),
            depth: 0,
            chain: 0,
            discard: false,
            deadline: None,
            bounded_writes: true,
        })
    }

    /// Work in `company_id` inside an already open transaction.
    pub fn from_tx(mut tx: Tx, company_id: &str, user_id: Option<&str>) -> Session {
        tx.set_lane(company_id);
        Session {
            tx: Some(tx),
            company_id: company_id.to_string(),
            user_id: user_id.map(str::to_string),
            request_id: None,
            locale: "en".to_string(),
            depth: 0,
            chain: 0,
            discard: false,
            deadline: None,
            bounded_writes: true,
        }
    }

    /// Ends the session without committing and hands back its transaction.
    pub fn into_tx(mut self) -> Result<Tx, StoreError> {
        self.tx.take().ok_or_else(|| StoreError::Task("the transaction was lost by a plugin call".into()))
    }

    /// The transaction's connection for work that writes (the transaction becomes a writer:
    /// see [`Tx::conn`]); an error while the transaction is lent out.
    pub fn conn(&mut self) -> Result<&mut DbConn, StoreError> {
        self.tx.as_mut().ok_or_else(lent)?.conn()
    }

    /// The transaction's connection for reads, which never wait for the writer's turn.
    pub fn reader(&mut self) -> Result<&mut DbConn, StoreError> {
        Ok(self.tx.as_mut().ok_or_else(lent)?.reader())
    }

    /// True once this work writes; false while it has only read (or its transaction is lent).
    pub fn is_writing(&self) -> bool {
        self.tx.as_ref().is_some_and(Tx::is_writing)
    }

    /// True once the deadline has passed.
    pub fn past_deadline(&self) -> bool {
        self.deadline.as_ref().is_some_and(|d| d.passed())
    }

    /// Lends the transaction to a nested piece of work with one more level of depth.
    pub fn child(&mut self) -> Session {
        Session {
            tx: self.tx.take(),
            company_id: self.company_id.clone(),
            user_id: self.user_id.clone(),
            request_id: self.request_id.clone(),
            locale: self.locale.clone(),
            depth: self.depth + 1,
            chain: self.chain,
            discard: self.discard,
            deadline: self.deadline.clone(),
            bounded_writes: self.bounded_writes,
        }
    }

    /// Takes the transaction back from a child.
    pub fn rejoin(&mut self, mut child: Session) {
        if self.tx.is_none() {
            self.tx = child.tx.take();
        }
    }

    /// Runs `f` inside a savepoint: when it fails, everything it did is undone, even if a
    /// caller further up (a plugin, say) ignores the error and carries on.
    pub fn atomically<T, E>(&mut self, f: impl FnOnce(&mut Session) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        use diesel::connection::TransactionManager;
        type Manager = <DbConn as diesel::Connection>::TransactionManager;
        Manager::begin_transaction(self.reader()?).map_err(StoreError::from)?;
        match f(self) {
            Ok(value) => {
                Manager::commit_transaction(self.reader()?).map_err(StoreError::from)?;
                Ok(value)
            }
            Err(e) => {
                if let Ok(conn) = self.reader()
                    && let Err(undo) = Manager::rollback_transaction(conn)
                {
                    tracing::warn!(error = %undo, "rollback to savepoint failed");
                }
                Err(e)
            }
        }
    }

    /// Commits the work; past its deadline, rolls it back instead.
    pub fn commit(mut self) -> Result<(), StoreError> {
        if let Some(deadline) = &self.deadline
            && !deadline.start_commit()
        {
            return Err(StoreError::Deadline);
        }
        match self.tx.take() {
            // Dropping an open transaction rolls it back.
            Some(_) if self.discard => Ok(()),
            Some(tx) => tx.commit(),
            None => Err(StoreError::Task("the transaction was lost by a plugin call".into())),
        }
    }
}

/// When a request's work must be done by, shared between the work and whoever answers the
/// client: exactly one of "the work commits" and "the client is told it failed" happens.
#[derive(Debug)]
pub struct Deadline {
    at: Instant,
    state: AtomicU8,
}

const RUNNING: u8 = 0;
const COMMITTING: u8 = 1;
const EXPIRED: u8 = 2;

impl Deadline {
    /// A deadline at `at`.
    pub fn at(at: Instant) -> Arc<Deadline> {
        Arc::new(Deadline { at, state: AtomicU8::new(RUNNING) })
    }

    /// The moment.
    pub fn instant(&self) -> Instant {
        self.at
    }

    /// True once the moment has passed or the client was told the work failed.
    pub fn passed(&self) -> bool {
        self.state.load(Ordering::Acquire) == EXPIRED || Instant::now() >= self.at
    }

    /// The work is about to commit: false (and the work must roll back) when the deadline
    /// has passed or the client was already told it failed.
    pub fn start_commit(&self) -> bool {
        if Instant::now() >= self.at {
            self.expire();
        }
        self.state.compare_exchange(RUNNING, COMMITTING, Ordering::AcqRel, Ordering::Acquire).is_ok()
            || self.state.load(Ordering::Acquire) == COMMITTING
    }

    /// The client is about to be told the work failed: false when it is already committing
    /// (the caller then waits for its outcome instead).
    pub fn expire(&self) -> bool {
        self.state.compare_exchange(RUNNING, EXPIRED, Ordering::AcqRel, Ordering::Acquire).is_ok()
            || self.state.load(Ordering::Acquire) == EXPIRED
    }
}

fn lent() -> StoreError {
    StoreError::Task("the transaction is in use by a plugin call".into())
}
