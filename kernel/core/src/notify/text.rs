//! A notification's words: one text, or one per language, shown to each reader in theirs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::validation::Invalid;

/// Most languages one text may carry.
const MAX_LANGUAGES: usize = 8;

/// One text, or translations keyed by language (`en`, `ru`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Text {
    /// The same words for everyone.
    One(String),
    /// Words per language.
    ByLanguage(BTreeMap<String, String>),
}

impl Text {
    /// The words for a reader of `locale`: their language, else English, else any.
    pub fn in_language(&self, locale: &str) -> &str {
        match self {
            Text::One(s) => s,
            Text::ByLanguage(map) => {
                map.get(locale).or_else(|| map.get("en")).or_else(|| map.values().next()).map_or("", String::as_str)
            }
        }
    }

    /// Checks every translation: non-empty when `required`, at most `max` characters, no NUL,
    /// language codes of two or three lowercase letters.
    pub fn check(&self, field: &str, max: usize, required: bool) -> Result<(), Invalid> {
        let words: Vec<(&str, &str)> = match self {
            Text::One(s) => vec![("", s.as_str())],
            Text::ByLanguage(map) => {
                if map.is_empty() || map.len() > MAX_LANGUAGES {
                    return Err(Invalid::one(field, format!("must give between 1 and {MAX_LANGUAGES} languages")));
                }
                map.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
            }
        };
        for (language, text) in words {
            let code = (2..=3).contains(&language.len()) && language.chars().all(|c| c.is_ascii_lowercase());
            if !(language.is_empty() || code) {
                return Err(Invalid::one(field, format!("{language:?} is not a language code such as en or ru")));
            }
            if required && text.trim().is_empty() {
                return Err(Invalid::one(field, "must not be empty"));
            }
            if text.chars().count() > max {
                return Err(Invalid::one(field, format!("must be at most {max} characters")));
            }
            if text.contains('\0') {
                return Err(Invalid::one(field, "must not contain NUL characters"));
            }
        }
        Ok(())
    }

    /// The stored form.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Back from the stored form (a plain string when the column holds something else).
    pub fn from_json(stored: &str) -> Text {
        serde_json::from_str(stored).unwrap_or_else(|_| Text::One(stored.to_string()))
    }
}

/// Most `{user:<id>}` references one text may name.
const MAX_NAMED: usize = 20;

/// `text` with each `{user:<id>}` replaced by that member's name, looked up by `name_of` (a
/// plugin knows ids, readers want names); an id that is no member reads "someone" /
/// "кто-то" in the text's language.
pub fn with_names<E>(text: &Text, mut name_of: impl FnMut(&str) -> Result<Option<String>, E>) -> Result<Text, E> {
    let mut names: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut fill = |words: &str, language: &str| -> Result<String, E> {
        let mut out = String::with_capacity(words.len());
        let mut rest = words;
        let mut named = 0;
        while let Some(start) = rest.find("{user:") {
            let after = &rest[start + 6..];
            let Some(end) = after.find('}').filter(|&e| e > 0 && e <= 64 && named < MAX_NAMED) else { break };
            let id = &after[..end];
            out.push_str(&rest[..start]);
            if !names.contains_key(id) {
                names.insert(id.to_string(), name_of(id)?);
            }
            let someone = if language == "ru" { "кто-то" } else { "someone" };
            out.push_str(names.get(id).and_then(|n| n.as_deref()).unwrap_or(someone));
            named += 1;
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    };
    Ok(match text {
        Text::One(s) if s.contains("{user:") => Text::One(fill(s, "")?),
        Text::One(s) => Text::One(s.clone()),
        Text::ByLanguage(map) => {
            let mut out = BTreeMap::new();
            for (language, words) in map {
                let filled = if words.contains("{user:") { fill(words, language)? } else { words.clone() };
                out.insert(language.clone(), filled);
            }
            Text::ByLanguage(out)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_get_their_language_then_english() {
        let t: Text = serde_json::from_str(r#"{"en":"Hello","ru":"Привет"}"#).unwrap();
        assert_eq!(t.in_language("ru"), "Привет");
        assert_eq!(t.in_language("de"), "Hello");
        assert_eq!(Text::One("Hi".into()).in_language("ru"), "Hi");
        assert_eq!(Text::from_json(&t.to_json()), t);
    }

    #[test]
    fn bad_translations_are_refused() {
        let bad: Text = serde_json::from_str(r#"{"english":"Hello"}"#).unwrap();
        assert!(bad.check("title", 10, true).is_err());
        assert!(Text::One(" ".into()).check("title", 10, true).is_err());
        assert!(Text::One(String::new()).check("body", 10, false).is_ok());
        assert!(Text::One("x".repeat(11)).check("title", 10, true).is_err());
        assert!(Text::ByLanguage(BTreeMap::new()).check("title", 10, true).is_err());
    }

    #[test]
    fn user_references_become_member_names() {
        let t: Text =
            serde_json::from_str(r#"{"en":"{user:u1} wrote to {user:u2}","ru":"{user:u1} пишет {user:u2}"}"#).unwrap();
        let named = with_names(&t, |id| Ok::<_, ()>((id == "u1").then(|| "Anna Ivanova".to_string()))).unwrap();
        assert_eq!(named.in_language("en"), "Anna Ivanova wrote to someone");
        assert_eq!(named.in_language("ru"), "Anna Ivanova пишет кто-то");
        let plain = Text::One("{user:} and {user:x".into());
        assert_eq!(with_names(&plain, |_| Ok::<_, ()>(None)).unwrap(), plain);
    }
}
