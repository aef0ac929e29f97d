//! Direct and group chats: messages with replies and files, edits kept in history, read
//! marks, unread counts and search. Only a chat's members reach it or its messages.

use erp_sdk::notify::Importance;
use erp_sdk::store::{self, Aggregate, Filter, Query, Record};
use erp_sdk::{Error, Result, Value, events, json};
use serde::{Deserialize, Serialize};

use crate::notices::{self, Notice};
use crate::people::{self, holds, me, optional_text, text};

/// Most messages one page shows.
const MAX_PAGE: u64 = 200;
/// Most messages whose readers follow a chat's membership in one change.
const MAX_HISTORY: usize = 50_000;

/// A chat.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Chat {
    /// Title (group chats); a direct chat is named after the other person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `one_to_one`, `group` or `team` (a group's own chat).
    #[serde(default)]
    pub kind: String,
    /// The group whose chat it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The two people of a direct chat, sorted and joined (finds it again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pair: Option<String>,
    /// Who is in it.
    #[serde(default)]
    pub members: Vec<String>,
    /// When the last message came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_at: Option<String>,
    /// Its beginning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_text: Option<String>,
    /// Who wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_author: Option<String>,
}

/// A message.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Message {
    /// The chat.
    pub chat: String,
    /// Who wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Its text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The message it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// An attached file (`{"id": ...}` when written; the kernel adds name, size and type).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<Value>,
    /// People mentioned.
    #[serde(default)]
    pub mentions: Vec<String>,
    /// When it was last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<String>,
    /// Earlier texts, oldest first: `[{"text", "until"}]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<Value>,
    /// Who may read it: the chat's members.
    #[serde(default)]
    pub members: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ReadMark {
    chat: String,
    user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    read_at: Option<String>,
}

/// A chat the caller is in; anyone else finds nothing.
pub fn load(id: &str, me: &str) -> Result<Record<Chat>> {
    let chat = store::get::<Chat>("chat", id).map_err(|_| missing(id))?;
    if !holds(&chat.data.members, me) {
        return Err(missing(id));
    }
    Ok(chat)
}

fn missing(id: &str) -> Error {
    Error::not_found(format!("chat {id}"))
}

/// `chats`: the caller's chats, the latest first, with unread counts.
pub fn list() -> Result<Value> {
    let me = me()?;
    let chats = store::query_all::<Chat>(
        "chat",
        Query::new().filter(Filter::has("members", me.as_str())).sort_desc("last_at"),
        2000,
    )?;
    let marks = store::query_all::<ReadMark>("read_mark", Query::new().filter(Filter::eq("user", me.as_str())), 5000)?;
    let mut out = Vec::new();
    let mut total = 0;
    for c in &chats {
        let read_at = marks.iter().find(|m| m.data.chat == c.id).and_then(|m| m.data.read_at.clone());
        let unread = unread(&c.id, &me, read_at.as_deref())?;
        total += unread;
        out.push(summary(c, &me, unread));
    }
    Ok(json!({ "chats": out, "unread": total }))
}

fn summary(c: &Record<Chat>, me: &str, unread: u64) -> Value {
    let with = (c.data.kind == "one_to_one")
        .then(|| c.data.members.iter().find(|m| *m != me).or(c.data.members.first()).cloned())
        .flatten();
    json!({
        "id": c.id, "title": c.data.title, "kind": c.data.kind, "group": c.data.group, "with": with,
        "members": c.data.members, "last_at": c.data.last_at, "last_text": c.data.last_text,
        "last_author": c.data.last_author, "unread": unread,
    })
}

/// Messages of others after the caller's read mark.
fn unread(chat: &str, me: &str, read_at: Option<&str>) -> Result<u64> {
    let mut terms = vec![Filter::eq("chat", chat), Filter::ne("author", me)];
    if let Some(at) = read_at {
        terms.push(Filter::gt("created_at", at));
    }
    let groups = store::aggregate("message", &Aggregate::new().filter(Filter::and(terms)).count())?;
    Ok(groups.first().and_then(|g| g.values.get("count")).and_then(Value::as_u64).unwrap_or(0))
}

/// `open-direct`: the direct chat with a colleague, opened the first time.
pub fn open_direct(input: &Value) -> Result<Value> {
    let me = me()?;
    open_direct_for(&me, &text(input, "user")?)
}

/// The direct chat of `me` and `other`.
pub fn open_direct_for(me: &str, other: &str) -> Result<Value> {
    let (me, other) = (me.to_string(), other.to_string());
    let mut pair = vec![me.clone(), other.clone()];
    pair.sort();
    pair.dedup();
    let key = pair.join(":");
    if let Some(found) = store::first::<Chat>("chat", Query::new().filter(Filter::eq("pair", key.as_str())))? {
        return Ok(summary(&found, &me, 0));
    }
    let chat = Chat { kind: "one_to_one".into(), pair: Some(key), members: pair, ..Chat::default() };
    let created = store::create("chat", &chat)?;
    Ok(summary(&created, &me, 0))
}

/// `create-chat`: a group chat with the people chosen and the caller.
pub fn create(input: &Value) -> Result<Value> {
    let me = me()?;
    let title = text(input, "title")?;
    let members = people::union(std::slice::from_ref(&me), &people::ids(input, "members"));
    let chat = Chat { title: Some(title.clone()), kind: "group".into(), members: members.clone(), ..Chat::default() };
    let created = store::create("chat", &chat)?;
    added_to_chat(&created, &members)?;
    Ok(summary(&created, &me, 0))
}

fn added_to_chat(chat: &Record<Chat>, people: &[String]) -> Result<u32> {
    let me = me()?;
    let title = chat.data.title.clone().unwrap_or_default();
    notices::tell(
        people,
        &me,
        &Notice {
            kind: "collaboration.group",
            title_en: format!("{} added you to the chat «{title}»", notices::name(&me)),
            title_ru: format!("{} добавил(а) вас в чат «{title}»", notices::name(&me)),
            body: String::new(),
            link: ("chat", &chat.id),
            importance: Importance::Normal,
        },
    )
}

/// `add-chat-members`: people join a group chat (and read its history).
pub fn add_members(input: &Value) -> Result<Value> {
    let me = me()?;
    let chat = load(&text(input, "chat")?, &me)?;
    if chat.data.kind != "group" {
        return Err(Error::invalid(
            "chat",
            "people join a direct chat by a new group chat, a group's chat through the group",
        ));
    }
    let new: Vec<String> =
        people::ids(input, "members").into_iter().filter(|p| !holds(&chat.data.members, p)).collect();
    let members = people::union(&chat.data.members, &new);
    let updated = set_members(&chat, &members)?;
    added_to_chat(&updated, &new)?;
    Ok(summary(&updated, &me, 0))
}

/// `leave-chat`: the caller leaves a group chat.
pub fn leave(input: &Value) -> Result<Value> {
    let me = me()?;
    let chat = load(&text(input, "chat")?, &me)?;
    if chat.data.kind != "group" {
        return Err(Error::invalid("chat", "one leaves a group's chat by leaving the group; a direct chat stays"));
    }
    let members: Vec<String> = chat.data.members.iter().filter(|m| **m != me).cloned().collect();
    set_members(&chat, &members)?;
    Ok(json!({ "id": chat.id, "left": true }))
}

/// Gives a chat new members; its messages follow, so that who joins reads the history and who
/// leaves reads nothing more.
pub fn set_members(chat: &Record<Chat>, members: &[String]) -> Result<Record<Chat>> {
    let updated = store::update::<Chat>("chat", &chat.id, &json!({ "members": members }), Some(chat.version))?;
    let messages =
        store::query_all::<Value>("message", Query::new().filter(Filter::eq("chat", chat.id.as_str())), MAX_HISTORY)?;
    for m in messages {
        store::update::<Value>("message", &m.id, &json!({ "members": members }), None)?;
    }
    Ok(updated)
}

/// `messages`: a page of a chat's messages, oldest first, and who has read how far.
pub fn messages(input: &Value) -> Result<Value> {
    let me = me()?;
    let chat = load(&text(input, "chat")?, &me)?;
    let limit = input.get("limit").and_then(Value::as_u64).unwrap_or(50).clamp(1, MAX_PAGE) as u32;
    let mut terms = vec![Filter::eq("chat", chat.id.as_str())];
    let after = optional_text(input, "after");
    if let Some(a) = &after {
        terms.push(Filter::gt("id", a.as_str()));
    }
    if let Some(b) = optional_text(input, "before") {
        terms.push(Filter::lt("id", b.as_str()));
    }
    // After a message: the next ones, oldest first; otherwise the latest, turned around.
    let q = Query::new().filter(Filter::and(terms)).limit(limit + 1);
    let q = if after.is_some() { q.sort_asc("id") } else { q.sort_desc("id") };
    let mut page = store::query::<Message>("message", &q)?.records;
    let more = page.len() > limit as usize;
    page.truncate(limit as usize);
    if after.is_none() {
        page.reverse();
    }
    let mut shown = Vec::with_capacity(page.len());
    for m in &page {
        shown.push(view(m, &me)?);
    }
    let marks =
        store::query_all::<ReadMark>("read_mark", Query::new().filter(Filter::eq("chat", chat.id.as_str())), 2000)?;
    let read: erp_sdk::serde_json::Map<String, Value> =
        marks.into_iter().filter_map(|m| m.data.read_at.map(|at| (m.data.user, Value::from(at)))).collect();
    Ok(json!({ "chat": summary(&chat, &me, 0), "messages": shown, "more": more, "read": read }))
}

/// A message as the chat page shows it.
fn view(m: &Record<Message>, me: &str) -> Result<Value> {
    let reply = match &m.data.reply_to {
        Some(id) => store::get::<Message>("message", id).ok().map(|r| {
            json!({ "id": r.id, "author": r.data.author, "text": people::preview(r.data.text.as_deref().unwrap_or_default(), 120) })
        }),
        None => None,
    };
    let edits = m.data.history.as_ref().and_then(Value::as_array).map_or(0, Vec::len);
    Ok(json!({
        "id": m.id, "author": m.data.author, "text": m.data.text, "at": m.created_at,
        "edited_at": m.data.edited_at, "edits": edits, "reply_to": reply, "file": m.data.file,
        "mentions": m.data.mentions, "mine": m.data.author.as_deref() == Some(me),
    }))
}

/// `post-message`: writes in a chat; members are told, mentioned people as mentions.
pub fn post(input: &Value) -> Result<Value> {
    let me = me()?;
    let chat = load(&text(input, "chat")?, &me)?;
    let new = NewMessage {
        text: optional_text(input, "text"),
        reply_to: optional_text(input, "reply_to"),
        file: optional_text(input, "file"),
        mentions: people::ids(input, "mentions"),
    };
    post_as(&me, &chat, new)
}

/// What a new message holds.
#[derive(Debug, Clone, Default)]
pub struct NewMessage {
    /// Text.
    pub text: Option<String>,
    /// The message it answers.
    pub reply_to: Option<String>,
    /// An uploaded file's id.
    pub file: Option<String>,
    /// People mentioned.
    pub mentions: Vec<String>,
}

/// Writes a message in a chat `me` is in.
pub fn post_as(me: &str, chat: &Record<Chat>, new: NewMessage) -> Result<Value> {
    if new.text.is_none() && new.file.is_none() {
        return Err(Error::invalid("text", "write something or attach a file"));
    }
    if let Some(r) = &new.reply_to {
        let replied = store::get::<Message>("message", r).ok().filter(|m| m.data.chat == chat.id);
        if replied.is_none() {
            return Err(Error::invalid("reply_to", "must be a message of this chat"));
        }
    }
    if let Some(outsider) = new.mentions.iter().find(|p| !holds(&chat.data.members, p)) {
        return Err(Error::invalid("mentions", format!("{outsider} is not in this chat")));
    }
    let message = Message {
        chat: chat.id.clone(),
        author: Some(me.to_string()),
        text: new.text.clone(),
        reply_to: new.reply_to,
        file: new.file.map(|id| json!({ "id": id })),
        mentions: new.mentions.clone(),
        members: chat.data.members.clone(),
        ..Message::default()
    };
    let created = store::create("message", &message)?;
    let file_name = created.data.file.as_ref().and_then(|f| f.get("name")).and_then(Value::as_str).map(str::to_string);
    // A file alone is shown by its name.
    let shown = new.text.unwrap_or_else(|| file_name.unwrap_or_default());
    store::update::<Chat>(
        "chat",
        &chat.id,
        &json!({ "last_at": created.created_at, "last_text": people::preview(&shown, 200), "last_author": me }),
        None,
    )?;
    mark(&chat.id, me, &created.created_at)?;
    events::publish(
        "collaboration.message.posted",
        &json!({ "id": created.id, "chat": chat.id, "author": me, "members": chat.data.members }),
    )?;
    tell_members(chat, me, &shown, &new.mentions)?;
    view(&created, me)
}

fn tell_members(chat: &Record<Chat>, me: &str, shown: &str, mentions: &[String]) -> Result<()> {
    let place_en = match &chat.data.title {
        Some(t) => format!(" in «{t}»"),
        None => String::new(),
    };
    let place_ru = match &chat.data.title {
        Some(t) => format!(" в «{t}»"),
        None => String::new(),
    };
    let body = people::preview(shown, 300);
    if !mentions.is_empty() {
        notices::tell(
            mentions,
            me,
            &Notice {
                kind: "collaboration.mention",
                title_en: format!("{} mentioned you{place_en}", notices::name(me)),
                title_ru: format!("{} упомянул(а) вас{place_ru}", notices::name(me)),
                body: body.clone(),
                link: ("chat", &chat.id),
                importance: Importance::High,
            },
        )?;
    }
    let rest: Vec<String> = chat.data.members.iter().filter(|m| !holds(mentions, m)).cloned().collect();
    notices::tell(
        &rest,
        me,
        &Notice {
            kind: "collaboration.message",
            title_en: format!("{}{place_en}", notices::name(me)),
            title_ru: format!("{}{place_ru}", notices::name(me)),
            body,
            link: ("chat", &chat.id),
            importance: Importance::Low,
        },
    )?;
    Ok(())
}

/// `edit-message`: the author changes a message within the configured hours; the earlier
/// text stays in its history.
pub fn edit(input: &Value) -> Result<Value> {
    let me = me()?;
    edit_as(&me, &text(input, "id")?, &text(input, "text")?)
}

/// `me` changes their message `id`.
pub fn edit_as(me: &str, id: &str, new_text: &str) -> Result<Value> {
    let (me, id) = (me.to_string(), id.to_string());
    let m = store::get::<Message>("message", &id).map_err(|_| Error::not_found(format!("message {id}")))?;
    if !holds(&m.data.members, &me) {
        return Err(Error::not_found(format!("message {id}")));
    }
    if m.data.author.as_deref() != Some(me.as_str()) {
        return Err(Error::AccessDenied("editing someone else's message".into()));
    }
    let hours = people::settings().message_edit_hours;
    let now = erp_sdk::now();
    let since = people::epoch_seconds(&now).zip(people::epoch_seconds(&m.created_at)).map(|(n, c)| n - c);
    if since.is_some_and(|s| s > hours * 3600) {
        return Err(Error::Conflict(format!("messages can be edited for {hours} hours after they are sent")));
    }
    let mut history = m.data.history.clone().and_then(|h| h.as_array().cloned()).unwrap_or_default();
    history.push(json!({ "text": m.data.text, "until": now }));
    let updated = store::update::<Message>(
        "message",
        &id,
        &json!({ "text": new_text, "edited_at": now, "history": history }),
        Some(m.version),
    )?;
    view(&updated, &me)
}

/// `mark-read`: the chat is read up to now.
pub fn mark_read(input: &Value) -> Result<Value> {
    let me = me()?;
    let chat = load(&text(input, "chat")?, &me)?;
    let now = erp_sdk::now();
    mark(&chat.id, &me, &now)?;
    Ok(json!({ "chat": chat.id, "read_at": now }))
}

fn mark(chat: &str, me: &str, at: &str) -> Result<()> {
    let q = Query::new().filter(Filter::and(vec![Filter::eq("chat", chat), Filter::eq("user", me)]));
    match store::first::<ReadMark>("read_mark", q)? {
        Some(m) if m.data.read_at.as_deref().is_some_and(|r| r >= at) => {}
        Some(m) => {
            store::update::<ReadMark>("read_mark", &m.id, &json!({ "read_at": at }), None)?;
        }
        None => {
            store::create("read_mark", &ReadMark { chat: chat.into(), user: me.into(), read_at: Some(at.into()) })?;
        }
    }
    Ok(())
}

/// `search-messages`: messages containing the words, in the caller's chats, the latest first.
pub fn search(input: &Value) -> Result<Value> {
    let me = me()?;
    let q = text(input, "q")?;
    if q.chars().count() < 2 {
        return Err(Error::invalid("q", "type at least two characters"));
    }
    let found = store::query::<Message>(
        "message",
        &Query::new()
            .filter(Filter::and(vec![Filter::has("members", me.as_str()), Filter::contains("text", &q)]))
            .sort_desc("created_at")
            .limit(50),
    )?;
    let mut titles: std::collections::BTreeMap<String, Value> = std::collections::BTreeMap::new();
    let mut rows = Vec::new();
    for m in found.records {
        if !titles.contains_key(&m.data.chat) {
            let title = store::get::<Chat>("chat", &m.data.chat).map(|c| summary(&c, &me, 0)).unwrap_or(Value::Null);
            titles.insert(m.data.chat.clone(), title);
        }
        let chat = &titles[&m.data.chat];
        rows.push(json!({
            "id": m.id, "chat": m.data.chat, "chat_title": chat["title"], "chat_with": chat["with"],
            "author": m.data.author, "at": m.created_at, "text": people::preview(m.data.text.as_deref().unwrap_or_default(), 300),
        }));
    }
    Ok(json!({ "rows": rows }))
}
