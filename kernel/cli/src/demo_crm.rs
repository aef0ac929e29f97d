//! The CRM part of the demo: a sales team, two pipelines, a few hundred customers with
//! purchases, views and visits, leads from several channels, deals in every stage and
//! activities. Everything goes through the plugin's own commands and webhooks, so the demo
//! data carries the same history, events and recommendations as real use.

use serde_json::{Value, json};

use erp_kernel::Platform;
use erp_kernel::access::CompanyScope;
use erp_kernel::plugins::PluginError;
use erp_kernel::plugins::lifecycle::{self, EnableRequest};
use erp_kernel::records::{self, Caller, Collection};
use erp_kernel::session::Session;

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
const PATRONYMIC: &[&str] = &["Александрович", "Дмитриевич", "Сергеевич", "Андреевич", "Иванович", "Петрович"];
const CITIES: &[(&str, &str, f64, f64)] = &[
    ("Москва", "Москва", 55.7558, 37.6173),
    ("Санкт-Петербург", "Санкт-Петербург", 59.9343, 30.3351),
    ("Казань", "Татарстан", 55.7961, 49.1064),
    ("Екатеринбург", "Свердловская область", 56.8389, 60.6057),
    ("Новосибирск", "Новосибирская область", 55.0084, 82.9357),
];
const SOURCES: &[&str] = &["yandex", "google", "vk", "telegram", "direct"];
/// (SKU, name, price).
pub(super) const PRODUCTS: &[(&str, &str, &str)] = &[
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

/// The demo's commercial offer.
const OFFER_TEMPLATE: &str = r#"<h1>{{ company.name }}</h1>
<p>ИНН {{ company.tax_id }}, {{ company.address }}, {{ company.phone }}</p>
<h2>Коммерческое предложение № {{ document.number }} от {{ today }}</h2>
<p>{{ customer.name }}{% if customer.email %}, {{ customer.email }}{% endif %}</p>
<table>
<tr><th>Товар</th><th>Количество</th><th>Цена</th><th>Сумма</th></tr>
{% for l in deal.lines %}<tr><td>{{ l.name }}</td><td>{{ l.quantity }}</td><td>{{ l.price | money }}</td><td>{{ l.total | money }}</td></tr>
{% endfor %}</table>
<p>Итого: {{ deal.lines_total | money }} {{ deal.currency }}</p>
<p>Ваш менеджер: {{ deal.manager }}</p>"#;

/// A small deterministic generator, so every demo has the same data.
struct Dice(u64);

impl Dice {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

fn run(
    platform: &Platform,
    session: &mut Session,
    scope: &CompanyScope,
    command: &str,
    input: Value,
) -> Result<Value, PluginError> {
    lifecycle::run_command(platform, session, scope, "crm", command, input)
}

/// Enables CRM for the demo company and fills it, once. `team` is (user id, name) of the
/// sales managers.
pub fn sample_crm(platform: &Platform, company_id: &str, team: &[(String, String)]) -> Result<(), PluginError> {
    let mut session = Session::begin(&platform.db, company_id, None)?;
    if platform.plugins.enabled_names(session.conn()?, company_id)?.iter().any(|n| n == "crm") {
        return Ok(());
    }
    let scope = CompanyScope::system(company_id);
    let request = EnableRequest {
        webhook_secret: Some("demo-webhook-secret-0001".into()),
        config: json!({ "company_name": "ООО «Демо Мебель»", "company_tax_id": "7700000000",
                        "company_address": "Москва, ул. Примерная, 1", "company_phone": "+7 495 000-00-00" }),
        ..EnableRequest::default()
    };
    let enabled = lifecycle::enable(platform, &mut session, &scope, "crm", request)?;
    let coll = |name: &str| {
        Collection::new(enabled.manifest.clone(), name)
            .ok_or_else(|| PluginError::Internal(format!("crm has no {name}")))
    };
    let caller = Caller::User(&scope);
    let create = |session: &mut Session, name: &str, data: Value| -> Result<String, PluginError> {
        Ok(records::create(session, platform, caller, &coll(name)?, data)?.id)
    };
    for (user, name) in team {
        create(&mut session, "manager", json!({ "user_id": user, "name": name }))?;
    }

    // Two pipelines: every stage, allowed moves, win probabilities.
    let mut pipelines = Vec::new();
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
        let p = create(&mut session, "pipeline", json!({ "name": name, "is_default": default }))?;
        let mut ids = Vec::new();
        for (i, (code, title, outcome, probability, next)) in stages.into_iter().enumerate() {
            let id = create(
                &mut session,
                "stage",
                json!({ "pipeline": p, "code": code, "name": title, "position": i as i64 + 1, "outcome": outcome,
                        "probability": probability, "next": next }),
            )?;
            ids.push((code, id));
        }
        pipelines.push((p, ids));
    }

    // A commercial offer template and robots that use it.
    let offer = create(
        &mut session,
        "template",
        json!({ "name": "Коммерческое предложение", "kind": "offer", "target": "deal", "body": OFFER_TEMPLATE }),
    )?;
    let stage = |p: usize, code: &str| {
        pipelines[p].1.iter().find(|(c, _)| *c == code).map(|(_, id)| id.clone()).unwrap_or_default()
    };
    create(
        &mut session,
        "robot",
        json!({ "name": "КП при переходе на этап предложения", "trigger": "stage_entered", "stage": stage(0, "proposal"),
                "conditions": [{ "field": "amount", "op": "gte", "value": "10000" }],
                "actions": [{ "type": "render_document", "template": offer },
                            { "type": "create_activity", "title": "Отправить КП клиенту", "kind": "task", "due_in_hours": 24 }] }),
    )?;
    create(
        &mut session,
        "robot",
        json!({ "name": "Напомнить о зависшей сделке", "trigger": "stale_in_stage", "stage": stage(0, "negotiation"), "days": 7,
                "actions": [{ "type": "create_activity", "title": "Сделка без движения неделю: позвонить", "kind": "call", "due_in_hours": 4 }] }),
    )?;
    create(
        &mut session,
        "robot",
        json!({ "name": "Благодарность после оплаты", "trigger": "event", "event": "crm.deal.won",
                "actions": [{ "type": "create_activity", "title": "Поблагодарить клиента за покупку", "kind": "call", "due_in_hours": 48 }] }),
    )?;

    // Customers with history.
    let mut dice = Dice(20_261_129);
    let mut customers = Vec::new();
    for i in 0..240 {
        let (city, region, lat, lon) = CITIES[dice.next(CITIES.len())];
        let source = SOURCES[dice.next(SOURCES.len())];
        let manager = &team[dice.next(team.len())].0;
        let card = if i % 6 == 5 {
            run(
                platform,
                &mut session,
                &scope,
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
            run(
                platform,
                &mut session,
                &scope,
                "create-customer",
                json!({ "last_name": last, "first_name": FIRST[dice.next(FIRST.len())],
                        "patronymic": PATRONYMIC[dice.next(PATRONYMIC.len())],
                        "birth_date": format!("19{}-{:02}-{:02}", 60 + dice.next(40), 1 + dice.next(12), 1 + dice.next(28)),
                        "gender": if female { "female" } else { "male" }, "source": source, "responsible": manager,
                        "contacts": [{ "kind": "phone", "value": format!("+7 9{:02} {:03}-{:02}-{:02}", dice.next(100), dice.next(1000), dice.next(100), dice.next(100)) },
                                     { "kind": "email", "value": format!("client{}@mail.example", i + 1) }],
                        "addresses": [{ "kind": "delivery", "city": city, "line": format!("ул. Садовая, {}", 1 + dice.next(90)) }] }),
            )?
        };
        let id = card["customer"]["id"].as_str().unwrap_or_default().to_string();
        let day = 1 + dice.next(28);
        run(
            platform,
            &mut session,
            &scope,
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
            run(
                platform,
                &mut session,
                &scope,
                "track-view",
                json!({ "customer": id, "product": sku, "product_name": name,
                    "at": format!("2026-10-{day:02}T10:0{k}:00Z") }),
            )?;
            if dice.next(3) > 0 {
                run(
                    platform,
                    &mut session,
                    &scope,
                    "record-purchase",
                    json!({ "customer": id, "order": format!("SO-{i}-{k}"),
                            "lines": [{ "product": sku, "name": name, "quantity": (1 + dice.next(4)).to_string(), "price": price }],
                            "at": format!("2026-11-{:02}T12:00:00Z", 1 + dice.next(27)) }),
                )?;
            }
        }
        customers.push(id);
    }

    // Deals in every stage: each walks the allowed path to where it stands.
    for (n, (pipeline, stages)) in pipelines.iter().enumerate() {
        let open: Vec<&(&str, String)> = stages.iter().filter(|(c, _)| !matches!(*c, "won" | "lost")).collect();
        let won = stages.iter().find(|(c, _)| *c == "won").map(|(_, id)| id.clone()).unwrap_or_default();
        let lost = stages.iter().find(|(c, _)| *c == "lost").map(|(_, id)| id.clone()).unwrap_or_default();
        for d in 0..if n == 0 { 36 } else { 12 } {
            let customer = &customers[dice.next(customers.len())];
            let (sku, name, price) = PRODUCTS[dice.next(PRODUCTS.len())];
            let qty = 1 + dice.next(20);
            let amount = price.parse::<rust_decimal::Decimal>().unwrap_or_default() * rust_decimal::Decimal::from(qty);
            let deal = create(
                &mut session,
                "deal",
                json!({ "title": format!("{name} × {qty}"), "customer": customer, "pipeline": pipeline, "stage": open[0].1,
                        "amount": amount.round_dp(2).to_string(), "responsible": team[d % team.len()].0,
                        "expected_close": format!("2027-0{}-{:02}", 1 + dice.next(6), 1 + dice.next(28)),
                        "lines": [{ "product": sku, "name": name, "quantity": qty.to_string(), "price": price }] }),
            )?;
            // Where it ends: one of the open stages, won or lost.
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
                run(
                    platform,
                    &mut session,
                    &scope,
                    "move-deal",
                    json!({ "id": deal, "stage": stage, "reason": reason }),
                )?;
            }
        }
    }

    // The inbox: a Telegram message, an e-mail and a web form.
    let active = std::sync::Arc::new(platform.plugins.active(session.conn()?, company_id, "crm")?);
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
        lifecycle::run_webhook(platform, &mut session, &active, hook, "POST", headers, body)?;
    }

    // Activities: some done, some due soon, some overdue.
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
            &mut session,
            "activity",
            json!({ "kind": kind, "title": title, "customer": customers[i * 7 % customers.len()],
                    "responsible": team[i % team.len()].0,
                    "due_at": format!("2026-{}-{:02}T09:00:00Z", if i % 3 == 0 { "11" } else { "12" }, 1 + i * 2),
                    "done": i % 4 == 0 }),
        )?;
    }
    session.commit()?;
    Ok(())
}
