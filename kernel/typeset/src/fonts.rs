//! The fonts every document is set in, shipped inside the binary: Liberation Sans (metric
//! twin of Arial, the face of Russian standard forms) and Liberation Serif, both with Cyrillic
//! (SIL Open Font License, `fonts/LICENSE-Liberation.txt`).

use std::sync::LazyLock;

use typst::foundations::Bytes;
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;

const FILES: [&[u8]; 6] = [
    include_bytes!("../fonts/LiberationSans-Regular.ttf"),
    include_bytes!("../fonts/LiberationSans-Bold.ttf"),
    include_bytes!("../fonts/LiberationSans-Italic.ttf"),
    include_bytes!("../fonts/LiberationSans-BoldItalic.ttf"),
    include_bytes!("../fonts/LiberationSerif-Regular.ttf"),
    include_bytes!("../fonts/LiberationSerif-Bold.ttf"),
];

/// The loaded fonts and their index.
pub(crate) struct Fonts {
    pub(crate) book: LazyHash<FontBook>,
    pub(crate) fonts: Vec<Font>,
}

static FONTS: LazyLock<Fonts> = LazyLock::new(|| {
    let fonts: Vec<Font> = FILES.iter().flat_map(|data| Font::iter(Bytes::new(*data))).collect();
    Fonts { book: LazyHash::new(FontBook::from_fonts(&fonts)), fonts }
});

pub(crate) fn get() -> &'static Fonts {
    &FONTS
}

/// Names of the font families documents can use.
pub fn families() -> Vec<String> {
    let mut names: Vec<String> = get().fonts.iter().map(|f| f.info().family.clone()).collect();
    names.dedup();
    names
}
