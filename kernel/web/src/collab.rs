//! What the chat, drive and discussion pages share. A plugin provides one of these parts of
//! the UI by declaring the commands it needs (see `Surface`); the pages then call those
//! commands as the person, so the plugin decides what they see. The bundled `collaboration`
//! plugin provides all three.

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::Response;
use erp_kernel::plugins::manifest::Manifest;
use serde_json::Value;

use super::Ctx;
use super::client::Failure;
use super::meta::Company;

/// A part of the UI that a plugin may provide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Surface {
    /// The chat page: `chats`, `messages`, `post-message`, ... over a `chat` collection.
    Chat,
    /// The drive: `drive`, `upload`, ... over `folder` and `document` collections.
    Drive,
    /// The discussion panel on record pages: `comments`, `comment`, `comment-target`.
    Comments,
}

impl Surface {
    /// The commands a plugin declares to provide it.
    fn commands(self) -> &'static [&'static str] {
        match self {
            Surface::Chat => {
                &["chats", "messages", "post-message", "edit-message", "mark-read", "open-direct", "create-chat"]
            }
            Surface::Drive => &["drive", "upload", "create-folder", "share", "trash", "restore", "versions"],
            Surface::Comments => &["comments", "comment", "comment-target"],
        }
    }

    /// Every command its pages call (the rest of a plugin's commands stay on its own page).
    fn uses(self) -> &'static [&'static str] {
        match self {
            Surface::Chat => &[
                "chats",
                "messages",
                "post-message",
                "edit-message",
                "mark-read",
                "open-direct",
                "create-chat",
                "add-chat-members",
                "leave-chat",
                "search-messages",
            ],
            Surface::Drive => {
                &["drive", "upload", "create-folder", "share", "trash", "restore", "versions", "access-log"]
            }
            Surface::Comments => &["comments", "comment", "comment-target", "edit-comment"],
        }
    }

    /// The surface whose pages show records of `collection` (what a notification opens).
    pub(super) fn of_collection(collection: &str) -> Option<Surface> {
        match collection {
            "chat" => Some(Surface::Chat),
            "folder" | "document" => Some(Surface::Drive),
            "comment" => Some(Surface::Comments),
            _ => None,
        }
    }
}

/// True when `m` provides `surface` and the person may run its commands.
pub(super) fn provides(company: &Company, m: &Manifest, surface: Surface) -> bool {
    surface.commands().iter().all(|name| m.commands.iter().any(|c| c.name == *name && company.can(&c.permission)))
}

/// True when `command` of `m` is used on a page `m` provides (so its own page need not list it).
pub(super) fn on_a_page(company: &Company, m: &Manifest, command: &str) -> bool {
    [Surface::Chat, Surface::Drive, Surface::Comments]
        .into_iter()
        .any(|s| provides(company, m, s) && s.uses().contains(&command))
}

/// The enabled plugin that provides `surface` for the person (the first by name).
pub(super) fn provider(ctx: &Ctx, surface: Surface) -> Option<Arc<Manifest>> {
    let company = ctx.company.as_ref()?;
    company.plugins.iter().find(|m| provides(company, m, surface)).cloned()
}

/// The provider, or "not found" when nothing provides the surface for the person.
pub(super) fn require(ctx: &Ctx, surface: Surface) -> Result<Arc<Manifest>, Response> {
    provider(ctx, surface)
        .ok_or_else(|| ctx.fail(&Failure { status: StatusCode::NOT_FOUND, ..Failure::internal(ctx.t("not_found")) }))
}

/// Runs one of the provider's commands as the person.
pub(super) async fn call(ctx: &Ctx, m: &Manifest, command: &str, input: Value) -> Result<Value, Failure> {
    let company = ctx.company.as_ref().map(|c| c.id.clone()).unwrap_or_default();
    let plugin = &m.plugin.name;
    ctx.api.post(&format!("/api/v1/companies/{company}/plugins/{plugin}/commands/{command}"), input).await
}

/// A person's name by user id ("someone" for who is no longer here).
pub(super) fn name_of(ctx: &Ctx, people: &HashMap<String, String>, id: Option<&str>) -> String {
    id.and_then(|i| people.get(i)).cloned().unwrap_or_else(|| ctx.t("someone"))
}

/// The people of the company by name, for pickers.
pub(super) fn options(people: &HashMap<String, String>) -> Vec<Value> {
    let mut list: Vec<(&String, &String)> = people.iter().collect();
    list.sort_by_key(|(_, n)| n.to_lowercase());
    list.into_iter().map(|(id, name)| serde_json::json!({ "id": id, "name": name })).collect()
}

/// The user ids that `@Name` in `text` points at: the full name of a member, or their first
/// name when only one member has it.
pub(super) fn mentioned(text: &str, people: &HashMap<String, String>) -> Vec<String> {
    let lower = text.to_lowercase();
    let mut out: Vec<String> = Vec::new();
    for (id, name) in people {
        let full = format!("@{}", name.to_lowercase());
        let first = name.split_whitespace().next().map(|f| format!("@{}", f.to_lowercase()));
        let unique_first = first.as_ref().is_some_and(|f| {
            people
                .values()
                .filter(|n| n.split_whitespace().next().map(|x| format!("@{}", x.to_lowercase())).as_ref() == Some(f))
                .count()
                == 1
        });
        let at_word = |needle: &str| {
            lower
                .match_indices(needle)
                .any(|(i, _)| lower[i + needle.len()..].chars().next().is_none_or(|c| !c.is_alphanumeric()))
        };
        if at_word(&full) || (unique_first && first.as_deref().is_some_and(at_word)) {
            out.push(id.clone());
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_full_names_or_unique_first_names() {
        let people: HashMap<String, String> = [
            ("u1".to_string(), "Анна Петрова".to_string()),
            ("u2".to_string(), "Иван Соколов".to_string()),
            ("u3".to_string(), "Иван Орлов".to_string()),
        ]
        .into_iter()
        .collect();
        assert_eq!(mentioned("@Анна, глянь", &people), ["u1"]);
        assert_eq!(mentioned("@иван соколов и @Иван", &people), ["u2"], "a shared first name is not enough");
        assert!(mentioned("@Аннаа", &people).is_empty(), "a longer word is someone else");
    }
}
