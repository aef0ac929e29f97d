//! E-mail from plugins (WIT 0.2.2, unsubscribe links 0.2.3): only for a plugin whose manifest declares `[mail]` and
//! that the company's administrator granted `mail`. A message is queued in the invocation's
//! transaction under the plugin's own key (through [`crate::plugins::Kernel::queue_mail`], so this module needs
//! none of the mail code), so it goes out exactly when the change commits and once however
//! often a handler runs; the mail worker sends it and tells the plugin the outcome.

use erp_manifest::MAIL_GRANT;

use super::HostState;
use super::files as kernel_files;
use crate::links;
use crate::records::RecordError;
use crate::validation::Invalid;

/// Longest key a plugin may queue a message under.
pub const MAX_KEY_CHARS: usize = 200;

/// Checks that `key` may name a plugin's message: 1 to [`MAX_KEY_CHARS`] characters, none of
/// them control characters.
pub fn check_key(key: &str) -> Result<(), Invalid> {
    if !key.trim().is_empty() && key.chars().count() <= MAX_KEY_CHARS && !key.chars().any(char::is_control) {
        return Ok(());
    }
    Err(Invalid::one("key", format!("must be 1 to {MAX_KEY_CHARS} characters without control characters")))
}

/// Largest message, attachments included.
pub const MAX_MAIL_BYTES: usize = 20 * 1024 * 1024;

/// A file sent with a plugin's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailFile {
    /// The name the recipient sees.
    pub name: String,
    /// Its content type.
    pub content_type: String,
    /// Its content.
    pub bytes: Vec<u8>,
}

/// A message as a plugin queues it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PluginMail {
    /// Recipients.
    pub to: Vec<String>,
    /// Copies.
    pub cc: Vec<String>,
    /// Where replies go instead of the company's sender.
    pub reply_to: Option<String>,
    /// Subject.
    pub subject: String,
    /// Plain text.
    pub text: String,
    /// An HTML alternative.
    pub html: Option<String>,
    /// Files, read whole.
    pub attachments: Vec<MailFile>,
    /// The Message-ID answered.
    pub in_reply_to: Option<String>,
    /// The thread's earlier Message-IDs.
    pub references: Vec<String>,
    /// A mailing's unsubscribe link.
    pub unsubscribe_url: Option<String>,
    /// The plugin's own key: queued once per key.
    pub key: String,
}

/// A queued plugin message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMail {
    /// The outbox id, which outcome events carry.
    pub id: String,
    /// The Message-ID it is sent with.
    pub message_id: String,
    /// False when the key was queued before and nothing new was queued.
    pub created: bool,
}

/// Why a plugin's message was not queued, in the words of the WIT error it becomes.
pub(crate) enum Refusal {
    /// Not granted.
    Denied(String),
    /// Anything the records layer would say.
    Record(RecordError),
}

impl From<RecordError> for Refusal {
    fn from(e: RecordError) -> Self {
        Refusal::Record(e)
    }
}

/// Refused unless the plugin may send mail in the company it runs for.
fn require_grant(state: &HostState) -> Result<(), Refusal> {
    if state.active.loaded.manifest.mail.is_some() && state.active.grants.iter().any(|g| g == MAIL_GRANT) {
        return Ok(());
    }
    Err(Refusal::Denied(format!(
        "{} may not send e-mail in this company: its manifest must declare [mail] and an administrator grant it",
        state.plugin()
    )))
}

/// The signed unsubscribe link of the message the plugin queues under `key`.
pub(super) fn unsubscribe_link(state: &HostState, key: &str) -> Result<String, Refusal> {
    require_grant(state)?;
    check_key(key).map_err(RecordError::Invalid)?;
    let public = state.platform.public_url().ok_or_else(|| {
        RecordError::Invalid(Invalid::one(
            "mail",
            "the platform has no public address for links (the operator sets ERP_PUBLIC_URL)",
        ))
    })?;
    Ok(links::unsubscribe_url(public, state.platform.secrets(), &state.session.company_id, state.plugin(), key))
}

/// Queues `m`, with the files of `attachments` (ids the plugin may read), in the invocation's
/// transaction.
pub(super) fn send(state: &mut HostState, mut m: PluginMail, attachments: Vec<String>) -> Result<QueuedMail, Refusal> {
    require_grant(state)?;
    let mut room = MAX_MAIL_BYTES;
    for id in &attachments {
        let (file, bytes) = kernel_files::read_whole(state, id, room)?;
        room -= bytes.len();
        m.attachments.push(MailFile { name: file.name, content_type: file.content_type, bytes });
    }
    let company = state.session.company_id.clone();
    let source = state.plugin().to_string();
    let platform = state.platform.clone();
    let conn = state.session.conn().map_err(RecordError::Store)?;
    Ok(platform.queue_mail(conn, &company, &source, m)?)
}
