//! Sample stock for `erp serve --demo`: a warehouse with zones and bins, the virtual
//! locations, a dozen furniture products (the SKUs the CRM demo sells) with reorder rules, and
//! receipts, transfers and issues, so stock, valuation and the ledger are real. Won demo deals
//! reserve this stock once the event bus runs; one order is shipped with its delivery note and
//! picking list printed.

use erp_sdk::{DemoAnswer, DemoRequest, Plugin, Result, Value, json, store};
use rust_decimal::Decimal;

use crate::Warehouse;

/// (SKU, name, sale price): the same catalogue the CRM demo's customers buy from.
const PRODUCTS: &[(&str, &str, &str)] = &[
    ("CHAIR-01", "Офисный стул", "6500.00"),
    ("DESK-01", "Письменный стол", "18900.00"),
    ("LAMP-01", "Настольная лампа", "2300.00"),
    ("SHELF-01", "Стеллаж", "9900.00"),
    ("CABINET-01", "Тумба", "7400.00"),
    ("SOFA-01", "Диван", "45900.00"),
    ("ARMCHAIR-01", "Кресло", "21500.00"),
    ("RUG-01", "Ковёр", "8800.00"),
    ("MIRROR-01", "Зеркало", "5600.00"),
    ("HANGER-01", "Вешалка", "3100.00"),
    ("BOARD-01", "Маркерная доска", "4700.00"),
    ("PARTITION-01", "Перегородка", "12600.00"),
];

fn create(collection: &str, data: Value) -> Result<String> {
    Ok(store::create::<Value>(collection, &data)?.id)
}

fn place(code: &str, name: &str, kind: &str, parent: Option<&str>) -> Result<String> {
    create("location", json!({ "code": code, "name": name, "kind": kind, "parent": parent }))
}

/// `price × factor`, to the kopeck.
fn times(price: &str, factor: Decimal) -> String {
    (price.parse::<Decimal>().unwrap_or_default() * factor).round_dp(2).to_string()
}

/// Places, products and their movements, in one step.
pub fn step(_request: &DemoRequest) -> Result<DemoAnswer> {
    let supplier = place("SUP", "Поставщики", "supplier", None)?;
    let customer = place("CUS", "Покупатели", "customer", None)?;
    place("LOSS", "Недостачи и излишки", "loss", None)?;
    let main = place("WH1", "Основной склад", "warehouse", None)?;
    let zone_a = place("WH1-A", "Зона A: приёмка", "zone", Some(&main))?;
    let zone_b = place("WH1-B", "Зона B: хранение", "zone", Some(&main))?;
    let mut bins = Vec::new();
    for i in 1..=4 {
        bins.push(place(&format!("WH1-B-{i:02}"), &format!("Ячейка B-{i:02}"), "bin", Some(&zone_b))?);
    }
    let mut catalogue = Vec::new();
    for (n, (sku, name, price)) in PRODUCTS.iter().enumerate() {
        let product = create(
            "product",
            json!({ "sku": sku, "name": name, "uom": "шт", "category": "Мебель", "sale_price": price,
                    "standard_cost": times(price, Decimal::new(6, 1)), "barcode": format!("46000000{n:05}") }),
        )?;
        // Two receipts at different costs, so FIFO has layers to show.
        for (qty, factor) in [(20 + n * 3, Decimal::new(58, 2)), (15 + n * 2, Decimal::new(62, 2))] {
            Warehouse::command(
                "receive",
                json!({ "product": product, "quantity": qty.to_string(), "from_location": supplier, "to_location": zone_a,
                        "unit_cost": times(price, factor), "reference": format!("PO-{:03}", n + 1) }),
            )?;
        }
        if n % 3 == 0 {
            // Some products have a reorder rule they are below, so replenishment has proposals.
            create(
                "reorder_rule",
                json!({ "product": product, "warehouse": main, "min_qty": "60", "max_qty": "120", "lead_days": 10 }),
            )?;
        }
        catalogue.push(product.clone());
        let bin = &bins[n % bins.len()];
        Warehouse::command(
            "transfer",
            json!({ "product": product, "quantity": (25 + n).to_string(), "from_location": zone_a, "to_location": bin }),
        )?;
        Warehouse::command(
            "issue",
            json!({ "product": product, "quantity": (5 + n % 4).to_string(), "from_location": bin, "to_location": customer,
                    "reference": format!("SO-{:03}", n + 1) }),
        )?;
    }
    // An order picked and shipped with its delivery note and picking list printed.
    for (product, qty) in catalogue.iter().zip(["4", "2", "6"]) {
        Warehouse::command("reserve", json!({ "product": product, "quantity": qty, "reference": "ЗК-0042" }))?;
    }
    let delivered = Warehouse::command("deliver", json!({ "reference": "ЗК-0042", "to_location": customer }))?;
    let shipment = delivered["shipment"].clone();
    Warehouse::command("print-shipment", json!({ "id": shipment, "form": "picking_list", "language": "ru" }))?;
    Warehouse::command("print-shipment", json!({ "id": shipment, "form": "delivery_note" }))?;
    Ok(DemoAnswer::done())
}
