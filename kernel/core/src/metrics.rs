//! The node's metrics in the Prometheus text format: counters and histograms updated as the
//! API, the plugin runtime and the bus work, and gauges read from the database when scraped.
//!
//! Labels are bounded: routes are templates (`/api/v1/companies/{id}`), never the path a client
//! sent, and plugins are the installed ones, so a client cannot grow the series without end.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// An HTTP request's series: method, route template and status code.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// GET, POST, ... (`other` for anything else).
    pub method: String,
    /// The matched route template, or `unmatched`.
    pub route: String,
    /// The status code.
    pub status: String,
}

/// A plugin call's series: the plugin and how the call ended.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PluginLabels {
    /// The plugin.
    pub plugin: String,
    /// `ok`, `refused` (the plugin answered with an error), `error` (it trapped or failed), or
    /// the limit that stopped it (`time`, `memory`, `payload`, `depth`, `write_hold`, ...).
    pub outcome: String,
}

/// A plugin's series for call durations.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PluginName {
    /// The plugin.
    pub plugin: String,
}

/// How a delivery attempt ended.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeliveryLabels {
    /// `delivered`, `retry` or `dead`.
    pub outcome: String,
}

/// An outbound request's series: who made it and how it ended.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutboundLabels {
    /// The plugin, or `webhooks` for the kernel's outgoing webhooks.
    pub source: String,
    /// `ok` (any answer), `denied`, `invalid`, `limit` or `failed`.
    pub outcome: String,
}

/// A state of the database pool's connections.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabels {
    /// `in_use` or `idle`.
    pub state: String,
}

type Timings<L> = Family<L, Histogram, fn() -> Histogram>;

/// Buckets from 0.5 ms to about 33 s.
fn latency_histogram() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(0.0005, 2.0, 17))
}

/// Values read from the database and the pool at scrape time.
#[derive(Debug, Default, Clone, Copy)]
pub struct Gauges {
    /// Deliveries waiting, all companies.
    pub pending: i64,
    /// Dead letters.
    pub dead: i64,
    /// Age of the oldest waiting delivery, in seconds (0 when none waits).
    pub oldest_pending_seconds: f64,
    /// Database connections handed out.
    pub pool_in_use: i64,
    /// Database connections open and idle.
    pub pool_idle: i64,
}

/// The node's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_seconds: Timings<HttpLabels>,
    plugin_calls: Family<PluginLabels, Counter>,
    plugin_seconds: Timings<PluginName>,
    deliveries: Family<DeliveryLabels, Counter>,
    delivery_lag: Histogram,
    outbound: Family<OutboundLabels, Counter>,
    outbound_seconds: Histogram,
    pending: Gauge,
    dead: Gauge,
    oldest_pending: Gauge<f64, AtomicU64>,
    pool: Family<PoolLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Every series registered, at zero.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("erp");
        let http_requests = Family::<HttpLabels, Counter>::default();
        let http_seconds: Timings<HttpLabels> = Family::new_with_constructor(latency_histogram);
        let plugin_calls = Family::<PluginLabels, Counter>::default();
        let plugin_seconds: Timings<PluginName> = Family::new_with_constructor(latency_histogram);
        let deliveries = Family::<DeliveryLabels, Counter>::default();
        let delivery_lag = latency_histogram();
        let outbound = Family::<OutboundLabels, Counter>::default();
        let outbound_seconds = latency_histogram();
        let pending = Gauge::default();
        let dead = Gauge::default();
        let oldest_pending = Gauge::<f64, AtomicU64>::default();
        let pool = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route and status",
            http_requests.clone(),
        );
        registry.register_with_unit(
            "http_request_duration",
            "Time to answer an HTTP request, by method, route and status",
            Unit::Seconds,
            http_seconds.clone(),
        );
        registry.register("plugin_calls", "Calls into plugins, by plugin and outcome", plugin_calls.clone());
        registry.register_with_unit(
            "plugin_call_duration",
            "Time a plugin call took, by plugin",
            Unit::Seconds,
            plugin_seconds.clone(),
        );
        registry.register("bus_deliveries", "Event delivery attempts on this node, by outcome", deliveries.clone());
        registry.register_with_unit(
            "bus_delivery_lag",
            "Time from an event's commit to its delivery on this node",
            Unit::Seconds,
            delivery_lag.clone(),
        );
        registry.register(
            "outbound_requests",
            "Requests to hosts outside the platform, by source and outcome",
            outbound.clone(),
        );
        registry.register_with_unit(
            "outbound_request_duration",
            "Time an outbound request took, redirects included",
            Unit::Seconds,
            outbound_seconds.clone(),
        );
        registry.register("bus_pending_deliveries", "Deliveries waiting, all companies", pending.clone());
        registry.register("bus_dead_letters", "Deliveries that gave up (dead letters)", dead.clone());
        registry.register_with_unit(
            "bus_oldest_pending_age",
            "Age of the oldest waiting delivery",
            Unit::Seconds,
            oldest_pending.clone(),
        );
        registry.register("db_pool_connections", "Database connections of this node, by state", pool.clone());
        Metrics {
            registry,
            http_requests,
            http_seconds,
            plugin_calls,
            plugin_seconds,
            deliveries,
            delivery_lag,
            outbound,
            outbound_seconds,
            pending,
            dead,
            oldest_pending,
            pool,
        }
    }

    /// Counts an answered HTTP request.
    pub fn http_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let method = match method {
            "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS" => method,
            _ => "other",
        };
        let labels = HttpLabels { method: method.to_string(), route: route.to_string(), status: status.to_string() };
        self.http_requests.get_or_create(&labels).inc();
        self.http_seconds.get_or_create(&labels).observe(seconds);
    }

    /// Counts a finished plugin call.
    pub fn plugin_call(&self, plugin: &str, outcome: &str, seconds: f64) {
        self.plugin_calls
            .get_or_create(&PluginLabels { plugin: plugin.to_string(), outcome: outcome.to_string() })
            .inc();
        self.plugin_seconds.get_or_create(&PluginName { plugin: plugin.to_string() }).observe(seconds);
    }

    /// Counts a delivery attempt; `lag_seconds` for a delivered one.
    pub fn delivery(&self, outcome: &str, lag_seconds: Option<f64>) {
        self.deliveries.get_or_create(&DeliveryLabels { outcome: outcome.to_string() }).inc();
        if let Some(lag) = lag_seconds {
            self.delivery_lag.observe(lag);
        }
    }

    /// Counts an outbound request.
    pub fn outbound(&self, source: &str, outcome: &str, seconds: f64) {
        self.outbound.get_or_create(&OutboundLabels { source: source.to_string(), outcome: outcome.to_string() }).inc();
        self.outbound_seconds.observe(seconds);
    }

    /// The text exposition, with the gauges set to `gauges`.
    pub fn render(&self, gauges: Gauges) -> String {
        self.pending.set(gauges.pending);
        self.dead.set(gauges.dead);
        self.oldest_pending.set(gauges.oldest_pending_seconds);
        self.pool.get_or_create(&PoolLabels { state: "in_use".into() }).set(gauges.pool_in_use);
        self.pool.get_or_create(&PoolLabels { state: "idle".into() }).set(gauges.pool_idle);
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_appear_with_their_labels() {
        let m = Metrics::new();
        m.http_request("GET", "/api/v1/companies/{id}", 200, 0.002);
        m.http_request("BREW", "unmatched", 404, 0.001);
        m.plugin_call("crm", "time", 0.5);
        m.delivery("delivered", Some(0.01));
        let text = m.render(Gauges { pending: 3, dead: 1, oldest_pending_seconds: 2.5, pool_in_use: 1, pool_idle: 4 });
        assert!(
            text.contains(r#"erp_http_requests_total{method="GET",route="/api/v1/companies/{id}",status="200"} 1"#),
            "{text}"
        );
        assert!(text.contains(r#"erp_http_requests_total{method="other",route="unmatched",status="404"} 1"#));
        assert!(text.contains(r#"erp_plugin_calls_total{plugin="crm",outcome="time"} 1"#));
        assert!(text.contains(r#"erp_bus_deliveries_total{outcome="delivered"} 1"#));
        assert!(text.contains("erp_bus_pending_deliveries 3"));
        assert!(text.contains("erp_bus_dead_letters 1"));
        assert!(text.contains("erp_bus_oldest_pending_age_seconds 2.5"));
        assert!(text.contains(r#"erp_db_pool_connections{state="idle"} 4"#));
        assert!(text.contains("erp_http_request_duration_seconds_bucket"));
        assert!(text.ends_with("# EOF\n"));
    }
}
