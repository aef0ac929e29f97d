//! The records of this plugin as it reads and writes them; field names match `plugin.toml`.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

fn yes() -> bool {
    true
}

/// `account`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Account {
    pub code: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default = "yes")]
    pub active: bool,
}

/// `journal`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Journal {
    pub code: String,
    pub name: String,
    pub kind: String,
}

/// `tax`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Tax {
    pub code: String,
    pub name: String,
    pub rate: Decimal,
    #[serde(default)]
    pub included: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sales_account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purchase_account: Option<String>,
}

/// One line of an `entry`: amounts in the entry's currency; `base`, when set, is the amount in
/// the company currency decided by the caller (payments at the invoice's rate, exchange
/// differences) instead of the converted amount.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryLine {
    pub account: String,
    #[serde(default)]
    pub debit: Decimal,
    #[serde(default)]
    pub credit: Decimal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memo: Option<String>,
}

/// `entry`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Entry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    pub journal: String,
    pub date: String,
    #[serde(default = "draft")]
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memo: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<Decimal>,
    pub lines: Vec<EntryLine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reversal_of: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub posted_at: Option<String>,
}

fn draft() -> String {
    "draft".into()
}

/// `line`: one posted line, in the company currency.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Line {
    pub entry: String,
    pub account: String,
    pub date: String,
    pub debit: Decimal,
    pub credit: Decimal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_currency: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memo: Option<String>,
}

/// `balance` and `daily`: the turnover of one account in one month or on one day.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Balance {
    pub key: String,
    pub debit: Decimal,
    pub credit: Decimal,
}

/// One line of an invoice or bill, as entered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvoiceLine {
    pub description: String,
    pub quantity: Decimal,
    pub price: Decimal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
}

/// The amounts of one invoice line as computed when it was entered, with the accounts its
/// tax goes to: posting and cancelling use these, whatever the tax records say later.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Computed {
    pub base: Decimal,
    pub tax: Decimal,
    pub total: Decimal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sales_account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purchase_account: Option<String>,
}

/// `invoice`: an invoice, bill, credit note or vendor credit.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Invoice {
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    pub partner: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_name: Option<String>,
    pub date: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<Decimal>,
    pub lines: Vec<InvoiceLine>,
    #[serde(default)]
    pub computed: Vec<Computed>,
    #[serde(default)]
    pub untaxed: Decimal,
    #[serde(default)]
    pub tax: Decimal,
    #[serde(default)]
    pub total: Decimal,
    #[serde(default)]
    pub residual: Decimal,
    #[serde(default = "draft")]
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

impl Invoice {
    /// Invoices and credit notes are the customer side; bills and vendor credits the vendor side.
    pub fn customer_side(&self) -> bool {
        matches!(self.kind.as_str(), "invoice" | "credit_note")
    }
}

/// `payment`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Payment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    pub direction: String,
    pub partner: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_name: Option<String>,
    pub date: String,
    pub amount: Decimal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<Decimal>,
    pub account: String,
    #[serde(default)]
    pub unallocated: Decimal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// `allocation`: part of a payment or a credit note set against an invoice or bill.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Allocation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit_note: Option<String>,
    pub invoice: String,
    pub amount: Decimal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<Decimal>,
    pub date: String,
}
