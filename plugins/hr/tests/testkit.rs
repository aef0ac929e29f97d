//! The HR plugin in the SDK test kit: working days across weekends, holidays and moved
//! working days; overlapping and over-balance requests; approval by the manager only;
//! attendance deviations; least-loaded assignment on a hand-computed example that never
//! picks someone who is away.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use erp_sdk::{Error, Value, json};
use erp_testkit::{TestKernel, package};

fn kernel() -> TestKernel {
    TestKernel::for_package(package(env!("CARGO_MANIFEST_DIR")).expect("builds")).expect("plugin loads")
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

const SELF: &[&str] = &["hr.self", "hr.employee.read", "hr.leave.approve", "hr.task.work"];

/// Who works here: a manager and two of her reports, with users.
struct Office {
    boss: String,
    anna: String,
    oleg: String,
    annual: String,
    unpaid: String,
}

fn office(k: &TestKernel) -> Office {
    let dept = id(&k.create("department", json!({ "code": "SALES", "name": "Продажи" })).unwrap());
    let emp = |name: &str, user: &str, manager: Option<&str>| {
        let mut body = json!({ "name": name, "user_id": user, "department": dept, "hire_date": "2020-01-01",
                               "birth_date": "1990-05-05", "personal_phone": "+7 900 000-00-00" });
        if let Some(m) = manager {
            body["manager"] = json!(m);
        }
        id(&k.create("employee", body).unwrap())
    };
    let boss = emp("Мария Петрова", "u-boss", None);
    let anna = emp("Анна Смирнова", "u-anna", Some(&boss));
    let oleg = emp("Олег Волков", "u-oleg", Some(&boss));
    let annual = id(&k.create("leave_type", json!({ "code": "ANNUAL", "name": "Ежегодный отпуск" })).unwrap());
    let unpaid = id(&k
        .create(
            "leave_type",
            json!({ "code": "UNPAID", "name": "Без сохранения", "paid": false, "needs_allocation": false }),
        )
        .unwrap());
    for e in [&boss, &anna, &oleg] {
        for year in [2026, 2027] {
            k.command("allocate", json!({ "employee": e, "leave_type": "ANNUAL", "year": year, "days": 28 })).unwrap();
        }
    }
    Office { boss, anna, oleg, annual, unpaid }
}

fn invalid_on(e: Error, field: &str) -> String {
    match e {
        Error::Invalid(fields) => {
            let f = fields.iter().find(|f| f.field == field).unwrap_or_else(|| panic!("no {field} in {fields:?}"));
            f.message.clone()
        }
        other => panic!("expected invalid {field}, got {other:?}"),
    }
}

#[test]
fn leave_counts_working_days_across_weekends_holidays_and_moved_days() {
    let k = kernel();
    let o = office(&k);
    for day in 1..=8 {
        k.create("holiday", json!({ "date": format!("2027-01-{day:02}"), "name": "Новогодние каникулы" })).unwrap();
    }
    k.create("holiday", json!({ "date": "2027-01-09", "name": "Рабочая суббота", "kind": "workday" })).unwrap();
    // Mon 28 Dec .. Mon 11 Jan: 28-31 Dec (4), the moved Saturday 9 Jan, Monday 11 Jan.
    let r = k
        .command_as_user(
            "u-anna",
            SELF,
            "request-leave",
            json!({ "leave_type": "UNPAID", "from": "2026-12-28", "to": "2027-01-11" }),
        )
        .unwrap();
    assert_eq!(r["days"], "6");
    // Annual leave over the new year takes each year's days from that year: split it.
    let across = k
        .command_as_user(
            "u-oleg",
            SELF,
            "request-leave",
            json!({ "leave_type": "ANNUAL", "from": "2026-12-28", "to": "2027-01-11" }),
        )
        .unwrap_err();
    assert!(invalid_on(across, "to").contains("split"));
    let hours =
        k.command("expected-hours", json!({ "employee": o.anna, "from": "2027-01-08", "to": "2027-01-10" })).unwrap();
    let per_day: Vec<&str> = hours["days"].as_array().unwrap().iter().map(|d| d["hours"].as_str().unwrap()).collect();
    assert_eq!(per_day, ["0", "8", "0"]);
    // A weekend alone has no working days to take.
    let e = k
        .command_as_user(
            "u-oleg",
            SELF,
            "request-leave",
            json!({ "leave_type": "ANNUAL", "from": "2026-03-07", "to": "2026-03-08" }),
        )
        .unwrap_err();
    invalid_on(e, "from");
    let _ = (o.boss, o.annual, o.unpaid);
}

#[test]
fn overlapping_and_over_balance_requests_are_refused() {
    let k = kernel();
    let _o = office(&k);
    let ask = |from: &str, to: &str, kind: &str| {
        k.command_as_user("u-anna", SELF, "request-leave", json!({ "leave_type": kind, "from": from, "to": to }))
    };
    // By 6 March seven days have accrued (28 a year, monthly: 3 x 28 / 12).
    let first = ask("2026-03-02", "2026-03-06", "ANNUAL").unwrap();
    assert_eq!(first["days"], "5");
    assert!(invalid_on(ask("2026-03-05", "2026-03-10", "ANNUAL").unwrap_err(), "from").contains("overlaps"));
    let msg = invalid_on(ask("2026-03-09", "2026-03-13", "ANNUAL").unwrap_err(), "to");
    assert!(msg.contains("2 available"), "{msg}");
    // Unpaid leave is not limited by an allocation.
    ask("2026-03-09", "2026-03-13", "UNPAID").unwrap();
    let b = k.command_as_user("u-anna", SELF, "balance", json!({ "at": "2026-03-31" })).unwrap();
    let annual = b["types"].as_array().unwrap().iter().find(|t| t["code"] == "ANNUAL").unwrap().clone();
    assert_eq!(
        (annual["accrued"].as_str(), annual["pending"].as_str(), annual["available"].as_str()),
        (Some("7"), Some("5"), Some("2"))
    );
    // Withdrawn, the days come back.
    k.command_as_user("u-anna", SELF, "cancel-leave", json!({ "id": id(&first) })).unwrap();
    ask("2026-03-09", "2026-03-13", "ANNUAL").unwrap_err(); // still overlaps the unpaid leave
    ask("2026-03-16", "2026-03-20", "ANNUAL").unwrap();
}

#[test]
fn only_the_manager_approves_and_never_for_herself() {
    let k = kernel();
    let o = office(&k);
    let req = k
        .command_as_user(
            "u-anna",
            SELF,
            "request-leave",
            json!({ "leave_type": "ANNUAL", "from": "2026-07-06", "to": "2026-07-10" }),
        )
        .unwrap();
    // Anna cannot approve her own, Oleg is not her manager.
    let own = k.command_as_user("u-anna", SELF, "decide-leave", json!({ "id": id(&req), "approve": true }));
    assert!(matches!(own, Err(Error::AccessDenied(_))), "{own:?}");
    let peer = k.command_as_user("u-oleg", SELF, "decide-leave", json!({ "id": id(&req), "approve": true }));
    assert!(matches!(peer, Err(Error::NotFound(_))), "{peer:?}");
    let team = k.command_as_user("u-boss", SELF, "team-requests", json!({})).unwrap();
    assert_eq!(team["requests"].as_array().unwrap().len(), 1);
    k.command_as_user("u-boss", SELF, "decide-leave", json!({ "id": id(&req), "approve": true })).unwrap();
    let again = k.command_as_user("u-boss", SELF, "decide-leave", json!({ "id": id(&req), "approve": false }));
    invalid_on(again.unwrap_err(), "id");
    let approved = k.events().unwrap().into_iter().find(|(n, _)| n == "hr.leave.approved").unwrap().1;
    assert_eq!((approved["user_id"].as_str(), approved["days"].as_str()), (Some("u-anna"), Some("5")));
    // The boss's own request waits for HR; HR cannot approve it as her either.
    let hers = k
        .command_as_user(
            "u-boss",
            SELF,
            "request-leave",
            json!({ "leave_type": "ANNUAL", "from": "2026-08-03", "to": "2026-08-04" }),
        )
        .unwrap();
    let as_self = k.command_as_user(
        "u-boss",
        &["hr.manage", "hr.leave.approve"],
        "decide-leave",
        json!({ "id": id(&hers), "approve": true }),
    );
    assert!(matches!(as_self, Err(Error::AccessDenied(_))));
    k.command("decide-leave", json!({ "id": id(&hers), "approve": true })).unwrap();
    let calendar = k.command("absences", json!({ "from": "2026-07-01", "to": "2026-08-31" })).unwrap();
    assert_eq!(calendar["absences"].as_array().unwrap().len(), 2);
    let staff =
        k.command_as_user("u-oleg", SELF, "absences", json!({ "from": "2026-07-01", "to": "2026-08-31" })).unwrap();
    assert_eq!(staff["absences"][0]["leave_type"], Value::Null, "the kind of leave is for HR");
    let _ = (o.oleg, o.boss);
}

#[test]
fn approvers_and_assignees_are_told() {
    let k = kernel();
    let boss_user = k.owner_id().to_string();
    let boss = id(&k.create("employee", json!({ "name": "Мария Петрова", "user_id": boss_user })).unwrap());
    let anna =
        id(&k.create("employee", json!({ "name": "Анна Смирнова", "user_id": "u-anna", "manager": boss })).unwrap());
    k.create("leave_type", json!({ "code": "UNPAID", "name": "Без сохранения", "needs_allocation": false })).unwrap();
    // Anna asks; her manager is told, with a link to the request.
    let req = k
        .command_as_user(
            "u-anna",
            SELF,
            "request-leave",
            json!({ "leave_type": "UNPAID", "from": "2026-07-06", "to": "2026-07-10" }),
        )
        .unwrap();
    let told = k.notifications(&boss_user).unwrap();
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["kind"], "hr.leave_to_approve");
    assert_eq!(told[0]["title"], "Leave to approve: Анна Смирнова, 6 Jul 2026 – 10 Jul 2026");
    assert_eq!(told[0]["link"]["collection"], "leave_request");
    assert_eq!(told[0]["link"]["record"], id(&req).as_str());
    // Deciding tells Anna (who is no member of the test company, so she is skipped and the
    // decision stands); the boss is not told about her own decision.
    k.command_as_user(&boss_user, SELF, "decide-leave", json!({ "id": id(&req), "approve": true })).unwrap();
    assert_eq!(k.notifications(&boss_user).unwrap().len(), 1);
    // A task given to the boss tells her once; giving it to her again does not.
    let task = id(&k.create("task", json!({ "title": "Собрать шкаф", "estimate": "2", "assignee": anna })).unwrap());
    k.update("task", &task, json!({ "assignee": boss })).unwrap();
    k.update("task", &task, json!({ "estimate": "3" })).unwrap();
    let told = k.notifications(&boss_user).unwrap();
    assert_eq!(told.len(), 2, "{told:?}");
    assert_eq!(told[0]["kind"], "hr.task_assigned");
    assert_eq!(told[0]["title"], "New task for you: Собрать шкаф");
    assert_eq!(told[0]["link"]["record"], task.as_str());
}

#[test]
fn personal_data_and_others_time_stay_private() {
    let k = kernel();
    let o = office(&k);
    let me = k.command_as_user("u-anna", SELF, "my-profile", json!({})).unwrap();
    assert_eq!(me["data"]["birth_date"], "1990-05-05");
    let other = k.command_as_user(
        "u-anna",
        SELF,
        "attendance",
        json!({ "employee": o.oleg, "from": "2026-03-01", "to": "2026-03-02" }),
    );
    assert!(matches!(other, Err(Error::NotFound(_))));
    // The manager sees her reports' attendance.
    k.command_as_user(
        "u-boss",
        SELF,
        "attendance",
        json!({ "employee": o.anna, "from": "2026-03-01", "to": "2026-03-02" }),
    )
    .unwrap();
    // Only HR clocks someone else, or at another time.
    let for_other = k.command_as_user("u-anna", SELF, "clock-in", json!({ "employee": o.oleg }));
    assert!(matches!(for_other, Err(Error::NotFound(_))));
    let backdated = k.command_as_user("u-anna", SELF, "clock-in", json!({ "at": "2026-03-02T06:00:00Z" }));
    assert!(matches!(backdated, Err(Error::AccessDenied(_))));
}

#[test]
fn attendance_shows_late_early_missing_and_overtime() {
    let k = kernel();
    let o = office(&k);
    let clock = |cmd: &str, at: &str| k.command(cmd, json!({ "employee": o.anna, "at": at }));
    // The test company has not chosen a time zone in its settings, so it is in UTC.
    // Monday: in at 09:20, out at 17:00.
    clock("clock-in", "2026-03-02T09:20:00Z").unwrap();
    invalid_on(clock("clock-in", "2026-03-02T09:30:00Z").unwrap_err(), "employee");
    clock("clock-out", "2026-03-02T17:00:00Z").unwrap();
    // Tuesday: 08:50 to 20:00.
    clock("clock-in", "2026-03-03T08:50:00Z").unwrap();
    invalid_on(clock("clock-out", "2026-03-03T08:00:00Z").unwrap_err(), "at");
    clock("clock-out", "2026-03-03T20:00:00Z").unwrap();
    // Wednesday: in, never out. Thursday: not there.
    clock("clock-in", "2026-03-04T09:00:00Z").unwrap();
    k.command("log-time", json!({ "employee": o.anna, "date": "2026-03-02", "hours": 7, "project": "CRM" })).unwrap();
    invalid_on(
        k.command("log-time", json!({ "employee": o.anna, "date": "2026-03-02", "hours": 18 })).unwrap_err(),
        "hours",
    );
    let r = k.command("attendance", json!({ "employee": o.anna, "from": "2026-03-02", "to": "2026-03-05" })).unwrap();
    let d = r["days"].as_array().unwrap();
    assert_eq!((d[0]["late_minutes"].as_i64(), d[0]["early_leave_minutes"].as_i64()), (Some(20), Some(60)));
    assert_eq!((d[0]["worked"].as_str(), d[0]["logged"].as_str()), (Some("7.67"), Some("7")));
    assert_eq!(
        (d[1]["worked"].as_str(), d[1]["overtime"].as_str(), d[1]["late_minutes"].as_i64()),
        (Some("11.17"), Some("3.17"), Some(0))
    );
    assert_eq!(d[2]["missing_clock_out"], true);
    assert_eq!(d[3]["absent"], true);
    assert_eq!(r["totals"]["expected"], "32");
    assert_eq!((r["totals"]["late_days"].as_i64(), r["totals"]["missing_clock_outs"].as_i64()), (Some(1), Some(1)));
}

#[test]
fn tasks_go_to_the_least_loaded_present_employee() {
    let k = kernel();
    let full = id(&k
        .create("schedule", json!({ "code": "FULL7", "name": "8 часов каждый день", "sat": "8", "sun": "8" }))
        .unwrap());
    let part = id(&k
        .create(
            "schedule",
            json!({ "code": "HALF7", "name": "4 часа каждый день",
            "mon": "4", "tue": "4", "wed": "4", "thu": "4", "fri": "4", "sat": "4", "sun": "4" }),
        )
        .unwrap());
    let emp = |name: &str, user: &str, schedule: &str| {
        id(&k
            .create("employee", json!({ "name": name, "user_id": user, "schedule": schedule, "skills": ["furniture"], "team": "assembly" }))
            .unwrap())
    };
    let a = emp("A", "u-a", &full);
    let b = emp("B", "u-b", &full);
    let c = emp("C", "u-c", &part);
    let task = |title: &str, hours: &str, assignee: Option<&str>| {
        let mut body = json!({ "title": title, "estimate": hours, "skill": "furniture" });
        if let Some(x) = assignee {
            body["assignee"] = json!(x);
        }
        id(&k.create("task", body).unwrap())
    };
    task("old A", "14", Some(&a));
    task("old C", "6", Some(&c));
    // B is away from yesterday to the day after tomorrow.
    k.create("leave_type", json!({ "code": "UNPAID", "name": "Без сохранения", "needs_allocation": false })).unwrap();
    // Days in the company's time zone, as the plugin counts them: the test company has not
    // chosen one in its settings, so it is in UTC.
    let today = chrono::Utc::now().date_naive();
    let day = |n: i64| (today + chrono::Duration::days(n)).format("%Y-%m-%d").to_string();
    let leave = k
        .command("request-leave", json!({ "employee": b, "leave_type": "UNPAID", "from": day(-1), "to": day(2) }))
        .unwrap();
    k.command("decide-leave", json!({ "id": id(&leave), "approve": true })).unwrap();
    let away = k.events().unwrap().into_iter().find(|(n, _)| n == "hr.absence.changed").unwrap().1;
    assert_eq!((away["user_id"].as_str(), away["absent"].as_bool()), (Some("u-b"), Some(true)));

    // Over the next 7 days: A 14 open of 56 = 0.25; C 6 of 28 = 0.2143; B has nothing open but is away.
    let t = task("new", "3", None);
    let r = k.command("distribute", json!({ "task": t })).unwrap();
    assert_eq!(r["assignee"], json!(c), "{r}");
    let considered = r["considered"].as_array().unwrap();
    let of = |e: &str| considered.iter().find(|x| x["employee"] == e).unwrap().clone();
    assert_eq!((of(&a)["load"].as_str(), of(&c)["load"].as_str()), (Some("0.25"), Some("0.2143")));
    assert_eq!(of(&b)["absent_today"], true);
    // Now C has 9 of 28 = 0.32: the next goes to A. B is never chosen, whatever the order.
    let t2 = task("next", "1", None);
    assert_eq!(k.command("distribute", json!({ "task": t2 })).unwrap()["assignee"], json!(a));
    for n in 0..4 {
        let t = task(&format!("rr {n}"), "1", None);
        let r = k.command("distribute", json!({ "task": t, "strategy": "round_robin" })).unwrap();
        assert_ne!(r["assignee"], json!(b));
    }
    invalid_on(k.command("distribute", json!({ "task": t2 })).unwrap_err(), "task");
    // A task of someone who has left can still be closed.
    k.update("employee", &c, json!({ "status": "terminated" })).unwrap();
    let of_c = k.query("task", json!({ "filter": { "field": "assignee", "op": "eq", "value": c } })).unwrap();
    k.update("task", of_c[0]["id"].as_str().unwrap(), json!({ "state": "done" })).unwrap();
    assert!(k.create("task", json!({ "title": "to C", "estimate": "1", "assignee": c })).is_err());
    k.update("employee", &c, json!({ "status": "active" })).unwrap();
    let w = k.command("workload", json!({ "team": "assembly" })).unwrap();
    assert_eq!(w["teams"][0]["people"], 3);
    // B's leave takes three of the seven days: 56 + 28 + 32.
    assert_eq!(w["teams"][0]["available_hours"], "116");
}

#[test]
fn the_demo_staffs_a_company_and_links_its_members() {
    let k = kernel();
    let person = |id: &str, role: &str| erp_sdk::DemoPerson {
        user_id: id.into(),
        name: id.into(),
        email: format!("{id}@example.com"),
        role: role.into(),
    };
    let people = [person("owner-id", "owner"), person("anna-id", "member"), person("ivan-id", "supervisor")];
    assert_eq!(k.demo(&people, "2026-12-05").unwrap(), 1);
    let employees = k.query("employee", json!({ "limit": 500 })).unwrap();
    assert_eq!(employees.len(), 10);
    let mut linked: Vec<&str> = employees.iter().filter_map(|e| e["data"]["user_id"].as_str()).collect();
    linked.sort();
    assert_eq!(linked, ["anna-id", "ivan-id", "owner-id"], "the company's members are employees");
    assert_eq!(k.query("holiday", json!({ "limit": 500 })).unwrap().len(), 28, "this year's and next year's");
    let absent = k.command("absences", json!({ "from": "2026-12-05", "to": "2026-12-05" })).unwrap();
    assert!(absent.to_string().contains("Ольга Смирнова"), "the accountant is off sick today: {absent}");
    let tasks = k.query("task", json!({ "limit": 50 })).unwrap();
    assert_eq!(tasks.len(), 6);
    assert!(tasks.iter().all(|t| t["data"]["assignee"].is_string()), "tasks are distributed: {tasks:?}");
}
