//! Reports, all from the record store's aggregates: the funnel by stage, manager
//! performance, lead sources and channels, and the sales forecast by month.

use std::collections::BTreeMap;

use erp_sdk::store::{self, Aggregate, Filter, Group, Query};
use erp_sdk::{Error, Result, Value, json};
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::model::Stage;
use crate::time;
use crate::util;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Period {
    pipeline: Option<String>,
    from: Option<String>,
    to: Option<String>,
    months: Option<u32>,
    currency: Option<String>,
}

/// `[from, to)` as filters on a datetime field; bad times are the caller's error.
fn period_filters(field: &str, p: &Period) -> Result<Vec<Filter>> {
    let mut out = Vec::new();
    for (name, value, op) in [("from", &p.from, "gte"), ("to", &p.to, "lt")] {
        let Some(v) = value else { continue };
        let t = time::parse(v)
            .or_else(|| time::parse(&format!("{v}T00:00:00Z")))
            .ok_or_else(|| Error::invalid(name, "is not a date or an RFC 3339 time"))?;
        let t = time::format(t);
        out.push(if op == "gte" { Filter::gte(field, t.as_str()) } else { Filter::lt(field, t.as_str()) });
    }
    Ok(out)
}

/// The period as instants.
fn bounds(p: &Period) -> Result<(Option<time::Instant>, Option<time::Instant>)> {
    let parse = |name: &str, v: &Option<String>| -> Result<Option<time::Instant>> {
        match v {
            None => Ok(None),
            Some(v) => time::parse(v)
                .or_else(|| time::parse(&format!("{v}T00:00:00Z")))
                .map(Some)
                .ok_or_else(|| Error::invalid(name, "is not a date or an RFC 3339 time")),
        }
    };
    Ok((parse("from", &p.from)?, parse("to", &p.to)?))
}

/// The currency amounts are reported in: the one asked for, or the company's.
fn currency_of(p: &Period) -> String {
    p.currency.clone().unwrap_or_else(crate::default_currency)
}

fn all_of(filters: Vec<Filter>) -> Option<Filter> {
    match filters.len() {
        0 => None,
        1 => filters.into_iter().next(),
        _ => Some(Filter::and(filters)),
    }
}

fn with_filter(a: Aggregate, f: Option<Filter>) -> Aggregate {
    match f {
        Some(f) => a.filter(f),
        None => a,
    }
}

fn key<'a>(g: &'a Group, field: &str) -> &'a str {
    g.key.get(field).and_then(Value::as_str).unwrap_or("")
}

fn int(g: &Group, name: &str) -> i64 {
    g.values.get(name).and_then(Value::as_i64).unwrap_or(0)
}

fn dec(g: &Group, name: &str) -> Decimal {
    match g.values.get(name) {
        Some(Value::String(s)) => s.parse().unwrap_or_default(),
        Some(Value::Number(n)) => n.to_string().parse().unwrap_or_default(),
        _ => Decimal::ZERO,
    }
}

/// An amount with exactly two decimals, as money is shown.
fn cents(d: Decimal) -> String {
    let mut d = d.round_dp(2);
    d.rescale(2);
    d.to_string()
}

fn ratio(a: i64, b: i64) -> Value {
    if b == 0 {
        return Value::Null;
    }
    let mut pct = (Decimal::from(a * 100) / Decimal::from(b)).round_dp(1);
    pct.rescale(1);
    json!(pct.to_string())
}

fn pipeline_of(p: &Period) -> Result<String> {
    match &p.pipeline {
        Some(id) => Ok(id.clone()),
        None => {
            crate::funnel::default_pipeline()?.ok_or_else(|| Error::invalid("pipeline", "the company has no pipeline"))
        }
    }
}

fn stages(pipeline: &str) -> Result<Vec<(String, Stage)>> {
    let q = Query::new().filter(Filter::eq("pipeline", pipeline)).sort_asc("position").limit(200);
    Ok(store::query::<Stage>("stage", &q)?.records.into_iter().map(|r| (r.id, r.data)).collect())
}

/// Only deals the caller may see: all, or their own.
fn own_deals() -> Option<Filter> {
    if erp_sdk::context::has_permission(util::ALL_DEALS) {
        None
    } else {
        Some(Filter::eq("responsible", util::current_user().unwrap_or_default().as_str()))
    }
}

/// Stay times of one deal in one stage.
#[derive(Default, Clone)]
struct Stays {
    first: Option<time::Instant>,
    last: Option<time::Instant>,
    amount: Decimal,
    seconds: Decimal,
    closed: i64,
}

fn instant(g: &Group, name: &str) -> Option<time::Instant> {
    g.values.get(name).and_then(Value::as_str).and_then(time::parse)
}

/// `report-funnel`: per stage of a pipeline, the deals that first entered it in the period,
/// how many of those went on to the next stage (so conversion never exceeds 100%), their
/// share of the first stage, the average days a stay lasted, and what stands in it now.
pub fn funnel(input: Value) -> Result<Value> {
    let p: Period = util::input(input)?;
    let pipeline = pipeline_of(&p)?;
    let stages = stages(&pipeline)?;
    if stages.is_empty() {
        return Err(Error::invalid("pipeline", "no such pipeline, or it has no stages"));
    }
    let (from, to) = bounds(&p)?;
    let mut stay_filter = vec![Filter::eq("pipeline", pipeline.as_str())];
    if let Some(f) = from {
        // Stays that began before the period cannot be first entries within it.
        stay_filter.push(Filter::gte("entered_at", time::format(f).as_str()));
    }
    stay_filter.extend(own_deals());
    let groups = store::aggregate(
        "deal_stage",
        &Aggregate::new()
            .filter(Filter::and(stay_filter))
            .group_by("stage")
            .group_by("deal")
            .metric("min", "entered_at")
            .metric("max", "entered_at")
            .metric("max", "amount")
            .metric("sum", "duration_s")
            .metric("count", "duration_s"),
    )?;
    // stage -> deal -> stays
    let mut by_stage: BTreeMap<String, BTreeMap<String, Stays>> = BTreeMap::new();
    for g in &groups {
        let st = Stays {
            first: instant(g, "min_entered_at"),
            last: instant(g, "max_entered_at"),
            amount: dec(g, "max_amount"),
            seconds: dec(g, "sum_duration_s"),
            closed: int(g, "count_duration_s"),
        };
        by_stage.entry(key(g, "stage").to_string()).or_default().insert(key(g, "deal").to_string(), st);
    }
    let in_period =
        |t: Option<time::Instant>| t.is_some_and(|t| from.is_none_or(|f| t >= f) && to.is_none_or(|e| t < e));
    let cohort = |stage: &str| -> Vec<(String, Stays)> {
        by_stage
            .get(stage)
            .map(|m| m.iter().filter(|(_, s)| in_period(s.first)).map(|(d, s)| (d.clone(), s.clone())).collect())
            .unwrap_or_default()
    };
    let mut now_filter = vec![Filter::eq("pipeline", pipeline.as_str()), Filter::eq("status", "open")];
    now_filter.extend(own_deals());
    now_filter.push(Filter::eq("currency", currency_of(&p).as_str()));
    let standing = store::aggregate(
        "deal",
        &Aggregate::new().filter(Filter::and(now_filter)).group_by("stage").count().metric("sum", "amount"),
    )?;
    let first_count = stages.first().map(|(id, _)| cohort(id).len()).unwrap_or(0) as i64;
    let open: Vec<&(String, Stage)> = stages.iter().filter(|(_, s)| s.outcome() == "open").collect();
    let won_stage = stages.iter().find(|(_, st)| st.outcome() == "won").map(|(n, _)| n.clone());
    let mut rows = Vec::new();
    for (i, (id, s)) in stages.iter().enumerate() {
        let members = cohort(id);
        let n = members.len() as i64;
        let amount: Decimal = members.iter().fold(Decimal::ZERO, |a, (_, st)| a.checked_add(st.amount).unwrap_or(a));
        let (secs, closed) = members
            .iter()
            .fold((Decimal::ZERO, 0i64), |(a, c), (_, st)| (a.checked_add(st.seconds).unwrap_or(a), c + st.closed));
        // Conversion: of the deals that first entered this open stage in the period, those
        // that later entered the next open stage (or the won stage, after the last one).
        let next = if s.outcome() == "open" {
            let pos = open.iter().position(|(o, _)| o == id).unwrap_or(0);
            open.get(pos + 1).map(|(n, _)| n.clone()).or_else(|| won_stage.clone())
        } else {
            None
        };
        let reached = next.as_ref().map(|nid| {
            let later = by_stage.get(nid);
            members
                .iter()
                .filter(|(deal, st)| {
                    later.and_then(|m| m.get(deal)).is_some_and(|n| match (n.last, st.first) {
                        (Some(l), Some(f)) => l >= f,
                        _ => false,
                    })
                })
                .count() as i64
        });
        let now_group = standing.iter().find(|g| key(g, "stage") == id.as_str());
        let avg_days =
            (closed > 0).then(|| (secs / Decimal::from(closed) / Decimal::from(86_400)).round_dp(2).to_string());
        rows.push(json!({
            "stage": id, "code": s.code, "name": s.name, "position": i + 1, "outcome": s.outcome(),
            "probability": s.probability.unwrap_or(0),
            "entered": n,
            "entered_amount": cents(amount),
            "to_next_stage": reached,
            "conversion_pct": reached.map(|c| ratio(c, n)).unwrap_or(Value::Null),
            "share_of_first_pct": ratio(n, first_count),
            "avg_days_in_stage": avg_days,
            "open_now": now_group.map(|g| int(g, "count")).unwrap_or(0),
            "open_amount": cents(now_group.map(|g| dec(g, "sum_amount")).unwrap_or_default()),
        }));
    }
    Ok(json!({ "pipeline": pipeline, "from": p.from, "to": p.to, "currency": currency_of(&p), "stages": rows }))
}

/// `report-managers`: per responsible manager, won and lost deals closed in the period, open
/// deals now, the win rate, leads received and activities done or overdue.
pub fn managers(input: Value) -> Result<Value> {
    let p: Period = util::input(input)?;
    let mut closed = vec![Filter::is_in("status", vec![json!("won"), json!("lost")])];
    closed.extend(period_filters("closed_at", &p)?);
    closed.extend(own_deals());
    closed.push(Filter::eq("currency", currency_of(&p).as_str()));
    let closed = store::aggregate(
        "deal",
        &Aggregate::new()
            .filter(Filter::and(closed))
            .group_by("responsible")
            .group_by("status")
            .count()
            .metric("sum", "amount"),
    )?;
    let mut open = vec![Filter::eq("status", "open")];
    open.extend(own_deals());
    open.push(Filter::eq("currency", currency_of(&p).as_str()));
    let open = store::aggregate(
        "deal",
        &Aggregate::new().filter(Filter::and(open)).group_by("responsible").count().metric("sum", "amount"),
    )?;
    let leads = store::aggregate(
        "lead",
        &with_filter(Aggregate::new(), all_of(period_filters("created_at", &p)?)).group_by("responsible").count(),
    )?;
    let now = time::format(time::now());
    let overdue = store::aggregate(
        "activity",
        &Aggregate::new()
            .filter(Filter::and(vec![Filter::eq("done", false), Filter::lt("due_at", now.as_str())]))
            .group_by("responsible")
            .count(),
    )?;
    let mut done_filter = vec![Filter::eq("done", true)];
    done_filter.extend(period_filters("updated_at", &p)?);
    let done = store::aggregate(
        "activity",
        &Aggregate::new().filter(Filter::and(done_filter)).group_by("responsible").count(),
    )?;
    let mut people: BTreeMap<String, Value> = BTreeMap::new();
    for g in &closed {
        let r = row(&mut people, key(g, "responsible"));
        match key(g, "status") {
            "won" => {
                r["won"] = json!(int(g, "count"));
                r["won_amount"] = json!(cents(dec(g, "sum_amount")));
            }
            _ => r["lost"] = json!(int(g, "count")),
        }
    }
    for g in &open {
        let r = row(&mut people, key(g, "responsible"));
        r["open"] = json!(int(g, "count"));
        r["open_amount"] = json!(cents(dec(g, "sum_amount")));
    }
    for (groups, field) in [(&leads, "leads"), (&done, "activities_done"), (&overdue, "activities_overdue")] {
        for g in groups.iter() {
            row(&mut people, key(g, "responsible"))[field] = json!(int(g, "count"));
        }
    }
    let managers: Vec<Value> = people
        .into_values()
        .map(|mut r| {
            let (w, l) = (r["won"].as_i64().unwrap_or(0), r["lost"].as_i64().unwrap_or(0));
            r["win_rate_pct"] = ratio(w, w + l);
            r
        })
        .collect();
    Ok(json!({ "from": p.from, "to": p.to, "currency": currency_of(&p), "managers": managers }))
}

/// The row of one manager, started empty.
fn row<'a>(people: &'a mut BTreeMap<String, Value>, who: &str) -> &'a mut Value {
    people.entry(who.to_string()).or_insert_with(|| {
        json!({ "responsible": if who.is_empty() { Value::Null } else { json!(who) },
                "won": 0, "won_amount": "0.00", "lost": 0, "open": 0, "open_amount": "0.00",
                "leads": 0, "activities_done": 0, "activities_overdue": 0 })
    })
}

/// `report-sources`: leads per channel and source in the period, how many were qualified,
/// and the deals won per source with their amounts.
pub fn sources(input: Value) -> Result<Value> {
    let p: Period = util::input(input)?;
    let leads = store::aggregate(
        "lead",
        &with_filter(Aggregate::new(), all_of(period_filters("created_at", &p)?))
            .group_by("channel")
            .group_by("source")
            .group_by("status")
            .count(),
    )?;
    let mut won = vec![Filter::eq("status", "won")];
    won.extend(period_filters("closed_at", &p)?);
    won.extend(own_deals());
    won.push(Filter::eq("currency", currency_of(&p).as_str()));
    let won = store::aggregate(
        "deal",
        &Aggregate::new().filter(Filter::and(won)).group_by("source").count().metric("sum", "amount"),
    )?;
    let mut rows: BTreeMap<(String, String), (i64, i64, i64)> = BTreeMap::new();
    for g in &leads {
        let e = rows.entry((key(g, "channel").to_string(), key(g, "source").to_string())).or_default();
        let n = int(g, "count");
        e.0 += n;
        match key(g, "status") {
            "qualified" => e.1 += n,
            "junk" => e.2 += n,
            _ => {}
        }
    }
    let channels: Vec<Value> = rows
        .into_iter()
        .map(|((channel, source), (n, q, j))| {
            json!({ "channel": channel, "source": source, "leads": n, "qualified": q, "junk": j, "qualified_pct": ratio(q, n) })
        })
        .collect();
    let won: Vec<Value> = won
        .iter()
        .map(|g| json!({ "source": key(g, "source"), "deals_won": int(g, "count"), "amount": cents(dec(g, "sum_amount")) }))
        .collect();
    Ok(json!({ "from": p.from, "to": p.to, "currency": currency_of(&p), "channels": channels, "won_by_source": won }))
}

/// `report-forecast`: open deals by the month they are expected to close, each amount
/// weighted by its stage's win probability.
pub fn forecast(input: Value) -> Result<Value> {
    let p: Period = util::input(input)?;
    let months = p.months.unwrap_or(6);
    if !(1..=36).contains(&months) {
        return Err(Error::invalid("months", "must be 1 to 36"));
    }
    let probability: BTreeMap<String, i64> = match &p.pipeline {
        Some(pl) => stages(pl)?.into_iter().map(|(id, s)| (id, s.probability.unwrap_or(0))).collect(),
        None => util::all::<Stage>("stage", Filter::ne("code", ""))?
            .into_iter()
            .map(|r| (r.id, r.data.probability.unwrap_or(0)))
            .collect(),
    };
    let mut filter = vec![Filter::eq("status", "open"), Filter::eq("currency", currency_of(&p).as_str())];
    if let Some(pl) = &p.pipeline {
        filter.push(Filter::eq("pipeline", pl.as_str()));
    }
    filter.extend(own_deals());
    let groups = store::aggregate(
        "deal",
        &Aggregate::new()
            .filter(Filter::and(filter))
            .group_by("expected_close")
            .group_by("stage")
            .count()
            .metric("sum", "amount"),
    )?;
    let start = time::now().format("%Y-%m").to_string();
    let mut by_month: BTreeMap<String, (i64, Decimal, Decimal)> = BTreeMap::new();
    for g in &groups {
        let month = match key(g, "expected_close").get(..7) {
            Some(m) if m >= start.as_str() => m.to_string(),
            Some(_) => "overdue".to_string(),
            None => "undated".to_string(),
        };
        let amount = dec(g, "sum_amount");
        let p = Decimal::from(*probability.get(key(g, "stage")).unwrap_or(&0));
        let e = by_month.entry(month).or_default();
        let too_big = || Error::invalid("months", "the amounts are too large to add up");
        e.0 += int(g, "count");
        e.1 = e.1.checked_add(amount).ok_or_else(too_big)?;
        let weighted = amount.checked_mul(p).ok_or_else(too_big)? / Decimal::from(100);
        e.2 = e.2.checked_add(weighted).ok_or_else(too_big)?;
    }
    let horizon: Vec<String> = (0..months)
        .map(|i| {
            let (y, m) = (start[..4].parse::<i32>().unwrap_or(2000), start[5..7].parse::<i32>().unwrap_or(1));
            let total = y * 12 + (m - 1) + i as i32;
            format!("{:04}-{:02}", total / 12, total % 12 + 1)
        })
        .collect();
    let mut rows: Vec<Value> = Vec::new();
    for m in horizon.iter().map(String::as_str).chain(["overdue", "undated"]) {
        let (n, amount, weighted) = by_month.get(m).cloned().unwrap_or_default();
        if (m == "overdue" || m == "undated") && n == 0 {
            continue;
        }
        rows.push(json!({ "month": m, "deals": n, "amount": cents(amount), "weighted": cents(weighted) }));
    }
    let total = rows
        .iter()
        .filter_map(|r| r["weighted"].as_str()?.parse::<Decimal>().ok())
        .try_fold(Decimal::ZERO, |a, x| a.checked_add(x))
        .ok_or_else(|| Error::invalid("months", "the amounts are too large to add up"))?;
    Ok(
        json!({ "pipeline": p.pipeline, "currency": currency_of(&p), "months": rows, "weighted_total": total.round_dp(2).to_string() }),
    )
}
