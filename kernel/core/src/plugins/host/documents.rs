//! Documents from plugins (WIT 0.2.4): the company's template for one of the plugin's declared
//! kinds, typeset with the plugin's data into a PDF that is stored like a file the plugin
//! created, for it to keep on a record's `file` field.

use chrono::Utc;
use chrono_tz::Tz;

use super::HostState;
use super::files as kernel_files;
use crate::documents::{self, DocumentError, templates};
use crate::files::FileRow;
use crate::records::RecordError;
use crate::validation::Invalid;

/// A rendered document.
#[derive(Debug)]
pub(super) struct Rendered {
    pub file: FileRow,
    pub pages: usize,
    pub template_version: i32,
}

fn record_error(e: DocumentError) -> RecordError {
    match e {
        DocumentError::NotFound(m) => RecordError::NotFound(m),
        DocumentError::Invalid(i) => RecordError::Invalid(i),
        DocumentError::Store(s) => RecordError::Store(s),
    }
}

/// The company's today, in its time zone.
fn today(state: &mut HostState) -> Result<chrono::NaiveDate, RecordError> {
    let company = state.session.company_id.clone();
    let zone =
        crate::identity::profile::get(state.session.reader()?, &company).map(|(_, p)| p.time_zone).unwrap_or_default();
    let tz: Tz = zone.parse().unwrap_or(Tz::UTC);
    Ok(Utc::now().with_timezone(&tz).date_naive())
}

/// Renders the plugin's document `document` in `language` with `data` and stores the PDF
/// under `name` (`.pdf` added when missing).
pub(super) fn render(
    state: &mut HostState,
    document: &str,
    language: &str,
    data: &str,
    name: &str,
) -> Result<Rendered, RecordError> {
    let manifest = state.active.loaded.manifest.clone();
    let kind = templates::Kind::of(&manifest, document).map_err(record_error)?;
    let version = manifest.plugin.version.to_string();
    let company = state.session.company_id.clone();
    let template =
        templates::current(state.session.reader()?, &company, kind, &version, language).map_err(record_error)?;
    let today = today(state)?;
    let pdf = documents::render(&template.source, data.as_bytes(), today).map_err(|e| match e {
        DocumentError::Invalid(Invalid(mut list)) => {
            // Name the kind and the template version, so the administrator knows which to open.
            let which = if template.version == 0 {
                format!("the {} template of {}", kind.spec.name, kind.plugin)
            } else {
                format!("version {} of the company's {} template", template.version, kind.spec.name)
            };
            for f in &mut list {
                f.message = format!("{which}: {}", f.message);
            }
            RecordError::Invalid(Invalid(list))
        }
        other => record_error(other),
    })?;
    let mut file_name = name.trim().to_string();
    if !file_name.to_lowercase().ends_with(".pdf") {
        file_name.push_str(".pdf");
    }
    let pages = pdf.pages;
    let file = kernel_files::create(state, &file_name, Some("application/pdf"), pdf.bytes)?;
    Ok(Rendered { file, pages, template_version: template.version })
}
