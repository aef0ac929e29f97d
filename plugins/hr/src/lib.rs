//! The HR plugin: employees and departments, work schedules and holidays, time tracking
//! with an attendance report, leave allocations and requests with manager approval, the
//! absence calendar (and `hr.absence.changed` for other plugins), and workload-based task
//! distribution.
//!
//! Written with the SDK only. See `README.md` for the collections, commands, events and
//! permissions.

mod absence;
mod calendar;
mod demo;
mod leave;
mod model;
mod notices;
mod people;
mod tasks;
mod time;
mod util;

use erp_sdk::{Error, Event, Plugin, Result, Value, WriteCheck};

/// The plugin.
pub struct Hr;

impl Plugin for Hr {
    fn demo(request: &erp_sdk::DemoRequest) -> Result<erp_sdk::DemoAnswer> {
        demo::step(request)
    }

    fn command(name: &str, input: Value) -> Result<Value> {
        match name {
            "my-profile" => people::my_profile(),
            "expected-hours" => calendar::expected(input),
            "clock-in" => time::clock_in(input),
            "clock-out" => time::clock_out(input),
            "log-time" => time::log_time(input),
            "attendance" => time::attendance(input),
            "allocate" => leave::allocate(input),
            "request-leave" => leave::request(input),
            "decide-leave" => leave::decide(input),
            "cancel-leave" => leave::cancel(input),
            "team-requests" => leave::team_requests(),
            "balance" => leave::balance(input),
            "absences" => absence::calendar(input),
            "distribute" => tasks::distribute(input),
            "workload" => tasks::workload(input),
            other => Err(Error::not_found(format!("command {other}"))),
        }
    }

    fn validate(check: &WriteCheck) -> Result<()> {
        let Some(after) = &check.after else { return Ok(()) };
        match check.collection.as_str() {
            "employee" => people::validate_employee(&check.record_id, after),
            "department" => people::validate_department(&check.record_id, after),
            "schedule" => people::validate_schedule(after),
            "task" => tasks::validate(check.before.as_ref(), after),
            _ => Ok(()),
        }
    }

    fn schedule(name: &str) -> Result<()> {
        match name {
            "presence" => absence::check_all(),
            other => Err(Error::not_found(format!("schedule {other}"))),
        }
    }

    fn event(handler: &str, event: &Event) -> Result<()> {
        match handler {
            "task-changed" => notices::on_task_changed(event),
            other => Err(Error::not_found(format!("event handler {other}"))),
        }
    }
}

erp_sdk::export_plugin!(Hr);
