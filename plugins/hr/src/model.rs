//! The records of this plugin as it reads and writes them; field names match `plugin.toml`.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// `employee` (the fields the plugin works with).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Employee {
    pub name: String,
    pub user_id: Option<String>,
    pub department: Option<String>,
    pub position: Option<String>,
    pub manager: Option<String>,
    pub hire_date: Option<String>,
    pub status: Option<String>,
    pub schedule: Option<String>,
    pub team: Option<String>,
    pub skills: Option<Vec<String>>,
}

impl Employee {
    /// Working here now (not suspended or gone).
    pub fn active(&self) -> bool {
        self.status.as_deref().is_none_or(|s| s == "active")
    }
}

/// `schedule`: hours per weekday, Monday first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Schedule {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub mon: Decimal,
    #[serde(default)]
    pub tue: Decimal,
    #[serde(default)]
    pub wed: Decimal,
    #[serde(default)]
    pub thu: Decimal,
    #[serde(default)]
    pub fri: Decimal,
    #[serde(default)]
    pub sat: Decimal,
    #[serde(default)]
    pub sun: Decimal,
    #[serde(default)]
    pub start: Option<String>,
    #[serde(default)]
    pub end: Option<String>,
}

impl Default for Schedule {
    /// Five days of eight hours, from nine: the schedule of anyone without one.
    fn default() -> Schedule {
        let eight = Decimal::new(8, 0);
        Schedule {
            code: String::new(),
            mon: eight,
            tue: eight,
            wed: eight,
            thu: eight,
            fri: eight,
            sat: Decimal::ZERO,
            sun: Decimal::ZERO,
            start: Some("09:00".into()),
            end: Some("18:00".into()),
        }
    }
}

/// `holiday`: a day off, or a working day moved onto a weekend.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Holiday {
    pub date: String,
    pub name: String,
    pub kind: Option<String>,
    pub hours: Option<Decimal>,
}

/// `leave_type`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LeaveType {
    pub code: String,
    pub name: String,
    pub paid: Option<bool>,
    pub allow_negative: Option<bool>,
    pub needs_allocation: Option<bool>,
}

/// `allocation`: days of a leave type per year, accrued monthly or given up front.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Allocation {
    pub employee: String,
    pub user_id: Option<String>,
    pub leave_type: String,
    pub year: i32,
    pub days: Decimal,
    pub accrual: Option<String>,
}

/// `leave_request`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LeaveRequest {
    pub employee: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    pub leave_type: String,
    pub from: String,
    pub to: String,
    pub days: Decimal,
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// `attendance`: one interval at work.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Attendance {
    pub employee: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    pub start: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    pub open: bool,
}

/// `task`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Task {
    pub title: String,
    pub estimate: Decimal,
    pub skill: Option<String>,
    pub team: Option<String>,
    pub due: Option<String>,
    pub assignee: Option<String>,
    pub state: Option<String>,
}
