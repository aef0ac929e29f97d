//! One request between hyper and the router: its body paced, the peer's address attached,
//! and the connection told when serving starts and when the answer has been handed over.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use tower::ServiceExt;

use super::paced_body::{self, Pace, PacedBody};
use super::registry::Conn;

/// Serves one request through `router`; `serving` marks its connection busy until the answer
/// has been handed over.
pub(super) async fn answer(
    router: Router,
    serving: Serving,
    pace: Pace,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> Result<Response<Answer>, Infallible> {
    let too_slow = Arc::new(AtomicBool::new(false));
    let mut request = request.map(|body| Body::new(PacedBody::new(body, pace, too_slow.clone())));
    request.extensions_mut().insert(ConnectInfo(peer));
    let response = match router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    // Whatever the handler made of a body cut off, the client hears that it was too slow.
    let response = if too_slow.load(Ordering::Relaxed) { paced_body::refusal() } else { response };
    Ok(response.map(|body| Answer { body, _serving: serving }))
}

/// Marks a connection as serving a request, and as waiting for its next one when dropped.
pub(super) struct Serving(Arc<Conn>);

impl Serving {
    /// Called as hyper hands over a request head, before anything else happens to it.
    pub(super) fn start(conn: Arc<Conn>) -> Serving {
        conn.request_started();
        Serving(conn)
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.0.answer_finished();
    }
}

/// An answer's body; hyper drops it once the last of it is handed to the socket.
pub(super) struct Answer {
    body: Body,
    _serving: Serving,
}

impl HttpBody for Answer {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
