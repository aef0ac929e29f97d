//! E-mail from plugins (WIT 0.2.2): only for a plugin whose manifest declares `[mail]` and
//! that the company's administrator granted `mail`. A message is queued in the invocation's
//! transaction under the plugin's own key, so it goes out exactly when the change commits and
//! once however often a handler runs; the mail worker sends it and tells the plugin the outcome.

use erp_manifest::MAIL_GRANT;

use super::HostState;
use super::files as kernel_files;
use crate::mail::{Attached, MailError, Outgoing, message, outbox};
use crate::outbound::OutboundError;
use crate::records::RecordError;
use crate::validation::Invalid;

/// A message as a plugin hands it over.
pub(crate) struct Message {
    pub outgoing: Outgoing,
    pub attachments: Vec<String>,
    pub key: String,
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

fn refused(e: MailError) -> Refusal {
    Refusal::Record(match e {
        MailError::Invalid(i) => RecordError::Invalid(i),
        MailError::NotConfigured(m) => RecordError::Invalid(Invalid::one("mail", m)),
        MailError::Outbound(OutboundError::Limit(m)) => RecordError::Quota(m),
        MailError::Store(s) => RecordError::Store(s),
        other => RecordError::Internal(other.to_string()),
    })
}

/// True when the plugin may send mail in the company it runs for.
fn granted(state: &HostState) -> bool {
    state.active.loaded.manifest.mail.is_some() && state.active.grants.iter().any(|g| g == MAIL_GRANT)
}

/// Queues `m` in the invocation's transaction.
pub(super) fn send(state: &mut HostState, m: Message) -> Result<outbox::Keyed, Refusal> {
    if !granted(state) {
        return Err(Refusal::Denied(format!(
            "{} may not send e-mail in this company: its manifest must declare [mail] and an administrator grant it",
            state.plugin()
        )));
    }
    let mut outgoing = m.outgoing;
    let mut room = message::MAX_BYTES;
    for id in &m.attachments {
        let (file, bytes) = kernel_files::read_whole(state, id, room)?;
        room -= bytes.len();
        outgoing.attachments.push(Attached { name: file.name, content_type: file.content_type, bytes });
    }
    let company = state.session.company_id.clone();
    let source = state.plugin().to_string();
    let conn = state.session.conn().map_err(RecordError::Store)?;
    outbox::enqueue_keyed(conn, &company, &source, &m.key, outgoing).map_err(refused)
}
