//! `erp bench`: the mail worker. Letters go to an SMTP server on the loopback (the demo's
//! mailbox stub), first each on a connection of its own, then on one kept open for the round,
//! then through the whole outbox (queued in a transaction, sent and settled by the worker).

use std::time::Instant;

use erp_kernel::Platform;
use erp_kernel::mail::{self, Connections, Outgoing, outbox, settings};

use super::demo_mail;

fn letter(i: usize) -> Outgoing {
    Outgoing {
        to: vec![format!("client{i}@example.org")],
        subject: format!("Скидки для клиента {i}"),
        text: "Здравствуйте! Скидка 10% до конца месяца.\n\nОтписаться: https://erp.example.com/unsubscribe/x".into(),
        html: Some("<p>Здравствуйте! Скидка <b>10%</b> до конца месяца.</p>".into()),
        ..Outgoing::default()
    }
}

/// Letters in each part.
pub(super) const LETTERS: usize = 300;

/// Runs the mail benchmark with `n` letters in each part and prints letters per second.
pub(super) fn run(platform: &Platform, company_id: &str, n: usize) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("erp-bench-mail-{}-{}", std::process::id(), erp_kernel::ids::new_id()));
    let result = measure(platform, company_id, n, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn measure(platform: &Platform, company_id: &str, n: usize, dir: &std::path::Path) -> anyhow::Result<()> {
    let stub = demo_mail::start(dir)?;
    let loopback = erp_kernel::outbound::address::Network::parse("127.0.0.1").map_err(anyhow::Error::msg)?;
    let platform = platform.clone().with_outbound(erp_kernel::outbound::OutboundSettings {
        allow_private: vec![loopback],
        per_minute: 1_000_000,
        ..Default::default()
    });
    platform.db.write_blocking(|conn| {
        let change = settings::Change {
            from_address: "news@bench.example".into(),
            from_name: "Bench".into(),
            smtp_host: "127.0.0.1".into(),
            smtp_port: stub.port,
            smtp_security: "none".into(),
            ..settings::Change::default()
        };
        settings::put(&platform, conn, company_id, &change)
    })?;
    let n = n.max(1);

    let started = Instant::now();
    for i in 0..n {
        mail::send(&platform, company_id, &letter(i))?;
    }
    let fresh = n as f64 / started.elapsed().as_secs_f64();

    let started = Instant::now();
    let mut connections = Connections::default();
    for i in 0..n {
        mail::send_on(&platform, company_id, &letter(i), &mut connections)?;
    }
    drop(connections);
    let kept = n as f64 / started.elapsed().as_secs_f64();

    platform.db.write_blocking(|conn| {
        for i in 0..n {
            outbox::enqueue(conn, company_id, "bench", &letter(i))?;
        }
        Ok::<_, mail::MailError>(())
    })?;
    let started = Instant::now();
    let mut sent = 0;
    while sent < n {
        let round = outbox::deliver_due(&platform, 100)?;
        if round == 0 {
            break;
        }
        sent += round;
    }
    let worker = sent as f64 / started.elapsed().as_secs_f64();
    println!(
        "mail to an SMTP server on the loopback, {n} letters each: a connection per letter {fresh:.0}/s; \
         one connection kept for the round {kept:.0}/s ({:.1}x); through the outbox and the worker {worker:.0}/s \
         ({sent} sent, {:.1}x the connection per letter)",
        kept / fresh,
        worker / fresh
    );
    Ok(())
}
