//! Prometheus metrics: GraphQL operations (by root field, so label values are bounded by
//! the schema, never by what a client sends) and login outcomes.
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
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
        })
    }

    pub fn operation(&self, name: &str, ok: bool, seconds: f64) {
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
