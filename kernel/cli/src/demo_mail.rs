//! The demo's mailbox stub: an SMTP server on the loopback (the `mailin` protocol library)
//! that keeps every message it is given as a file in a Maildir beside the database, so that
//! the demo company's mail (notifications by e-mail, test messages) goes somewhere one can
//! open without a real relay. Only `erp serve --demo` starts it.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;

/// The running stub.
#[derive(Debug, Clone)]
pub struct Stub {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// The Maildir messages are kept in (`new/` holds one file per message).
    pub dir: PathBuf,
}

/// Counts messages, for unique file names.
static KEPT: AtomicU64 = AtomicU64::new(0);

#[derive(Clone)]
struct Keep {
    dir: PathBuf,
    current: Option<Vec<u8>>,
}

impl Keep {
    fn save(&self, message: &[u8]) -> std::io::Result<()> {
        let name =
            format!("{}.{}.{}.eml", erp_kernel::clock::now(), std::process::id(), KEPT.fetch_add(1, Ordering::Relaxed));
        // Written under tmp/ and moved into new/, as Maildir readers expect.
        let tmp = self.dir.join("tmp").join(&name);
        std::fs::write(&tmp, message)?;
        std::fs::rename(&tmp, self.dir.join("new").join(&name))
    }
}

impl mailin::Handler for Keep {
    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, _to: &[String]) -> mailin::Response {
        self.current = Some(Vec::new());
        mailin::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if let Some(m) = self.current.as_mut() {
            m.extend_from_slice(buf);
        }
        Ok(())
    }

    fn data_end(&mut self) -> mailin::Response {
        match self.current.take().map(|m| self.save(&m)) {
            Some(Err(e)) => {
                tracing::warn!(error = %e, "the demo mailbox could not keep a message");
                mailin::response::INTERNAL_ERROR
            }
            _ => mailin::response::OK,
        }
    }
}

/// Runs one SMTP conversation on `stream`, `session` (the protocol's state machine, with its
/// handler) answering each line.
pub fn converse<H: mailin::Handler>(stream: TcpStream, mut session: mailin::Session<H>) -> std::io::Result<()> {
    // Whole replies in one write, sent at once: a multi-line reply written piece by piece
    // waits on the client's delayed acknowledgement at every line.
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = std::io::BufWriter::new(stream);
    session.greeting().write_to(&mut writer)?;
    writer.flush()?;
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let res = session.process(&line);
        match res.action {
            mailin::Action::Reply => res.write_to(&mut writer)?,
            mailin::Action::Close | mailin::Action::UpgradeTls => {
                res.write_to(&mut writer)?;
                return writer.flush();
            }
            mailin::Action::NoReply => {}
        }
        writer.flush()?;
    }
}

/// Starts the stub, keeping messages in `dir`.
pub fn start(dir: &Path) -> anyhow::Result<Stub> {
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(dir.join(sub)).with_context(|| format!("creating {}", dir.display()))?;
    }
    let listener = TcpListener::bind("127.0.0.1:0").context("starting the demo mailbox")?;
    let port = listener.local_addr()?.port();
    let keep = Keep { dir: dir.to_path_buf(), current: None };
    std::thread::Builder::new().name("demo-mailbox".into()).spawn(move || {
        for stream in listener.incoming().flatten() {
            let keep = keep.clone();
            let _ = std::thread::Builder::new().name("demo-mailbox-session".into()).spawn(move || {
                let session = stream
                    .peer_addr()
                    .map(|peer| mailin::SessionBuilder::new("demo-mailbox").build(peer.ip(), keep))
                    .and_then(|session| converse(stream, session));
                if let Err(e) = session {
                    tracing::debug!(error = %e, "a demo mailbox session ended early");
                }
            });
        }
    })?;
    Ok(Stub { port, dir: dir.to_path_buf() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stub_keeps_what_a_relay_client_sends() {
        use lettre::Transport;
        let dir = tempfile::tempdir().expect("dir");
        let stub = start(dir.path()).expect("start");
        let message = lettre::Message::builder()
            .from("sales@demo.example".parse().expect("from"))
            .to("ivan@example.org".parse().expect("to"))
            .subject("Счёт")
            .body("Добрый день".to_string())
            .expect("message");
        let relay = lettre::SmtpTransport::builder_dangerous("127.0.0.1").port(stub.port).build();
        relay.send(&message).expect("sent");
        let kept: Vec<_> = std::fs::read_dir(dir.path().join("new")).expect("new").flatten().collect();
        assert_eq!(kept.len(), 1);
        let raw = std::fs::read(kept[0].path()).expect("read");
        assert!(String::from_utf8_lossy(&raw).contains("ivan@example.org"));
    }
}
