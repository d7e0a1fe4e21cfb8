//! Builds the application state (database, migrations, keys, schema) and runs the
//! HTTP server until SIGTERM or Ctrl-C, draining in-flight requests.
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::clock::now;
use crate::config::Settings;
use crate::graphql::schema;
use crate::http::{AppState, metrics_router, router};
use crate::idm::auth::UserCaller;
use crate::idm::{Idm, key_verify};
use crate::metrics::Metrics;
use crate::store;

/// Connects, migrates, loads or creates the signing key, and builds the schema.
pub async fn build(settings: Settings) -> anyhow::Result<AppState> {
    let db = store::connect(&settings).await?;
    store::migrate(&db).await?;
    // Read once: it guards the schema and names the operations' metric series.
    let policy = Arc::new(schema::policy().map_err(|e| anyhow::anyhow!(e))?);
    let mut metrics = Metrics::new()?;
    metrics.prepare(policy.fields().map(|(_, field, _)| field));
    let idm = Arc::new(Idm::open(settings, db, metrics, now()).await?);
    if idm.settings.noauth {
        let u = idm.dev_user(now()).await?;
        tracing::warn!(
            email = u.email.as_deref(),
            "noauth development mode: every @userToken field acts as this user"
        );
        let _ = idm.noauth_user.set(UserCaller {
            user_id: u.id,
            session_id: "noauth".into(),
            tenant_id: u.tenant_id,
        });
    }
    spawn_last_used_flusher(&idm);
    let schema = schema::build(idm.clone(), &idm.settings.graphql, policy);
    Ok(AppState { idm, schema })
}

/// Writes the API keys' noted uses every few seconds (see `idm::key_verify`). Holds
/// only a weak reference: the task ends when the application is dropped.
fn spawn_last_used_flusher(idm: &Arc<Idm>) {
    let weak = Arc::downgrade(idm);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(key_verify::FLUSH_EVERY_SECS));
        loop {
            tick.tick().await;
            let Some(idm) = weak.upgrade() else { break };
            if let Err(e) = idm.flush_key_uses().await {
                tracing::warn!(error = %e, "writing API-key last-used times");
            }
        }
    });
}

/// Serves until SIGTERM or Ctrl-C; in-flight requests finish first.
pub async fn run(state: AppState, listener: TcpListener) -> anyhow::Result<()> {
    let idm = state.idm.clone();
    if let Some(addr) = idm.settings.metrics.listen {
        let metrics = TcpListener::bind(addr).await.map_err(|e| {
            anyhow::anyhow!("cannot listen on {addr} (setting `metrics.listen`): {e}")
        })?;
        tracing::info!("metrics on http://{}/metrics", metrics.local_addr()?);
        let app = metrics_router(state.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(metrics, app).await {
                tracing::error!(error = %e, "the metrics listener stopped");
            }
        });
    }
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    if let Err(e) = idm.flush_key_uses().await {
        tracing::warn!(error = %e, "writing API-key last-used times at shutdown");
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: draining in-flight requests");
}
