//! Request bodies with a pace: once a grace period is over a body must average a minimum
//! rate, and no body may take longer than the body timeout. A body that falls behind fails
//! its reader; the request is then answered 408 and its connection closed.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::BoxError;
use axum::body::{Bytes, HttpBody};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use super::HttpSettings;
use crate::error::ApiError;

/// The pace a body must keep.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pace {
    grace: Duration,
    min_rate: u64,
    limit: Duration,
}

impl Pace {
    pub(super) fn new(settings: &HttpSettings) -> Pace {
        Pace { grace: settings.body_grace, min_rate: settings.body_min_rate, limit: settings.body_timeout }
    }
}

/// Why a body was cut off.
#[derive(Debug, thiserror::Error)]
#[error("the request body arrived too slowly")]
pub(super) struct TooSlow;

/// A request body that fails once it falls behind its [`Pace`]; `too_slow` tells the server.
pub(super) struct PacedBody<B> {
    inner: B,
    pace: Pace,
    started: Instant,
    received: u64,
    timer: Pin<Box<Sleep>>,
    armed: Option<Instant>,
    too_slow: Arc<AtomicBool>,
}

impl<B> PacedBody<B> {
    pub(super) fn new(inner: B, pace: Pace, too_slow: Arc<AtomicBool>) -> PacedBody<B> {
        let started = Instant::now();
        PacedBody {
            inner,
            pace,
            started,
            received: 0,
            timer: Box::pin(tokio::time::sleep_until(started)),
            armed: None,
            too_slow,
        }
    }

    /// The moment the body is behind: the grace plus the time its bytes so far buy at the
    /// minimum rate, and never later than the limit.
    fn deadline(&self) -> Instant {
        let limit = self.started + self.pace.limit;
        if self.pace.min_rate == 0 {
            return limit;
        }
        let earned = Duration::from_millis(self.received.saturating_mul(1000) / self.pace.min_rate);
        (self.started + self.pace.grace + earned).min(limit)
    }
}

impl<B> HttpBody for PacedBody<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received = this.received.saturating_add(data.len() as u64);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            // Only waiting on the client counts: bytes already here are never late.
            Poll::Pending => {
                let deadline = this.deadline();
                if this.armed != Some(deadline) {
                    this.timer.as_mut().reset(deadline);
                    this.armed = Some(deadline);
                }
                match this.timer.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.too_slow.store(true, Ordering::Relaxed);
                        Poll::Ready(Some(Err(TooSlow.into())))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The answer to a request whose body fell behind: 408, and the connection is closed.
pub(super) fn refusal() -> Response {
    let mut response = ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "request_timeout",
        "the request body arrived too slowly; send it again faster",
    )
    .into_response();
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    crate::headers::protect(response.headers_mut());
    response
}
