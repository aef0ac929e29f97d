//! Sample staff for `erp serve --demo`: departments, a five-day and a part-time schedule, this
//! and next year's public holidays, ten employees (the demo company's members among them),
//! leave types and allocations, approved and pending leave (someone is away today), last
//! week's clock-ins with a few late arrivals, timesheet lines, and tasks distributed by
//! workload.

use chrono::{Datelike, Days, NaiveDate};
use erp_sdk::{DemoAnswer, DemoRequest, Plugin, Result, Value, json, store};

use crate::Hr;
use crate::util::{date, day, rfc3339, utc_offset};

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

/// One employee of the demo.
struct Person {
    name: &'static str,
    position: &'static str,
    department: &'static str,
    schedule: &'static str,
    team: &'static str,
    skills: &'static [&'static str],
    /// Which member of the company this is: by position in the member list (owner first).
    member: Option<usize>,
}

const fn person(
    name: &'static str,
    position: &'static str,
    department: &'static str,
    schedule: &'static str,
    team: &'static str,
    skills: &'static [&'static str],
    member: Option<usize>,
) -> Person {
    Person { name, position, department, schedule, team, skills, member }
}

const STAFF: &[Person] = &[
    person("Дмитрий Орлов", "Генеральный директор", "HQ", "5X8", "руководство", &["руководство"], Some(0)),
    person("Анна Петрова", "Менеджер по продажам", "SALES", "5X8", "продажи", &["продажи", "мебель"], Some(1)),
    person("Иван Соколов", "Кладовщик", "STOCK", "5X8", "склад", &["склад", "сборка"], Some(2)),
    person("Ольга Смирнова", "Главный бухгалтер", "ACC", "5X8", "финансы", &["бухгалтерия"], None),
    person("Пётр Кузнецов", "Сборщик мебели", "STOCK", "5X8", "сборка", &["сборка", "мебель"], None),
    person("Сергей Волков", "Сборщик мебели", "STOCK", "5X8", "сборка", &["сборка", "мебель"], None),
    person("Мария Лебедева", "Замерщик", "STOCK", "HALF", "сборка", &["сборка", "замеры"], None),
    person("Елена Козлова", "Менеджер по продажам", "SALES", "5X8", "продажи", &["продажи"], None),
    person("Алексей Новиков", "Дизайнер интерьеров", "SALES", "5X8", "дизайн", &["дизайн", "мебель"], None),
    person("Наталья Морозова", "Специалист по кадрам", "HQ", "5X8", "руководство", &["кадры"], None),
];

fn create(collection: &str, data: Value) -> Result<String> {
    Ok(store::create::<Value>(collection, &data)?.id)
}

fn lookup(list: &[(&str, String)], code: &str) -> Option<String> {
    list.iter().find(|(c, _)| *c == code).map(|(_, id)| id.clone())
}

/// The whole of HR's demo, in one step.
pub fn step(request: &DemoRequest) -> Result<DemoAnswer> {
    let today = date("today", &request.today)?;
    for year in [today.year(), today.year() + 1] {
        for (m, d, name) in HOLIDAYS {
            if let Some(holiday) = NaiveDate::from_ymd_opt(year, *m, *d) {
                create("holiday", json!({ "date": day(holiday), "name": name }))?;
            }
        }
    }
    let schedules = vec![
        ("5X8", create("schedule", json!({ "code": "5X8", "name": "Пятидневка, 9:00–18:00" }))?),
        (
            "HALF",
            create(
                "schedule",
                json!({ "code": "HALF", "name": "Неполный день, 4 часа", "mon": "4", "tue": "4", "wed": "4", "thu": "4",
                        "fri": "4", "start": "10:00", "end": "14:00" }),
            )?,
        ),
    ];
    let hq = create("department", json!({ "code": "HQ", "name": "Дирекция" }))?;
    let mut departments = vec![("HQ", hq.clone())];
    for (code, name) in [("SALES", "Отдел продаж"), ("STOCK", "Склад и сборка"), ("ACC", "Бухгалтерия")]
    {
        departments.push((code, create("department", json!({ "code": code, "name": name, "parent": hq }))?));
    }
    let mut staff: Vec<String> = Vec::new();
    for (i, p) in STAFF.iter().enumerate() {
        let member = p.member.and_then(|m| request.people.get(m));
        let user = member.map(|m| m.user_id.clone());
        // A member is on the staff under the name the company knows them by.
        let name = member.map(|m| m.name.trim()).filter(|n| !n.is_empty()).unwrap_or(p.name);
        let body = json!({
            "name": name, "position": p.position, "department": lookup(&departments, p.department), "team": p.team,
            "skills": p.skills, "schedule": lookup(&schedules, p.schedule), "user_id": user, "manager": staff.first(),
            "hire_date": day(today.checked_sub_days(Days::new(200 + 97 * i as u64)).unwrap_or(today)),
            "birth_date": format!("19{}-0{}-1{}", 80 + i, 1 + i % 9, i % 10), "personal_phone": format!("+7 916 555-01-{i:02}"),
            "salary": format!("{}", 90_000 + 15_000 * i),
        });
        staff.push(create("employee", body)?);
    }
    leave(today, &staff)?;
    time(today, &staff)?;
    for (title, hours, skill) in [
        ("Собрать шкаф-купе для ООО «Берёза»", "6", "сборка"),
        ("Замер кухни у Иванова", "2", "замеры"),
        ("Сборка стеллажей на складе", "4", "сборка"),
        ("Дизайн-проект гостиной", "12", "дизайн"),
        ("Перезвонить по заявкам с сайта", "3", "продажи"),
        ("Собрать обеденную группу", "3", "сборка"),
    ] {
        let due = day(today + chrono::Duration::days(5));
        let task = create("task", json!({ "title": title, "estimate": hours, "skill": skill, "due": due }))?;
        Hr::command("distribute", json!({ "task": task }))?;
    }
    Ok(DemoAnswer::done())
}

/// Leave types, allocations, and leave: someone away today, approved leave ahead, requests
/// waiting for a decision.
fn leave(today: NaiveDate, staff: &[String]) -> Result<()> {
    for (code, name, paid, limited) in [
        ("ANNUAL", "Ежегодный оплачиваемый отпуск", true, true),
        ("SICK", "Больничный", true, false),
        ("UNPAID", "Отпуск без сохранения заработной платы", false, false),
        ("STUDY", "Учебный отпуск", true, true),
    ] {
        create("leave_type", json!({ "code": code, "name": name, "paid": paid, "needs_allocation": limited }))?;
    }
    for e in staff {
        Hr::command("allocate", json!({ "employee": e, "leave_type": "ANNUAL", "year": today.year(), "days": 28 }))?;
    }
    let at = |n: i64| day(today + chrono::Duration::days(n));
    let sick = Hr::command(
        "request-leave",
        json!({ "employee": staff[3], "leave_type": "SICK", "from": at(-2), "to": at(3) }),
    )?;
    Hr::command("decide-leave", json!({ "id": sick["id"], "approve": true, "comment": "Выздоравливайте" }))?;
    for (who, from, to) in [(4usize, 20, 24), (8, 30, 41)] {
        // A request that would overlap a holiday or exceed the balance is simply skipped.
        let request = json!({ "employee": staff[who], "leave_type": "ANNUAL", "from": at(from), "to": at(to) });
        if let Ok(r) = Hr::command("request-leave", request) {
            Hr::command("decide-leave", json!({ "id": r["id"], "approve": true }))?;
        }
    }
    for (who, from, to) in [(1usize, 45, 49), (5, 14, 15)] {
        let request = json!({ "employee": staff[who], "leave_type": "UNPAID", "from": at(from), "to": at(to) });
        let _ = Hr::command("request-leave", request);
    }
    Ok(())
}

/// Last week's clock-ins (a working day from about nine in the company's time zone), some
/// late, and a designer's timesheet.
fn time(today: NaiveDate, staff: &[String]) -> Result<()> {
    // Minutes after local midnight of `date` as the instant they are in UTC.
    let at = |date: NaiveDate, minutes: i64| {
        let local = date.and_time(chrono::NaiveTime::default()) + chrono::Duration::minutes(minutes - utc_offset());
        rfc3339(local.and_utc())
    };
    for back in 1..=7i64 {
        let date = today - chrono::Duration::days(back);
        if date.weekday().number_from_monday() > 5 {
            continue;
        }
        for (i, e) in staff.iter().enumerate().filter(|(i, _)| *i != 3 && *i != 6) {
            let late = (i as i64 + back) % 5 == 0;
            let (inn, out) = if late { (9 * 60 + 27, 18 * 60 + 5) } else { (8 * 60 + 55, 18 * 60 + 2) };
            Hr::command("clock-in", json!({ "employee": e, "at": at(date, inn) }))?;
            Hr::command("clock-out", json!({ "employee": e, "at": at(date, out) }))?;
            if i == 8 {
                Hr::command(
                    "log-time",
                    json!({ "employee": e, "date": day(date), "hours": 8, "project": "Кухни на заказ" }),
                )?;
            }
        }
    }
    Ok(())
}
