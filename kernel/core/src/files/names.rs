//! What a file is called and what it is: a name cleaned of paths and control characters, a
//! content type from what the client said or the name's extension, and whether a browser may
//! show it in place (never HTML, SVG or anything that runs script).

/// Longest file name kept, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// The name a file is kept under: the last part of a path, without control characters, at
/// most [`MAX_NAME_CHARS`] characters (the extension is kept).
pub fn clean_name(raw: &str) -> Result<String, &'static str> {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last.chars().filter(|c| !c.is_control()).collect();
    let cleaned = cleaned.trim().trim_matches('.').trim().to_string();
    if cleaned.is_empty() {
        return Err("the file needs a name, such as offer.pdf");
    }
    if cleaned.chars().count() <= MAX_NAME_CHARS {
        return Ok(cleaned);
    }
    let ext = cleaned.rsplit_once('.').map(|(_, e)| e).filter(|e| e.chars().count() <= 16).unwrap_or_default();
    let keep = MAX_NAME_CHARS - ext.chars().count() - usize::from(!ext.is_empty());
    let stem: String = cleaned.chars().take(keep).collect();
    Ok(if ext.is_empty() { stem } else { format!("{stem}.{ext}") })
}

/// The content type kept for a file: the declared one when it is a plain `type/subtype`,
/// otherwise a guess from the name's extension, otherwise `application/octet-stream`.
pub fn content_type(declared: Option<&str>, name: &str) -> String {
    let declared = declared
        .and_then(|d| d.split(';').next())
        .map(|d| d.trim().to_ascii_lowercase())
        .filter(|d| is_media_type(d) && d != "application/octet-stream");
    declared
        .or_else(|| mime_guess::from_path(name).first().map(|m| m.essence_str().to_string()))
        .unwrap_or_else(|| "application/octet-stream".to_string())
}

fn is_media_type(text: &str) -> bool {
    let token = |s: &str| {
        !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    matches!(text.split_once('/'), Some((t, s)) if token(t) && token(s))
}

/// Types a browser may show in place: pictures, PDF, plain text, common audio and video.
/// Everything else (HTML, SVG, XML, scripts) is downloaded as bytes.
pub fn shown_inline(content_type: &str) -> bool {
    matches!(
        content_type,
        "image/png"
            | "image/jpeg"
            | "image/gif"
            | "image/webp"
            | "application/pdf"
            | "text/plain"
            | "audio/mpeg"
            | "audio/ogg"
            | "video/mp4"
            | "video/webm"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_paths_and_control_characters() {
        assert_eq!(clean_name("../../etc/passwd").as_deref(), Ok("passwd"));
        assert_eq!(clean_name("C:\\Users\\anna\\Счёт №5.pdf").as_deref(), Ok("Счёт №5.pdf"));
        assert_eq!(clean_name("a\r\nb\u{0}.txt").as_deref(), Ok("ab.txt"));
        assert!(clean_name("  ").is_err());
        assert!(clean_name("..").is_err());
        let long = format!("{}.xlsx", "я".repeat(500));
        let kept = clean_name(&long).expect("long name");
        assert_eq!(kept.chars().count(), MAX_NAME_CHARS);
        assert!(kept.ends_with(".xlsx"));
    }

    #[test]
    fn types_come_from_the_client_or_the_extension() {
        assert_eq!(content_type(Some("application/pdf; charset=binary"), "x"), "application/pdf");
        assert_eq!(content_type(None, "photo.JPG"), "image/jpeg");
        assert_eq!(content_type(Some("application/octet-stream"), "a.png"), "image/png");
        assert_eq!(content_type(Some("not a type"), "noext"), "application/octet-stream");
        assert!(shown_inline("image/png"));
        assert!(!shown_inline("text/html"));
        assert!(!shown_inline("image/svg+xml"));
    }
}
