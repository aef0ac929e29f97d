//! What the collaboration pages (chats, the drive, comments on records) share: whether the
//! person has the bundled `collaboration` plugin here, and calls of its commands as them.

use std::collections::HashMap;

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::Ctx;
use super::client::Failure;

/// The plugin behind these pages.
pub(super) const PLUGIN: &str = "collaboration";
/// What a person needs to use them.
pub(super) const USE: &str = "collaboration.use";

/// True when the company has the plugin and the person may use it.
pub(super) fn available(ctx: &Ctx) -> bool {
    ctx.company.as_ref().is_some_and(|c| c.plugin(PLUGIN).is_some() && c.can(USE))
}

/// "Not found" unless the pages are there for the person.
pub(super) fn require(ctx: &Ctx) -> Result<(), Response> {
    if available(ctx) {
        Ok(())
    } else {
        Err(ctx.fail(&Failure { status: StatusCode::NOT_FOUND, ..Failure::internal(ctx.t("not_found")) }))
    }
}

/// Runs one of the plugin's commands as the person.
pub(super) async fn call(ctx: &Ctx, command: &str, input: Value) -> Result<Value, Failure> {
    let company = ctx.company.as_ref().map(|c| c.id.clone()).unwrap_or_default();
    ctx.api.post(&format!("/api/v1/companies/{company}/plugins/{PLUGIN}/commands/{command}"), input).await
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
