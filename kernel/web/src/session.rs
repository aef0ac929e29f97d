//! The browser session: an HttpOnly cookie holding the user's API token, the CSRF token derived
//! from it, and the language choice.

use axum::http::{HeaderMap, HeaderValue, header};
use sha2::{Digest, Sha256};

/// Cookie with the session's API token.
pub(super) const SESSION_COOKIE: &str = "erp_session";
/// Cookie with a random token that guards the login form before there is a session.
pub(super) const LOGIN_COOKIE: &str = "erp_login";
/// Cookie with the chosen language.
pub(super) const LANG_COOKIE: &str = "erp_lang";
/// Name of the hidden CSRF field in every form.
pub(super) const CSRF_FIELD: &str = "_csrf";

/// A cookie's value.
pub(super) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// True when the browser reached us over TLS (directly or through a proxy that says so).
fn over_tls(headers: &HeaderMap) -> bool {
    headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).is_some_and(|p| p.eq_ignore_ascii_case("https"))
        || headers
            .get("forwarded")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|f| f.to_ascii_lowercase().contains("proto=https"))
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, and Secure under TLS. `None` deletes it.
pub(super) fn set_cookie(headers: &HeaderMap, name: &str, value: Option<&str>, max_age_s: i64) -> HeaderValue {
    let secure = if over_tls(headers) { "; Secure" } else { "" };
    let text = match value {
        Some(v) => format!("{name}={v}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_s}{secure}"),
        None => format!("{name}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
    };
    HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static("erp_invalid=; Max-Age=0"))
}

/// The CSRF token of a session (or of the login cookie): a hash of a secret only the browser's
/// HttpOnly cookie holds, so another site can neither read nor compute it.
pub(super) fn csrf_token(secret: &str) -> String {
    let digest = Sha256::digest(format!("erp-ui-csrf:{secret}").as_bytes());
    hex::encode(&digest[..16])
}

/// Compares a submitted CSRF token with the expected one in constant time.
pub(super) fn csrf_ok(secret: &str, submitted: Option<&str>) -> bool {
    let expected = csrf_token(secret);
    let Some(got) = submitted else { return false };
    got.len() == expected.len() && got.bytes().zip(expected.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// A fresh random token for the login form.
pub(super) fn random_token() -> String {
    let mut bytes = [0u8; 24];
    if getrandom::fill(&mut bytes).is_err() {
        // Without randomness there is no safe token; an empty one never verifies.
        return String::new();
    }
    hex::encode(bytes)
}

/// The language: the cookie's choice, else the browser's preference, else English.
pub(super) fn language(headers: &HeaderMap) -> &'static str {
    match cookie(headers, LANG_COOKIE).as_deref() {
        Some("ru") => return "ru",
        Some("en") => return "en",
        _ => {}
    }
    let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if accept.trim_start().to_ascii_lowercase().starts_with("ru") { "ru" } else { "en" }
}

/// A local path to go back to; anything else (other hosts, `//evil`) becomes `/`.
pub(super) fn local_path(raw: Option<&str>) -> String {
    match raw {
        // Browsers drop tabs and newlines and read `\` as `/`, so `/<tab>/evil` would leave.
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.chars().any(|c| c == '\\' || c.is_control()) => {
            p.to_string()
        }
        _ => "/".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_token_verifies_only_for_its_secret() {
        let t = csrf_token("secret-a");
        assert!(csrf_ok("secret-a", Some(&t)));
        assert!(!csrf_ok("secret-b", Some(&t)));
        assert!(!csrf_ok("secret-a", None));
        assert!(!csrf_ok("secret-a", Some("")));
    }

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(local_path(Some("/c/1")), "/c/1");
        assert_eq!(local_path(Some("//evil.example")), "/");
        assert_eq!(local_path(Some("https://evil.example")), "/");
        assert_eq!(local_path(None), "/");
        assert_eq!(local_path(Some("/\t/evil.example")), "/");
        assert_eq!(local_path(Some("/\\evil.example")), "/");
    }

    #[test]
    fn cookies_are_read_by_name() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; erp_session=tok; b=2"));
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("tok"));
        assert_eq!(cookie(&h, "c"), None);
    }
}
