//! Field-level validation errors shared by every layer that checks client input.

use std::fmt;

/// One problem with one input field.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// The field's name (dotted path for nested fields).
    pub field: String,
    /// What is wrong, for a human.
    pub message: String,
}

impl FieldError {
    /// Builds a field error.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError { field: field.into(), message: message.into() }
    }
}

/// A non-empty list of field errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub Vec<FieldError>);

impl Invalid {
    /// A single field error.
    pub fn one(field: impl Into<String>, message: impl Into<String>) -> Invalid {
        Invalid(vec![FieldError::new(field, message)])
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
        write!(f, "{}", parts.join("; "))
    }
}

impl std::error::Error for Invalid {}

/// Collects field errors and turns them into a result at the end.
#[derive(Debug, Default)]
pub struct Checker(Vec<FieldError>);

impl Checker {
    /// An empty checker.
    pub fn new() -> Checker {
        Checker::default()
    }

    /// Records an error for `field` when `ok` is false.
    pub fn check(&mut self, ok: bool, field: &str, message: impl Into<String>) -> &mut Self {
        if !ok {
            self.0.push(FieldError::new(field, message));
        }
        self
    }

    /// Records an error unconditionally.
    pub fn add(&mut self, field: &str, message: impl Into<String>) -> &mut Self {
        self.0.push(FieldError::new(field, message));
        self
    }

    /// `Ok` when nothing was recorded.
    pub fn finish(self) -> Result<(), Invalid> {
        if self.0.is_empty() { Ok(()) } else { Err(Invalid(self.0)) }
    }
}

/// Longest e-mail address, in bytes.
pub const MAX_EMAIL: usize = 254;

/// Longest display name, in characters.
pub const MAX_DISPLAY_NAME: usize = 200;

/// A plausible e-mail address: one `@`, non-empty local part, a dot in the domain, no spaces.
pub fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && text.len() <= MAX_EMAIL
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A display name: 1..=200 characters, not only spaces, no control characters anywhere
/// (surrounding spaces count towards the length although they are trimmed when stored), so
/// that one JSON Schema pattern describes exactly what is accepted.
pub fn is_display_name(text: &str) -> bool {
    !text.trim().is_empty() && text.chars().count() <= MAX_DISPLAY_NAME && !text.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in ["a@b.co", "first.last+tag@example.com"] {
            assert!(is_email(ok), "{ok}");
        }
        for bad in ["", "a", "a@b", "@b.co", "a@.co", "a@b.co.", "a b@c.de", "a@b@c.de"] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    #[test]
    fn names() {
        assert!(is_display_name("Anna Ivanova"));
        assert!(!is_display_name("   "));
        assert!(!is_display_name("a\u{0}b"));
        assert!(!is_display_name(&"x".repeat(201)));
        assert!(!is_display_name(&format!(" {} ", "x".repeat(199))), "spaces count towards the length");
        assert!(!is_display_name("Anna\n"), "no control characters, not even trimmed ones");
        assert!(is_display_name(" Anna "));
    }
}
