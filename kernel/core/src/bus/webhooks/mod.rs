//! Outgoing webhooks: an administrator subscribes a URL to event patterns, and each matching
//! event of the company is posted there after it commits, signed with the subscription's
//! secret (HMAC-SHA256 over the timestamp and the body, as Stripe and GitHub sign theirs).
//!
//! Deliveries ride on the bus's outbox (plugin [`SOURCE`], handler the subscription's id): at
//! least once, retried with backoff, dead-lettered and replayable like any subscriber's, and
//! each subscription is its own queue, so one failing receiver holds up no other. A
//! subscription reads events as the person who set it up may ([`deliver`]).

pub mod deliver;

use diesel::prelude::*;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::clock;
use crate::storage::schema::outgoing_webhooks;
use crate::storage::{DbConn, StoreError};
use crate::validation::{FieldError, Invalid};

/// The name deliveries, the outbound log and metrics give outgoing webhooks.
pub const SOURCE: &str = "webhooks";
/// Most subscriptions per company.
pub const MAX_PER_COMPANY: i64 = 50;
/// Most event patterns per subscription.
pub const MAX_PATTERNS: usize = 20;

/// Errors of outgoing webhooks.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// Bad input.
    #[error("{0}")]
    Invalid(Invalid),
    /// No such subscription in the company.
    #[error("no such webhook")]
    NotFound,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for WebhookError {
    fn from(e: diesel::result::Error) -> Self {
        WebhookError::Store(e.into())
    }
}

/// A subscription.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct Subscription {
    /// Id.
    pub id: String,
    /// The company.
    pub company_id: String,
    /// Where events are posted.
    pub url: String,
    /// JSON list of event patterns (`crm.deal.won`, `crm.deal.*`).
    pub events: String,
    /// What it is for.
    pub description: String,
    /// The signing secret.
    pub secret: String,
    /// Paused subscriptions receive nothing (events of the pause are not queued).
    pub active: bool,
    /// Who set it up: events are cut to what they may read.
    pub created_by: String,
    /// When set up.
    pub created_at: i64,
    /// When last changed.
    pub updated_at: i64,
}

impl Subscription {
    /// The event patterns.
    pub fn patterns(&self) -> Vec<String> {
        serde_json::from_str(&self.events).unwrap_or_default()
    }
}

/// What an administrator sends to set up or change a subscription (absent: unchanged).
#[derive(Debug, Clone, Default)]
pub struct Change {
    /// Where events go: an absolute `http` or `https` URL.
    pub url: Option<String>,
    /// Event patterns, 1 to [`MAX_PATTERNS`].
    pub events: Option<Vec<String>>,
    /// What it is for.
    pub description: Option<String>,
    /// Running or paused.
    pub active: Option<bool>,
}

fn check(change: &Change) -> Result<(), Invalid> {
    let mut problems = Vec::new();
    if let Some(url) = &change.url {
        match reqwest::Url::parse(url) {
            _ if url.len() > 2000 => problems.push(FieldError::new("url", "must be at most 2000 characters")),
            Ok(u) if (u.scheme() == "https" || u.scheme() == "http") && u.host_str().is_some() => {
                if !u.username().is_empty() || u.password().is_some() {
                    problems.push(FieldError::new("url", "may not carry a user name or password"));
                }
            }
            _ => problems.push(FieldError::new("url", "must be an absolute http or https URL")),
        }
    }
    if let Some(events) = &change.events {
        if events.is_empty() || events.len() > MAX_PATTERNS {
            problems.push(FieldError::new("events", format!("must list 1 to {MAX_PATTERNS} event names or patterns")));
        }
        for (i, p) in events.iter().enumerate() {
            if !erp_manifest::is_event_pattern(p) {
                problems.push(FieldError::new(
                    format!("events.{i}"),
                    "must be an event name such as crm.deal.won, or a prefix such as crm.deal.*",
                ));
            }
        }
    }
    if change.description.as_ref().is_some_and(|d| d.chars().count() > 500) {
        problems.push(FieldError::new("description", "must be at most 500 characters"));
    }
    if problems.is_empty() { Ok(()) } else { Err(Invalid(problems)) }
}

/// A new signing secret: 32 random bytes, hex, with a prefix that says what it is.
fn new_secret() -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| StoreError::Task(format!("no randomness: {e}")))?;
    Ok(format!("whsec_{}", hex::encode(bytes)))
}

/// Sets up a subscription; `url` and `events` are required.
pub fn create(
    conn: &mut DbConn,
    company_id: &str,
    created_by: &str,
    change: &Change,
) -> Result<Subscription, WebhookError> {
    let mut missing = Vec::new();
    if change.url.is_none() {
        missing.push(FieldError::new("url", "is required"));
    }
    if change.events.is_none() {
        missing.push(FieldError::new("events", "is required"));
    }
    if !missing.is_empty() {
        return Err(WebhookError::Invalid(Invalid(missing)));
    }
    check(change).map_err(WebhookError::Invalid)?;
    let count: i64 =
        outgoing_webhooks::table.filter(outgoing_webhooks::company_id.eq(company_id)).count().get_result(conn)?;
    if count >= MAX_PER_COMPANY {
        return Err(WebhookError::Invalid(Invalid::one(
            "url",
            format!("a company may have at most {MAX_PER_COMPANY} webhooks"),
        )));
    }
    let now = clock::now();
    let sub = Subscription {
        id: crate::ids::new_id(),
        company_id: company_id.to_string(),
        url: change.url.clone().unwrap_or_default(),
        events: serde_json::to_string(&change.events.clone().unwrap_or_default()).unwrap_or_else(|_| "[]".into()),
        description: change.description.clone().unwrap_or_default(),
        secret: new_secret()?,
        active: change.active.unwrap_or(true),
        created_by: created_by.to_string(),
        created_at: now,
        updated_at: now,
    };
    diesel::insert_into(outgoing_webhooks::table)
        .values((
            outgoing_webhooks::id.eq(&sub.id),
            outgoing_webhooks::company_id.eq(&sub.company_id),
            outgoing_webhooks::url.eq(&sub.url),
            outgoing_webhooks::events.eq(&sub.events),
            outgoing_webhooks::description.eq(&sub.description),
            outgoing_webhooks::secret.eq(&sub.secret),
            outgoing_webhooks::active.eq(sub.active),
            outgoing_webhooks::created_by.eq(&sub.created_by),
            outgoing_webhooks::created_at.eq(now),
            outgoing_webhooks::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(sub)
}

/// The company's subscriptions, oldest first.
pub fn list(conn: &mut DbConn, company_id: &str) -> Result<Vec<Subscription>, StoreError> {
    Ok(outgoing_webhooks::table
        .filter(outgoing_webhooks::company_id.eq(company_id))
        .order(outgoing_webhooks::id.asc())
        .load(conn)?)
}

/// One subscription of the company.
pub fn get(conn: &mut DbConn, company_id: &str, id: &str) -> Result<Subscription, WebhookError> {
    outgoing_webhooks::table
        .filter(outgoing_webhooks::company_id.eq(company_id))
        .filter(outgoing_webhooks::id.eq(id))
        .first(conn)
        .optional()?
        .ok_or(WebhookError::NotFound)
}

/// Changes a subscription; `rotate` gives it a new secret.
pub fn update(
    conn: &mut DbConn,
    company_id: &str,
    id: &str,
    change: &Change,
    rotate: bool,
) -> Result<Subscription, WebhookError> {
    check(change).map_err(WebhookError::Invalid)?;
    let mut sub = get(conn, company_id, id)?;
    if let Some(url) = &change.url {
        sub.url = url.clone();
    }
    if let Some(events) = &change.events {
        sub.events = serde_json::to_string(events).unwrap_or_else(|_| "[]".into());
    }
    if let Some(d) = &change.description {
        sub.description = d.clone();
    }
    if let Some(a) = change.active {
        sub.active = a;
    }
    if rotate {
        sub.secret = new_secret()?;
    }
    sub.updated_at = clock::now();
    diesel::update(outgoing_webhooks::table.find(&sub.id))
        .set((
            outgoing_webhooks::url.eq(&sub.url),
            outgoing_webhooks::events.eq(&sub.events),
            outgoing_webhooks::description.eq(&sub.description),
            outgoing_webhooks::secret.eq(&sub.secret),
            outgoing_webhooks::active.eq(sub.active),
            outgoing_webhooks::updated_at.eq(sub.updated_at),
        ))
        .execute(conn)?;
    Ok(sub)
}

/// Removes a subscription; its deliveries still waiting are dropped with it.
pub fn delete(conn: &mut DbConn, company_id: &str, id: &str) -> Result<(), WebhookError> {
    let sub = get(conn, company_id, id)?;
    use crate::storage::schema::deliveries;
    diesel::delete(
        deliveries::table
            .filter(deliveries::company_id.eq(company_id))
            .filter(deliveries::plugin.eq(SOURCE))
            .filter(deliveries::handler.eq(&sub.id))
            .filter(deliveries::state.ne("done")),
    )
    .execute(conn)?;
    diesel::delete(outgoing_webhooks::table.find(&sub.id)).execute(conn)?;
    Ok(())
}

/// Active subscriptions of the company that want events named `name`.
pub(crate) fn subscribed(conn: &mut DbConn, company_id: &str, name: &str) -> Result<Vec<String>, StoreError> {
    let rows: Vec<(String, String)> = outgoing_webhooks::table
        .filter(outgoing_webhooks::company_id.eq(company_id))
        .filter(outgoing_webhooks::active.eq(true))
        .order(outgoing_webhooks::id.asc())
        .select((outgoing_webhooks::id, outgoing_webhooks::events))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter(|(_, events)| {
            serde_json::from_str::<Vec<String>>(events)
                .unwrap_or_default()
                .iter()
                .any(|p| super::emit::pattern_matches(p, name))
        })
        .map(|(id, _)| id)
        .collect())
}

/// The `ERP-Signature` header for `body` sent at `timestamp` (Unix seconds):
/// `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>" keyed with the secret>`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={timestamp},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks a signature header as a receiver would: the right HMAC, made within `tolerance`
/// seconds of `now`.
pub fn verify(secret: &str, header: &str, body: &[u8], now: i64, tolerance: i64) -> bool {
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1.push(v.to_string()),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    if (now - t).abs() > tolerance {
        return false;
    }
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()) else { return false };
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    v1.iter().any(|sig| hex::decode(sig).is_ok_and(|bytes| mac.clone().verify_slice(&bytes).is_ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_expire() {
        let body = br#"{"id":"1"}"#;
        let header = signature("whsec_test", 1_700_000_000, body);
        assert!(header.starts_with("t=1700000000,v1="));
        assert!(verify("whsec_test", &header, body, 1_700_000_100, 300));
        assert!(!verify("whsec_other", &header, body, 1_700_000_100, 300));
        assert!(!verify("whsec_test", &header, b"{}", 1_700_000_100, 300));
        assert!(!verify("whsec_test", &header, body, 1_700_001_000, 300), "too old");
        assert!(!verify("whsec_test", "v1=00", body, 1_700_000_000, 300));
    }

    #[test]
    fn changes_are_checked() {
        let ok = Change {
            url: Some("https://hooks.example.com/erp".into()),
            events: Some(vec!["crm.deal.*".into()]),
            ..Change::default()
        };
        assert!(check(&ok).is_ok());
        for bad in [
            Change { url: Some("ftp://x".into()), ..Change::default() },
            Change { url: Some("https://u:p@example.com/".into()), ..Change::default() },
            Change { url: Some("/relative".into()), ..Change::default() },
            Change { events: Some(vec![]), ..Change::default() },
            Change { events: Some(vec!["Not An Event".into()]), ..Change::default() },
        ] {
            assert!(check(&bad).is_err(), "{bad:?}");
        }
    }
}
