//! The little world one document is compiled in: its template, its data and the platform's
//! fonts; no file system, no packages, no clock but the day it is issued.

use chrono::Datelike;
use typst::diag::{FileError, FileResult};
use typst::foundations::{Bytes, Datetime, Duration};
use typst::syntax::{DiagSpan, FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, World};

use crate::fonts;

/// One compilation's world.
pub(crate) struct DocumentWorld {
    library: &'static LazyHash<Library>,
    main: Source,
    data_id: FileId,
    data: Bytes,
    today: chrono::NaiveDate,
}

fn file_id(path: &str) -> FileId {
    // Only two paths are ever interned, so typst's global interner stays small.
    let vpath = VirtualPath::new(path).unwrap_or_else(|_| unreachable!("a fixed, valid path"));
    RootedPath::new(VirtualRoot::Project, vpath).intern()
}

impl DocumentWorld {
    pub(crate) fn new(
        library: &'static LazyHash<Library>,
        template: &str,
        data: Vec<u8>,
        today: chrono::NaiveDate,
    ) -> Self {
        let main = Source::new(file_id("/main.typ"), template.to_string());
        Self { library, main, data_id: file_id(crate::DATA_PATH), data: Bytes::new(data), today }
    }

    pub(crate) fn main_source(&self) -> &Source {
        &self.main
    }

    /// Whether a diagnostic points into the template (not into typst's own library).
    pub(crate) fn is_main(&self, span: DiagSpan) -> bool {
        span.id() == Some(self.main.id())
    }
}

impl World for DocumentWorld {
    fn library(&self) -> &LazyHash<Library> {
        self.library
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &fonts::get().book
    }

    fn main(&self) -> FileId {
        self.main.id()
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.main.id() { Ok(self.main.clone()) } else { Err(FileError::NotSource) }
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == self.data_id { Ok(self.data.clone()) } else { Err(FileError::AccessDenied) }
    }

    fn font(&self, index: usize) -> Option<Font> {
        fonts::get().fonts.get(index).cloned()
    }

    fn today(&self, _offset: Option<Duration>) -> Option<Datetime> {
        let d = self.today;
        Datetime::from_ymd(d.year(), u8::try_from(d.month()).ok()?, u8::try_from(d.day()).ok()?)
    }
}
