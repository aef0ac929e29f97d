//! A company's e-mail: messages sent through its SMTP relay ([`send`]) and its IMAP mailbox
//! read into a plugin's inbox ([`poll`]). The servers are the company's own, set in its
//! [`settings`]; connections to them are checked like any outbound request (public addresses
//! only unless the operator allows private networks), count against the company's outbound
//! rate and are written to the outbound log (source `mail`, method `SMTP` or `IMAP`).
//!
//! Like every outbound call, mail never goes out inside a transaction: callers send from a
//! command that has committed or from an after-commit handler.

pub mod bounces;
mod imap;
pub mod message;
pub mod outbox;
pub mod poll;
pub mod settings;
mod smtp;
pub mod unsubscribe;

use std::time::{Duration, Instant};

use crate::outbound::{Caller, OutboundError, log};
use crate::plugins::Kernel;
use crate::secrets::SecretError;
use crate::storage::StoreError;
use crate::validation::Invalid;

pub use message::{Attached, Outgoing};
pub use settings::{Security, Stored};
pub use smtp::Connections;

/// The name the outbound log and the metrics give mail.
pub const SOURCE: &str = "mail";

/// Why mail could not be sent or read.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// Bad settings or a bad message.
    #[error("{0}")]
    Invalid(Invalid),
    /// The company has no relay or no mailbox set up.
    #[error("{0}")]
    NotConfigured(&'static str),
    /// The server refused the message for good (a 5xx answer: a wrong address, a rejected
    /// sender); sending it again will not help.
    #[error("the mail server refused the message: {0}")]
    Rejected(String),
    /// Not allowed, over the rate, or the server could not be reached or broke off.
    #[error(transparent)]
    Outbound(#[from] OutboundError),
    /// A stored password cannot be read.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No such thing: a link that is not valid, a message that is gone.
    #[error("{0}")]
    NotFound(&'static str),
    /// The plugin that sent a message could not take news of it.
    #[error(transparent)]
    Plugin(#[from] crate::plugin_error::PluginError),
}

impl From<diesel::result::Error> for MailError {
    fn from(e: diesel::result::Error) -> Self {
        MailError::Store(e.into())
    }
}

impl MailError {
    /// True when trying again later may succeed (the server was unreachable or busy).
    pub fn is_transient(&self) -> bool {
        matches!(self, MailError::Outbound(OutboundError::Failed(_) | OutboundError::Limit(_)) | MailError::Store(_))
    }
}

/// How long one SMTP or IMAP conversation may take at most.
fn time_limit(kernel: &dyn Kernel) -> Duration {
    kernel.outbound().settings().timeout.max(Duration::from_secs(10)) * 3
}

/// Writes a mail conversation to the outbound log and the metrics.
fn record(
    kernel: &dyn Kernel,
    company_id: &str,
    method: &str,
    host: &str,
    started: Instant,
    result: Result<(), &MailError>,
) {
    let elapsed = started.elapsed();
    let (outcome, error) = match result {
        Ok(()) => ("ok", None),
        Err(MailError::Outbound(e)) => (e.outcome(), Some(e.to_string())),
        Err(MailError::Rejected(e)) => ("failed", Some(format!("refused: {e}"))),
        Err(e) => ("failed", Some(e.to_string())),
    };
    kernel.plugins().metrics().outbound(SOURCE, outcome, elapsed.as_secs_f64());
    kernel.outbound().record(
        kernel.db(),
        &log::Entry {
            company_id,
            source: SOURCE,
            method,
            host,
            status: None,
            outcome,
            error: error.as_deref(),
            duration_ms: u32::try_from(elapsed.as_millis()).unwrap_or(u32::MAX),
        },
    );
}

/// Sends `message` through the company's relay and answers its Message-ID. Blocks: call it on
/// a blocking thread, never inside a transaction that has written.
pub fn send(kernel: &dyn Kernel, company_id: &str, message: &Outgoing) -> Result<String, MailError> {
    send_on(kernel, company_id, message, &mut Connections::default())
}

/// Like [`send`], on the company's connection in `connections` when one is open (and leaving
/// one open there for the next message).
pub fn send_on(
    kernel: &dyn Kernel,
    company_id: &str,
    message: &Outgoing,
    connections: &mut Connections,
) -> Result<String, MailError> {
    let stored = kernel
        .db()
        .read_blocking(|conn| settings::get(conn, company_id))?
        .filter(|s| !s.smtp_host.is_empty())
        .ok_or(MailError::NotConfigured("no outgoing mail server is set up for this company"))?;
    let from = lettre::message::Mailbox::new(
        Some(stored.from_name.clone()).filter(|n| !n.is_empty()),
        stored
            .from_address
            .parse()
            .map_err(|_| MailError::NotConfigured("the company's sender address is not an e-mail address"))?,
    );
    let (built, id) = message::build(from, message)?;
    let caller = Caller { company_id, source: SOURCE, granted: Vec::new() };
    kernel.outbound().admit(kernel.plugins().metrics(), &caller)?;
    let started = Instant::now();
    let host = format!("smtp://{}:{}", stored.smtp_host, stored.smtp_port);
    let result = stored.smtp_password(kernel.secrets()).and_then(|password| {
        smtp::deliver(kernel.outbound(), &stored, &password, &built, time_limit(kernel), connections)
    });
    record(kernel, company_id, "SMTP", &host, started, result.as_ref().map(|_| ()));
    result.map(|()| id)
}
