//! Identifiers: time-ordered UUIDv7 strings, so that sorting by id is sorting by creation.

use uuid::Uuid;

/// A fresh id.
pub fn new_id() -> String {
    Uuid::now_v7().to_string()
}

/// Parses an id given by a client; `None` when it is not a UUID.
pub fn parse(text: &str) -> Option<String> {
    Uuid::parse_str(text).ok().map(|u| u.to_string())
}
