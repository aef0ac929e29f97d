//! Workgroups and projects: members with roles (owner, moderators, members), each group with
//! its own chat, feed and drive folder. A private group, and everything of it, exists only
//! for its members.

use erp_sdk::notify::Importance;
use erp_sdk::store::{self, Filter, Query, Record};
use erp_sdk::{Error, Result, Value, json};
use serde::{Deserialize, Serialize};

use crate::chats::{self, Chat};
use crate::drive;
use crate::notices::{self, Notice};
use crate::people::{self, holds, me, optional_text, text};

/// A group.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Group {
    /// Name.
    pub name: String,
    /// What it is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `workgroup` or `project`.
    #[serde(default)]
    pub kind: String,
    /// Open to the whole company (not private).
    #[serde(default)]
    pub public: bool,
    /// Who created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Members.
    #[serde(default)]
    pub members: Vec<String>,
    /// Members who manage it with the owner.
    #[serde(default)]
    pub moderators: Vec<String>,
    /// Its chat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat: Option<String>,
    /// Its drive folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder: Option<String>,
    /// A project's deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<String>,
}

impl Group {
    /// The owner or a moderator.
    pub fn manages(&self, who: &str) -> bool {
        self.owner.as_deref() == Some(who) || holds(&self.moderators, who)
    }
}

/// A group the caller may see: open, or theirs. Anyone else finds nothing.
pub fn visible(id: &str, me: &str) -> Result<Record<Group>> {
    let g = store::get::<Group>("group", id).map_err(|_| missing(id))?;
    if !g.data.public && !holds(&g.data.members, me) {
        return Err(missing(id));
    }
    Ok(g)
}

fn missing(id: &str) -> Error {
    Error::not_found(format!("group {id}"))
}

/// `create-group`: a group with its chat and drive folder; the caller owns it.
pub fn create(input: &Value) -> Result<Value> {
    let me = me()?;
    let name = text(input, "name")?;
    let members = people::union(std::slice::from_ref(&me), &people::ids(input, "members"));
    let private = input.get("private").and_then(Value::as_bool).unwrap_or(false);
    let kind = optional_text(input, "kind").unwrap_or_else(|| "workgroup".into());
    create_for(
        &me,
        &name,
        optional_text(input, "description"),
        &kind,
        !private,
        &members,
        optional_text(input, "deadline"),
    )
}

/// Creates a group for `owner` (the demo makes them for its people).
pub fn create_for(
    owner: &str,
    name: &str,
    description: Option<String>,
    kind: &str,
    public: bool,
    members: &[String],
    deadline: Option<String>,
) -> Result<Value> {
    let group = Group {
        name: name.to_string(),
        description,
        kind: kind.to_string(),
        public,
        owner: Some(owner.to_string()),
        members: members.to_vec(),
        moderators: vec![owner.to_string()],
        deadline,
        ..Group::default()
    };
    let created = store::create("group", &group)?;
    let chat = store::create(
        "chat",
        &Chat {
            title: Some(name.to_string()),
            kind: "team".into(),
            group: Some(created.id.clone()),
            members: members.to_vec(),
            ..Chat::default()
        },
    )?;
    let folder = drive::group_folder(&created.id, name, owner, members)?;
    store::update::<Group>("group", &created.id, &json!({ "chat": chat.id, "folder": folder }), None)?;
    tell_added(&created.id, name, owner, members)?;
    Ok(json!({ "id": created.id, "chat": chat.id, "folder": folder, "members": members }))
}

fn tell_added(group: &str, name: &str, by: &str, people: &[String]) -> Result<u32> {
    notices::tell(
        people,
        by,
        &Notice {
            kind: "collaboration.group",
            title_en: format!("{} added you to the group «{name}»", notices::name(by)),
            title_ru: format!("{} добавил(а) вас в группу «{name}»", notices::name(by)),
            body: String::new(),
            link: ("group", group),
            importance: Importance::Normal,
        },
    )
}

/// `add-members`: the owner or a moderator adds people (as moderators if asked).
pub fn add_members(input: &Value) -> Result<Value> {
    let me = me()?;
    let g = visible(&text(input, "group")?, &me)?;
    if !g.data.manages(&me) {
        return Err(Error::AccessDenied("the group's owner or a moderator adds members".into()));
    }
    let people = people::ids(input, "members");
    if people.is_empty() {
        return Err(Error::invalid("members", "choose at least one person"));
    }
    let new: Vec<String> = people.iter().filter(|p| !holds(&g.data.members, p)).cloned().collect();
    let members = people::union(&g.data.members, &people);
    let moderators = if input.get("moderator").and_then(Value::as_bool).unwrap_or(false) {
        people::union(&g.data.moderators, &people)
    } else {
        g.data.moderators.clone()
    };
    let updated = set_members(&g, &members, &moderators)?;
    tell_added(&g.id, &g.data.name, &me, &new)?;
    Ok(json!({ "id": updated.id, "members": updated.data.members, "moderators": updated.data.moderators }))
}

/// `remove-member`: the owner or a moderator removes someone; anyone may leave. The owner
/// stays.
pub fn remove_member(input: &Value) -> Result<Value> {
    let me = me()?;
    let g = visible(&text(input, "group")?, &me)?;
    let who = text(input, "user")?;
    if who != me && !g.data.manages(&me) {
        return Err(Error::AccessDenied("the group's owner or a moderator removes members".into()));
    }
    if g.data.owner.as_deref() == Some(who.as_str()) {
        return Err(Error::invalid("user", "the owner stays in the group"));
    }
    if !holds(&g.data.members, &who) {
        return Err(Error::invalid("user", "is not a member of this group"));
    }
    let members: Vec<String> = g.data.members.iter().filter(|m| **m != who).cloned().collect();
    let moderators: Vec<String> = g.data.moderators.iter().filter(|m| **m != who).cloned().collect();
    let updated = set_members(&g, &members, &moderators)?;
    Ok(json!({ "id": updated.id, "members": updated.data.members }))
}

/// `join-group`: the caller joins an open group.
pub fn join(input: &Value) -> Result<Value> {
    let me = me()?;
    let g = visible(&text(input, "group")?, &me)?;
    if holds(&g.data.members, &me) {
        return Ok(json!({ "id": g.id, "members": g.data.members }));
    }
    let members = people::union(&g.data.members, std::slice::from_ref(&me));
    let updated = set_members(&g, &members, &g.data.moderators)?;
    Ok(json!({ "id": updated.id, "members": updated.data.members }))
}

/// New members for a group, and for everything that follows them: its chat (and messages),
/// its posts, its folder and what is shared with it.
fn set_members(g: &Record<Group>, members: &[String], moderators: &[String]) -> Result<Record<Group>> {
    let updated = store::update::<Group>(
        "group",
        &g.id,
        &json!({ "members": members, "moderators": moderators }),
        Some(g.version),
    )?;
    if let Some(chat) = &g.data.chat
        && let Ok(c) = store::get::<Chat>("chat", chat)
    {
        chats::set_members(&c, members)?;
    }
    let posts = store::query_all::<Value>("post", Query::new().filter(Filter::eq("group", g.id.as_str())), 50_000)?;
    for p in posts {
        store::update::<Value>("post", &p.id, &json!({ "members": members }), None)?;
    }
    drive::group_changed(&g.id)?;
    Ok(updated)
}

/// Members of a group (none when it is gone).
pub fn members_of(id: &str) -> Vec<String> {
    store::get::<Group>("group", id).map(|g| g.data.members).unwrap_or_default()
}
