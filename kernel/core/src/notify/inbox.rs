//! The inbox: notifications stored per person and company, read marks, and each person's
//! choice of where each kind goes. Sending happens in the sender's transaction, so a change
//! that rolls back notifies nobody.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{MAX_RECIPIENTS, NotifyError, Text, is_kind_of};
use crate::clock;
use crate::ids;
use crate::paging::{Page, PageRequest};
use crate::storage::DbConn;
use crate::storage::schema::{memberships, notification_preferences, notifications};
use crate::validation::Invalid;

/// The channel the relay of every node listens on (PostgreSQL).
pub const PG_CHANNEL: &str = "erp_notifications";

/// How much a notification asks for attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Importance {
    /// Worth a look some time.
    Low,
    /// The usual.
    #[default]
    Normal,
    /// Needs attention now.
    High,
}

impl Importance {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Importance::Low => "low",
            Importance::Normal => "normal",
            Importance::High => "high",
        }
    }

    fn parse(stored: &str) -> Importance {
        match stored {
            "low" => Importance::Low,
            "high" => Importance::High,
            _ => Importance::Normal,
        }
    }
}

/// Where a person wants a kind of notification to go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The bell in the app.
    #[default]
    App,
    /// The bell, and e-mail as well.
    AppAndEmail,
    /// Nowhere: not kept.
    Off,
}

impl Channel {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::App => "app",
            Channel::AppAndEmail => "app_and_email",
            Channel::Off => "off",
        }
    }

    /// Parses the stored or requested name.
    pub fn parse(name: &str) -> Option<Channel> {
        match name {
            "app" => Some(Channel::App),
            "app_and_email" => Some(Channel::AppAndEmail),
            "off" => Some(Channel::Off),
            _ => None,
        }
    }
}

/// The record a notification leads to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// The plugin owning the collection.
    pub plugin: String,
    /// The collection.
    pub collection: String,
    /// The record's id.
    pub record: String,
}

impl Link {
    fn check(&self) -> Result<(), Invalid> {
        let word = |s: &str| {
            !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        if !(word(&self.plugin) && word(&self.collection) && word(&self.record)) {
            return Err(Invalid::one("link", "must name a plugin, a collection and a record id"));
        }
        Ok(())
    }
}

/// A notification to send to some people of a company.
#[derive(Debug, Clone)]
pub struct NewNotification<'a> {
    /// The company.
    pub company_id: &'a str,
    /// Who receives it: members of the company.
    pub recipients: &'a [String],
    /// Who sends it: a plugin's name, or `kernel`.
    pub source: &'a str,
    /// Its kind, `<source>.<name>` (what people choose channels by).
    pub kind: &'a str,
    /// The headline.
    pub title: &'a Text,
    /// The text (may be empty).
    pub body: &'a Text,
    /// The record it is about.
    pub link: Option<&'a Link>,
    /// How much it asks for attention.
    pub importance: Importance,
}

/// A stored notification.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = notifications)]
pub struct Notification {
    /// Id (time-ordered).
    pub id: String,
    /// Company.
    pub company_id: String,
    /// Recipient.
    pub user_id: String,
    /// Kind.
    pub kind: String,
    /// Sender: a plugin or `kernel`.
    pub source: String,
    /// Stored [`Text`].
    pub title: String,
    /// Stored [`Text`].
    pub body: String,
    /// Stored [`Link`].
    pub link: Option<String>,
    /// Importance name.
    pub importance: String,
    /// When it was sent (µs).
    pub created_at: i64,
    /// When its recipient read it (µs).
    pub read_at: Option<i64>,
}

impl Notification {
    /// The link, when there is one.
    pub fn link(&self) -> Option<Link> {
        self.link.as_deref().and_then(|l| serde_json::from_str(l).ok())
    }

    /// How it is shown to its reader, whose language is `locale`.
    pub fn view(&self, locale: &str) -> Value {
        json!({
            "id": self.id,
            "kind": self.kind,
            "source": self.source,
            "title": Text::from_json(&self.title).in_language(locale),
            "body": Text::from_json(&self.body).in_language(locale),
            "link": self.link(),
            "importance": Importance::parse(&self.importance).as_str(),
            "created_at": clock::to_rfc3339(self.created_at),
            "read": self.read_at.is_some(),
        })
    }
}

/// Checks what a sender gives.
pub fn check(n: &NewNotification<'_>) -> Result<(), Invalid> {
    if !is_kind_of(n.kind, n.source) {
        return Err(Invalid::one(
            "kind",
            format!("must be {}.<name> in lowercase words separated by dots, at most 100 characters", n.source),
        ));
    }
    if n.recipients.is_empty() || n.recipients.len() > MAX_RECIPIENTS {
        return Err(Invalid::one("recipients", format!("must name between 1 and {MAX_RECIPIENTS} people")));
    }
    n.title.check("title", 200, true)?;
    n.body.check("body", 2000, false)?;
    if let Some(link) = n.link {
        link.check()?;
    }
    Ok(())
}

/// Sends a notification to each recipient who has not turned its kind off, in the caller's
/// transaction; the relays of every node push it live once that commits. Returns what was
/// stored. A recipient who is not a member of the company fails the whole call.
pub fn send(conn: &mut DbConn, n: &NewNotification<'_>) -> Result<Vec<Notification>, NotifyError> {
    check(n)?;
    let mut recipients: Vec<&String> = n.recipients.iter().collect();
    recipients.sort();
    recipients.dedup();
    let members: Vec<String> = memberships::table
        .filter(memberships::company_id.eq(n.company_id))
        .filter(memberships::user_id.eq_any(&recipients))
        .select(memberships::user_id)
        .load(conn)?;
    if let Some(stranger) = recipients.iter().find(|r| !members.contains(r)) {
        return Err(NotifyError::NotMember((*stranger).clone()));
    }
    let off: Vec<String> = notification_preferences::table
        .filter(notification_preferences::company_id.eq(n.company_id))
        .filter(notification_preferences::kind.eq(n.kind))
        .filter(notification_preferences::channel.eq(Channel::Off.as_str()))
        .filter(notification_preferences::user_id.eq_any(&recipients))
        .select(notification_preferences::user_id)
        .load(conn)?;
    let by_mail: Vec<String> = notification_preferences::table
        .filter(notification_preferences::company_id.eq(n.company_id))
        .filter(notification_preferences::kind.eq(n.kind))
        .filter(notification_preferences::channel.eq(Channel::AppAndEmail.as_str()))
        .filter(notification_preferences::user_id.eq_any(&recipients))
        .select(notification_preferences::user_id)
        .load(conn)?;
    let now = clock::now();
    let title = super::text::with_names(n.title, |id| member_name(conn, n.company_id, id))?.to_json();
    let body = super::text::with_names(n.body, |id| member_name(conn, n.company_id, id))?.to_json();
    let link = n.link.map(|l| serde_json::to_string(l).unwrap_or_default());
    let rows: Vec<Notification> = recipients
        .into_iter()
        .filter(|r| !off.contains(r))
        .map(|user| Notification {
            id: ids::new_id(),
            company_id: n.company_id.to_string(),
            user_id: user.clone(),
            kind: n.kind.to_string(),
            source: n.source.to_string(),
            title: title.clone(),
            body: body.clone(),
            link: link.clone(),
            importance: n.importance.as_str().to_string(),
            created_at: now,
            read_at: None,
        })
        .collect();
    // One statement per row: the two backends share no multi-row insert through diesel.
    for r in &rows {
        diesel::insert_into(notifications::table)
            .values((
                notifications::id.eq(&r.id),
                notifications::company_id.eq(&r.company_id),
                notifications::user_id.eq(&r.user_id),
                notifications::kind.eq(&r.kind),
                notifications::source.eq(&r.source),
                notifications::title.eq(&r.title),
                notifications::body.eq(&r.body),
                notifications::link.eq(&r.link),
                notifications::importance.eq(&r.importance),
                notifications::created_at.eq(r.created_at),
                // The mail worker queues the e-mail once this commits.
                notifications::mail_state.eq(by_mail.contains(&r.user_id).then_some(MAIL_WANTED)),
            ))
            .execute(conn)?;
    }
    if !rows.is_empty()
        && let DbConn::Postgres(pg) = conn
    {
        // Delivered to every listening node when (and only if) this transaction commits.
        pg.batch_execute(&format!("NOTIFY {PG_CHANNEL}"))?;
    }
    Ok(rows)
}

/// The name of a member of the company, for `{user:<id>}` in a notification's words.
fn member_name(conn: &mut DbConn, company_id: &str, user_id: &str) -> Result<Option<String>, NotifyError> {
    use crate::storage::schema::users;
    Ok(memberships::table
        .inner_join(users::table.on(users::id.eq(memberships::user_id)))
        .filter(memberships::company_id.eq(company_id))
        .filter(memberships::user_id.eq(user_id))
        .select(users::name)
        .first(conn)
        .optional()?)
}

/// A person's notifications in a company, newest first; only unread ones when `unread_only`.
pub fn list(
    conn: &mut DbConn,
    company_id: &str,
    user_id: &str,
    unread_only: bool,
    page: &PageRequest,
) -> Result<Page<Notification>, NotifyError> {
    let mut query = notifications::table
        .filter(notifications::company_id.eq(company_id))
        .filter(notifications::user_id.eq(user_id))
        .order(notifications::id.desc())
        .limit(page.fetch())
        .select(Notification::as_select())
        .into_boxed();
    if unread_only {
        query = query.filter(notifications::read_at.is_null());
    }
    if let Some(before) = &page.after {
        query = query.filter(notifications::id.lt(before.clone()));
    }
    Ok(Page::from_rows(query.load(conn)?, page, |n| n.id.clone()))
}

/// A person's notifications after `after_id`, oldest first (what a reconnecting page missed).
pub fn after(
    conn: &mut DbConn,
    company_id: &str,
    user_id: &str,
    after_id: &str,
    limit: i64,
) -> Result<Vec<Notification>, NotifyError> {
    Ok(notifications::table
        .filter(notifications::company_id.eq(company_id))
        .filter(notifications::user_id.eq(user_id))
        .filter(notifications::id.gt(after_id))
        .order(notifications::id.asc())
        .limit(limit)
        .select(Notification::as_select())
        .load(conn)?)
}

/// One of a person's notifications in a company.
pub fn get(conn: &mut DbConn, company_id: &str, user_id: &str, id: &str) -> Result<Option<Notification>, NotifyError> {
    Ok(notifications::table
        .filter(notifications::id.eq(id))
        .filter(notifications::company_id.eq(company_id))
        .filter(notifications::user_id.eq(user_id))
        .select(Notification::as_select())
        .first(conn)
        .optional()?)
}

/// How many of a person's notifications in a company are unread.
pub fn unread(conn: &mut DbConn, company_id: &str, user_id: &str) -> Result<i64, NotifyError> {
    Ok(notifications::table
        .filter(notifications::company_id.eq(company_id))
        .filter(notifications::user_id.eq(user_id))
        .filter(notifications::read_at.is_null())
        .count()
        .get_result(conn)?)
}

/// Marks some of a person's notifications read (all of them when `ids` is `None`); ids of
/// other people's notifications change nothing. Returns how many changed.
pub fn mark_read(
    conn: &mut DbConn,
    company_id: &str,
    user_id: &str,
    ids: Option<&[String]>,
) -> Result<usize, NotifyError> {
    let mine = notifications::table
        .filter(notifications::company_id.eq(company_id))
        .filter(notifications::user_id.eq(user_id))
        .filter(notifications::read_at.is_null());
    let now = clock::now();
    Ok(match ids {
        None => diesel::update(mine).set(notifications::read_at.eq(now)).execute(conn)?,
        Some(ids) => diesel::update(mine.filter(notifications::id.eq_any(ids)))
            .set(notifications::read_at.eq(now))
            .execute(conn)?,
    })
}

/// Notifications of every company created at or after `since` (µs): what a relay scans.
pub fn recent(conn: &mut DbConn, since: i64) -> Result<Vec<Notification>, NotifyError> {
    Ok(notifications::table
        .filter(notifications::created_at.ge(since))
        .order(notifications::id.asc())
        .select(Notification::as_select())
        .load(conn)?)
}

/// `mail_state` of a notification whose recipient wants it by e-mail too, until it is queued.
pub const MAIL_WANTED: &str = "wanted";
/// `mail_state` once its e-mail is queued.
pub const MAIL_QUEUED: &str = "queued";

/// A person's chosen channels in a company, by kind (kinds not listed go to the app).
pub fn preferences(conn: &mut DbConn, company_id: &str, user_id: &str) -> Result<Vec<(String, Channel)>, NotifyError> {
    let rows: Vec<(String, String)> = notification_preferences::table
        .filter(notification_preferences::company_id.eq(company_id))
        .filter(notification_preferences::user_id.eq(user_id))
        .order(notification_preferences::kind.asc())
        .select((notification_preferences::kind, notification_preferences::channel))
        .load(conn)?;
    Ok(rows.into_iter().map(|(k, c)| (k, Channel::parse(&c).unwrap_or_default())).collect())
}

/// The kinds a person has received in a company (what the preferences page offers).
pub fn kinds_received(conn: &mut DbConn, company_id: &str, user_id: &str) -> Result<Vec<String>, NotifyError> {
    Ok(notifications::table
        .filter(notifications::company_id.eq(company_id))
        .filter(notifications::user_id.eq(user_id))
        .select(notifications::kind)
        .distinct()
        .order(notifications::kind.asc())
        .load(conn)?)
}

/// Sets where a person's notifications of `kind` go in a company.
pub fn set_preference(
    conn: &mut DbConn,
    company_id: &str,
    user_id: &str,
    kind: &str,
    channel: Channel,
) -> Result<(), NotifyError> {
    let source = kind.split('.').next().unwrap_or_default();
    if !is_kind_of(kind, source) {
        return Err(Invalid::one("kind", "must be a notification kind such as collaboration.mention").into());
    }
    diesel::delete(
        notification_preferences::table
            .filter(notification_preferences::company_id.eq(company_id))
            .filter(notification_preferences::user_id.eq(user_id))
            .filter(notification_preferences::kind.eq(kind)),
    )
    .execute(conn)?;
    if channel != Channel::App {
        diesel::insert_into(notification_preferences::table)
            .values((
                notification_preferences::company_id.eq(company_id),
                notification_preferences::user_id.eq(user_id),
                notification_preferences::kind.eq(kind),
                notification_preferences::channel.eq(channel.as_str()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Removes read notifications older than `before` (µs); returns how many.
pub fn prune_read(conn: &mut DbConn, before: i64) -> Result<usize, NotifyError> {
    Ok(diesel::delete(notifications::table.filter(notifications::read_at.lt(before))).execute(conn)?)
}
