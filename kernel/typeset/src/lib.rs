//! Typesetting for documents people print: a Typst template and the data it reads give a PDF.
//!
//! The template reads its data as values (`json("/data.json")`), never as source text, so a
//! customer called `#exit()` or `<b>` prints as exactly that. The fonts are the platform's own
//! (Liberation Sans and Serif, with Cyrillic), so a document looks the same on every server.

mod fonts;
mod world;

pub use fonts::families;

use std::sync::LazyLock;

use typst::diag::{Severity, SourceDiagnostic};
use typst::foundations::Smart;
use typst::syntax::DiagSpan;
use typst::{Library, LibraryExt, WorldExt};
use typst_layout::PagedDocument;
use typst_pdf::PdfOptions;

use world::DocumentWorld;

/// Where a template finds its data.
pub const DATA_PATH: &str = "/data.json";
/// Most pages one document may have.
pub const MAX_PAGES: usize = 2_000;
/// Longest template accepted, in bytes.
pub const MAX_TEMPLATE_BYTES: usize = 256 * 1024;

/// A rendered document.
#[derive(Debug, Clone)]
pub struct Pdf {
    /// The PDF file.
    pub bytes: Vec<u8>,
    /// How many pages it has.
    pub pages: usize,
}

/// One problem in a template, where a person can find it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line in the template, when the problem is in it.
    pub line: Option<usize>,
    /// 1-based column.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
    /// Suggestions from the compiler.
    pub hints: Vec<String>,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let (Some(line), Some(column)) = (self.line, self.column) {
            write!(f, "line {line}, column {column}: ")?;
        }
        f.write_str(&self.message)?;
        for hint in &self.hints {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

/// Why no document came out.
#[derive(Debug, thiserror::Error)]
pub enum TypesetError {
    /// The template has errors; each says where.
    #[error("the template has errors: {}", list(.0))]
    Template(Vec<Problem>),
    /// The template is longer than [`MAX_TEMPLATE_BYTES`].
    #[error("the template is longer than {MAX_TEMPLATE_BYTES} bytes")]
    TooLong,
    /// The document has more than [`MAX_PAGES`] pages.
    #[error("the document has {0} pages; at most {MAX_PAGES} are allowed")]
    TooManyPages(usize),
    /// The data is not JSON.
    #[error("the document's data is not JSON: {0}")]
    Data(String),
}

fn list(problems: &[Problem]) -> String {
    problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

impl TypesetError {
    /// The problems to show, with their lines.
    pub fn problems(&self) -> Vec<Problem> {
        match self {
            Self::Template(p) => p.clone(),
            other => vec![Problem { line: None, column: None, message: other.to_string(), hints: vec![] }],
        }
    }
}

/// What a document needs besides its template and data.
#[derive(Debug, Clone)]
pub struct Options {
    /// The day `datetime.today()` answers, in the company's time zone.
    pub today: chrono::NaiveDate,
}

static LIBRARY: LazyLock<typst::utils::LazyHash<Library>> =
    LazyLock::new(|| typst::utils::LazyHash::new(Library::default()));

/// Checks a template's syntax without data: what an editor can say before anything is issued.
pub fn check(template: &str) -> Result<(), TypesetError> {
    if template.len() > MAX_TEMPLATE_BYTES {
        return Err(TypesetError::TooLong);
    }
    let world = DocumentWorld::new(&LIBRARY, template, b"{}".to_vec(), chrono::NaiveDate::MIN);
    let (errors, _) = world.main_source().root().errors_and_warnings();
    if errors.is_empty() {
        return Ok(());
    }
    let problems = errors
        .into_iter()
        .map(|e| {
            let (line, column) = position(&world, e.span);
            Problem {
                line,
                column,
                message: e.message.to_string(),
                hints: e.hints.iter().map(|h| h.v.to_string()).collect(),
            }
        })
        .collect();
    Err(TypesetError::Template(problems))
}

/// Renders a template with its data (a JSON document the template reads from [`DATA_PATH`]).
pub fn render(template: &str, data: &[u8], options: &Options) -> Result<Pdf, TypesetError> {
    if template.len() > MAX_TEMPLATE_BYTES {
        return Err(TypesetError::TooLong);
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(data).map_err(|e| TypesetError::Data(e.to_string()))?;
    let world = DocumentWorld::new(&LIBRARY, template, data.to_vec(), options.today);
    let compiled = typst::compile::<PagedDocument>(&world).output;
    // Typst memoizes across runs; a server prints ever new documents, so keeping nothing
    // bounds the memory (a long document kept hundreds of MiB) at little cost in time.
    typst::comemo::evict(0);
    let document = compiled.map_err(|errors| TypesetError::Template(describe(&world, &errors)))?;
    let pages = document.pages().len();
    if pages > MAX_PAGES {
        return Err(TypesetError::TooManyPages(pages));
    }
    let pdf_options = PdfOptions { creator: Smart::Custom(Some("ERP".into())), ..PdfOptions::default() };
    let bytes =
        typst_pdf::pdf(&document, &pdf_options).map_err(|errors| TypesetError::Template(describe(&world, &errors)))?;
    Ok(Pdf { bytes, pages })
}

/// Errors with the line and column of the template they point at.
fn describe(world: &DocumentWorld, errors: &[SourceDiagnostic]) -> Vec<Problem> {
    errors
        .iter()
        .filter(|e| e.severity == Severity::Error)
        .map(|e| {
            let (line, column) = position(world, e.span);
            Problem {
                line,
                column,
                message: e.message.to_string(),
                hints: e.hints.iter().map(|h| h.v.to_string()).collect(),
            }
        })
        .collect()
}

/// The 1-based line and column a span starts at, when it is in the template.
fn position(world: &DocumentWorld, span: DiagSpan) -> (Option<usize>, Option<usize>) {
    if !world.is_main(span) {
        return (None, None);
    }
    world
        .range(span)
        .and_then(|r| world.main_source().lines().byte_to_line_column(r.start))
        .map_or((None, None), |(l, c)| (Some(l + 1), Some(c + 1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> Options {
        Options { today: chrono::NaiveDate::from_ymd_opt(2026, 12, 7).unwrap_or_default() }
    }

    #[test]
    fn a_template_with_data_becomes_a_pdf_in_the_platforms_fonts() {
        let template = "#set text(font: \"Liberation Sans\", lang: \"ru\")\n#let data = json(\"/data.json\")\n= Счёт № #data.number\n#data.customer\n";
        let pdf =
            render(template, r#"{"number": "42", "customer": "ООО \"Ромашка\" #exit() <b>"}"#.as_bytes(), &options())
                .expect("renders");
        assert!(pdf.bytes.starts_with(b"%PDF"));
        assert_eq!(pdf.pages, 1);
        assert!(families().contains(&"Liberation Sans".to_string()));
    }

    #[test]
    fn errors_name_their_line_and_column() {
        let template = "#let data = json(\"/data.json\")\nHello\n#data.missing.field\n";
        let problems = render(template, b"{}", &options()).expect_err("a missing key").problems();
        assert_eq!(problems[0].line, Some(3), "{problems:?}");
        assert!(problems[0].message.contains("missing"), "{problems:?}");
        let syntax = check("ok\n#let x = (\n").expect_err("unclosed").problems();
        assert_eq!(syntax[0].line, Some(2), "{syntax:?}");
        assert!(check("#let x = 1\n#x").is_ok());
    }

    #[test]
    fn a_template_cannot_read_anything_but_its_data() {
        let problems = render("#read(\"/etc/passwd\")", b"{}", &options()).expect_err("no files").problems();
        assert_eq!(problems[0].line, Some(1));
        let problems =
            render("#import \"@preview/x:0.1.0\": *", b"{}", &options()).expect_err("no packages").problems();
        assert!(!problems.is_empty());
        assert!(matches!(render("x", b"not json", &options()), Err(TypesetError::Data(_))));
    }

    #[test]
    fn long_tables_break_across_pages_with_their_header() {
        let template = "#let data = json(\"/data.json\")\n#table(columns: 2, table.header[*No*][*Item*], ..data.rows.map(r => (str(r.n), r.name)).flatten())\n";
        let rows: Vec<serde_json::Value> =
            (1..=300).map(|n| serde_json::json!({"n": n, "name": format!("Товар {n}")})).collect();
        let data = serde_json::to_vec(&serde_json::json!({ "rows": rows })).unwrap_or_default();
        let pdf = render(template, &data, &options()).expect("renders");
        assert!(pdf.pages > 3, "{} pages", pdf.pages);
    }
}
