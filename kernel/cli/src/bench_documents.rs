//! `erp bench`: printed documents, as the kernel renders them for a plugin. The accounting
//! plugin's invoice for a one-page invoice, and the warehouse's delivery note (ТОРГ-12) for a
//! 500-line shipment: p50 and p99 render time, pages, PDF size, and how much the server's
//! resident memory grew.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::bench::{millis, percentile};

const INVOICE_RU: &str = include_str!("../../../plugins/accounting/documents/invoice.ru.typ");
const DELIVERY_NOTE_RU: &str = include_str!("../../../plugins/warehouse/documents/delivery_note.ru.typ");

/// Renders of each document measured.
const RUNS: usize = 20;

/// The data the accounting plugin hands its template, for `lines` lines.
fn invoice(lines: usize, run: usize) -> Value {
    let rows: Vec<Value> = (1..=lines)
        .map(|n| {
            json!({ "n": n, "description": format!("Стол офисный «Модель {n}-{run}», дуб, 1600×800 мм"), "product": format!("T-{n}"),
                    "quantity": "2", "unit": "шт", "price": "15 000,00", "base": "30 000,00", "vat_rate": "20%",
                    "vat": "6 000,00", "total": "36 000,00", "amount": "30 000,00" })
        })
        .collect();
    json!({
        "language": "ru", "title": format!("Счёт на оплату № INV-2026-{run:05} от 07.12.2026"), "number": format!("INV-2026-{run:05}"),
        "date": "07.12.2026", "date_long": "7 декабря 2026 г.", "due_date": "21.12.2026", "reference": "",
        "currency": "руб.",
        "seller": { "name": "ООО «Мебельная фабрика»", "short_name": "Мебельная фабрика", "inn": "7707083893",
                    "kpp": "773601001", "address": "Москва, ул. Вавилова, 19", "phone": "+7 495 000-00-00",
                    "email": "sales@example.com", "bank_name": "ПАО Сбербанк", "bic": "044525225",
                    "account": "40702810938000000001", "corr_account": "30101810400000000225",
                    "director": "Иванов И. И.", "accountant": "Петрова А. С." },
        "buyer": { "name": "ООО «Ромашка»", "inn": "7728168971" },
        "lines": rows, "count": lines, "untaxed": "30 000,00", "included": false, "subtotal": "30 000,00",
        "tax": "6 000,00", "total": "36 000,00", "total_words": "Тридцать шесть тысяч рублей 00 копеек",
    })
}

/// The data the warehouse plugin hands its delivery note template, for `lines` lines.
fn delivery_note(lines: usize, run: usize) -> Value {
    let rows: Vec<Value> = (1..=lines)
        .map(|n| {
            json!({ "n": n, "name": format!("Стол офисный «Модель {n}-{run}», дуб, 1600×800 мм"), "sku": format!("DESK-{n:04}"),
                    "unit": "шт", "quantity": "2", "price": "15 000,00", "net": "25 000,00", "vat_rate": "20%",
                    "vat": "5 000,00", "amount": "30 000,00", "bin": "Ячейка B-01", "bin_code": "WH1-B-01", "lot": "" })
        })
        .collect();
    json!({
        "language": "ru", "title": format!("Товарная накладная № ЗК-{run:05} от 07.12.2026"), "number": format!("ЗК-{run:05}"), "date": "07.12.2026",
        "seller": { "name": "ООО «Мебельная фабрика»", "inn": "7707083893", "kpp": "773601001",
                    "address": "Москва, ул. Вавилова, 19", "phone": "+7 495 000-00-00", "bank_name": "ПАО Сбербанк",
                    "bic": "044525225", "account": "40702810938000000001", "corr_account": "30101810400000000225",
                    "director": "Иванов И. И.", "accountant": "Петрова А. С." },
        "consignee": "ООО «Ромашка», Москва, ул. Ленина, 1", "carrier": "", "tracking": "", "lines": rows,
        "count": lines, "total_quantity": "1000", "net": "12 500 000,00", "vat": "2 500 000,00",
        "total": "15 000 000,00", "total_words": "Пятнадцать миллионов рублей 00 копеек", "count_words": "пятьсот",
    })
}

/// Resident memory of this process, in bytes (0 where `/proc` is not there).
fn resident() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse::<u64>().ok()))
        .map_or(0, |pages| pages * 4096)
}

/// Each run prints another document (other numbers and line texts), as a server does, so
/// nothing is answered from Typst's memo of the previous one.
fn measure(name: &str, template: &str, data: &dyn Fn(usize) -> Value, target: Duration) -> anyhow::Result<()> {
    let first_data = serde_json::to_vec(&data(0))?;
    let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 7).unwrap_or_default();
    // The first render loads the fonts and Typst's library; a server pays that once.
    let first = erp_kernel::documents::render(template, &first_data, today).map_err(|e| anyhow::anyhow!("{e}"))?;
    let before = resident();
    let mut times = Vec::with_capacity(RUNS);
    for run in 1..=RUNS {
        let data = serde_json::to_vec(&data(run))?;
        let started = Instant::now();
        let pdf = erp_kernel::documents::render(template, &data, today).map_err(|e| anyhow::anyhow!("{e}"))?;
        times.push(started.elapsed());
        anyhow::ensure!(pdf.pages == first.pages, "the same document came out with another page count");
    }
    let grown = resident().saturating_sub(before);
    times.sort();
    let p50 = percentile(&times, 0.5);
    println!(
        "  {name}: {} pages, {} KiB; p50 {} , p99 {}; target under {} ({:.2}x the target); resident memory grew {:.1} MiB over {RUNS} renders",
        first.pages,
        first.bytes.len() / 1024,
        millis(p50.as_secs_f64()),
        millis(percentile(&times, 0.99).as_secs_f64()),
        millis(target.as_secs_f64()),
        p50.as_secs_f64() / target.as_secs_f64(),
        grown as f64 / (1024.0 * 1024.0),
    );
    Ok(())
}

/// Prints the figures.
pub(super) fn run() -> anyhow::Result<()> {
    println!("printed documents (the bundled plugins' templates, typeset to PDF in this process):");
    measure("invoice for payment, 3 lines", INVOICE_RU, &|run| invoice(3, run), Duration::from_millis(100))?;
    let note = |run| delivery_note(500, run);
    measure("delivery note (TORG-12), 500 lines", DELIVERY_NOTE_RU, &note, Duration::from_secs(2))?;
    Ok(())
}
