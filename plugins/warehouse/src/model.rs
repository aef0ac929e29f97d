//! The records of this plugin as it reads and writes them; field names match `plugin.toml`.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// `product`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Product {
    pub sku: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub standard_cost: Option<Decimal>,
}

/// `location`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Location {
    pub name: String,
    pub code: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
}

impl Location {
    /// Stock held by the company: warehouses, zones and bins. The rest are virtual places
    /// goods come from or go to.
    pub fn is_internal(&self) -> bool {
        matches!(self.kind.as_str(), "warehouse" | "zone" | "bin")
    }
}

/// `move`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Move {
    pub kind: String,
    pub product: String,
    pub quantity: Decimal,
    pub from_location: String,
    pub to_location: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit_cost: Option<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lot: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub done_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Move {
    /// `draft`, `done` or `cancelled`.
    pub fn state(&self) -> &str {
        self.state.as_deref().unwrap_or("draft")
    }
}

/// `quant`: on hand of one product in one location.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Quant {
    pub key: String,
    pub product: String,
    pub location: String,
    pub quantity: Decimal,
}

/// `cost`: the valued stock of one product, company-wide.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Cost {
    pub key: String,
    pub product: String,
    pub quantity: Decimal,
    pub value: Decimal,
}

/// `layer`: what is left of one receipt, for FIFO.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Layer {
    pub product: String,
    #[serde(rename = "move")]
    pub move_id: String,
    pub at: String,
    pub unit_cost: Decimal,
    pub remaining: Decimal,
}

/// `ledger`: one valuation entry of a done move.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Entry {
    #[serde(rename = "move")]
    pub move_id: String,
    pub product: String,
    pub quantity: Decimal,
    pub value: Decimal,
    pub at: String,
}

/// `reservation`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Reservation {
    pub product: String,
    pub quantity: Decimal,
    pub requested: Decimal,
    pub reference: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}
