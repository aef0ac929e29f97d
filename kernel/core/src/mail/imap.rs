//! Reading new messages from a company's IMAP mailbox (async-imap over tokio, TLS by rustls
//! with the web's root certificates and those the operator adds), connected to an address the outbound rules allow.

use std::net::SocketAddr;
use std::sync::Arc;

use async_imap::Client;
use futures_util::TryStreamExt;
use tokio::io::{AsyncRead, AsyncWrite};

use super::settings::Security;
use crate::outbound::OutboundError;
use crate::outbound::roots::ExtraRoots;

/// Most messages taken in one check; the rest come with the next.
pub const BATCH: usize = 50;

/// What to read and how.
#[derive(Debug, Clone)]
pub(super) struct Mailbox {
    pub address: SocketAddr,
    pub host: String,
    pub security: Security,
    pub username: String,
    pub password: String,
    pub folder: String,
    /// UIDVALIDITY and the last UID read before; `None` on the first check.
    pub since: Option<(u32, u32)>,
    /// Messages larger than this are not downloaded.
    pub max_bytes: u32,
    /// Authorities trusted besides the public ones.
    pub roots: ExtraRoots,
}

/// A message found in the mailbox.
#[derive(Debug, Clone)]
pub(super) struct Found {
    pub uid: u32,
    /// The raw message, or `None` when it is larger than the limit.
    pub raw: Option<Vec<u8>>,
}

/// The new messages, and the watermark to keep for the next check.
#[derive(Debug, Clone)]
pub(super) struct Fetched {
    pub uid_validity: u32,
    pub last_uid: u32,
    pub messages: Vec<Found>,
}

fn failed(host: &str, e: impl std::fmt::Display) -> OutboundError {
    OutboundError::Failed(format!("{host}: {e}"))
}

fn tls_connector(roots: &ExtraRoots) -> Result<tokio_rustls::TlsConnector, OutboundError> {
    let roots = roots.store();
    // The process's provider: ring, the one the workspace builds rustls with.
    let config = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

async fn tls<S: AsyncRead + AsyncWrite + Unpin>(
    host: &str,
    roots: &ExtraRoots,
    stream: S,
) -> Result<tokio_rustls::client::TlsStream<S>, OutboundError> {
    let name = rustls::pki_types::ServerName::try_from(host.to_string()).map_err(|e| failed(host, e))?;
    tls_connector(roots)?.connect(name, stream).await.map_err(|e| failed(host, e))
}

/// Connects, logs in and takes the messages that arrived since the last check (on the first
/// check, those not yet read).
pub(super) async fn fetch(m: Mailbox) -> Result<Fetched, OutboundError> {
    let tcp = tokio::net::TcpStream::connect(m.address).await.map_err(|e| failed(&m.host, e))?;
    match m.security {
        Security::Tls => {
            let stream = tls(&m.host, &m.roots, tcp).await?;
            let mut client = Client::new(stream);
            greeting(&m.host, &mut client).await?;
            read(client, &m).await
        }
        Security::Starttls => {
            let mut client = Client::new(tcp);
            greeting(&m.host, &mut client).await?;
            client
                .run_command_and_check_ok("STARTTLS", None)
                .await
                .map_err(|e| failed(&m.host, format!("STARTTLS refused: {e}")))?;
            let stream = tls(&m.host, &m.roots, client.into_inner()).await?;
            read(Client::new(stream), &m).await
        }
        Security::None => {
            let mut client = Client::new(tcp);
            greeting(&m.host, &mut client).await?;
            read(client, &m).await
        }
    }
}

async fn greeting<T>(host: &str, client: &mut Client<T>) -> Result<(), OutboundError>
where
    T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    match client.read_response().await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(failed(host, "the server closed the connection without a greeting")),
        Err(e) => Err(failed(host, e)),
    }
}

async fn read<T>(client: Client<T>, m: &Mailbox) -> Result<Fetched, OutboundError>
where
    T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    let mut session = client
        .login(&m.username, &m.password)
        .await
        .map_err(|(e, _)| failed(&m.host, format!("the mailbox refused the login: {e}")))?;
    let mailbox =
        session.select(&m.folder).await.map_err(|e| failed(&m.host, format!("folder {:?}: {e}", m.folder)))?;
    let validity = mailbox.uid_validity.unwrap_or(0);
    // The same mailbox as before: what came after the last UID read. A first check, or a
    // mailbox the server renumbered: the messages nobody has read yet.
    let query = match m.since {
        Some((v, last)) if v == validity => format!("UID {}:*", last.saturating_add(1)),
        _ => "UNSEEN".to_string(),
    };
    let floor = match m.since {
        Some((v, last)) if v == validity => last,
        _ => 0,
    };
    let mut uids: Vec<u32> =
        session.uid_search(&query).await.map_err(|e| failed(&m.host, e))?.into_iter().filter(|u| *u > floor).collect();
    uids.sort_unstable();
    let truncated = uids.len() > BATCH;
    uids.truncate(BATCH);
    let mut messages = Vec::new();
    if !uids.is_empty() {
        let set = uids.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        let sizes: Vec<(u32, u32)> = session
            .uid_fetch(&set, "(UID RFC822.SIZE)")
            .await
            .map_err(|e| failed(&m.host, e))?
            .try_filter_map(|f| async move { Ok(f.uid.map(|u| (u, f.size.unwrap_or(0)))) })
            .try_collect()
            .await
            .map_err(|e| failed(&m.host, e))?;
        let small: Vec<u32> = sizes.iter().filter(|(_, s)| *s <= m.max_bytes).map(|(u, _)| *u).collect();
        messages.extend(sizes.iter().filter(|(_, s)| *s > m.max_bytes).map(|(uid, _)| Found { uid: *uid, raw: None }));
        if !small.is_empty() {
            let set = small.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
            // PEEK: reading into the inbox does not mark the message read for the people who
            // also use the mailbox.
            let bodies: Vec<Found> = session
                .uid_fetch(&set, "(UID BODY.PEEK[])")
                .await
                .map_err(|e| failed(&m.host, e))?
                .try_filter_map(|f| async move {
                    Ok(f.uid.map(|uid| Found { uid, raw: Some(f.body().map(<[u8]>::to_vec).unwrap_or_default()) }))
                })
                .try_collect()
                .await
                .map_err(|e| failed(&m.host, e))?;
            messages.extend(bodies);
        }
    }
    messages.sort_by_key(|f| f.uid);
    // After a first check every message there now counts as seen (read ones are history, not
    // news), unless unread ones are left for the next batch.
    let first = !matches!(m.since, Some((v, _)) if v == validity);
    let seen = if first && !truncated { mailbox.uid_next.unwrap_or(1).saturating_sub(1) } else { floor };
    let last_uid = messages.last().map(|f| f.uid).unwrap_or(0).max(seen);
    let _ = session.logout().await;
    Ok(Fetched { uid_validity: validity, last_uid, messages })
}
