//! The warehouse part of the demo: a warehouse with zones and bins, the virtual locations,
//! the CRM demo's products with reorder rules, and receipts, transfers and issues through
//! the plugin's own commands, so stock, valuation and the ledger are real. Won demo deals reserve this stock
//! once the event bus runs.

use serde_json::{Value, json};

use erp_kernel::Platform;
use erp_kernel::access::CompanyScope;
use erp_kernel::plugins::PluginError;
use erp_kernel::plugins::lifecycle::{self, EnableRequest};
use erp_kernel::records::{self, Caller, Collection};
use erp_kernel::session::Session;

/// Enables the warehouse for the demo company and stocks it, once.
pub fn sample_warehouse(platform: &Platform, company_id: &str) -> Result<(), PluginError> {
    let mut session = Session::begin(&platform.db, company_id, None)?;
    if platform.plugins.enabled_names(session.conn()?, company_id)?.iter().any(|n| n == "warehouse") {
        return Ok(());
    }
    let scope = CompanyScope::system(company_id);
    let enabled = lifecycle::enable(platform, &mut session, &scope, "warehouse", EnableRequest::default())?;
    let caller = Caller::User(&scope);
    let create = |session: &mut Session, name: &str, data: Value| -> Result<String, PluginError> {
        let coll = Collection::new(enabled.manifest.clone(), name)
            .ok_or_else(|| PluginError::Internal(format!("warehouse has no {name}")))?;
        Ok(records::create(session, platform, caller, &coll, data)?.id)
    };
    let place = |session: &mut Session, code: &str, name: &str, kind: &str, parent: Option<&str>| {
        create(session, "location", json!({ "code": code, "name": name, "kind": kind, "parent": parent }))
    };
    let supplier = place(&mut session, "SUP", "Поставщики", "supplier", None)?;
    let customer = place(&mut session, "CUS", "Покупатели", "customer", None)?;
    place(&mut session, "LOSS", "Недостачи и излишки", "loss", None)?;
    let main = place(&mut session, "WH1", "Основной склад", "warehouse", None)?;
    let zone_a = place(&mut session, "WH1-A", "Зона A: приёмка", "zone", Some(&main))?;
    let zone_b = place(&mut session, "WH1-B", "Зона B: хранение", "zone", Some(&main))?;
    let mut bins = Vec::new();
    for i in 1..=4 {
        bins.push(place(&mut session, &format!("WH1-B-{i:02}"), &format!("Ячейка B-{i:02}"), "bin", Some(&zone_b))?);
    }
    let run = |session: &mut Session, command: &str, input: Value| {
        lifecycle::run_command(platform, session, &scope, "warehouse", command, input)
    };
    for (n, (sku, name, price)) in super::demo_crm::PRODUCTS.iter().enumerate() {
        let cost = price.parse::<rust_decimal::Decimal>().unwrap_or_default() * rust_decimal::Decimal::new(6, 1);
        let product = create(
            &mut session,
            "product",
            json!({ "sku": sku, "name": name, "uom": "шт", "category": "Мебель", "sale_price": price,
                    "standard_cost": cost.round_dp(2).to_string(), "barcode": format!("46000000{n:05}") }),
        )?;
        // Two receipts at different costs, so FIFO has layers to show.
        for (qty, factor) in [(20 + n * 3, "0.58"), (15 + n * 2, "0.62")] {
            let unit = price.parse::<rust_decimal::Decimal>().unwrap_or_default()
                * factor.parse::<rust_decimal::Decimal>().unwrap_or_default();
            run(
                &mut session,
                "receive",
                json!({ "product": product, "quantity": qty.to_string(), "from_location": supplier, "to_location": zone_a,
                        "unit_cost": unit.round_dp(2).to_string(), "reference": format!("PO-{:03}", n + 1) }),
            )?;
        }
        if n % 3 == 0 {
            // Some products have a reorder rule they are below, so replenishment has proposals.
            create(
                &mut session,
                "reorder_rule",
                json!({ "product": product, "warehouse": main, "min_qty": "60", "max_qty": "120", "lead_days": 10 }),
            )?;
        }
        let bin = &bins[n % bins.len()];
        run(
            &mut session,
            "transfer",
            json!({ "product": product, "quantity": (25 + n).to_string(), "from_location": zone_a, "to_location": bin }),
        )?;
        run(
            &mut session,
            "issue",
            json!({ "product": product, "quantity": (5 + n % 4).to_string(), "from_location": bin, "to_location": customer,
                    "reference": format!("SO-{:03}", n + 1) }),
        )?;
    }
    session.commit()?;
    Ok(())
}
