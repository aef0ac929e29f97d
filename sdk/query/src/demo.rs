//! The demo protocol: how the kernel asks a plugin to fill a demo company with sample data.
//!
//! A plugin that declares `[demo]` in its manifest is called with [`DEMO_COMMAND`] and a
//! [`DemoRequest`], one step at a time, until it answers [`DemoAnswer::done`]. Each answer may
//! carry state (ids made so far) that the next step receives back, so a large demo is made of
//! calls that each stay well inside a plugin call's limits.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The command name the demo arrives under. Declared command names are lower-case slugs, so no
/// manifest can declare it and no client can call it through the API.
pub const DEMO_COMMAND: &str = "erp:demo";

/// Most steps one plugin's demo may take before the kernel gives up on it.
pub const MAX_DEMO_STEPS: u32 = 1_000;

/// A member of the demo company, for plugins that assign work to people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoPerson {
    /// The user's id.
    pub user_id: String,
    /// Display name.
    pub name: String,
    /// Login e-mail.
    pub email: String,
    /// Role in the company (`owner`, `admin`, `member` or a custom role).
    pub role: String,
}

/// One step of a plugin's demo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DemoRequest {
    /// 0 for the first call, then one more on each call.
    pub step: u32,
    /// Today's date in UTC, `YYYY-MM-DD`, so that the demo's dates lie around it.
    pub today: String,
    /// The company's members, owner first.
    #[serde(default)]
    pub people: Vec<DemoPerson>,
    /// What the previous step answered as its state; `null` on the first step.
    #[serde(default)]
    pub state: Value,
}

/// A plugin's answer to one demo step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DemoAnswer {
    /// True when the demo is complete; otherwise the kernel calls the next step.
    pub done: bool,
    /// State handed to the next step.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub state: Value,
}

impl DemoAnswer {
    /// The demo is complete.
    pub fn done() -> DemoAnswer {
        DemoAnswer { done: true, state: Value::Null }
    }

    /// Another step follows, receiving `state`.
    pub fn next(state: Value) -> DemoAnswer {
        DemoAnswer { done: false, state }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_and_answers_round_trip() {
        let request = DemoRequest {
            step: 2,
            today: "2026-12-05".into(),
            people: vec![DemoPerson {
                user_id: "u1".into(),
                name: "Анна".into(),
                email: "anna@example.com".into(),
                role: "member".into(),
            }],
            state: json!({ "customers": ["c1"] }),
        };
        let text = serde_json::to_string(&request).unwrap();
        assert_eq!(serde_json::from_str::<DemoRequest>(&text).unwrap(), request);
        for answer in [DemoAnswer::done(), DemoAnswer::next(json!({ "n": 3 }))] {
            let text = serde_json::to_string(&answer).unwrap();
            assert_eq!(serde_json::from_str::<DemoAnswer>(&text).unwrap(), answer);
        }
        assert_eq!(serde_json::to_value(DemoAnswer::done()).unwrap(), json!({ "done": true }));
    }

    #[test]
    fn the_demo_command_cannot_be_declared() {
        assert!(DEMO_COMMAND.contains(':'), "declared command names are slugs without ':'");
    }
}
