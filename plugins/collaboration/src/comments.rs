//! A discussion thread on any record (a deal, an invoice, an employee), with `@mentions`
//! that tell the people named. A comment carries the permission that reads its record and
//! is shown only to who holds it, so a thread never shows more than its record.

use erp_sdk::notify::Importance;
use erp_sdk::store::{self, Filter, Query, Record};
use erp_sdk::{Error, Result, Value, context, json};
use serde::{Deserialize, Serialize};

use crate::notices::{self, Notice};
use crate::people::{self, me, optional_text, text};

/// Most comments one thread shows.
const MAX_THREAD: usize = 2000;

/// A comment.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Comment {
    /// `plugin/collection/id` of the record.
    pub target: String,
    /// The record's title when the comment was written (for the feed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_title: Option<String>,
    /// Who wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Its text.
    pub text: String,
    /// The comment it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// The permission that reads the record.
    #[serde(default)]
    pub permission: String,
    /// People mentioned.
    #[serde(default)]
    pub mentions: Vec<String>,
    /// When it was last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<String>,
    /// Earlier texts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<Value>,
    /// Readable as a record (by auditors): not for comments on this plugin's own records,
    /// which only the commands show, to who may see that record.
    #[serde(default = "yes")]
    pub open: bool,
}

fn yes() -> bool {
    true
}

/// A checked `plugin/collection/id`, and the permission that reads it.
fn target(input: &Value) -> Result<(String, String)> {
    let raw = text(input, "target")?;
    let parts: Vec<&str> = raw.split('/').collect();
    let word = |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    };
    if parts.len() != 3 || !parts.iter().all(|p| word(p)) {
        return Err(Error::invalid("target", "must be plugin/collection/record-id"));
    }
    let permission = optional_text(input, "permission").unwrap_or_else(|| format!("{}.{}.read", parts[0], parts[1]));
    if !context::has_permission(&permission) || !own_record_visible(&raw) {
        // Whoever cannot read the record finds no discussion of it either.
        return Err(Error::not_found(format!("record {raw}")));
    }
    Ok((raw, permission))
}

/// True when the caller may read the record a comment is on.
pub fn readable(c: &Comment) -> bool {
    context::has_permission(&c.permission) && own_record_visible(&c.target)
}

/// True for `plugin/collection/id` of this plugin's own records.
fn on_own_record(target: &str) -> bool {
    target.split('/').next() == Some(context::current().plugin.as_str())
}

/// A record of this plugin is discussed only by who may see it: its members or readers (a
/// private group's, a shared file's), or anyone when it is open to the company.
fn own_record_visible(target: &str) -> bool {
    let mut parts = target.splitn(3, '/');
    let (Some(plugin), Some(collection), Some(id)) = (parts.next(), parts.next(), parts.next()) else { return false };
    let here = context::current();
    if plugin != here.plugin {
        return true;
    }
    let Some(me) = here.user_id else { return true };
    let Ok(record) = store::get::<Value>(collection, id) else { return false };
    let d = &record.data;
    if d.get("public").and_then(Value::as_bool) == Some(true) {
        return true;
    }
    let listed =
        |key: &str| d.get(key).and_then(Value::as_array).map(|a| a.iter().any(|x| x.as_str() == Some(me.as_str())));
    match (listed("members"), listed("readers")) {
        (Some(m), _) => m,
        (None, Some(r)) => r,
        // Comments themselves and read marks are nobody's to discuss.
        (None, None) => !matches!(collection, "comment" | "read_mark" | "access"),
    }
}

/// `comment`: adds a comment; mentioned people are told.
pub fn comment(input: &Value) -> Result<Value> {
    let me = me()?;
    let (target, permission) = target(input)?;
    let new = NewComment {
        target,
        permission,
        title: optional_text(input, "title"),
        text: text(input, "text")?,
        reply_to: optional_text(input, "reply_to"),
        mentions: people::ids(input, "mentions"),
    };
    comment_as(&me, new)
}

/// A comment to write.
#[derive(Debug, Clone, Default)]
pub struct NewComment {
    /// `plugin/collection/id`.
    pub target: String,
    /// The permission that reads the record.
    pub permission: String,
    /// The record's title.
    pub title: Option<String>,
    /// Text.
    pub text: String,
    /// The comment it answers.
    pub reply_to: Option<String>,
    /// People mentioned.
    pub mentions: Vec<String>,
}

/// Writes a comment for `me`.
pub fn comment_as(me: &str, new: NewComment) -> Result<Value> {
    if let Some(r) = &new.reply_to {
        let ok = store::get::<Comment>("comment", r).is_ok_and(|c| c.data.target == new.target);
        if !ok {
            return Err(Error::invalid("reply_to", "must be a comment on the same record"));
        }
    }
    let created = store::create(
        "comment",
        &Comment {
            target: new.target.clone(),
            record_title: new.title.clone(),
            author: Some(me.to_string()),
            text: new.text.clone(),
            reply_to: new.reply_to,
            permission: new.permission,
            mentions: new.mentions.clone(),
            open: !on_own_record(&new.target),
            ..Comment::default()
        },
    )?;
    let on = new.title.unwrap_or_default();
    notices::tell(
        &new.mentions,
        me,
        &Notice {
            kind: "collaboration.mention",
            title_en: format!("{} mentioned you in a comment on «{on}»", notices::name(me)),
            title_ru: format!("{} упомянул(а) вас в комментарии к «{on}»", notices::name(me)),
            body: people::preview(&new.text, 300),
            link: ("comment", &created.id),
            importance: Importance::High,
        },
    )?;
    Ok(view(&created, me))
}

fn view(c: &Record<Comment>, me: &str) -> Value {
    let edits = c.data.history.as_ref().and_then(Value::as_array).map_or(0, Vec::len);
    json!({
        "id": c.id, "target": c.data.target, "record_title": c.data.record_title, "author": c.data.author,
        "text": c.data.text, "at": c.created_at, "reply_to": c.data.reply_to, "mentions": c.data.mentions,
        "edited_at": c.data.edited_at, "edits": edits, "mine": c.data.author.as_deref() == Some(me),
    })
}

/// `comments`: the thread on a record, oldest first: the comments the caller may read (with
/// `permission`, none unless they hold it).
pub fn list(input: &Value) -> Result<Value> {
    let me = me()?;
    let target = if input.get("permission").is_some_and(|p| !p.is_null()) {
        target(input)?.0
    } else {
        let mut given = input.clone();
        given["permission"] = json!("collaboration.use");
        target(&given)?.0
    };
    let found = store::query_all::<Comment>(
        "comment",
        Query::new().filter(Filter::eq("target", target.as_str())).sort_asc("created_at"),
        MAX_THREAD,
    )?;
    let shown: Vec<Value> = found.iter().filter(|c| readable(&c.data)).map(|c| view(c, &me)).collect();
    Ok(json!({ "target": target, "comments": shown }))
}

/// `comment-target`: the record a comment is on, for whoever may read it.
pub fn target_of(input: &Value) -> Result<Value> {
    me()?;
    let id = text(input, "id")?;
    let c = store::get::<Comment>("comment", &id).map_err(|_| Error::not_found(format!("comment {id}")))?;
    if !readable(&c.data) {
        return Err(Error::not_found(format!("comment {id}")));
    }
    Ok(json!({ "id": c.id, "target": c.data.target }))
}

/// `edit-comment`: the author changes a comment; the earlier text stays in its history.
pub fn edit(input: &Value) -> Result<Value> {
    let me = me()?;
    let id = text(input, "id")?;
    let new_text = text(input, "text")?;
    let c = store::get::<Comment>("comment", &id).map_err(|_| Error::not_found(format!("comment {id}")))?;
    if !readable(&c.data) {
        return Err(Error::not_found(format!("comment {id}")));
    }
    if c.data.author.as_deref() != Some(me.as_str()) {
        return Err(Error::AccessDenied("editing someone else's comment".into()));
    }
    let now = erp_sdk::now();
    let mut history = c.data.history.clone().and_then(|h| h.as_array().cloned()).unwrap_or_default();
    history.push(json!({ "text": c.data.text, "until": now }));
    let updated = store::update::<Comment>(
        "comment",
        &id,
        &json!({ "text": new_text, "edited_at": now, "history": history }),
        Some(c.version),
    )?;
    Ok(view(&updated, &me))
}

/// The latest comments the caller may read, for the feed.
pub fn latest(limit: u32) -> Result<Vec<Record<Comment>>> {
    let found =
        store::query::<Comment>("comment", &Query::new().sort_desc("created_at").limit(limit.saturating_mul(3)))?;
    Ok(found.records.into_iter().filter(|c| readable(&c.data)).take(limit as usize).collect())
}
