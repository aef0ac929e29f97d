//! Handing a message to the company's SMTP relay (lettre's client on the outbound runtime),
//! connected to an address the outbound rules allow and verified against the relay's host
//! name, by the public roots and those the operator trusts besides. The socket sends at once
//! (`TCP_NODELAY`): the end of a message is a write of its own, which would otherwise wait for
//! the relay to acknowledge the body. A connection stays open for the company's next message
//! in the same round of the mail worker ([`Connections`]), so a mailing does not pay a
//! handshake (and a TLS handshake and a login) per letter.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, Certificate, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::MailError;
use super::settings::{Security, Stored};
use crate::outbound::roots::ExtraRoots;
use crate::outbound::{Outbound, OutboundError};

/// Authentication mechanisms offered, in lettre's order of preference.
const MECHANISMS: &[Mechanism] = &[Mechanism::Plain, Mechanism::Login];

/// Open relay connections, one per company, kept while they work; closed politely (`QUIT`)
/// when dropped.
#[derive(Default)]
pub struct Connections {
    open: HashMap<String, Open>,
    /// The runtime the connections live on, for the goodbyes.
    outbound: Option<Outbound>,
}

struct Open {
    /// The settings it was opened with: changed settings open a new one.
    fingerprint: String,
    conn: AsyncSmtpConnection,
}

impl std::fmt::Debug for Connections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connections").field("open", &self.open.len()).finish()
    }
}

impl Drop for Connections {
    fn drop(&mut self) {
        let open: Vec<Open> = self.open.drain().map(|(_, o)| o).collect();
        if let (Some(outbound), false) = (self.outbound.take(), open.is_empty()) {
            let _ = outbound.block_on(Duration::from_secs(5), async move {
                for mut o in open {
                    let _ = o.conn.quit().await;
                }
                Ok(())
            });
        }
    }
}

/// A TLS stream from the first byte (implicit TLS), as lettre takes streams.
#[derive(Debug)]
struct Wrapped(tokio_rustls::client::TlsStream<tokio::net::TcpStream>);

impl AsyncRead for Wrapped {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Wrapped {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for Wrapped {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

/// A relay that does not answer in time is a failed attempt like any other (not the
/// company's rate, which waits without counting).
fn timed_out(e: OutboundError) -> OutboundError {
    match e {
        OutboundError::Limit(m) => OutboundError::Failed(m),
        other => other,
    }
}

fn fingerprint(s: &Stored) -> String {
    format!("{}|{}|{}|{}|{}", s.smtp_host, s.smtp_port, s.smtp_security, s.smtp_username, s.updated_at)
}

/// Why a step with the relay failed: its SMTP answer, or the connection.
enum Failure {
    Smtp(lettre::transport::smtp::Error),
    Network(String),
}

impl Failure {
    fn into_mail(self, s: &Stored) -> MailError {
        match self {
            Failure::Smtp(e) if e.is_permanent() => MailError::Rejected(e.to_string()),
            Failure::Smtp(e) => MailError::Outbound(OutboundError::Failed(format!("{}: {e}", s.smtp_host))),
            Failure::Network(e) => MailError::Outbound(OutboundError::Failed(format!("{}: {e}", s.smtp_host))),
        }
    }
}

/// What a new connection needs, owned, for the outbound runtime.
struct Dial {
    address: SocketAddr,
    host: String,
    security: Security,
    roots: ExtraRoots,
    hello: ClientId,
    credentials: Option<Credentials>,
}

fn tls_parameters(host: &str, roots: &ExtraRoots) -> Result<TlsParameters, Failure> {
    let mut params = TlsParameters::builder(host.to_string());
    for der in &roots.0 {
        let cert =
            Certificate::from_der(der.clone()).map_err(|e| Failure::Network(format!("a trusted certificate: {e}")))?;
        params = params.add_root_certificate(cert);
    }
    params.build_rustls().map_err(|e| Failure::Network(format!("TLS cannot start: {e}")))
}

async fn dial(d: Dial) -> Result<AsyncSmtpConnection, Failure> {
    let tcp = tokio::net::TcpStream::connect(d.address).await.map_err(|e| Failure::Network(e.to_string()))?;
    tcp.set_nodelay(true).map_err(|e| Failure::Network(e.to_string()))?;
    let stream: Box<dyn AsyncTokioStream> = match d.security {
        Security::Tls => {
            let config = rustls::ClientConfig::builder().with_root_certificates(d.roots.store()).with_no_client_auth();
            let name = rustls::pki_types::ServerName::try_from(d.host.clone())
                .map_err(|e| Failure::Network(format!("TLS: {e}")))?;
            let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
                .connect(name, tcp)
                .await
                .map_err(|e| Failure::Network(format!("TLS: {e}")))?;
            Box::new(Wrapped(tls))
        }
        Security::Starttls | Security::None => Box::new(tcp),
    };
    let mut conn = AsyncSmtpConnection::connect_with_transport(stream, &d.hello).await.map_err(Failure::Smtp)?;
    if d.security == Security::Starttls {
        let params = tls_parameters(&d.host, &d.roots)?;
        conn.starttls(params, &d.hello).await.map_err(Failure::Smtp)?;
    }
    if let Some(credentials) = &d.credentials {
        conn.auth(MECHANISMS, credentials).await.map_err(Failure::Smtp)?;
    }
    Ok(conn)
}

/// Sends `message` through `s`'s relay, on the company's open connection when there is one
/// that still works, else on a new one kept open for the next message.
pub(super) fn deliver(
    outbound: &Outbound,
    s: &Stored,
    password: &str,
    message: &lettre::Message,
    time: Duration,
    connections: &mut Connections,
) -> Result<(), MailError> {
    connections.outbound.get_or_insert_with(|| outbound.clone());
    let envelope = message.envelope().clone();
    let bytes = message.formatted();
    let print = fingerprint(s);
    let kept = connections.open.remove(&s.company_id).filter(|o| o.fingerprint == print);
    if let Some(mut open) = kept {
        let (envelope, bytes) = (envelope.clone(), bytes.clone());
        let (open, sent) = outbound
            .block_on(time, async move {
                let sent = open.conn.send(&envelope, &bytes).await;
                Ok((open, sent))
            })
            .map_err(timed_out)?;
        match sent {
            Ok(_) => {
                connections.open.insert(s.company_id.clone(), open);
                return Ok(());
            }
            // The relay said no to this message: a new connection would hear the same.
            Err(e) if e.is_permanent() => return Err(MailError::Rejected(e.to_string())),
            // The relay let the idle connection go: try once on a new one.
            Err(_) => {}
        }
    }
    let port =
        u16::try_from(s.smtp_port).map_err(|_| OutboundError::Invalid("the SMTP port is out of range".into()))?;
    let address = outbound
        .resolve(&s.smtp_host, port)?
        .into_iter()
        .next()
        .ok_or_else(|| OutboundError::Denied(format!("{} has no address the platform may reach", s.smtp_host)))?;
    let dial_to = Dial {
        address,
        host: s.smtp_host.clone(),
        security: Security::parse(&s.smtp_security).unwrap_or(Security::Starttls),
        roots: outbound.settings().extra_roots.clone(),
        hello: ClientId::Domain(
            s.from_address.rsplit_once('@').map(|(_, d)| d.to_string()).unwrap_or_else(|| "localhost".into()),
        ),
        credentials: (!s.smtp_username.is_empty())
            .then(|| Credentials::new(s.smtp_username.clone(), password.to_string())),
    };
    let outcome = outbound
        .block_on(time, async move {
            let sent = match dial(dial_to).await {
                Ok(mut conn) => match conn.send(&envelope, &bytes).await {
                    Ok(_) => Ok(conn),
                    Err(e) => Err(Failure::Smtp(e)),
                },
                Err(f) => Err(f),
            };
            Ok(sent)
        })
        .map_err(timed_out)?;
    let conn = outcome.map_err(|f| f.into_mail(s))?;
    connections.open.insert(s.company_id.clone(), Open { fingerprint: print, conn });
    Ok(())
}
