//! The HR part of the demo: departments, a five-day and a part-time schedule, this year's
//! public holidays, a dozen employees (the demo users among them), leave types and
//! allocations, approved and pending leave (someone is away today), last week's clock-ins
//! with a few late arrivals, timesheet lines, and tasks distributed by workload. All of it
//! through the plugin's commands.

use chrono::{Datelike, Days, NaiveDate};
use serde_json::{Value, json};

use erp_kernel::Platform;
use erp_kernel::access::CompanyScope;
use erp_kernel::plugins::PluginError;
use erp_kernel::plugins::lifecycle::{self, EnableRequest};
use erp_kernel::records::{self, Caller, Collection};
use erp_kernel::session::Session;

/// Russia's public holidays that fall on fixed dates.
const HOLIDAYS: &[(u32, u32, &str)] = &[
    (1, 1, "Новогодние каникулы"),
    (1, 2, "Новогодние каникулы"),
    (1, 3, "Новогодние каникулы"),
    (1, 4, "Новогодние каникулы"),
    (1, 5, "Новогодние каникулы"),
    (1, 6, "Новогодние каникулы"),
    (1, 7, "Рождество Христово"),
    (1, 8, "Новогодние каникулы"),
    (2, 23, "День защитника Отечества"),
    (3, 8, "Международный женский день"),
    (5, 1, "Праздник Весны и Труда"),
    (5, 9, "День Победы"),
    (6, 12, "День России"),
    (11, 4, "День народного единства"),
];

/// `(name, position, department code, schedule code, team, skills, user e-mail)`.
type Person = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    Option<&'static str>,
);

const STAFF: &[Person] = &[
    ("Демо Владелец", "Генеральный директор", "HQ", "5X8", "management", &["management"], Some("demo@example.com")),
    (
        "Анна Продажина",
        "Менеджер по продажам",
        "SALES",
        "5X8",
        "sales",
        &["sales", "furniture"],
        Some("anna.sales@example.com"),
    ),
    (
        "Иван Складов",
        "Кладовщик",
        "STOCK",
        "5X8",
        "warehouse",
        &["warehouse", "assembly"],
        Some("ivan.store@example.com"),
    ),
    ("Ольга Счетова", "Главный бухгалтер", "ACC", "5X8", "finance", &["accounting"], None),
    ("Пётр Сборкин", "Сборщик мебели", "STOCK", "5X8", "assembly", &["assembly", "furniture"], None),
    ("Сергей Винтов", "Сборщик мебели", "STOCK", "5X8", "assembly", &["assembly", "furniture"], None),
    ("Мария Замерова", "Замерщик", "STOCK", "HALF", "assembly", &["assembly", "measuring"], None),
    ("Елена Клиентова", "Менеджер по продажам", "SALES", "5X8", "sales", &["sales"], None),
    ("Дмитрий Дизайнов", "Дизайнер интерьеров", "SALES", "5X8", "design", &["design", "furniture"], None),
    ("Наталья Кадрова", "Специалист по кадрам", "HQ", "5X8", "management", &["hr"], None),
];

fn day(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// Enables HR for the demo company and fills it, once.
pub fn sample_hr(platform: &Platform, company_id: &str) -> Result<(), PluginError> {
    let mut session = Session::begin(&platform.db, company_id, None)?;
    if platform.plugins.enabled_names(session.conn()?, company_id)?.iter().any(|n| n == "hr") {
        return Ok(());
    }
    let scope = CompanyScope::system(company_id);
    let enabled = lifecycle::enable(platform, &mut session, &scope, "hr", EnableRequest::default())?;
    let caller = Caller::User(&scope);
    let create = |session: &mut Session, name: &str, data: Value| -> Result<String, PluginError> {
        let coll = Collection::new(enabled.manifest.clone(), name)
            .ok_or_else(|| PluginError::Internal(format!("hr has no {name}")))?;
        Ok(records::create(session, platform, caller, &coll, data)?.id)
    };
    let today = chrono::DateTime::from_timestamp_micros(erp_kernel::clock::now()).unwrap_or_default().date_naive();
    for year in [today.year(), today.year() + 1] {
        for (m, d, name) in HOLIDAYS {
            if let Some(date) = NaiveDate::from_ymd_opt(year, *m, *d) {
                create(&mut session, "holiday", json!({ "date": day(date), "name": name }))?;
            }
        }
    }
    create(&mut session, "schedule", json!({ "code": "5X8", "name": "Пятидневка, 9:00–18:00" }))?;
    let half = json!({ "code": "HALF", "name": "Неполный день, 4 часа", "mon": "4", "tue": "4", "wed": "4", "thu": "4",
                       "fri": "4", "start": "10:00", "end": "14:00" });
    create(&mut session, "schedule", half)?;
    let hq = create(&mut session, "department", json!({ "code": "HQ", "name": "Дирекция" }))?;
    let mut departments = vec![("HQ".to_string(), hq.clone())];
    for (code, name) in [("SALES", "Отдел продаж"), ("STOCK", "Склад и сборка"), ("ACC", "Бухгалтерия")]
    {
        let id = create(&mut session, "department", json!({ "code": code, "name": name, "parent": hq }))?;
        departments.push((code.to_string(), id));
    }
    let schedules: Vec<(String, String)> = {
        let coll = Collection::new(enabled.manifest.clone(), "schedule")
            .ok_or_else(|| PluginError::Internal("hr has no schedule".into()))?;
        let found = records::find(session.conn()?, company_id, caller, &coll, &Default::default())?;
        found.records.into_iter().map(|r| (r.data["code"].as_str().unwrap_or_default().to_string(), r.id)).collect()
    };
    let lookup = |list: &[(String, String)], code: &str| list.iter().find(|(c, _)| c == code).map(|(_, id)| id.clone());
    let mut staff = Vec::new();
    for (i, (name, position, dept, schedule, team, skills, email)) in STAFF.iter().enumerate() {
        let user = match email {
            Some(e) => session
                .conn()
                .ok()
                .and_then(|conn| erp_kernel::identity::users::find_by_email(conn, e).ok().flatten())
                .map(|u| u.id),
            None => None,
        };
        let body = json!({
            "name": name, "position": position, "department": lookup(&departments, dept), "team": team, "skills": skills,
            "schedule": lookup(&schedules, schedule), "user_id": user, "manager": staff.first(),
            "hire_date": day(today.checked_sub_days(Days::new(200 + 97 * i as u64)).unwrap_or(today)),
            "birth_date": format!("19{}-0{}-1{}", 80 + i, 1 + i % 9, i % 10), "personal_phone": format!("+7 916 555-01-{i:02}"),
            "salary": format!("{}", 90_000 + 15_000 * i),
        });
        staff.push(create(&mut session, "employee", body)?);
    }
    for (code, name, paid, limited) in [
        ("ANNUAL", "Ежегодный оплачиваемый отпуск", true, true),
        ("SICK", "Больничный", true, false),
        ("UNPAID", "Отпуск без сохранения заработной платы", false, false),
        ("STUDY", "Учебный отпуск", true, true),
    ] {
        create(
            &mut session,
            "leave_type",
            json!({ "code": code, "name": name, "paid": paid, "needs_allocation": limited }),
        )?;
    }
    let mut run =
        |command: &str, input: Value| lifecycle::run_command(platform, &mut session, &scope, "hr", command, input);
    for e in &staff {
        run("allocate", json!({ "employee": e, "leave_type": "ANNUAL", "year": today.year(), "days": 28 }))?;
    }
    let at = |n: i64| day(today + chrono::Duration::days(n));
    // Away today (the accountant, sick), approved leave next month, requests waiting.
    let sick =
        run("request-leave", json!({ "employee": staff[3], "leave_type": "SICK", "from": at(-2), "to": at(3) }))?;
    run("decide-leave", json!({ "id": sick["id"], "approve": true, "comment": "Выздоравливайте" }))?;
    for (who, from, to) in [(4usize, 20, 24), (8, 30, 41)] {
        let r = run(
            "request-leave",
            json!({ "employee": staff[who], "leave_type": "ANNUAL", "from": at(from), "to": at(to) }),
        );
        if let Ok(r) = r {
            run("decide-leave", json!({ "id": r["id"], "approve": true }))?;
        }
    }
    for (who, from, to) in [(1usize, 45, 49), (5, 14, 15)] {
        let _ = run(
            "request-leave",
            json!({ "employee": staff[who], "leave_type": "UNPAID", "from": at(from), "to": at(to) }),
        );
    }
    // Last week's clock-ins (Moscow time), some late.
    for back in 1..=7i64 {
        let date = today - chrono::Duration::days(back);
        if date.weekday().number_from_monday() > 5 {
            continue;
        }
        for (i, e) in staff.iter().enumerate().filter(|(i, _)| *i != 3 && *i != 6) {
            let late = (i as i64 + back) % 5 == 0;
            let (inn, out) = if late { ("06:27", "15:05") } else { ("05:55", "15:02") };
            run("clock-in", json!({ "employee": e, "at": format!("{}T{inn}:00Z", day(date)) }))?;
            run("clock-out", json!({ "employee": e, "at": format!("{}T{out}:00Z", day(date)) }))?;
            if i == 8 {
                run("log-time", json!({ "employee": e, "date": day(date), "hours": 8, "project": "Кухни на заказ" }))?;
            }
        }
    }
    let mut tasks = Vec::new();
    for (title, hours, skill) in [
        ("Собрать шкаф-купе для ООО «Берёза»", "6", "assembly"),
        ("Замер кухни у Иванова", "2", "measuring"),
        ("Сборка стеллажей на складе", "4", "assembly"),
        ("Дизайн-проект гостиной", "12", "design"),
        ("Перезвонить по заявкам с сайта", "3", "sales"),
        ("Собрать обеденную группу", "3", "assembly"),
    ] {
        tasks.push(create(
            &mut session,
            "task",
            json!({ "title": title, "estimate": hours, "skill": skill, "due": at(5) }),
        )?);
    }
    for t in tasks {
        lifecycle::run_command(platform, &mut session, &scope, "hr", "distribute", json!({ "task": t }))?;
    }
    session.commit()?;
    Ok(())
}
