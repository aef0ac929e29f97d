//! Documents people print: a plugin's Typst template (or the company's own edited version of
//! it) and the plugin's data give a PDF. The typesetting itself is `erp-typeset`; this module
//! knows where templates live and which one a company uses.

pub mod templates;

use crate::storage::StoreError;
use crate::validation::{FieldError, Invalid};

pub use erp_typeset::{Pdf, Problem, TypesetError};

/// Errors of the documents layer.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// No such document kind, template or version.
    #[error("not found: {0}")]
    NotFound(String),
    /// A template that does not compile, or data it cannot print; each problem names the line.
    #[error("{0}")]
    Invalid(Invalid),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for DocumentError {
    fn from(e: diesel::result::Error) -> Self {
        DocumentError::Store(e.into())
    }
}

impl DocumentError {
    /// Template problems as field errors of `field`, each with its line.
    pub fn template(field: &str, e: &TypesetError) -> DocumentError {
        DocumentError::Invalid(Invalid(e.problems().iter().map(|p| FieldError::new(field, p.to_string())).collect()))
    }
}

/// Renders `source` with `data` (JSON) as of `today`; template problems come back as errors of
/// the field `template`.
pub fn render(source: &str, data: &[u8], today: chrono::NaiveDate) -> Result<Pdf, DocumentError> {
    erp_typeset::render(source, data, &erp_typeset::Options { today })
        .map_err(|e| DocumentError::template("template", &e))
}
