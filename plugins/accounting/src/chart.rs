//! Chart of accounts templates (the Russian chart with its common sub-accounts, and a
//! generic IFRS-style one) with their journals and taxes, loaded when the plugin is enabled.

use erp_sdk::store::{self, Filter, Query};
use erp_sdk::{Error, Result, Value, json};

use crate::model::Account;

/// `(code, name, type, role)`; a code `a.b` is a sub-account of `a`.
type Row = (&'static str, &'static str, &'static str, &'static str);

const RU: &[Row] = &[
    ("01", "Основные средства", "asset", ""),
    ("02", "Амортизация основных средств", "asset", ""),
    ("04", "Нематериальные активы", "asset", ""),
    ("05", "Амортизация нематериальных активов", "asset", ""),
    ("07", "Оборудование к установке", "asset", ""),
    ("08", "Вложения во внеоборотные активы", "asset", ""),
    ("09", "Отложенные налоговые активы", "asset", ""),
    ("10", "Материалы", "asset", ""),
    ("10.01", "Сырьё и материалы", "asset", ""),
    ("10.09", "Инвентарь и хозяйственные принадлежности", "asset", ""),
    ("19", "НДС по приобретённым ценностям", "asset", ""),
    ("19.03", "НДС по приобретённым материально-производственным запасам", "asset", "tax_receivable"),
    ("19.04", "НДС по приобретённым услугам", "asset", ""),
    ("20", "Основное производство", "asset", ""),
    ("20.01", "Основное производство", "asset", "production"),
    ("23", "Вспомогательные производства", "asset", ""),
    ("25", "Общепроизводственные расходы", "expense", ""),
    ("26", "Общехозяйственные расходы", "expense", "expense"),
    ("41", "Товары", "asset", ""),
    ("41.01", "Товары на складах", "asset", "inventory"),
    ("43", "Готовая продукция", "asset", ""),
    ("44", "Расходы на продажу", "expense", ""),
    ("50", "Касса", "asset", ""),
    ("50.01", "Касса организации", "asset", "cash"),
    ("51", "Расчётные счета", "asset", "bank"),
    ("52", "Валютные счета", "asset", ""),
    ("57", "Переводы в пути", "asset", ""),
    ("58", "Финансовые вложения", "asset", ""),
    ("60", "Расчёты с поставщиками и подрядчиками", "liability", ""),
    ("60.01", "Расчёты с поставщиками и подрядчиками", "liability", "payable"),
    ("60.02", "Расчёты по авансам выданным", "asset", ""),
    ("62", "Расчёты с покупателями и заказчиками", "asset", ""),
    ("62.01", "Расчёты с покупателями и заказчиками", "asset", "receivable"),
    ("62.02", "Расчёты по авансам полученным", "liability", ""),
    ("66", "Расчёты по краткосрочным кредитам и займам", "liability", ""),
    ("67", "Расчёты по долгосрочным кредитам и займам", "liability", ""),
    ("68", "Расчёты по налогам и сборам", "liability", ""),
    ("68.01", "Налог на доходы физических лиц", "liability", ""),
    ("68.02", "Налог на добавленную стоимость", "liability", "tax_payable"),
    ("68.04", "Налог на прибыль", "liability", ""),
    ("69", "Расчёты по социальному страхованию и обеспечению", "liability", ""),
    ("70", "Расчёты с персоналом по оплате труда", "liability", ""),
    ("71", "Расчёты с подотчётными лицами", "asset", ""),
    ("73", "Расчёты с персоналом по прочим операциям", "asset", ""),
    ("75", "Расчёты с учредителями", "liability", ""),
    ("76", "Расчёты с разными дебиторами и кредиторами", "liability", ""),
    ("76.09", "Расчёты за товары, поступившие без расчётных документов", "liability", "goods_received"),
    ("80", "Уставный капитал", "equity", ""),
    ("82", "Резервный капитал", "equity", ""),
    ("83", "Добавочный капитал", "equity", ""),
    ("84", "Нераспределённая прибыль (непокрытый убыток)", "equity", "retained_earnings"),
    ("86", "Целевое финансирование", "liability", ""),
    ("90", "Продажи", "income", ""),
    ("90.01", "Выручка", "income", "revenue"),
    ("90.02", "Себестоимость продаж", "expense", "cogs"),
    ("90.03", "Налог на добавленную стоимость", "expense", "sales_vat"),
    ("91", "Прочие доходы и расходы", "income", ""),
    ("91.01", "Прочие доходы", "income", "other_income"),
    ("91.02", "Прочие расходы", "expense", "other_expense"),
    ("94", "Недостачи и потери от порчи ценностей", "expense", "inventory_loss"),
    ("96", "Резервы предстоящих расходов", "liability", ""),
    ("97", "Расходы будущих периодов", "asset", ""),
    ("98", "Доходы будущих периодов", "liability", ""),
    ("99", "Прибыли и убытки", "equity", ""),
];

const IFRS: &[Row] = &[
    ("1000", "Cash on hand", "asset", "cash"),
    ("1010", "Bank accounts", "asset", "bank"),
    ("1100", "Trade receivables", "asset", "receivable"),
    ("1200", "Inventories", "asset", "inventory"),
    ("1250", "Work in progress", "asset", "production"),
    ("1300", "VAT recoverable", "asset", "tax_receivable"),
    ("1400", "Prepayments", "asset", ""),
    ("1500", "Property, plant and equipment", "asset", ""),
    ("1510", "Accumulated depreciation", "asset", ""),
    ("1600", "Intangible assets", "asset", ""),
    ("2000", "Trade payables", "liability", "payable"),
    ("2100", "Goods received not invoiced", "liability", "goods_received"),
    ("2200", "VAT payable", "liability", "tax_payable"),
    ("2300", "Employee benefits payable", "liability", ""),
    ("2400", "Income tax payable", "liability", ""),
    ("2500", "Borrowings", "liability", ""),
    ("2600", "Contract liabilities (advances received)", "liability", ""),
    ("3000", "Share capital", "equity", ""),
    ("3100", "Retained earnings", "equity", "retained_earnings"),
    ("4000", "Revenue", "income", "revenue"),
    ("4100", "Other income", "income", "other_income"),
    ("5000", "Cost of sales", "expense", "cogs"),
    ("5100", "Inventory losses", "expense", "inventory_loss"),
    ("6000", "Operating expenses", "expense", "expense"),
    ("6100", "Salaries", "expense", ""),
    ("6200", "Rent", "expense", ""),
    ("6300", "Depreciation", "expense", ""),
    ("6900", "Other expenses", "expense", "other_expense"),
];

/// `(code, ru name, en name, kind)`.
const JOURNALS: &[(&str, &str, &str, &str)] = &[
    ("SAL", "Продажи", "Sales", "sale"),
    ("PUR", "Покупки", "Purchases", "purchase"),
    ("BNK", "Банк", "Bank", "bank"),
    ("CSH", "Касса", "Cash", "cash"),
    ("STK", "Склад", "Stock", "stock"),
    ("GEN", "Операции", "General", "general"),
];

/// `(code, ru name, en name, rate, included)`; the 22% rates are Russia's from 2026.
const TAXES: &[(&str, &str, &str, &str, bool)] = &[
    ("VAT22", "НДС 22%", "VAT 22%", "22", false),
    ("VAT22INC", "НДС 22% (в т. ч.)", "VAT 22% included", "22", true),
    ("VAT20", "НДС 20%", "VAT 20%", "20", false),
    ("VAT20INC", "НДС 20% (в т. ч.)", "VAT 20% included", "20", true),
    ("VAT10", "НДС 10%", "VAT 10%", "10", false),
    ("VAT10INC", "НДС 10% (в т. ч.)", "VAT 10% included", "10", true),
    ("VAT0", "НДС 0%", "VAT 0%", "0", false),
];

fn existing(collection: &str, code: &str) -> Result<Option<String>> {
    Ok(store::first::<Value>(collection, Query::new().filter(Filter::eq("code", code)))?.map(|r| r.id))
}

fn account_id(role: &str, rows: &[Row]) -> Result<Option<String>> {
    match rows.iter().find(|r| r.3 == role) {
        Some(r) => existing("account", r.0),
        None => Ok(None),
    }
}

/// Loads a template; what exists (by code) is kept, so loading twice changes nothing.
/// Answers how many accounts, journals and taxes were added.
pub fn load(template: &str) -> Result<Value> {
    let (rows, ru) = match template {
        "ru" => (RU, true),
        "ifrs" => (IFRS, false),
        other => return Err(Error::invalid("template", format!("no chart template {other}; use ru or ifrs"))),
    };
    let mut added = (0, 0, 0);
    for (code, name, kind, role) in rows {
        if existing("account", code)?.is_some() {
            continue;
        }
        let parent = match code.rsplit_once('.') {
            Some((p, _)) => existing("account", p)?,
            None => None,
        };
        let account = Account {
            code: code.to_string(),
            name: name.to_string(),
            kind: kind.to_string(),
            parent,
            role: (!role.is_empty()).then(|| role.to_string()),
            active: true,
        };
        store::create("account", &account)?;
        added.0 += 1;
    }
    for (code, ru_name, en_name, kind) in JOURNALS {
        if existing("journal", code)?.is_none() {
            store::create::<Value>(
                "journal",
                &json!({ "code": code, "name": if ru { ru_name } else { en_name }, "kind": kind }),
            )?;
            added.1 += 1;
        }
    }
    let (sales, purchase) = (account_id("tax_payable", rows)?, account_id("tax_receivable", rows)?);
    for (code, ru_name, en_name, rate, included) in TAXES {
        if !ru && code.starts_with("VAT22") || existing("tax", code)?.is_some() {
            continue;
        }
        store::create::<Value>(
            "tax",
            &json!({ "code": code, "name": if ru { ru_name } else { en_name }, "rate": rate, "included": included,
                     "sales_account": sales, "purchase_account": purchase }),
        )?;
        added.2 += 1;
    }
    Ok(json!({ "template": template, "accounts": added.0, "journals": added.1, "taxes": added.2 }))
}

/// `kernel.plugin.enabled`: when this plugin is enabled for a company, its chart is loaded
/// from the configured template.
pub fn on_enabled(payload: &Value) -> Result<()> {
    if payload["plugin"].as_str() != Some("accounting") {
        return Ok(());
    }
    let template = crate::util::config().chart.unwrap_or_else(|| "ru".into());
    load(&template).map(|_| ())
}
