//! Caps on work anyone can ask for before proving who they are: concurrent password checks
//! (each takes 19 MiB and tens of milliseconds of a core), login attempts per client address
//! and per account, and inbound webhooks per company.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;

/// The limits, with the defaults SECURITY.md documents.
#[derive(Debug, Clone)]
pub struct ThrottleSettings {
    /// Password hashes computed at once (default: half the cores, at least one).
    pub concurrent_hashes: usize,
    /// Requests that may wait for a hash slot; more are answered 503 at once.
    pub hash_queue: usize,
    /// Longest wait for a hash slot before 503.
    pub hash_wait: Duration,
    /// Login attempts per client address per minute (burst of the same size).
    pub logins_per_address: u32,
    /// Login attempts per account (e-mail, known or not) per minute from all addresses.
    pub logins_per_account: u32,
    /// Longest delay an attempt over the account's rate waits before 429: a delay, not a
    /// lock, so a flood against an account slows it but cannot keep its owner out for long.
    pub account_delay: Duration,
    /// Webhook deliveries per company per minute.
    pub webhooks_per_company: u32,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        ThrottleSettings {
            concurrent_hashes: (cores / 2).max(1),
            hash_queue: 64,
            hash_wait: Duration::from_secs(3),
            logins_per_address: 60,
            logins_per_account: 30,
            account_delay: Duration::from_secs(3),
            webhooks_per_company: 600,
        }
    }
}

type Limiter<K> = DefaultKeyedRateLimiter<K>;

/// The shared state of the caps.
#[derive(Debug, Clone)]
pub struct Throttle {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    settings: ThrottleSettings,
    hashes: Arc<Semaphore>,
    waiting: AtomicUsize,
    per_address: Limiter<IpAddr>,
    per_account: Limiter<String>,
    webhooks: Limiter<String>,
    checks: AtomicU64,
}

/// A slot for one password hash; the slot frees when this drops.
#[derive(Debug)]
pub struct HashPermit(#[allow(dead_code)] OwnedSemaphorePermit);

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN))
}

impl Throttle {
    /// Caps with `settings`.
    pub fn new(settings: ThrottleSettings) -> Throttle {
        Throttle {
            inner: Arc::new(Inner {
                hashes: Arc::new(Semaphore::new(settings.concurrent_hashes.max(1))),
                waiting: AtomicUsize::new(0),
                per_address: RateLimiter::keyed(per_minute(settings.logins_per_address)),
                per_account: RateLimiter::keyed(per_minute(settings.logins_per_account)),
                webhooks: RateLimiter::keyed(per_minute(settings.webhooks_per_company)),
                checks: AtomicU64::new(0),
                settings,
            }),
        }
    }

    /// The limits in force.
    pub fn settings(&self) -> &ThrottleSettings {
        &self.inner.settings
    }

    /// Waits for a password-hash slot: 503 with `Retry-After` when too many wait already or
    /// none frees in time.
    pub async fn hash_permit(&self) -> Result<HashPermit, ApiError> {
        let inner = &self.inner;
        if let Ok(p) = inner.hashes.clone().try_acquire_owned() {
            return Ok(HashPermit(p));
        }
        let busy = || ApiError::busy("too many password checks at once; try again shortly", 1);
        if inner.waiting.fetch_add(1, Ordering::SeqCst) >= inner.settings.hash_queue {
            inner.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(busy());
        }
        let acquired = tokio::time::timeout(inner.settings.hash_wait, inner.hashes.clone().acquire_owned()).await;
        inner.waiting.fetch_sub(1, Ordering::SeqCst);
        match acquired {
            Ok(Ok(p)) => Ok(HashPermit(p)),
            _ => Err(busy()),
        }
    }

    /// Admits one login attempt for `email` from `address`: 429 when the address is over
    /// its rate; over the account's rate the attempt is delayed, and refused only when the
    /// delay would be too long.
    pub async fn login(&self, address: Option<IpAddr>, email: &str) -> Result<(), ApiError> {
        let inner = &self.inner;
        self.tidy();
        if let Some(ip) = address {
            refuse_over(&inner.per_address, &ip, "too many login attempts from this address")?;
        }
        let key: String = erp_kernel::identity::normalize_email(email).chars().take(320).collect();
        if let Err(not_until) = inner.per_account.check_key(&key) {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            if wait > inner.settings.account_delay {
                return Err(too_many("too many login attempts for this account", wait));
            }
            tokio::time::sleep(wait).await;
            inner
                .per_account
                .check_key(&key)
                .map_err(|_| too_many("too many login attempts for this account", wait))?;
        }
        Ok(())
    }

    /// Admits one webhook delivery for `company`: 429 over the company's rate.
    pub fn webhook(&self, company: &str) -> Result<(), ApiError> {
        self.tidy();
        refuse_over(&self.inner.webhooks, &company.to_string(), "too many webhook deliveries for this company")
    }

    /// Forgets keys that are back to a full burst, now and then, so that made-up keys do
    /// not grow the maps without bound.
    fn tidy(&self) {
        let inner = &self.inner;
        if inner.checks.fetch_add(1, Ordering::Relaxed) % 1024 == 1023 {
            inner.per_address.retain_recent();
            inner.per_account.retain_recent();
            inner.webhooks.retain_recent();
        }
    }
}

fn refuse_over<K: Hash + Eq + Clone>(limiter: &Limiter<K>, key: &K, message: &str) -> Result<(), ApiError> {
    limiter
        .check_key(key)
        .map_err(|not_until| too_many(message, not_until.wait_time_from(DefaultClock::default().now())))
}

fn too_many(message: &str, wait: Duration) -> ApiError {
    ApiError::new(axum::http::StatusCode::TOO_MANY_REQUESTS, "too_many_requests", message)
        .with_retry_after(wait.as_secs().max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_slots_are_capped_and_the_queue_bounded() {
        let t = Throttle::new(ThrottleSettings {
            concurrent_hashes: 1,
            hash_queue: 1,
            hash_wait: Duration::from_millis(50),
            ..ThrottleSettings::default()
        });
        let held = t.hash_permit().await.expect("first slot");
        let refused = t.hash_permit().await.expect_err("no slot frees in time");
        assert_eq!(refused.status.as_u16(), 503);
        drop(held);
        t.hash_permit().await.expect("slot free again");
    }

    #[tokio::test]
    async fn addresses_are_limited_and_accounts_delayed() {
        let t = Throttle::new(ThrottleSettings {
            logins_per_address: 2,
            logins_per_account: 100,
            ..ThrottleSettings::default()
        });
        let ip: IpAddr = [10, 0, 0, 1].into();
        t.login(Some(ip), "a@example.com").await.expect("1");
        t.login(Some(ip), "b@example.com").await.expect("2");
        let refused = t.login(Some(ip), "c@example.com").await.expect_err("over the address rate");
        assert_eq!(refused.status.as_u16(), 429);
        t.login(Some([10, 0, 0, 2].into()), "c@example.com").await.expect("another address");

        let t = Throttle::new(ThrottleSettings {
            logins_per_account: 1,
            account_delay: Duration::ZERO,
            ..ThrottleSettings::default()
        });
        t.login(Some(ip), "Anna@example.com").await.expect("first");
        let refused = t.login(Some([10, 0, 0, 9].into()), "anna@example.com ").await.expect_err("same account");
        assert_eq!(refused.status.as_u16(), 429);
    }
}
