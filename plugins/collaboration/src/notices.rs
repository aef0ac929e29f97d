//! What people are told: a new message, a mention, being added to a group or chat, a file
//! shared. Nobody is told of what they did themselves. The kernel writes each person's name
//! where the words say `{user:<id>}`.

use erp_sdk::notify::{Importance, Notification};
use erp_sdk::{Error, Result, log};

/// What one notice says, in English and Russian, and where it leads.
pub struct Notice<'a> {
    /// `collaboration.<kind>`.
    pub kind: &'a str,
    /// Headline in English.
    pub title_en: String,
    /// Headline in Russian.
    pub title_ru: String,
    /// The text (a message's beginning), the same in every language.
    pub body: String,
    /// The record it is about.
    pub link: (&'a str, &'a str),
    /// How much it asks for attention.
    pub importance: Importance,
}

/// Tells `people` except `by` (who did it), in batches the kernel accepts; when someone has
/// left the company, the others are still told.
pub fn tell(people: &[String], by: &str, notice: &Notice<'_>) -> Result<u32> {
    let others: Vec<&str> = people.iter().map(String::as_str).filter(|p| *p != by && !p.is_empty()).collect();
    let mut sent = 0;
    for batch in others.chunks(1000) {
        match build(notice).to_all(batch.iter().copied()).send() {
            Ok(n) => sent += n,
            Err(Error::Invalid(_)) => {
                // Someone in the batch is no longer a member: tell the rest one by one.
                for person in batch {
                    match build(notice).to(person).send() {
                        Ok(n) => sent += n,
                        Err(Error::Invalid(_)) => {
                            log::warn(&format!("{person} is not a member of this company; not told"))
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(sent)
}

fn build(notice: &Notice<'_>) -> Notification {
    let mut n = Notification::new(notice.kind)
        .title("en", &notice.title_en)
        .title("ru", &notice.title_ru)
        .link(notice.link.0, notice.link.1)
        .importance(notice.importance);
    if !notice.body.is_empty() {
        n = n.body("en", &notice.body).body("ru", &notice.body);
    }
    n
}

/// A reference the kernel turns into the person's name.
pub fn name(user: &str) -> String {
    format!("{{user:{user}}}")
}
