//! Prometheus metrics: GraphQL operations (by root field, so label values are bounded by
//! the schema, never by what a client sends) and login outcomes.
use std::collections::HashMap;
use std::sync::Arc;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry,
    TextEncoder,
};

#[derive(Debug, Clone, Copy)]
pub enum LoginOutcome {
    Ok,
    Failed,
    Inactive,
}

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    operations: IntCounterVec,
    latency: HistogramVec,
    logins: IntCounterVec,
    /// The series of each root field, resolved once (see `prepare`), so that recording
    /// takes no lock and hashes no label values.
    prepared: Arc<HashMap<String, OpSeries>>,
}

#[derive(Clone)]
struct OpSeries {
    ok: IntCounter,
    error: IntCounter,
    latency: Histogram,
}

impl Metrics {
    pub fn new() -> anyhow::Result<Self> {
        let registry = Registry::new_custom(Some("latchkey".into()), None)?;
        let operations = IntCounterVec::new(
            Opts::new(
                "graphql_operations_total",
                "GraphQL root fields executed, by field and outcome",
            ),
            &["operation", "outcome"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "graphql_operation_duration_seconds",
                "Time to resolve a GraphQL root field",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["operation"],
        )?;
        let logins = IntCounterVec::new(
            Opts::new("logins_total", "Password logins by outcome"),
            &["outcome"],
        )?;
        registry.register(Box::new(operations.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(logins.clone()))?;
        Ok(Self {
            registry,
            operations,
            latency,
            logins,
            prepared: Arc::default(),
        })
    }

    /// Resolves the series of these operations ahead of time.
    pub fn prepare<'a>(&mut self, names: impl IntoIterator<Item = &'a str>) {
        let series = names
            .into_iter()
            .map(|n| {
                let s = OpSeries {
                    ok: self.operations.with_label_values(&[n, "ok"]),
                    error: self.operations.with_label_values(&[n, "error"]),
                    latency: self.latency.with_label_values(&[n]),
                };
                (n.to_owned(), s)
            })
            .collect();
        self.prepared = Arc::new(series);
    }

    pub fn operation(&self, name: &str, ok: bool, seconds: f64) {
        if let Some(s) = self.prepared.get(name) {
            if ok {
                s.ok.inc()
            } else {
                s.error.inc()
            }
            s.latency.observe(seconds);
            return;
        }
        self.operations
            .with_label_values(&[name, if ok { "ok" } else { "error" }])
            .inc();
        self.latency.with_label_values(&[name]).observe(seconds);
    }

    pub fn login(&self, outcome: LoginOutcome) {
        let label = match outcome {
            LoginOutcome::Ok => "ok",
            LoginOutcome::Failed => "failed",
            LoginOutcome::Inactive => "inactive",
        };
        self.logins.with_label_values(&[label]).inc();
    }

    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::error!(error = %e, "encoding metrics");
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}
