//! The records of this plugin as it reads and writes them; field names match `plugin.toml`.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// `campaign`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Campaign {
    pub name: String,
    pub channel: String,
    pub status: Option<String>,
    pub budget: Option<Decimal>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
    pub lead_source: Option<String>,
}

/// `spend`: one day of one campaign.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Spend {
    pub campaign: String,
    pub date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    pub amount: Decimal,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impressions: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clicks: Option<i64>,
}

/// `touch`: a lead that came from a campaign.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Touch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    pub lead: String,
    pub campaign: String,
    pub at: String,
}

/// `conversion`: a won deal and the campaigns credited with it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Conversion {
    pub deal: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    pub amount: Decimal,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_touch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_touch: Option<String>,
    pub won_at: String,
}

/// `mailing`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Mailing {
    pub name: String,
    pub campaign: Option<String>,
    pub channel: Option<String>,
    pub subject: Option<String>,
    pub body: String,
    pub state: Option<String>,
}

/// `message`: one rendered message to one customer.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Message {
    pub mailing: String,
    pub customer: String,
    pub address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub body: String,
    pub status: String,
    pub history: Vec<erp_sdk::Value>,
}
