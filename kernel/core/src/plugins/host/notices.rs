//! Notifications from plugins (WIT 0.2.0): checked like the kernel's own (kinds the plugin's
//! manifest declares, under its name; recipients members of the company; a link only to a
//! record the plugin may read), kept in the invocation's transaction and pushed live once it
//! commits.

use std::collections::BTreeMap;

use super::HostState;
use crate::notify::{self, Importance, Link, NewNotification, NotifyError, Text};
use crate::records::{self, Caller, RecordError};
use crate::validation::Invalid;

/// A notification as a plugin hands it over.
pub(crate) struct Message {
    pub recipients: Vec<String>,
    pub kind: String,
    pub title: Vec<(String, String)>,
    pub body: Vec<(String, String)>,
    pub link: Option<(String, String)>,
    pub importance: Importance,
}

/// Words in one language, or keyed by language.
fn text(field: &str, pairs: Vec<(String, String)>) -> Result<Text, RecordError> {
    match pairs.len() {
        0 => Ok(Text::One(String::new())),
        1 if pairs[0].0.is_empty() => Ok(Text::One(pairs.into_iter().map(|(_, t)| t).collect())),
        _ => {
            let mut by = BTreeMap::new();
            for (language, words) in pairs {
                if by.insert(language.clone(), words).is_some() {
                    return Err(RecordError::Invalid(Invalid::one(field, format!("has {language:?} twice"))));
                }
            }
            Ok(Text::ByLanguage(by))
        }
    }
}

fn refused(e: NotifyError) -> RecordError {
    match e {
        NotifyError::Invalid(i) => RecordError::Invalid(i),
        e @ NotifyError::NotMember(_) => RecordError::Invalid(Invalid::one("recipients", e.to_string())),
        NotifyError::Store(s) => RecordError::Store(s),
    }
}

/// Sends `m` in the invocation's transaction; answers how many people receive it.
pub(super) fn send(state: &mut HostState, m: Message) -> Result<u32, RecordError> {
    let source = state.plugin().to_string();
    if !notify::is_kind_of(&m.kind, &source) {
        return Err(RecordError::Invalid(Invalid::one(
            "kind",
            format!("must be {source}.<name> in lowercase words, not {:?}", m.kind),
        )));
    }
    if !state.active.loaded.manifest.notifications.iter().any(|n| n.kind == m.kind) {
        return Err(RecordError::Invalid(Invalid::one(
            "kind",
            format!("{} is not declared in the plugin's manifest ([[notifications]])", m.kind),
        )));
    }
    let title = text("title", m.title)?;
    let body = text("body", m.body)?;
    let company = state.session.company_id.clone();
    let link = match m.link {
        None => None,
        Some((collection, record)) => {
            let coll = state.collection(&collection)?;
            let caller = state.caller();
            records::get(state.session.reader()?, &company, Caller::Plugin(&caller), &coll, &record)?;
            Some(Link { plugin: coll.plugin.clone(), collection: coll.name.clone(), record })
        }
    };
    let platform = state.platform.clone();
    let new = NewNotification {
        company_id: &company,
        recipients: &m.recipients,
        source: &source,
        kind: &m.kind,
        title: &title,
        body: &body,
        link: link.as_ref(),
        importance: m.importance,
    };
    let sent = platform.notify(&mut state.session, &new).map_err(refused)?;
    Ok(u32::try_from(sent.len()).unwrap_or(u32::MAX))
}
