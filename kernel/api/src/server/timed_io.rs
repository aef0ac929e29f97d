//! A connection's socket with deadlines: a request head must arrive within the header
//! timeout, the next request within the idle timeout, and a client must keep taking the
//! answer (no byte accepted for the idle timeout closes the connection).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::registry::{Conn, Timeouts};

/// A socket whose reads and writes fail with `TimedOut` once their deadline passes.
pub(super) struct TimedIo<T> {
    io: T,
    conn: Arc<Conn>,
    timeouts: Timeouts,
    read_timer: Pin<Box<Sleep>>,
    read_armed: Option<Instant>,
    write_timer: Pin<Box<Sleep>>,
    /// Set while writes are blocked: when they must move again.
    write_deadline: Option<Instant>,
}

impl<T> TimedIo<T> {
    pub(super) fn new(io: T, conn: Arc<Conn>, timeouts: Timeouts) -> TimedIo<T> {
        let now = Instant::now();
        TimedIo {
            io,
            conn,
            timeouts,
            read_timer: Box::pin(tokio::time::sleep_until(now)),
            read_armed: None,
            write_timer: Box::pin(tokio::time::sleep_until(now)),
            write_deadline: None,
        }
    }

    /// Pending until the read deadline passes, then the error that closes the connection.
    fn wait_for_read(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.conn.reading(cx.waker());
        let Some(deadline) = self.conn.read_deadline(self.timeouts) else {
            return Poll::Pending;
        };
        if self.read_armed != Some(deadline) {
            self.read_timer.as_mut().reset(deadline);
            self.read_armed = Some(deadline);
        }
        match self.read_timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(timed_out("no complete request in time"))),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Pending until a write has been blocked for the idle timeout, then the error.
    fn write_blocked(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        if self.write_deadline.is_none() {
            let deadline = Instant::now() + self.timeouts.idle;
            self.write_timer.as_mut().reset(deadline);
            self.write_deadline = Some(deadline);
        }
        match self.write_timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(timed_out("the client stopped taking the answer")),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Only bytes taken count as progress; a blocked write starts or checks the clock.
    fn wrote(&mut self, result: Poll<io::Result<usize>>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        match result {
            Poll::Pending => self.write_blocked(cx).map(Err),
            Poll::Ready(Ok(n)) if n > 0 => {
                self.write_deadline = None;
                Poll::Ready(Ok(n))
            }
            ready => ready,
        }
    }
}

fn timed_out(why: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, why)
}

impl<T: AsyncRead + Unpin> AsyncRead for TimedIo<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) if buf.filled().len() > before => {
                this.conn.bytes_read();
                // A head trickled a byte at a time is rarely pending: look at the clock here too.
                match this.conn.read_deadline(this.timeouts) {
                    Some(deadline) if Instant::now() >= deadline => {
                        Poll::Ready(Err(timed_out("no complete request in time")))
                    }
                    _ => Poll::Ready(Ok(())),
                }
            }
            Poll::Pending => this.wait_for_read(cx),
            other => other,
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for TimedIo<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_write(cx, data);
        this.wrote(result, cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.wrote(result, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::server::registry::Registry;

    const SHORT: Timeouts = Timeouts { header: Duration::from_millis(200), idle: Duration::from_millis(200) };

    #[tokio::test]
    async fn a_silent_client_times_out_and_a_client_taking_nothing_too() {
        let registry = Registry::new(4);
        let slot = registry.admit().await.expect("slot");
        let (client, server) = tokio::io::duplex(64);
        let mut io = TimedIo::new(server, slot.conn().clone(), SHORT);
        let mut buf = [0u8; 16];
        let read = tokio::time::timeout(Duration::from_secs(5), io.read(&mut buf)).await.expect("cut off in time");
        assert_eq!(read.expect_err("timed out").kind(), io::ErrorKind::TimedOut);

        // Serving a request: no read clock, but an answer nobody takes is cut off.
        slot.conn().request_started();
        let written = tokio::time::timeout(Duration::from_secs(5), io.write_all(&[0u8; 4096])).await.expect("in time");
        assert_eq!(written.expect_err("timed out").kind(), io::ErrorKind::TimedOut);
        drop(client);
    }
}
