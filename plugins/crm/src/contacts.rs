//! Contact normalisation: the keys that match a sender to a customer or a lead.
//!
//! A key is `kind:value` in a canonical form, so `+7 (999) 123-45-67`, `8 999 123 45 67` and
//! `79991234567` are one phone, and `Anna@Example.COM` is `anna@example.com`.

/// The key of an e-mail address, if it looks like one.
pub fn email_key(raw: &str) -> Option<String> {
    let e = raw.trim().trim_matches(|c| c == '<' || c == '>').to_lowercase();
    let (local, domain) = e.split_once('@')?;
    let ok = !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !e.chars().any(|c| c.is_whitespace() || c == ',' || c == ';')
        && !domain.contains('@');
    ok.then(|| format!("email:{e}"))
}

/// The key of a phone number: digits only, with the Russian trunk prefix `8` of an 11-digit
/// number read as the country code `7`. Numbers with fewer than 7 digits are not phones.
pub fn phone_key(raw: &str) -> Option<String> {
    let allowed = raw.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c));
    let mut digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    if !allowed || digits.len() < 7 || digits.len() > 15 {
        return None;
    }
    if digits.len() == 11 && digits.starts_with('8') {
        digits.replace_range(0..1, "7");
    } else if digits.len() == 10 && digits.starts_with('9') {
        // A Russian mobile written without the country code.
        digits.insert(0, '7');
    }
    Some(format!("phone:{digits}"))
}

/// The key of a messenger account id (`telegram`, `whatsapp`, `vk`, ...).
pub fn messenger_key(kind: &str, id: &str) -> Option<String> {
    let id = id.trim().trim_start_matches('@').to_lowercase();
    (!id.is_empty() && !id.chars().any(char::is_whitespace)).then(|| format!("{kind}:{id}"))
}

/// The key of a contact of a given kind, or `None` when the value is not of that kind.
pub fn key_of(kind: &str, value: &str) -> Option<String> {
    match kind {
        "email" => email_key(value),
        "phone" => phone_key(value),
        "whatsapp" => phone_key(value).map(|p| p.replacen("phone:", "whatsapp:", 1)),
        other => messenger_key(other, value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_in_every_russian_spelling_are_one_key() {
        for raw in ["+7 (999) 123-45-67", "8 999 123 45 67", "79991234567", "9991234567"] {
            assert_eq!(phone_key(raw).as_deref(), Some("phone:79991234567"), "{raw}");
        }
        assert_eq!(phone_key("+49 30 1234567").as_deref(), Some("phone:49301234567"));
        assert_eq!(phone_key("12-34"), None);
        assert_eq!(phone_key("call me"), None);
    }

    #[test]
    fn emails_ignore_case_and_brackets() {
        assert_eq!(email_key(" <Anna@Example.COM> ").as_deref(), Some("email:anna@example.com"));
        assert_eq!(email_key("anna@localhost"), None);
        assert_eq!(email_key("not an email"), None);
        assert_eq!(email_key("a@b@c.ru"), None);
    }

    #[test]
    fn messenger_ids() {
        assert_eq!(key_of("telegram", "@Anna_K").as_deref(), Some("telegram:anna_k"));
        assert_eq!(key_of("telegram", "12345").as_deref(), Some("telegram:12345"));
        assert_eq!(key_of("whatsapp", "+7 999 123-45-67").as_deref(), Some("whatsapp:79991234567"));
        assert_eq!(key_of("vk", "  "), None);
    }
}
