//! Keyset pagination over time-ordered ids: a limit and an opaque cursor.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::validation::Invalid;

/// Largest page a client may ask for.
pub const MAX_LIMIT: u32 = 500;
/// Page size when the client does not say.
pub const DEFAULT_LIMIT: u32 = 50;

/// A validated page request: at most `limit` items strictly after the cursor position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// Number of items wanted, 1..=[`MAX_LIMIT`].
    pub limit: u32,
    /// The sort key of the last item already seen.
    pub after: Option<String>,
}

impl PageRequest {
    /// Validates raw query parameters.
    pub fn new(limit: Option<u32>, cursor: Option<&str>) -> Result<PageRequest, Invalid> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if limit == 0 || limit > MAX_LIMIT {
            return Err(Invalid::one("limit", format!("must be between 1 and {MAX_LIMIT}")));
        }
        let after = match cursor {
            None | Some("") => None,
            Some(c) => Some(decode_cursor(c).ok_or_else(|| Invalid::one("cursor", "is not a cursor of this API"))?),
        };
        Ok(PageRequest { limit, after })
    }

    /// The first page of the default size.
    pub fn first(limit: u32) -> PageRequest {
        PageRequest { limit: limit.clamp(1, MAX_LIMIT), after: None }
    }

    /// How many rows to fetch: one more than the limit tells whether another page exists.
    pub fn fetch(&self) -> i64 {
        i64::from(self.limit) + 1
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items, in order.
    pub items: Vec<T>,
    /// Cursor for the next page, if there is one.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Trims rows fetched with [`PageRequest::fetch`] to the limit and derives the cursor
    /// from the last item's sort key.
    pub fn from_rows(mut rows: Vec<T>, req: &PageRequest, key: impl Fn(&T) -> String) -> Page<T> {
        let more = rows.len() > req.limit as usize;
        rows.truncate(req.limit as usize);
        let next_cursor = if more { rows.last().map(|last| encode_cursor(&key(last))) } else { None };
        Page { items: rows, next_cursor }
    }

    /// Maps the items, keeping the cursor.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { items: self.items.into_iter().map(f).collect(), next_cursor: self.next_cursor }
    }
}

/// Opaque cursor text for a sort key.
pub fn encode_cursor(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(key.as_bytes())
}

/// Longest cursor text: the base64 of [`MAX_CURSOR_KEY`] bytes.
pub const MAX_CURSOR_LEN: usize = MAX_CURSOR_KEY.div_ceil(3) * 4 - (3 - MAX_CURSOR_KEY % 3) % 3;
/// Longest sort key inside a cursor, in bytes.
const MAX_CURSOR_KEY: usize = 512;

/// The sort key inside a cursor; `None` for text that is not a cursor: canonical base64url
/// without padding of 1 to 512 bytes. Any cursor is a position: one the API did not issue only
/// starts the page elsewhere, so bytes that are no text (or a NUL, which databases refuse in
/// text) become U+FFFD rather than an error.
pub fn decode_cursor(cursor: &str) -> Option<String> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    (!bytes.is_empty() && bytes.len() <= MAX_CURSOR_KEY)
        .then(|| String::from_utf8_lossy(&bytes).replace('\0', "\u{fffd}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_checked() {
        assert!(PageRequest::new(Some(0), None).is_err());
        assert!(PageRequest::new(Some(501), None).is_err());
        assert_eq!(PageRequest::new(None, None).map(|p| p.limit), Ok(DEFAULT_LIMIT));
        assert!(PageRequest::new(Some(10), Some("!!not base64")).is_err());
        assert!(PageRequest::new(Some(10), Some("AB")).is_err(), "not canonical base64");
    }

    #[test]
    fn any_cursor_is_a_position() {
        let made_up = URL_SAFE_NO_PAD.encode([0xff, 0x00, b'a']);
        assert_eq!(PageRequest::new(None, Some(&made_up)).map(|p| p.after), Ok(Some("\u{fffd}\u{fffd}a".into())));
        assert_eq!(MAX_CURSOR_LEN, 683);
        assert!(decode_cursor(&URL_SAFE_NO_PAD.encode([b'x'; 512])).is_some());
        assert!(decode_cursor(&URL_SAFE_NO_PAD.encode([b'x'; 513])).is_none());
    }

    #[test]
    fn cursor_round_trip_and_next_page() {
        let req = PageRequest::new(Some(2), None).expect("valid");
        let page = Page::from_rows(vec![1, 2, 3], &req, |n| n.to_string());
        assert_eq!(page.items, vec![1, 2]);
        let next = PageRequest::new(Some(2), page.next_cursor.as_deref()).expect("valid");
        assert_eq!(next.after.as_deref(), Some("2"));
        let last = Page::from_rows(vec![3], &next, |n| n.to_string());
        assert_eq!(last.next_cursor, None);
    }
}
