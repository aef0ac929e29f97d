//! Links into this server that people follow from outside it, such as from an e-mail: the
//! public address the operator gives (`ERP_PUBLIC_URL`), and signed tokens that stand in for a
//! login where the one who follows the link has none (a mailing's unsubscribe link).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::secrets::SecretKey;

/// What an unsubscribe token is signed for.
pub const UNSUBSCRIBE: &str = "mail-unsubscribe";
/// Where the server answers unsubscribe links (`/unsubscribe/<token>`).
pub const UNSUBSCRIBE_PATH: &str = "/unsubscribe/";
/// Longest token accepted: the parts a link carries are short.
const MAX_TOKEN: usize = 1024;
/// Bytes of the signature a token carries (128 bits).
const SIGNATURE: usize = 16;
/// Separates a token's parts (never in ids, names or keys, which have no control characters).
const SEPARATOR: char = '\u{1f}';

/// The address people reach this server at, such as `https://erp.example.com` (no trailing
/// slash): links in e-mails start with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl(String);

impl PublicUrl {
    /// An `http` or `https` address with a host, optionally a path; no query or fragment.
    pub fn parse(text: &str) -> Result<PublicUrl, String> {
        let text = text.trim().trim_end_matches('/');
        let rest = text
            .strip_prefix("https://")
            .or_else(|| text.strip_prefix("http://"))
            .ok_or("the public address must start with http:// or https://")?;
        let host = rest.split('/').next().unwrap_or_default();
        if host.is_empty() || host.starts_with(':') {
            return Err("the public address names no host".into());
        }
        if rest.contains(['?', '#', ' ', '\\']) || rest.chars().any(char::is_control) {
            return Err("the public address may not have a query, a fragment or spaces".into());
        }
        Ok(PublicUrl(text.to_string()))
    }

    /// The address of `path` (which starts with `/`) on this server.
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }

    /// The address itself.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A token carrying `parts`, signed for `purpose`: URL-safe, readable by anyone, forgeable by
/// no one without the server's key.
pub fn sign(key: &SecretKey, purpose: &str, parts: &[&str]) -> String {
    let data = parts.join(&SEPARATOR.to_string());
    let signature = key.sign(purpose, data.as_bytes());
    format!("{}.{}", URL_SAFE_NO_PAD.encode(data.as_bytes()), URL_SAFE_NO_PAD.encode(&signature[..SIGNATURE]))
}

/// The parts of a token this server signed for `purpose`; `None` for anything else.
pub fn verify(key: &SecretKey, purpose: &str, token: &str) -> Option<Vec<String>> {
    if token.len() > MAX_TOKEN {
        return None;
    }
    let (data, signature) = token.split_once('.')?;
    let data = URL_SAFE_NO_PAD.decode(data).ok()?;
    let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
    if signature.len() != SIGNATURE || !key.verify(purpose, &data, &signature) {
        return None;
    }
    let text = String::from_utf8(data).ok()?;
    Some(text.split(SEPARATOR).map(str::to_string).collect())
}

/// The web page that opens a notification (marking it read) and goes on to what it names;
/// whoever follows it logs in first.
pub fn notification_url(public: &PublicUrl, company_id: &str, notification_id: &str) -> String {
    public.join(&format!("/c/{company_id}/notifications/{notification_id}/open"))
}

/// The unsubscribe link of the message `source` queued under `mail_key` for the company.
pub fn unsubscribe_url(public: &PublicUrl, key: &SecretKey, company_id: &str, source: &str, mail_key: &str) -> String {
    public.join(&format!("{UNSUBSCRIBE_PATH}{}", sign(key, UNSUBSCRIBE, &[company_id, source, mail_key])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_addresses_are_http_with_a_host() {
        assert_eq!(PublicUrl::parse("https://erp.example.com/").expect("ok").join("/x"), "https://erp.example.com/x");
        assert_eq!(PublicUrl::parse("http://10.0.0.5:8080/erp").expect("ok").as_str(), "http://10.0.0.5:8080/erp");
        for bad in ["erp.example.com", "ftp://x", "https://", "https://x/?a=1", "https://x/#f", "https://a b"] {
            assert!(PublicUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tokens_carry_their_parts_and_cannot_be_forged() {
        let key = SecretKey::random().expect("key");
        let token = sign(&key, UNSUBSCRIBE, &["c1", "marketing", "mailing/Рассылка 1"]);
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)), "{token}");
        assert_eq!(
            verify(&key, UNSUBSCRIBE, &token),
            Some(vec!["c1".to_string(), "marketing".to_string(), "mailing/Рассылка 1".to_string()])
        );
        assert_eq!(verify(&key, "another-purpose", &token), None, "signed for one purpose only");
        assert_eq!(verify(&SecretKey::random().expect("key"), UNSUBSCRIBE, &token), None, "another server's key");
        let (data, signature) = token.split_once('.').expect("two halves");
        let other = URL_SAFE_NO_PAD.encode("c2\u{1f}marketing\u{1f}mailing/Рассылка 1");
        assert_eq!(verify(&key, UNSUBSCRIBE, &format!("{other}.{signature}")), None, "another company");
        assert_eq!(verify(&key, UNSUBSCRIBE, data), None);
        assert_eq!(verify(&key, UNSUBSCRIBE, "not a token"), None);
        assert_eq!(verify(&key, UNSUBSCRIBE, &"a".repeat(5000)), None);
    }
}
