//! A unit of work: one write transaction in one company, on behalf of one actor.
//!
//! The transaction is owned here so that it can be lent to a plugin invocation (whose store
//! must own it) and taken back afterwards, however deep plugins call back into the kernel.

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
}

impl Session {
    /// Opens a write transaction for work in `company_id`.
    pub fn begin(db: &Db, company_id: &str, user_id: Option<&str>) -> Result<Session, StoreError> {
        Ok(Session {
            tx: Some(db.begin()?),
            company_id: company_id.to_string(),
            user_id: user_id.map(str::to_string),
            request_id: None,
            locale: "en".to_string(),
            depth: 0,
            chain: 0,
            discard: false,
        })
    }

    /// Work in `company_id` inside an already open transaction.
    pub fn from_tx(tx: Tx, company_id: &str, user_id: Option<&str>) -> Session {
        Session {
            tx: Some(tx),
            company_id: company_id.to_string(),
            user_id: user_id.map(str::to_string),
            request_id: None,
            locale: "en".to_string(),
            depth: 0,
            chain: 0,
            discard: false,
        }
    }

    /// Ends the session without committing and hands back its transaction.
    pub fn into_tx(mut self) -> Result<Tx, StoreError> {
        self.tx.take().ok_or_else(|| StoreError::Task("the transaction was lost by a plugin call".into()))
    }

    /// The transaction's connection; an error while the transaction is lent out.
    pub fn conn(&mut self) -> Result<&mut DbConn, StoreError> {
        self.tx
            .as_mut()
            .map(Tx::conn)
            .ok_or_else(|| StoreError::Task("the transaction is in use by a plugin call".into()))
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
        Manager::begin_transaction(self.conn()?).map_err(StoreError::from)?;
        match f(self) {
            Ok(value) => {
                Manager::commit_transaction(self.conn()?).map_err(StoreError::from)?;
                Ok(value)
            }
            Err(e) => {
                if let Ok(conn) = self.conn()
                    && let Err(undo) = Manager::rollback_transaction(conn)
                {
                    tracing::warn!(error = %undo, "rollback to savepoint failed");
                }
                Err(e)
            }
        }
    }

    /// Commits the work.
    pub fn commit(mut self) -> Result<(), StoreError> {
        match self.tx.take() {
            // Dropping an open transaction rolls it back.
            Some(_) if self.discard => Ok(()),
            Some(tx) => tx.commit(),
            None => Err(StoreError::Task("the transaction was lost by a plugin call".into())),
        }
    }
}
