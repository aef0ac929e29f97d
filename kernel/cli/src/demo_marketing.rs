//! The marketing part of the demo, after the CRM's: campaigns for the CRM's lead sources,
//! two months of ad spend imported as an ad platform's CSV, the CRM's history attributed,
//! audience segments and a mailing queued to one of them. All through the plugin's commands.

use chrono::Days;
use serde_json::{Value, json};

use erp_kernel::Platform;
use erp_kernel::access::CompanyScope;
use erp_kernel::plugins::PluginError;
use erp_kernel::plugins::lifecycle::{self, EnableRequest};
use erp_kernel::records::{self, Caller, Collection};
use erp_kernel::session::Session;

/// `(name, channel, utm_source, utm_campaign, CRM source, daily spend)`.
type Plan = (&'static str, &'static str, &'static str, Option<&'static str>, &'static str, u32);

const CAMPAIGNS: &[Plan] = &[
    ("Яндекс Директ — осень", "search_ads", "yandex", Some("autumn"), "yandex", 3200),
    ("Google Ads — мебель", "search_ads", "google", Some("google_furniture"), "google", 1900),
    ("ВКонтакте — таргет", "social", "vk", None, "vk", 1400),
    ("Telegram-канал", "messenger", "telegram", None, "telegram", 600),
];

/// Enables marketing for the demo company and fills it, once.
pub fn sample_marketing(platform: &Platform, company_id: &str) -> Result<(), PluginError> {
    let mut session = Session::begin(&platform.db, company_id, None)?;
    if platform.plugins.enabled_names(session.conn()?, company_id)?.iter().any(|n| n == "marketing") {
        return Ok(());
    }
    let scope = CompanyScope::system(company_id);
    let grants = ["crm.customer", "crm.contact", "crm.address", "crm.timeline", "crm.lead", "crm.deal"];
    let request = EnableRequest {
        grants: grants.iter().map(|g| g.to_string()).collect(),
        webhook_secret: Some("demo-marketing-secret-0001".into()),
        ..EnableRequest::default()
    };
    let enabled = lifecycle::enable(platform, &mut session, &scope, "marketing", request)?;
    let caller = Caller::User(&scope);
    let create = |session: &mut Session, name: &str, data: Value| -> Result<String, PluginError> {
        let coll = Collection::new(enabled.manifest.clone(), name)
            .ok_or_else(|| PluginError::Internal(format!("marketing has no {name}")))?;
        Ok(records::create(session, platform, caller, &coll, data)?.id)
    };
    let today = chrono::DateTime::from_timestamp_micros(erp_kernel::clock::now()).unwrap_or_default().date_naive();
    let start = today.checked_sub_days(Days::new(60)).unwrap_or(today);
    let mut csv = String::from("Дата;Кампания;Показы;Клики;Расход (руб.)\n");
    for (n, (name, channel, source, utm_campaign, lead_source, daily)) in CAMPAIGNS.iter().enumerate() {
        create(
            &mut session,
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
    lifecycle::run_command(platform, &mut session, &scope, "marketing", "import-spend", json!({ "csv": csv }))?;
    lifecycle::run_command(platform, &mut session, &scope, "marketing", "attribute-history", json!({}))?;
    let vip = create(
        &mut session,
        "segment",
        json!({ "name": "Крупные покупатели", "rule": { "total_spent": { "gte": "40000" } } }),
    )?;
    create(
        &mut session,
        "segment",
        json!({ "name": "Давно не покупали", "rule": { "days_since_purchase": { "gte": 45 } } }),
    )?;
    create(
        &mut session,
        "segment",
        json!({ "name": "Москва: купили стулья", "rule": { "all": [ { "city": "Москва" }, { "bought": "CHAIR-01" } ] } }),
    )?;
    let mailing = create(
        &mut session,
        "mailing",
        json!({ "name": "Закрытая распродажа для постоянных клиентов", "subject": "{{ customer.first_name or customer.name }}, для вас скидка 15%",
                "body": "<p>Здравствуйте, {{ customer.first_name or customer.name }}!</p><p>Спасибо, что вы с нами. Только до конца недели — скидка 15% на всю мебель.</p>" }),
    )?;
    let snap = lifecycle::run_command(
        platform,
        &mut session,
        &scope,
        "marketing",
        "snapshot-segment",
        json!({ "segment": vip }),
    )?;
    lifecycle::run_command(
        platform,
        &mut session,
        &scope,
        "marketing",
        "queue-mailing",
        json!({ "mailing": mailing, "snapshot": snap["id"] }),
    )?;
    session.commit()?;
    Ok(())
}
