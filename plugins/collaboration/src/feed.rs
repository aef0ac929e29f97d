//! The activity feed: posts to the whole company or to a group, comments on records and new
//! files on the drive, each shown only to who may see it.

use erp_sdk::notify::Importance;
use erp_sdk::store::{self, Filter, Query};
use erp_sdk::{Error, Result, Value, json};
use serde::{Deserialize, Serialize};

use crate::comments;
use crate::drive;
use crate::groups;
use crate::notices::{self, Notice};
use crate::people::{self, holds, me, optional_text, text};

/// A post.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Post {
    /// Its text.
    pub text: String,
    /// Who wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The group's feed it is in; none: the company's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// An attached file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<Value>,
    /// People mentioned.
    #[serde(default)]
    pub mentions: Vec<String>,
    /// Seen by the whole company (the company feed, an open group).
    #[serde(default)]
    pub public: bool,
    /// Who else may read it: the group's members.
    #[serde(default)]
    pub members: Vec<String>,
}

/// `post`: publishes in the company feed or a group's.
pub fn post(input: &Value) -> Result<Value> {
    let me = me()?;
    let body = text(input, "text")?;
    post_as(
        &me,
        &body,
        optional_text(input, "group").as_deref(),
        optional_text(input, "file"),
        &people::ids(input, "mentions"),
    )
}

/// Publishes for `me` (the demo writes for its people).
pub fn post_as(me: &str, body: &str, group: Option<&str>, file: Option<String>, mentions: &[String]) -> Result<Value> {
    let (public, members) = match group {
        Some(id) => {
            let g = groups::visible(id, me)?;
            if !holds(&g.data.members, me) {
                return Err(Error::AccessDenied("members post in a group's feed (join it first)".into()));
            }
            if !g.data.public
                && let Some(outsider) = mentions.iter().find(|p| !holds(&g.data.members, p))
            {
                return Err(Error::invalid("mentions", format!("{outsider} is not in this private group")));
            }
            (g.data.public, g.data.members)
        }
        None => (true, vec![me.to_string()]),
    };
    let created = store::create(
        "post",
        &Post {
            text: body.to_string(),
            author: Some(me.to_string()),
            group: group.map(str::to_string),
            file: file.map(|id| json!({ "id": id })),
            mentions: mentions.to_vec(),
            public,
            members,
        },
    )?;
    notices::tell(
        mentions,
        me,
        &Notice {
            kind: "collaboration.mention",
            title_en: format!("{} mentioned you in a post", notices::name(me)),
            title_ru: format!("{} упомянул(а) вас в публикации", notices::name(me)),
            body: people::preview(body, 300),
            link: ("post", &created.id),
            importance: Importance::High,
        },
    )?;
    Ok(json!({ "id": created.id, "at": created.created_at, "public": public }))
}

/// `feed`: what happened, the latest first: posts, comments and new files the caller may
/// see; a group's feed has its posts and files.
pub fn feed(input: &Value) -> Result<Value> {
    let me = me()?;
    let limit = input.get("limit").and_then(Value::as_u64).unwrap_or(30).clamp(1, 100) as u32;
    let group = optional_text(input, "group");
    let mine = Filter::or(vec![Filter::eq("public", true), Filter::has("members", me.as_str())]);
    let post_filter = match &group {
        Some(g) => {
            groups::visible(g, &me)?;
            Filter::and(vec![Filter::eq("group", g.as_str()), mine])
        }
        None => mine,
    };
    let posts = store::query::<Post>("post", &Query::new().filter(post_filter).sort_desc("created_at").limit(limit))?;
    // `where`: the group of a post (the company's feed has none), the record of a comment,
    // the folder of a file; by name.
    let group_name = |id: &Option<String>| -> String {
        id.as_deref()
            .and_then(|g| store::get::<groups::Group>("group", g).ok())
            .map(|g| g.data.name)
            .unwrap_or_default()
    };
    let mut rows: Vec<Value> = posts
        .records
        .into_iter()
        .map(|p| {
            json!({
                "kind": "post", "id": p.id, "at": p.created_at, "author": p.data.author, "group": p.data.group,
                "where": group_name(&p.data.group), "text": p.data.text, "file": p.data.file,
            })
        })
        .collect();
    if group.is_none() {
        for c in comments::latest(limit)? {
            rows.push(json!({
                "kind": "comment", "id": c.id, "at": c.created_at, "author": c.data.author, "target": c.data.target,
                "where": c.data.record_title.clone().unwrap_or_default(), "text": c.data.text,
            }));
        }
    }
    for d in drive::latest_files(&me, group.as_deref(), limit)? {
        rows.push(d);
    }
    rows.sort_by(|a, b| b["at"].as_str().cmp(&a["at"].as_str()));
    rows.truncate(limit as usize);
    Ok(json!({ "rows": rows }))
}
