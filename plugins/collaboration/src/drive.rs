//! The drive: folders and files of the company, of each group and of each person; sharing
//! with people and groups to read or to edit; a new version when a file of the same name is
//! put in a folder; an access log (downloads come from the kernel's `kernel.file.downloaded`);
//! a trash that keeps deleted files for the configured number of days.
//!
//! Who may read and edit is worked out here and written on every folder, file and version
//! (`readers`, `editors`, `public`), where the kernel's members-only rule applies it to
//! every path, downloads included. A change of a share or of a group's members recomputes
//! the folders below and their files.

use erp_sdk::notify::Importance;
use erp_sdk::store::{self, Filter, Query, Record};
use erp_sdk::{Error, Event, Result, Value, files, json};
use serde::{Deserialize, Serialize};

use crate::groups;
use crate::notices::{self, Notice};
use crate::people::{self, holds, me, optional_text, text};

/// Most records one recomputation or listing reads.
const CAP: usize = 20_000;
/// Deepest folder path followed.
const MAX_DEPTH: usize = 32;

/// A folder.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Folder {
    /// Name.
    pub name: String,
    /// The folder it is in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// `company_wide`, `group` or `personal`.
    #[serde(default)]
    pub space: String,
    /// The group whose drive it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Who created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// People it is shared with to read.
    #[serde(default)]
    pub shared_read: Vec<String>,
    /// People it is shared with to edit.
    #[serde(default)]
    pub shared_edit: Vec<String>,
    /// Groups it is shared with.
    #[serde(default)]
    pub shared_groups: Vec<String>,
    /// What those groups may do: `read` or `edit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_access: Option<String>,
    /// The whole company reads it.
    #[serde(default)]
    pub public: bool,
    /// Everyone who reads it (computed).
    #[serde(default)]
    pub readers: Vec<String>,
    /// Everyone who edits it (computed).
    #[serde(default)]
    pub editors: Vec<String>,
}

/// A file on the drive; its content is its current version's.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Document {
    /// Name, unique among the folder's files outside the trash.
    pub name: String,
    /// The folder.
    pub folder: String,
    /// The current version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    /// Content type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Version number.
    #[serde(default, rename = "revision")]
    pub version: i64,
    /// Size in bytes.
    #[serde(default)]
    pub size: i64,
    /// Who put the current version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uploaded_by: Option<String>,
    /// People it is shared with to read.
    #[serde(default)]
    pub shared_read: Vec<String>,
    /// People it is shared with to edit.
    #[serde(default)]
    pub shared_edit: Vec<String>,
    /// In the trash.
    #[serde(default)]
    pub trashed: bool,
    /// When it went there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trashed_at: Option<String>,
    /// Who put it there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trashed_by: Option<String>,
    /// The whole company reads it.
    #[serde(default)]
    pub public: bool,
    /// Everyone who reads it (computed).
    #[serde(default)]
    pub readers: Vec<String>,
    /// Everyone who edits it (computed).
    #[serde(default)]
    pub editors: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Version {
    document: String,
    number: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    file: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    uploaded_by: Option<String>,
    #[serde(default)]
    public: bool,
    #[serde(default)]
    readers: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Access {
    document: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    action: String,
    at: String,
    #[serde(default, rename = "revision", skip_serializing_if = "Option::is_none")]
    version: Option<i64>,
    #[serde(default)]
    readers: Vec<String>,
}

fn can_read_folder(f: &Folder, me: &str) -> bool {
    f.public || holds(&f.readers, me)
}

fn can_edit_folder(f: &Folder, me: &str) -> bool {
    f.space == "company_wide" || holds(&f.editors, me)
}

fn can_read_doc(d: &Document, me: &str) -> bool {
    d.public || holds(&d.readers, me)
}

fn can_edit_doc(d: &Document, folder: &Folder, me: &str) -> bool {
    folder.space == "company_wide" || holds(&d.editors, me)
}

/// A folder the caller may read; anyone else finds nothing.
fn folder(id: &str, me: &str) -> Result<Record<Folder>> {
    match store::get::<Folder>("folder", id) {
        Ok(f) if can_read_folder(&f.data, me) => Ok(f),
        _ => Err(Error::not_found(format!("folder {id}"))),
    }
}

/// A file the caller may read, with its folder.
fn document(id: &str, me: &str) -> Result<(Record<Document>, Record<Folder>)> {
    let d = match store::get::<Document>("document", id) {
        Ok(d) if can_read_doc(&d.data, me) => d,
        _ => return Err(Error::not_found(format!("file {id}"))),
    };
    let f = store::get::<Folder>("folder", &d.data.folder)?;
    Ok((d, f))
}

/// Who reads and edits a folder, from its parent, its drive and its shares.
fn access_of(f: &Folder) -> Result<(bool, Vec<String>, Vec<String>)> {
    let (mut public, mut readers, mut editors) = match &f.parent {
        Some(p) => {
            let parent = store::get::<Folder>("folder", p)?;
            (parent.data.public, parent.data.readers, parent.data.editors)
        }
        None => (false, Vec::new(), Vec::new()),
    };
    match f.space.as_str() {
        "company_wide" => public = true,
        "group" => {
            let members = f.group.as_deref().map(groups::members_of).unwrap_or_default();
            readers = people::union(&readers, &members);
            editors = people::union(&editors, &members);
        }
        _ => {}
    }
    if let Some(owner) = &f.owner {
        readers = people::union(&readers, std::slice::from_ref(owner));
        editors = people::union(&editors, std::slice::from_ref(owner));
    }
    readers = people::union(&readers, &f.shared_read);
    readers = people::union(&readers, &f.shared_edit);
    editors = people::union(&editors, &f.shared_edit);
    let group_edit = f.group_access.as_deref() == Some("edit");
    for g in &f.shared_groups {
        let members = groups::members_of(g);
        readers = people::union(&readers, &members);
        if group_edit {
            editors = people::union(&editors, &members);
        }
    }
    Ok((public, readers, editors))
}

/// Writes a folder's access, then its files' and its subfolders', all the way down.
fn recompute_folder(id: &str, depth: usize) -> Result<()> {
    if depth > MAX_DEPTH {
        return Ok(());
    }
    let f = store::get::<Folder>("folder", id)?;
    let (public, readers, editors) = access_of(&f.data)?;
    let f = if (public, &readers, &editors) != (f.data.public, &f.data.readers, &f.data.editors) {
        store::update::<Folder>(
            "folder",
            id,
            &json!({ "public": public, "readers": readers, "editors": editors }),
            Some(f.version),
        )?
    } else {
        f
    };
    let docs = store::query_all::<Document>("document", Query::new().filter(Filter::eq("folder", id)), CAP)?;
    for d in docs {
        recompute_document(&d, &f.data)?;
    }
    let children = store::query_all::<Folder>("folder", Query::new().filter(Filter::eq("parent", id)), CAP)?;
    for c in children {
        recompute_folder(&c.id, depth + 1)?;
    }
    Ok(())
}

/// Writes a file's access from its folder and its own shares, and its versions' and log's.
fn recompute_document(d: &Record<Document>, f: &Folder) -> Result<Record<Document>> {
    let mut readers = people::union(&f.readers, &d.data.shared_read);
    readers = people::union(&readers, &d.data.shared_edit);
    let mut editors = people::union(&f.editors, &d.data.shared_edit);
    if let Some(u) = &d.data.uploaded_by {
        readers = people::union(&readers, std::slice::from_ref(u));
        editors = people::union(&editors, std::slice::from_ref(u));
    }
    if (f.public, &readers, &editors) == (d.data.public, &d.data.readers, &d.data.editors) {
        return Ok(d.clone());
    }
    let updated = store::update::<Document>(
        "document",
        &d.id,
        &json!({ "public": f.public, "readers": readers, "editors": editors }),
        Some(d.version),
    )?;
    let versions =
        store::query_all::<Value>("version", Query::new().filter(Filter::eq("document", d.id.as_str())), CAP)?;
    for v in versions {
        store::update::<Value>("version", &v.id, &json!({ "public": f.public, "readers": readers }), None)?;
    }
    let log = store::query_all::<Value>("access", Query::new().filter(Filter::eq("document", d.id.as_str())), CAP)?;
    for a in log {
        store::update::<Value>("access", &a.id, &json!({ "readers": editors }), None)?;
    }
    Ok(updated)
}

/// The drive folder of a new group: its members read and edit it.
pub fn group_folder(group: &str, name: &str, owner: &str, members: &[String]) -> Result<String> {
    let f = Folder {
        name: name.to_string(),
        space: "group".into(),
        group: Some(group.to_string()),
        owner: Some(owner.to_string()),
        readers: members.to_vec(),
        editors: members.to_vec(),
        ..Folder::default()
    };
    Ok(store::create("folder", &f)?.id)
}

/// A group's members changed: its folders and those shared with it follow.
pub fn group_changed(group: &str) -> Result<()> {
    let own = store::query_all::<Value>("folder", Query::new().filter(Filter::eq("group", group)), CAP)?;
    let shared = store::query_all::<Value>("folder", Query::new().filter(Filter::has("shared_groups", group)), CAP)?;
    for f in own.iter().chain(shared.iter()) {
        recompute_folder(&f.id, 0)?;
    }
    Ok(())
}

fn folder_view(f: &Record<Folder>, me: &str) -> Value {
    json!({
        "id": f.id, "name": f.data.name, "space": f.data.space, "group": f.data.group, "owner": f.data.owner,
        "parent": f.data.parent, "public": f.data.public, "can_edit": can_edit_folder(&f.data, me),
        "shared_read": f.data.shared_read, "shared_edit": f.data.shared_edit, "shared_groups": f.data.shared_groups,
    })
}

fn document_view(d: &Record<Document>) -> Value {
    let file =
        d.data.current.as_deref().and_then(|v| store::get::<Version>("version", v).ok()).and_then(|v| v.data.file);
    json!({
        "id": d.id, "name": d.data.name, "folder": d.data.folder, "version": d.data.version, "size": d.data.size,
        "content_type": d.data.content_type, "uploaded_by": d.data.uploaded_by, "at": d.updated_at,
        "current": d.data.current, "file": file, "trashed": d.data.trashed, "trashed_at": d.data.trashed_at,
        "trashed_by": d.data.trashed_by, "shared_read": d.data.shared_read, "shared_edit": d.data.shared_edit,
    })
}

/// `drive`: a folder's contents; without one, the caller's drives; or the trash.
pub fn browse(input: &Value) -> Result<Value> {
    let me = me()?;
    if input.get("trash").and_then(Value::as_bool).unwrap_or(false) {
        return trash_list(&me);
    }
    let Some(id) = optional_text(input, "folder") else { return drives(&me) };
    let f = folder(&id, &me)?;
    let children = store::query_all::<Folder>("folder", Query::new().filter(Filter::eq("parent", id.as_str())), CAP)?;
    let folders: Vec<Value> =
        children.iter().filter(|c| can_read_folder(&c.data, &me)).map(|c| folder_view(c, &me)).collect();
    let docs = store::query_all::<Document>(
        "document",
        Query::new().filter(Filter::and(vec![Filter::eq("folder", id.as_str()), Filter::eq("trashed", false)])),
        CAP,
    )?;
    let mut documents: Vec<Value> = docs.iter().filter(|d| can_read_doc(&d.data, &me)).map(document_view).collect();
    documents.sort_by_key(|d| d["name"].as_str().unwrap_or_default().to_lowercase());
    let mut path = Vec::new();
    let mut up = f.data.parent.clone();
    while let Some(p) = up.take() {
        if path.len() >= MAX_DEPTH {
            break;
        }
        match folder(&p, &me) {
            Ok(parent) => {
                up = parent.data.parent.clone();
                path.push(json!({ "id": parent.id, "name": parent.data.name }));
            }
            Err(_) => break,
        }
    }
    path.reverse();
    Ok(json!({ "folder": folder_view(&f, &me), "path": path, "folders": folders, "documents": documents }))
}

/// The drives the caller has: the company's top folders, their own, their groups', and what
/// was shared with them from elsewhere.
fn drives(me: &str) -> Result<Value> {
    let seen = store::query_all::<Folder>(
        "folder",
        Query::new().filter(Filter::or(vec![Filter::eq("public", true), Filter::has("readers", me)])),
        CAP,
    )?;
    let visible: std::collections::BTreeSet<&str> = seen.iter().map(|f| f.id.as_str()).collect();
    // A folder is a top one for the caller when nothing above it is theirs to open.
    let tops: Vec<&Record<Folder>> =
        seen.iter().filter(|f| f.data.parent.as_deref().is_none_or(|p| !visible.contains(p))).collect();
    let mut personal: Vec<Value> = tops
        .iter()
        .filter(|f| f.data.space == "personal" && f.data.owner.as_deref() == Some(me))
        .map(|f| folder_view(f, me))
        .collect();
    if personal.is_empty() {
        let mine = store::create(
            "folder",
            &Folder {
                name: "My files".into(),
                space: "personal".into(),
                owner: Some(me.to_string()),
                readers: vec![me.to_string()],
                editors: vec![me.to_string()],
                ..Folder::default()
            },
        )?;
        personal.push(folder_view(&mine, me));
    }
    let company: Vec<Value> =
        tops.iter().filter(|f| f.data.space == "company_wide").map(|f| folder_view(f, me)).collect();
    let groups: Vec<Value> = tops.iter().filter(|f| f.data.space == "group").map(|f| folder_view(f, me)).collect();
    let shared: Vec<Value> = tops
        .iter()
        .filter(|f| f.data.space == "personal" && f.data.owner.as_deref() != Some(me))
        .map(|f| folder_view(f, me))
        .collect();
    let shared_docs = store::query::<Document>(
        "document",
        &Query::new()
            .filter(Filter::and(vec![Filter::has("readers", me), Filter::eq("trashed", false)]))
            .sort_desc("created_at")
            .limit(500),
    )?;
    let shared_files: Vec<Value> = shared_docs
        .records
        .iter()
        .filter(|d| holds(&d.data.shared_read, me) || holds(&d.data.shared_edit, me))
        .map(document_view)
        .collect();
    Ok(
        json!({ "personal": personal, "company": company, "groups": groups, "shared": shared, "shared_files": shared_files }),
    )
}

fn trash_list(me: &str) -> Result<Value> {
    let days = people::settings().trash_days;
    let docs = store::query_all::<Document>(
        "document",
        Query::new().filter(Filter::and(vec![
            Filter::eq("trashed", true),
            Filter::or(vec![Filter::eq("public", true), Filter::has("readers", me)]),
        ])),
        CAP,
    )?;
    let mut out = Vec::new();
    for d in &docs {
        let Ok(f) = store::get::<Folder>("folder", &d.data.folder) else { continue };
        if can_edit_doc(&d.data, &f.data, me) {
            let mut v = document_view(d);
            v["purge_at"] = json!(d.data.trashed_at.as_deref().and_then(|t| people::seconds_before(t, -days * 86_400)));
            out.push(v);
        }
    }
    Ok(json!({ "documents": out, "days": days }))
}

/// `create-folder`: in another folder, or at the top of the company's drive or one's own.
pub fn create_folder(input: &Value) -> Result<Value> {
    let me = me()?;
    let name = text(input, "name")?;
    if name.contains('/') {
        return Err(Error::invalid("name", "a folder name has no '/'"));
    }
    let (space, group, parent) = match optional_text(input, "parent") {
        Some(p) => {
            let parent = folder(&p, &me)?;
            if !can_edit_folder(&parent.data, &me) {
                return Err(Error::AccessDenied("adding to a folder one may only read".into()));
            }
            (parent.data.space.clone(), parent.data.group.clone(), Some(p))
        }
        None if input.get("personal").and_then(Value::as_bool).unwrap_or(false) => ("personal".to_string(), None, None),
        None => ("company_wide".to_string(), None, None),
    };
    let siblings = match &parent {
        Some(p) => store::query_all::<Folder>("folder", Query::new().filter(Filter::eq("parent", p.as_str())), CAP)?,
        None => Vec::new(),
    };
    if siblings.iter().any(|s| s.data.name.to_lowercase() == name.to_lowercase()) {
        return Err(Error::Conflict(format!("a folder named {name} is already there")));
    }
    let mut f = Folder { name, parent, space, group, owner: Some(me.clone()), ..Folder::default() };
    let (public, readers, editors) = access_of(&f)?;
    (f.public, f.readers, f.editors) = (public, readers, editors);
    let created = store::create("folder", &f)?;
    Ok(folder_view(&created, &me))
}

/// `upload`: puts an uploaded file in a folder; a file of the same name there gets a new
/// version.
pub fn upload(input: &Value) -> Result<Value> {
    let me = me()?;
    let f = folder(&text(input, "folder")?, &me)?;
    if !can_edit_folder(&f.data, &me) {
        return Err(Error::AccessDenied("adding to a folder one may only read".into()));
    }
    let file_id = text(input, "file")?;
    let info = files::info(&file_id).map_err(|_| Error::invalid("file", "must be a file you uploaded"))?;
    let name = optional_text(input, "name").unwrap_or(info.name.clone());
    put(&me, &f, &name, &info)
}

/// Puts a stored file in a folder for `me` (the demo puts its own).
pub fn put(me: &str, f: &Record<Folder>, name: &str, info: &files::FileInfo) -> Result<Value> {
    let existing = store::query_all::<Document>(
        "document",
        Query::new().filter(Filter::and(vec![Filter::eq("folder", f.id.as_str()), Filter::eq("trashed", false)])),
        CAP,
    )?
    .into_iter()
    .find(|d| d.data.name.to_lowercase() == name.to_lowercase());
    let size = i64::try_from(info.size).unwrap_or(i64::MAX);
    let (doc, action) = match existing {
        Some(d) => {
            if !can_edit_doc(&d.data, &f.data, me) {
                return Err(Error::AccessDenied("a new version of a file one may only read".into()));
            }
            (d, "new_version")
        }
        None => {
            let d = Document {
                name: name.to_string(),
                folder: f.id.clone(),
                version: 0,
                uploaded_by: Some(me.to_string()),
                ..Document::default()
            };
            let created = store::create("document", &d)?;
            (recompute_document(&created, &f.data)?, "upload")
        }
    };
    let number = doc.data.version + 1;
    let version = store::create(
        "version",
        &Version {
            document: doc.id.clone(),
            number,
            file: Some(json!({ "id": info.id })),
            uploaded_by: Some(me.to_string()),
            public: doc.data.public,
            readers: doc.data.readers.clone(),
        },
    )?;
    let updated = store::update::<Document>(
        "document",
        &doc.id,
        &json!({ "current": version.id, "revision": number, "size": size, "content_type": info.content_type, "uploaded_by": me }),
        None,
    )?;
    let updated = recompute_document(&updated, &f.data)?;
    log(&updated, me, action, Some(number))?;
    Ok(document_view(&updated))
}

fn log(d: &Record<Document>, user: &str, action: &str, version: Option<i64>) -> Result<()> {
    store::create(
        "access",
        &Access {
            document: d.id.clone(),
            name: Some(d.data.name.clone()),
            user: (!user.is_empty()).then(|| user.to_string()),
            action: action.to_string(),
            at: erp_sdk::now(),
            version,
            readers: d.data.editors.clone(),
        },
    )?;
    Ok(())
}

/// `share`: shares a folder or a file with people and groups, to read or to edit, or takes
/// the share back (`none`).
pub fn share(input: &Value) -> Result<Value> {
    let me = me()?;
    let access = text(input, "access")?;
    if !matches!(access.as_str(), "read" | "edit" | "none") {
        return Err(Error::invalid("access", "must be read, edit or none"));
    }
    let users = people::ids(input, "users");
    let groups_given = people::ids(input, "groups");
    if users.is_empty() && groups_given.is_empty() {
        return Err(Error::invalid("users", "choose people or groups to share with"));
    }
    for g in &groups_given {
        groups::visible(g, &me).map_err(|_| Error::invalid("groups", format!("{g} is not a group you can see")))?;
    }
    let strip =
        |list: &[String], out: &[String]| -> Vec<String> { list.iter().filter(|x| !holds(out, x)).cloned().collect() };
    let (name, link, told): (String, (&str, String), Vec<String>) =
        match (optional_text(input, "folder"), optional_text(input, "document")) {
            (Some(id), None) => {
                let f = folder(&id, &me)?;
                if !can_edit_folder(&f.data, &me) && f.data.owner.as_deref() != Some(me.as_str()) {
                    return Err(Error::AccessDenied("sharing a folder one may only read".into()));
                }
                let d = &f.data;
                let (read, edit) = match access.as_str() {
                    "read" => (people::union(&strip(&d.shared_read, &users), &users), strip(&d.shared_edit, &users)),
                    "edit" => (strip(&d.shared_read, &users), people::union(&strip(&d.shared_edit, &users), &users)),
                    _ => (strip(&d.shared_read, &users), strip(&d.shared_edit, &users)),
                };
                let shared_groups = if access == "none" {
                    strip(&d.shared_groups, &groups_given)
                } else {
                    people::union(&d.shared_groups, &groups_given)
                };
                let mut patch = json!({ "shared_read": read, "shared_edit": edit, "shared_groups": shared_groups });
                if access != "none" && !groups_given.is_empty() {
                    patch["group_access"] = json!(access);
                }
                store::update::<Folder>("folder", &id, &patch, Some(f.version))?;
                recompute_folder(&id, 0)?;
                (d.name.clone(), ("folder", id), users.clone())
            }
            (None, Some(id)) => {
                let (d, f) = document(&id, &me)?;
                if !can_edit_doc(&d.data, &f.data, &me) {
                    return Err(Error::AccessDenied("sharing a file one may only read".into()));
                }
                // A file keeps no groups: their members are given the file as people.
                let mut given = users.clone();
                for g in &groups_given {
                    given = people::union(&given, &groups::members_of(g));
                }
                let data = &d.data;
                let (read, edit) = match access.as_str() {
                    "read" => {
                        (people::union(&strip(&data.shared_read, &given), &given), strip(&data.shared_edit, &given))
                    }
                    "edit" => {
                        (strip(&data.shared_read, &given), people::union(&strip(&data.shared_edit, &given), &given))
                    }
                    _ => (strip(&data.shared_read, &given), strip(&data.shared_edit, &given)),
                };
                let updated = store::update::<Document>(
                    "document",
                    &id,
                    &json!({ "shared_read": read, "shared_edit": edit }),
                    Some(d.version),
                )?;
                let updated = recompute_document(&updated, &f.data)?;
                log(&updated, &me, "share", None)?;
                (data.name.clone(), ("document", id), given)
            }
            _ => return Err(Error::invalid("folder", "give a folder or a file, one of them")),
        };
    if access != "none" {
        let (en, ru) =
            if access == "edit" { ("to edit", "на изменение") } else { ("to read", "на чтение") };
        notices::tell(
            &told,
            &me,
            &Notice {
                kind: "collaboration.shared",
                title_en: format!("{} shared «{name}» with you {en}", notices::name(&me)),
                title_ru: format!("{} открыл(а) вам «{name}» {ru}", notices::name(&me)),
                body: String::new(),
                link: (link.0, &link.1),
                importance: Importance::Normal,
            },
        )?;
    }
    Ok(json!({ "shared": link.1, "access": access, "people": told }))
}

/// `trash`: moves a file to the trash.
pub fn trash(input: &Value) -> Result<Value> {
    let me = me()?;
    let (d, f) = document(&text(input, "document")?, &me)?;
    if !can_edit_doc(&d.data, &f.data, &me) {
        return Err(Error::AccessDenied("deleting a file one may only read".into()));
    }
    if d.data.trashed {
        return Ok(document_view(&d));
    }
    let updated = store::update::<Document>(
        "document",
        &d.id,
        &json!({ "trashed": true, "trashed_at": erp_sdk::now(), "trashed_by": me }),
        Some(d.version),
    )?;
    log(&updated, &me, "trash", None)?;
    Ok(document_view(&updated))
}

/// `restore`: takes a file back from the trash (renamed when its name was taken meanwhile).
pub fn restore(input: &Value) -> Result<Value> {
    let me = me()?;
    let (d, f) = document(&text(input, "document")?, &me)?;
    if !can_edit_doc(&d.data, &f.data, &me) {
        return Err(Error::AccessDenied("restoring a file one may only read".into()));
    }
    if !d.data.trashed {
        return Ok(document_view(&d));
    }
    let taken = store::query_all::<Document>(
        "document",
        Query::new().filter(Filter::and(vec![Filter::eq("folder", f.id.as_str()), Filter::eq("trashed", false)])),
        CAP,
    )?;
    let mut name = d.data.name.clone();
    let mut n = 1;
    while taken.iter().any(|t| t.data.name.to_lowercase() == name.to_lowercase()) {
        n += 1;
        name = match d.data.name.rsplit_once('.') {
            Some((stem, ext)) => format!("{stem} ({n}).{ext}"),
            None => format!("{} ({n})", d.data.name),
        };
    }
    let updated = store::update::<Document>(
        "document",
        &d.id,
        &json!({ "trashed": false, "trashed_at": null, "trashed_by": null, "name": name }),
        Some(d.version),
    )?;
    log(&updated, &me, "restore", None)?;
    Ok(document_view(&updated))
}

/// `versions`: a file's versions, the latest first.
pub fn versions(input: &Value) -> Result<Value> {
    let me = me()?;
    let (d, _) = document(&text(input, "document")?, &me)?;
    let found = store::query_all::<Version>(
        "version",
        Query::new().filter(Filter::eq("document", d.id.as_str())).sort_desc("number"),
        CAP,
    )?;
    let rows: Vec<Value> = found
        .iter()
        .map(|v| {
            let size = v.data.file.as_ref().and_then(|f| f.get("size")).cloned().unwrap_or(Value::Null);
            json!({ "id": v.id, "number": v.data.number, "uploaded_by": v.data.uploaded_by, "at": v.created_at,
                    "size": size, "file": v.data.file, "current": d.data.current.as_deref() == Some(v.id.as_str()) })
        })
        .collect();
    Ok(json!({ "document": document_view(&d), "rows": rows }))
}

/// `access-log`: who downloaded, changed or shared a file, the latest first; for the
/// people who may edit it.
pub fn access_log(input: &Value) -> Result<Value> {
    let me = me()?;
    let (d, f) = document(&text(input, "document")?, &me)?;
    if !can_edit_doc(&d.data, &f.data, &me) {
        return Err(Error::AccessDenied("the access log of a file one may only read".into()));
    }
    let found = store::query::<Access>(
        "access",
        &Query::new().filter(Filter::eq("document", d.id.as_str())).sort_desc("at").limit(500),
    )?;
    let rows: Vec<Value> = found
        .records
        .iter()
        .map(|a| json!({ "at": a.data.at, "user": a.data.user, "action": a.data.action, "version": a.data.version }))
        .collect();
    Ok(json!({ "document": document_view(&d), "rows": rows }))
}

/// Payload of `kernel.file.downloaded`.
#[derive(Debug, Deserialize)]
struct Downloaded {
    plugin: String,
    collection: String,
    record_id: String,
    #[serde(default)]
    user_id: Option<String>,
}

/// `kernel.file.downloaded`: a download of a drive file's version goes into its access log.
pub fn downloaded(event: &Event) -> Result<()> {
    let p: Downloaded = event.payload()?;
    if p.plugin != "collaboration" || p.collection != "version" {
        return Ok(());
    }
    let Ok(v) = store::get::<Version>("version", &p.record_id) else { return Ok(()) };
    let Ok(d) = store::get::<Document>("document", &v.data.document) else { return Ok(()) };
    log(&d, p.user_id.as_deref().unwrap_or_default(), "download", Some(v.data.number))
}

/// The schedule: files longer in the trash than the configured days go for good, with
/// their versions (and so their content, once nothing else holds it).
pub fn purge_trash() -> Result<u32> {
    let days = people::settings().trash_days.max(0);
    let Some(before) = people::seconds_before(&erp_sdk::now(), days * 86_400) else { return Ok(0) };
    let due = store::query::<Document>(
        "document",
        &Query::new()
            .filter(Filter::and(vec![Filter::eq("trashed", true), Filter::lt("trashed_at", before.as_str())]))
            .limit(200),
    )?;
    let mut purged = 0;
    for d in due.records {
        store::update::<Value>("document", &d.id, &json!({ "current": null }), None)?;
        let versions =
            store::query_all::<Value>("version", Query::new().filter(Filter::eq("document", d.id.as_str())), CAP)?;
        for v in versions {
            store::delete("version", &v.id, None)?;
        }
        log(&d, "", "purge", None)?;
        store::delete("document", &d.id, None)?;
        purged += 1;
    }
    Ok(purged)
}

/// New files the caller may see, for the feed (a group's: those in its folder).
pub fn latest_files(me: &str, group: Option<&str>, limit: u32) -> Result<Vec<Value>> {
    let mine = Filter::or(vec![Filter::eq("public", true), Filter::has("readers", me)]);
    let filter = match group {
        Some(g) => {
            let Some(folder) = store::get::<groups::Group>("group", g).ok().and_then(|g| g.data.folder) else {
                return Ok(Vec::new());
            };
            Filter::and(vec![Filter::eq("folder", folder.as_str()), Filter::eq("trashed", false), mine])
        }
        None => Filter::and(vec![Filter::eq("trashed", false), mine]),
    };
    let found =
        store::query::<Document>("document", &Query::new().filter(filter).sort_desc("updated_at").limit(limit))?;
    let mut folders: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
    let mut out = Vec::new();
    for d in &found.records {
        if !folders.contains_key(&d.data.folder) {
            let name = store::get::<Folder>("folder", &d.data.folder).map(|f| f.data.name).unwrap_or_default();
            folders.insert(d.data.folder.clone(), name);
        }
        out.push(json!({
            "kind": "file", "id": d.id, "at": d.updated_at, "author": d.data.uploaded_by,
            "where": folders[&d.data.folder], "text": d.data.name, "version": d.data.version, "folder": d.data.folder,
        }));
    }
    Ok(out)
}

/// A company folder for the demo.
pub fn company_folder(owner: &str, name: &str) -> Result<Record<Folder>> {
    let f = Folder {
        name: name.to_string(),
        space: "company_wide".into(),
        owner: Some(owner.to_string()),
        public: true,
        readers: vec![owner.to_string()],
        editors: vec![owner.to_string()],
        ..Folder::default()
    };
    store::create("folder", &f)
}

/// A folder by id, for the demo.
pub fn folder_record(id: &str) -> Result<Record<Folder>> {
    store::get::<Folder>("folder", id)
}
