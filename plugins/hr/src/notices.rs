//! What HR tells people: a leave request waiting for its approver, the decision on one's own
//! request, and a task assigned. Nobody is told about what they did themselves, and someone
//! who is no longer a member of the company is skipped (the work itself stands).

use erp_sdk::notify::{Importance, Notification};
use erp_sdk::store::{self, Record};
use erp_sdk::{Error, Event, Result, log};

use crate::model::{Employee, LeaveRequest};

/// Sends `note` to `user` unless it is the person acting or nobody.
fn tell(user: Option<&str>, note: Notification) -> Result<()> {
    let Some(user) = user.filter(|u| !u.is_empty()) else { return Ok(()) };
    if erp_sdk::context::current().user_id.as_deref() == Some(user) {
        return Ok(());
    }
    match note.to(user).send() {
        Ok(_) => Ok(()),
        Err(Error::Invalid(_)) => {
            log::warn(&format!("{user} is not a member of this company; not told"));
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// A date as Russian readers write it (`06.07.2026`).
fn ru_date(day: &str) -> String {
    match day.split('-').collect::<Vec<_>>()[..] {
        [y, m, d] => format!("{d}.{m}.{y}"),
        _ => day.to_string(),
    }
}

/// A date as English readers of the UI see it (`6 Jul 2026`).
fn en_date(day: &str) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    match day.split('-').collect::<Vec<_>>()[..] {
        [y, m, d] => match (m.parse::<usize>().ok().and_then(|m| MONTHS.get(m.wrapping_sub(1))), d.parse::<u32>()) {
            (Some(month), Ok(d)) => format!("{d} {month} {y}"),
            _ => day.to_string(),
        },
        _ => day.to_string(),
    }
}

/// A new request goes to the employee's manager to approve.
pub fn leave_to_approve(e: &Record<Employee>, request_id: &str, from: &str, to: &str) -> Result<()> {
    let Some(manager) = e.data.manager.as_deref() else { return Ok(()) };
    let manager = store::get::<Employee>("employee", manager)?;
    let note = Notification::new("hr.leave_to_approve")
        .title("en", &format!("Leave to approve: {}, {} – {}", e.data.name, en_date(from), en_date(to)))
        .title("ru", &format!("Отпуск на согласование: {}, {} – {}", e.data.name, ru_date(from), ru_date(to)))
        .link("leave_request", request_id);
    tell(manager.data.user_id.as_deref(), note)
}

/// The requester learns the decision.
pub fn leave_decided(req: &Record<LeaveRequest>, approved: bool, comment: Option<&str>) -> Result<()> {
    let (en, ru) =
        if approved { ("approved", "согласован") } else { ("refused", "не согласован") };
    let (from, to) = (&req.data.from, &req.data.to);
    let comment = comment.unwrap_or_default();
    let note = Notification::new("hr.leave_decided")
        .title("en", &format!("Your leave {} – {} is {en}", en_date(from), en_date(to)))
        .title("ru", &format!("Ваш отпуск {} – {} {ru}", ru_date(from), ru_date(to)))
        .body("en", comment)
        .body("ru", comment)
        .link("leave_request", &req.id)
        .importance(if approved { Importance::Normal } else { Importance::High });
    tell(req.data.user_id.as_deref(), note)
}

/// The synchronous handler of `hr.task.created` and `hr.task.updated`: whoever a task is
/// newly given to is told.
pub fn on_task_changed(event: &Event) -> Result<()> {
    let change = event.record_change()?;
    let Some(after) = change.after else { return Ok(()) };
    let before = change.before.as_ref().and_then(|b| b.get("assignee")).and_then(|v| v.as_str());
    let Some(assignee) = after.get("assignee").and_then(|v| v.as_str()) else { return Ok(()) };
    let open = after.get("state").and_then(|v| v.as_str()).is_none_or(|s| s == "open");
    if before == Some(assignee) || !open {
        return Ok(());
    }
    let employee = store::get::<Employee>("employee", assignee)?;
    let title = after.get("title").and_then(|v| v.as_str()).unwrap_or_default();
    let note = Notification::new("hr.task_assigned")
        .title("en", &format!("New task for you: {title}"))
        .title("ru", &format!("Вам новая задача: {title}"))
        .link("task", &change.id);
    tell(employee.data.user_id.as_deref(), note)
}
