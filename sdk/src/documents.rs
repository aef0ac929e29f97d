//! Documents people print (WIT 0.2.4): an invoice, an act, a delivery note.
//!
//! Declare each kind in `plugin.toml` with a Typst template per language, and list the
//! template files in [`export_plugin!`](crate::export_plugin) so the package carries them:
//!
//! ```toml
//! [[documents]]
//! name = "invoice"
//! collection = "invoice"
//! label = { en = "Invoice", ru = "Счёт на оплату" }
//! templates = { ru = "documents/invoice.ru.typ", en = "documents/invoice.en.typ" }
//! ```
//!
//! `erp_sdk::export_plugin!(MyPlugin, documents: ["documents/invoice.ru.typ", "documents/invoice.en.typ"]);`
//!
//! [`render`] typesets the company's template (an administrator may have edited it) with the
//! data you give: the template reads it with `#let data = json("/data.json")`, as values, so a
//! customer's name prints exactly as typed. Format amounts and dates before handing them over
//! ([`crate::words`] writes amounts in words). The PDF comes back as a stored file: put it in a
//! record's `file` field to keep it.

use serde::Serialize;

use crate::bindings::erp::plugin::documents as wit;
use crate::error::Result;
use crate::files::FileInfo;

/// A rendered document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The stored PDF.
    pub file: FileInfo,
    /// How many pages it has.
    pub pages: u32,
    /// The company's template version it came from; 0 for the plugin's own template.
    pub template_version: u32,
}

/// Renders the kind `document` in `language` (or the kind's first language) with `data` and
/// stores the PDF as `name`.
pub fn render<T: Serialize>(document: &str, language: &str, data: &T, name: &str) -> Result<Rendered> {
    let data = serde_json::to_string(data)?;
    let r = wit::render(&wit::Request {
        document: document.to_string(),
        language: language.to_string(),
        data,
        name: name.to_string(),
    })?;
    Ok(Rendered { file: r.file.into(), pages: r.pages, template_version: r.template_version })
}

/// What [`issue`] keeps: a printed version of a record's form, in a collection of the plugin
/// with the fields `form` (enum of the kinds), `language`, `number` (text), `revision`, `pages`,
/// `template_version` (int), `file` (file), `data_sha256` (text), `issued_at` (datetime),
/// `by` (user) and a `ref` field to the record printed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Printed {
    /// The kind of document.
    pub form: String,
    /// Its language.
    pub language: String,
    /// The number people see, such as the invoice's.
    pub number: String,
    /// 1 for the first print, then 2, 3, … for each print after a change.
    pub revision: i64,
    /// The PDF (a `file` field's value).
    pub file: serde_json::Value,
    /// Pages.
    pub pages: i64,
    /// The company's template version it came from; 0 for the plugin's own.
    pub template_version: i64,
    /// SHA-256 of the data it was printed from, to know a reprint from a new version.
    pub data_sha256: String,
    /// When it was issued (RFC 3339).
    pub issued_at: String,
    /// Who issued it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// Where [`issue`] keeps printed versions and what it prints.
#[derive(Debug, Clone, Copy)]
pub struct Issue<'a> {
    /// The plugin's collection of printed documents.
    pub collection: &'a str,
    /// Its `ref` field naming the record printed.
    pub record_field: &'a str,
    /// The record printed.
    pub record_id: &'a str,
    /// The kind of document, as declared under `[[documents]]`.
    pub document: &'a str,
    /// Its language.
    pub language: &'a str,
    /// The number people see.
    pub number: &'a str,
    /// The file's name (the version is added after the first).
    pub name: &'a str,
}

/// Prints a record's form as a kept, numbered version: printing again with the same data
/// answers the latest version; different data (the record or the company's details changed)
/// makes the next version. Versions are records that the plugin's validation should refuse to
/// change, so each stays as issued.
pub fn issue<T: Serialize>(i: Issue<'_>, data: &T) -> Result<crate::store::Record<Printed>> {
    use crate::store::{self, Filter, Query};
    use sha2::{Digest, Sha256};
    let data = serde_json::to_value(data)?;
    let sha = hex(&Sha256::digest(data.to_string().as_bytes()));
    let latest = store::first::<serde_json::Value>(
        i.collection,
        Query::new()
            .filter(Filter::and(vec![
                Filter::eq(i.record_field, i.record_id),
                Filter::eq("form", i.document),
                Filter::eq("language", i.language),
            ]))
            .sort_desc("revision"),
    )?;
    let latest: Option<(crate::store::Record<serde_json::Value>, Printed)> = latest.map(|r| {
        let p = serde_json::from_value(r.data.clone()).unwrap_or_default();
        (r, p)
    });
    if let Some((r, p)) = &latest
        && p.data_sha256 == sha
    {
        return Ok(crate::store::Record {
            id: r.id.clone(),
            version: r.version,
            data: p.clone(),
            created_at: r.created_at.clone(),
            updated_at: r.updated_at.clone(),
        });
    }
    let revision = latest.as_ref().map_or(1, |(_, p)| p.revision + 1);
    let name = if revision > 1 { format!("{} (v{revision})", i.name) } else { i.name.to_string() };
    let rendered = render(i.document, i.language, &data, &name)?;
    let printed = Printed {
        form: i.document.to_string(),
        language: i.language.to_string(),
        number: i.number.to_string(),
        revision,
        file: rendered.file.field_value(),
        pages: i64::from(rendered.pages),
        template_version: i64::from(rendered.template_version),
        data_sha256: sha,
        issued_at: crate::now(),
        by: crate::context::current().user_id,
    };
    let mut record = serde_json::to_value(&printed)?;
    record[i.record_field] = serde_json::Value::from(i.record_id);
    let created = store::create::<serde_json::Value>(i.collection, &record)?;
    Ok(crate::store::Record {
        id: created.id,
        version: created.version,
        data: printed,
        created_at: created.created_at,
        updated_at: created.updated_at,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
