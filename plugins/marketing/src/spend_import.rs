//! Importing ad spend from the CSV files ad platforms export (Yandex Direct, VK Ads, Google
//! Ads and the like): comma, semicolon or tab separated, Russian or English headers, decimal
//! commas and spaces in numbers. A file with any bad row changes nothing.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use erp_sdk::store::{self, Filter, Query, Record};
use erp_sdk::{Error, FieldError, Result, Value, json};
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::model::{Campaign, Spend};
use crate::util;

/// Largest file accepted, in bytes.
const MAX_CSV: usize = 2 * 1024 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Import {
    csv: String,
    campaign: Option<String>,
}

#[derive(Clone, Copy, PartialEq)]
enum Column {
    Date,
    Campaign,
    Impressions,
    Clicks,
    Cost,
}

fn column(header: &str) -> Option<Column> {
    let h = header.trim().trim_start_matches('\u{feff}').to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| h.contains(w));
    // Ratios (CTR, cost per click) are not the counts or the cost.
    if has(&["ctr", "cpc", "cpm", "per ", "за клик", "за показ", "средн", "avg", "%"]) {
        return None;
    }
    Some(if has(&["date", "дата", "день", "day"]) {
        Column::Date
    } else if has(&["campaign", "кампан"]) {
        Column::Campaign
    } else if has(&["impression", "показ"]) {
        Column::Impressions
    } else if has(&["click", "клик", "переход"]) {
        Column::Clicks
    } else if has(&["cost", "spend", "amount", "расход", "стоимост", "затрат"]) {
        Column::Cost
    } else {
        return None;
    })
}

fn delimiter(text: &str) -> u8 {
    let header = text.lines().next().unwrap_or_default();
    [b';', b'\t', b','].into_iter().max_by_key(|d| header.bytes().filter(|b| b == d).count()).unwrap_or(b',')
}

/// `1 234,56 ₽`, `1,234.56` and `1,234` alike: a comma is a decimal comma unless a point
/// follows it or it groups exactly three digits.
fn number(s: &str) -> Option<Decimal> {
    let kept: String = s.chars().filter(|c| c.is_ascii_digit() || matches!(c, ',' | '.' | '-')).collect();
    let grouping = kept.split(',').skip(1).all(|g| g.len() == 3 && g.chars().all(|c| c.is_ascii_digit()));
    let normal = match (kept.contains(','), kept.contains('.')) {
        (true, true) => kept.replace(',', ""),
        (true, false) if grouping => kept.replace(',', ""),
        (true, false) => kept.replace(',', "."),
        _ => kept,
    };
    normal.parse().ok()
}

/// A count: every separator dropped.
fn count(s: &str) -> i64 {
    s.chars().filter(char::is_ascii_digit).collect::<String>().parse().unwrap_or(0)
}

fn day(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    ["%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y"].iter().find_map(|f| NaiveDate::parse_from_str(s, f).ok())
}

/// `import-spend`.
pub fn import(input: Value) -> Result<Value> {
    let i: Import = erp_sdk::input(input)?;
    if i.csv.len() > MAX_CSV {
        return Err(Error::invalid("csv", "is larger than 2 MiB: split the export"));
    }
    let campaigns = util::every::<Campaign>("campaign")?;
    let fixed = match &i.campaign {
        Some(id) => {
            Some(campaigns.iter().find(|c| &c.id == id).ok_or_else(|| Error::invalid("campaign", "no such campaign"))?)
        }
        None => None,
    };
    let mut reader =
        csv::ReaderBuilder::new().delimiter(delimiter(&i.csv)).flexible(true).from_reader(i.csv.as_bytes());
    let headers = reader.headers().map_err(|e| Error::invalid("csv", format!("cannot read the header: {e}")))?.clone();
    let columns: Vec<Option<Column>> = headers.iter().map(column).collect();
    let find = |c: Column| columns.iter().position(|x| *x == Some(c));
    let (Some(date_col), Some(cost_col)) = (find(Column::Date), find(Column::Cost)) else {
        return Err(Error::invalid("csv", "needs a date column and a cost column in its header"));
    };
    let campaign_col = find(Column::Campaign);
    if fixed.is_none() && campaign_col.is_none() {
        return Err(Error::invalid("csv", "has no campaign column: name the campaign to import into"));
    }
    let mut problems = Vec::new();
    let mut days: BTreeMap<(String, NaiveDate), (Decimal, i64, i64)> = BTreeMap::new();
    let mut rows = 0;
    for (n, record) in reader.records().enumerate() {
        let line = n + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                problems.push(FieldError { field: format!("csv.line.{line}"), message: e.to_string() });
                continue;
            }
        };
        let cell = |i: usize| record.get(i).unwrap_or_default().trim();
        let date_text = cell(date_col);
        let lower = date_text.to_lowercase();
        if date_text.is_empty() || lower.starts_with("итого") || lower.starts_with("total") {
            continue;
        }
        let Some(d) = day(date_text) else {
            problems.push(FieldError {
                field: format!("csv.line.{line}"),
                message: format!("{date_text:?} is not a date"),
            });
            continue;
        };
        let Some(cost) = number(cell(cost_col)).filter(|c| !c.is_sign_negative()) else {
            problems.push(FieldError {
                field: format!("csv.line.{line}"),
                message: format!("{:?} is not a cost", cell(cost_col)),
            });
            continue;
        };
        let campaign = match (fixed, campaign_col) {
            (Some(c), _) => Some(c),
            (None, Some(col)) => {
                let name = cell(col);
                campaigns.iter().find(|c| {
                    c.data.utm_campaign.as_deref() == Some(name) || c.data.name.trim().eq_ignore_ascii_case(name)
                })
            }
            (None, None) => None,
        };
        let Some(campaign) = campaign else {
            problems.push(FieldError {
                field: format!("csv.line.{line}"),
                message: "no campaign by that name or utm_campaign".into(),
            });
            continue;
        };
        let counted = |c: Column| find(c).map(|i| count(cell(i))).unwrap_or(0);
        let e = days.entry((campaign.id.clone(), d)).or_default();
        e.0 += cost;
        e.1 += counted(Column::Impressions);
        e.2 += counted(Column::Clicks);
        rows += 1;
    }
    if !problems.is_empty() {
        return Err(Error::Invalid(problems));
    }
    let (mut created, mut replaced, mut total) = (0, 0, Decimal::ZERO);
    for ((campaign, d), (cost, impressions, clicks)) in days {
        let cost = cost.round_dp(2);
        total += cost;
        let date = d.format("%Y-%m-%d").to_string();
        let channel = campaigns.iter().find(|c| c.id == campaign).map(|c| c.data.channel.clone());
        let same = Filter::and(vec![Filter::eq("campaign", campaign.as_str()), Filter::eq("date", date.as_str())]);
        let existing: Option<Record<Spend>> = store::first("spend", Query::new().filter(same))?;
        let data =
            Spend { campaign, date, channel, amount: cost, impressions: Some(impressions), clicks: Some(clicks) };
        match existing {
            Some(old) => {
                store::update::<Spend>("spend", &old.id, &data, Some(old.version))?;
                replaced += 1;
            }
            None => {
                store::create("spend", &data)?;
                created += 1;
            }
        }
    }
    Ok(json!({ "rows": rows, "days_created": created, "days_replaced": replaced, "total": total.to_string() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_platforms_write_them() {
        assert_eq!(number("1 234,56 ₽").unwrap().to_string(), "1234.56");
        assert_eq!(number("1,234.56").unwrap().to_string(), "1234.56");
        assert_eq!(number("1,234").unwrap().to_string(), "1234");
        assert_eq!(number("12,5").unwrap().to_string(), "12.5");
        assert_eq!(count("12 000"), 12000);
        assert_eq!(number("\u{a0}980").unwrap().to_string(), "980");
        assert!(number("—").is_none());
        assert_eq!(day("01.11.2026").unwrap().to_string(), "2026-11-01");
        assert_eq!(delimiter("Дата;Кампания;Расход\n"), b';');
        assert!(column("Расход (руб.)") == Some(Column::Cost));
        assert!(column("Ср. цена клика (руб.)").is_none() || column("Cost per click").is_none());
        assert!(column("Cost per click").is_none());
    }
}
