//! Sample CRM data for `erp serve --demo`: the company's members as a sales team, two
//! pipelines, 240 customers with purchases, views and visits, deals in every stage, leads from
//! Telegram, e-mail and a web form, and activities. Everything goes through the plugin's own
//! commands and webhooks, so the demo carries the same history, events and recommendations as
//! real use. The work is split into steps that each stay well inside a call's limits.

use erp_sdk::{DemoAnswer, DemoPerson, DemoRequest, Plugin, Result, Value, WebhookRequest, json, serde_json, store};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{Crm, time};

const LAST: &[&str] = &[
    "Иванов",
    "Петров",
    "Смирнов",
    "Кузнецов",
    "Попов",
    "Васильев",
    "Соколов",
    "Михайлов",
    "Новиков",
    "Фёдоров",
    "Морозов",
    "Волков",
    "Алексеев",
    "Лебедев",
    "Семёнов",
    "Егоров",
    "Павлов",
    "Козлов",
    "Степанов",
    "Николаев",
];
const FIRST: &[&str] =
    &["Александр", "Дмитрий", "Максим", "Сергей", "Андрей", "Алексей", "Артём", "Илья", "Кирилл", "Михаил"];
/// Women's first names, as many as men's, so that a name agrees with the gender it goes with.
const FIRST_FEMALE: &[&str] =
    &["Анна", "Мария", "Елена", "Ольга", "Наталья", "Ирина", "Татьяна", "Екатерина", "Светлана", "Юлия"];
const PATRONYMIC: &[&str] = &["Александрович", "Дмитриевич", "Сергеевич", "Андреевич", "Иванович", "Петрович"];
const PATRONYMIC_FEMALE: &[&str] = &["Александровна", "Дмитриевна", "Сергеевна", "Андреевна", "Ивановна", "Петровна"];
const CITIES: &[(&str, &str, f64, f64)] = &[
    ("Москва", "Москва", 55.7558, 37.6173),
    ("Санкт-Петербург", "Санкт-Петербург", 59.9343, 30.3351),
    ("Казань", "Татарстан", 55.7961, 49.1064),
    ("Екатеринбург", "Свердловская область", 56.8389, 60.6057),
    ("Новосибирск", "Новосибирская область", 55.0084, 82.9357),
];
const SOURCES: &[&str] = &["yandex", "google", "vk", "telegram", "direct"];
/// (SKU, name, price): the warehouse demo stocks the same catalogue.
const PRODUCTS: &[(&str, &str, &str)] = &[
    ("CHAIR-01", "Офисный стул", "6500.00"),
    ("DESK-01", "Письменный стол", "18900.00"),
    ("LAMP-01", "Настольная лампа", "2300.00"),
    ("SHELF-01", "Стеллаж", "9900.00"),
    ("CABINET-01", "Тумба", "7400.00"),
    ("SOFA-01", "Диван", "45900.00"),
    ("ARMCHAIR-01", "Кресло", "21500.00"),
    ("RUG-01", "Ковёр", "8800.00"),
    ("MIRROR-01", "Зеркало", "5600.00"),
    ("HANGER-01", "Вешалка", "3100.00"),
    ("BOARD-01", "Маркерная доска", "4700.00"),
    ("PARTITION-01", "Перегородка", "12600.00"),
];
/// How many customers the demo has, and how many one step creates.
const CUSTOMERS: usize = 240;
const CUSTOMERS_PER_STEP: usize = 10;
/// Deals one step makes: each walks its stages with events and robots, which takes a while on
/// PostgreSQL, and a step has the plugin's command time.
const DEALS_PER_STEP: usize = 4;

/// The demo's commercial offer. The company's details come from its profile in the kernel,
/// so a detail nobody has filled in is left out rather than printed empty.
const OFFER_TEMPLATE: &str = r#"Уважаемые коллеги{% if customer.name %} из {{ customer.name }}{% endif %}!

Благодарим за интерес к продукции {{ company.short_name }}. По сделке «{{ deal.title }}» предлагаем вам мебель и услуги на условиях ниже. Цены включают НДС, доставку по городу и сборку.

Предложение действительно 14 дней. Срок поставки — до 10 рабочих дней после оплаты."#;

/// What one step hands the next.
#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    /// The deterministic generator's position, so every demo has the same data.
    dice: u64,
    /// Each pipeline's id and its stages as (code, id), in order.
    pipelines: Vec<(String, Vec<(String, String)>)>,
    /// Customers made so far.
    customers: Vec<String>,
    /// Pipelines whose deals are done.
    deals_done: usize,
    /// Deals made so far in the pipeline being filled.
    deals_made: usize,
}

/// A small deterministic generator.
struct Dice(u64);

impl Dice {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

fn create(collection: &str, data: Value) -> Result<String> {
    Ok(store::create::<Value>(collection, &data)?.id)
}

/// The sales team: members in the built-in working roles (custom roles such as an auditor's
/// only look on).
fn team(people: &[DemoPerson]) -> Vec<&DemoPerson> {
    people.iter().filter(|p| matches!(p.role.as_str(), "owner" | "admin" | "member")).collect()
}

/// One step: the set-up first, then customers in batches, then each pipeline's deals, then
/// the inbox and activities.
pub fn step(request: &DemoRequest) -> Result<DemoAnswer> {
    let team = team(&request.people);
    if team.is_empty() {
        return Err(erp_sdk::Error::invalid("people", "the demo needs at least one member to sell"));
    }
    let mut state: State = if request.step == 0 {
        State { dice: 20_261_129, ..State::default() }
    } else {
        serde_json::from_value(request.state.clone()).map_err(|e| erp_sdk::Error::invalid("state", e.to_string()))?
    };
    if request.step == 0 {
        setup(&team, &mut state)?;
    } else if state.customers.len() < CUSTOMERS {
        let mut dice = Dice(state.dice);
        for _ in 0..CUSTOMERS_PER_STEP.min(CUSTOMERS - state.customers.len()) {
            let i = state.customers.len();
            state.customers.push(customer(i, &team, &mut dice)?);
        }
        state.dice = dice.0;
    } else if state.deals_done < state.pipelines.len() {
        let mut dice = Dice(state.dice);
        let n = state.deals_done;
        let total = if n == 0 { 36 } else { 12 };
        let batch = state.deals_made..(state.deals_made + DEALS_PER_STEP).min(total);
        state.deals_made = batch.end;
        deals(&state.pipelines[n], &state.customers, &team, &mut dice, batch)?;
        state.dice = dice.0;
        if state.deals_made >= total {
            state.deals_done += 1;
            state.deals_made = 0;
        }
    } else {
        inbox()?;
        activities(&state.customers, &team)?;
        return Ok(DemoAnswer::done());
    }
    Ok(DemoAnswer::next(serde_json::to_value(&state).map_err(|e| erp_sdk::Error::failed(e.to_string()))?))
}

/// Managers, two pipelines with every stage, a commercial offer template and robots.
fn setup(team: &[&DemoPerson], state: &mut State) -> Result<()> {
    for p in team {
        create("manager", json!({ "user_id": p.user_id, "name": p.name }))?;
    }
    for (name, default, stages) in [
        (
            "Продажи",
            true,
            vec![
                ("new", "Новая заявка", "open", 10, json!(["qualified", "lost"])),
                ("qualified", "Квалификация", "open", 25, json!(["proposal", "lost"])),
                ("proposal", "Коммерческое предложение", "open", 50, json!(["negotiation", "lost"])),
                ("negotiation", "Переговоры", "open", 75, json!(["proposal", "won", "lost"])),
                ("won", "Успешно", "won", 100, json!([])),
                ("lost", "Проиграна", "lost", 0, json!(["new"])),
            ],
        ),
        (
            "Партнёры",
            false,
            vec![
                ("contact", "Первый контакт", "open", 20, json!(["contract", "lost"])),
                ("contract", "Договор", "open", 60, json!(["won", "lost"])),
                ("won", "Партнёр", "won", 100, json!([])),
                ("lost", "Отказ", "lost", 0, json!(["contact"])),
            ],
        ),
    ] {
        let p = create("pipeline", json!({ "name": name, "is_default": default }))?;
        let mut ids = Vec::new();
        for (i, (code, title, outcome, probability, next)) in stages.into_iter().enumerate() {
            let id = create(
                "stage",
                json!({ "pipeline": p, "code": code, "name": title, "position": i as i64 + 1, "outcome": outcome,
                        "probability": probability, "next": next }),
            )?;
            ids.push((code.to_string(), id));
        }
        state.pipelines.push((p, ids));
    }
    let offer = create(
        "template",
        json!({ "name": "Коммерческое предложение", "kind": "offer", "target": "deal", "body": OFFER_TEMPLATE }),
    )?;
    let stage =
        |code: &str| state.pipelines[0].1.iter().find(|(c, _)| c == code).map(|(_, id)| id.clone()).unwrap_or_default();
    create(
        "robot",
        json!({ "name": "КП при переходе на этап предложения", "trigger": "stage_entered", "stage": stage("proposal"),
                "conditions": [{ "field": "amount", "op": "gte", "value": "10000" }],
                "actions": [{ "type": "render_document", "template": offer },
                            { "type": "create_activity", "title": "Отправить КП клиенту", "kind": "task", "due_in_hours": 24 }] }),
    )?;
    create(
        "robot",
        json!({ "name": "Напомнить о зависшей сделке", "trigger": "stale_in_stage", "stage": stage("negotiation"), "days": 7,
                "actions": [{ "type": "create_activity", "title": "Сделка без движения неделю: позвонить", "kind": "call", "due_in_hours": 4 }] }),
    )?;
    create(
        "robot",
        json!({ "name": "Благодарность после оплаты", "trigger": "event", "event": "crm.deal.won",
                "actions": [{ "type": "create_activity", "title": "Поблагодарить клиента за покупку", "kind": "call", "due_in_hours": 48 }] }),
    )?;
    Ok(())
}

/// Customer number `i` with a visit, product views and (usually) purchases.
fn customer(i: usize, team: &[&DemoPerson], dice: &mut Dice) -> Result<String> {
    let (city, region, lat, lon) = CITIES[dice.next(CITIES.len())];
    let source = SOURCES[dice.next(SOURCES.len())];
    let manager = &team[dice.next(team.len())].user_id;
    let card = if i % 6 == 5 {
        Crm::command(
            "create-customer",
            json!({ "kind": "organization", "name": format!("ООО «Мебель-{}»", i + 1), "tax_id": format!("77{:08}", 1000 + i),
                    "source": source, "responsible": manager, "tags": ["b2b"],
                    "contacts": [{ "kind": "email", "value": format!("office{}@mebel.example", i + 1) }],
                    "addresses": [{ "kind": "legal", "city": city, "line": format!("ул. Ленина, {}", i + 1) }] }),
        )?
    } else {
        let female = dice.next(2) == 0;
        let last = LAST[dice.next(LAST.len())];
        let last = if female { format!("{last}а") } else { last.to_string() };
        Crm::command(
            "create-customer",
            json!({ "last_name": last,
                    "first_name": if female { FIRST_FEMALE } else { FIRST }[dice.next(FIRST.len())],
                    "patronymic": if female { PATRONYMIC_FEMALE } else { PATRONYMIC }[dice.next(PATRONYMIC.len())],
                    "birth_date": format!("19{}-{:02}-{:02}", 60 + dice.next(40), 1 + dice.next(12), 1 + dice.next(28)),
                    "gender": if female { "female" } else { "male" }, "source": source, "responsible": manager,
                    "contacts": [{ "kind": "phone", "value": format!("+7 9{:02} {:03}-{:02}-{:02}", dice.next(100), dice.next(1000), dice.next(100), dice.next(100)) },
                                 { "kind": "email", "value": format!("client{}@mail.example", i + 1) }],
                    "addresses": [{ "kind": "delivery", "city": city, "line": format!("ул. Садовая, {}", 1 + dice.next(90)) }] }),
        )?
    };
    let id = card["customer"]["id"].as_str().unwrap_or_default().to_string();
    let day = 1 + dice.next(28);
    Crm::command(
        "track-visit",
        json!({ "customer": id, "url": "https://shop.example/catalog", "country": "Россия", "region": region, "city": city,
                "latitude": lat, "longitude": lon, "source": source,
                "utm": { "utm_source": source, "utm_medium": "cpc", "utm_campaign": "autumn" },
                "at": format!("2026-10-{day:02}T10:00:00Z") }),
    )?;
    // Purchases cluster around a theme, so recommendations have something to say.
    let theme = dice.next(PRODUCTS.len());
    for k in 0..1 + dice.next(3) {
        let (sku, name, price) = PRODUCTS[(theme + k * (1 + dice.next(2))) % PRODUCTS.len()];
        Crm::command(
            "track-view",
            json!({ "customer": id, "product": sku, "product_name": name, "at": format!("2026-10-{day:02}T10:0{k}:00Z") }),
        )?;
        if dice.next(3) > 0 {
            let quantity = 1 + dice.next(4);
            let day = 1 + dice.next(27);
            Crm::command(
                "record-purchase",
                json!({ "customer": id, "order": format!("SO-{i}-{k}"),
                        "lines": [{ "product": sku, "name": name, "quantity": quantity.to_string(), "price": price }],
                        "at": format!("2026-11-{day:02}T12:00:00Z") }),
            )?;
            // The customer pays for the order the next day, so cards show payments too.
            let amount = price.parse::<Decimal>().unwrap_or_default() * Decimal::from(quantity as u64);
            Crm::command(
                "record-payment",
                json!({ "customer": id, "amount": amount.round_dp(2).to_string(), "reference": format!("SO-{i}-{k}"),
                        "at": format!("2026-11-{:02}T15:00:00Z", day + 1) }),
            )?;
        }
    }
    Ok(id)
}

/// Deals `batch` of a pipeline: each walks the allowed path to where it stands (an open
/// stage, won or lost).
fn deals(
    (pipeline, stages): &(String, Vec<(String, String)>),
    customers: &[String],
    team: &[&DemoPerson],
    dice: &mut Dice,
    batch: std::ops::Range<usize>,
) -> Result<()> {
    let open: Vec<&(String, String)> = stages.iter().filter(|(c, _)| !matches!(c.as_str(), "won" | "lost")).collect();
    let find = |code: &str| stages.iter().find(|(c, _)| c == code).map(|(_, id)| id.clone()).unwrap_or_default();
    let (won, lost) = (find("won"), find("lost"));
    for d in batch {
        let customer = &customers[dice.next(customers.len())];
        let (sku, name, price) = PRODUCTS[dice.next(PRODUCTS.len())];
        let qty = 1 + dice.next(20);
        let amount = price.parse::<Decimal>().unwrap_or_default() * Decimal::from(qty);
        // Each deal's history spreads over the past months, so that time in stage and the
        // monthly reports have something to show.
        let now = time::now();
        let mut at = time::plus_minutes(now, -60 * 24 * (30 + dice.next(150) as i64));
        let deal = create(
            "deal",
            json!({ "title": format!("{name} × {qty}"), "customer": customer, "pipeline": pipeline, "stage": open[0].1,
                    "stage_since": time::format(at),
                    "amount": amount.round_dp(2).to_string(), "responsible": team[d % team.len()].user_id,
                    "expected_close": format!("2027-0{}-{:02}", 1 + dice.next(6), 1 + dice.next(28)),
                    "lines": [{ "product": sku, "name": name, "quantity": qty.to_string(), "price": price }] }),
        )?;
        let target = d % (open.len() + 2);
        let path: Vec<(String, Option<&str>)> = if target < open.len() {
            open[1..=target].iter().map(|(_, id)| (id.clone(), None)).collect()
        } else if target == open.len() {
            let mut p: Vec<(String, Option<&str>)> = open[1..].iter().map(|(_, id)| (id.clone(), None)).collect();
            p.push((won.clone(), None));
            p
        } else {
            vec![(lost.clone(), Some("Выбрали другого поставщика"))]
        };
        for (stage, reason) in path {
            at = time::plus_minutes(at, 60 * (12 + dice.next(24 * 12) as i64)).min(now);
            Crm::command("move-deal", json!({ "id": deal, "stage": stage, "reason": reason, "at": time::format(at) }))?;
        }
    }
    Ok(())
}

/// The inbox: a Telegram message, an e-mail and a web form, through the webhooks that real
/// ones arrive by.
fn inbox() -> Result<()> {
    let telegram = json!({ "update_id": 1, "message": { "message_id": 1, "date": 1_764_403_200,
        "from": { "id": 7_000_001, "is_bot": false, "first_name": "Екатерина", "last_name": "Орлова", "username": "kate_o" },
        "chat": { "id": 7_000_001, "type": "private" }, "text": "Добрый день! Есть ли диваны в наличии?" } });
    let email = "From: Pavel Zaitsev <pavel@zaitsev.example>\r\nSubject: Office furniture for 30 people\r\n\
                 Message-ID: <demo-1@zaitsev.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
                 Please send a quote for 30 desks and chairs.\r\n";
    let form = "name=Светлана&phone=%2B7+916+111-22-33&message=Перезвоните+мне&utm_source=yandex&utm_campaign=autumn";
    for (hook, content_type, body) in [
        ("telegram", "application/json", telegram.to_string().into_bytes()),
        ("email", "message/rfc822", email.as_bytes().to_vec()),
        ("form", "application/x-www-form-urlencoded", form.as_bytes().to_vec()),
    ] {
        let headers = vec![("content-type".to_string(), content_type.to_string())];
        Crm::webhook(hook, WebhookRequest { method: "POST".into(), headers, body })?;
    }
    Ok(())
}

/// Activities: some done, some due soon, some overdue.
fn activities(customers: &[String], team: &[&DemoPerson]) -> Result<()> {
    for (i, (kind, title)) in [
        ("call", "Перезвонить по счёту"),
        ("meeting", "Встреча в офисе"),
        ("task", "Отправить договор"),
        ("call", "Уточнить доставку"),
    ]
    .iter()
    .cycle()
    .take(12)
    .enumerate()
    {
        create(
            "activity",
            json!({ "kind": kind, "title": title, "customer": customers[i * 7 % customers.len()],
                    "responsible": team[i % team.len()].user_id,
                    "due_at": format!("2026-{}-{:02}T09:00:00Z", if i % 3 == 0 { "11" } else { "12" }, 1 + i * 2),
                    "done": i % 4 == 0 }),
        )?;
    }
    Ok(())
}
