//! Sample marketing for `erp serve --demo`, after the CRM's: campaigns for the CRM's lead
//! sources, two months of ad spend imported as an ad platform's CSV, the CRM's history
//! attributed, audience segments and a mailing queued to one of them.

use chrono::{Days, NaiveDate};
use erp_sdk::{DemoAnswer, DemoRequest, Error, Plugin, Result, Value, json, store};

use crate::Marketing;

/// `(name, channel, utm_source, utm_campaign, CRM source, daily spend)`.
type Plan = (&'static str, &'static str, &'static str, Option<&'static str>, &'static str, u32);

const CAMPAIGNS: &[Plan] = &[
    ("Яндекс Директ — осень", "search_ads", "yandex", Some("autumn"), "yandex", 3200),
    ("Google Ads — мебель", "search_ads", "google", Some("google_furniture"), "google", 1900),
    ("ВКонтакте — таргет", "social", "vk", None, "vk", 1400),
    ("Telegram-канал", "messenger", "telegram", None, "telegram", 600),
];

fn create(collection: &str, data: Value) -> Result<String> {
    Ok(store::create::<Value>(collection, &data)?.id)
}

/// The whole of marketing's demo, in one step.
pub fn step(request: &DemoRequest) -> Result<DemoAnswer> {
    let today = NaiveDate::parse_from_str(&request.today, "%Y-%m-%d")
        .map_err(|_| Error::invalid("today", "must be a date, YYYY-MM-DD"))?;
    let start = today.checked_sub_days(Days::new(60)).unwrap_or(today);
    let mut csv = String::from("Дата;Кампания;Показы;Клики;Расход (руб.)\n");
    for (n, (name, channel, source, utm_campaign, lead_source, daily)) in CAMPAIGNS.iter().enumerate() {
        create(
            "campaign",
            json!({ "name": name, "channel": channel, "status": "active", "utm_source": source, "utm_medium": "cpc",
                    "utm_campaign": utm_campaign.unwrap_or(source), "lead_source": lead_source,
                    "budget": (daily * 70).to_string(), "start": start.format("%Y-%m-%d").to_string() }),
        )?;
        for d in 0..60u64 {
            let day = start.checked_add_days(Days::new(d)).unwrap_or(start);
            let cost = daily + ((d as u32 * 37 + n as u32 * 11) % 9) * 50;
            csv.push_str(&format!(
                "{};{};{};{};{},00\n",
                day.format("%d.%m.%Y"),
                utm_campaign.unwrap_or(source),
                cost * 9,
                cost / 40,
                cost
            ));
        }
    }
    Marketing::command("import-spend", json!({ "csv": csv }))?;
    Marketing::command("attribute-history", json!({}))?;
    let vip = create(
        "segment",
        json!({ "name": "Крупные покупатели", "conditions": [{ "what": "total_spent", "min": "40000" }] }),
    )?;
    create(
        "segment",
        json!({ "name": "Давно не покупали", "conditions": [{ "what": "days_since_purchase", "min": "45" }] }),
    )?;
    create(
        "segment",
        json!({ "name": "Москва: купили стулья",
                "conditions": [{ "what": "city", "value": "Москва" }, { "what": "bought", "value": "CHAIR-01" }] }),
    )?;
    let mailing = create(
        "mailing",
        json!({ "name": "Закрытая распродажа для постоянных клиентов", "subject": "{{ customer.first_name or customer.name }}, для вас скидка 15%",
                "body": "<p>Здравствуйте, {{ customer.first_name or customer.name }}!</p><p>Спасибо, что вы с нами. Только до конца недели — скидка 15% на всю мебель.</p>" }),
    )?;
    let snapshot = Marketing::command("snapshot-segment", json!({ "segment": vip }))?;
    Marketing::command("queue-mailing", json!({ "mailing": mailing, "snapshot": snapshot["id"] }))?;
    Ok(DemoAnswer::done())
}
