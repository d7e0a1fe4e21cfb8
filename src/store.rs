//! The database: connecting with the pool settings both backends need, applying the
//! migrations, and an in-memory SQLite store for tests and fuzzing. Start-up and the
//! test helpers use it; the core only ever sees the connection.
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use secrecy::ExposeSecret;

use crate::config::Settings;

pub async fn connect(settings: &Settings) -> anyhow::Result<DatabaseConnection> {
    let url = settings.database_url.expose_secret();
    let sqlite = url.starts_with("sqlite:");
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        .max_connections(if sqlite { 8 } else { 16 })
        .sqlx_logging(false)
        // WAL lets readers proceed while one connection writes; with WAL, NORMAL
        // synchronisation cannot corrupt the database (SQLite's own advice).
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(5))
        });
    let db = Database::connect(opts)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the database (setting `database_url`): {e}"))?;
    Ok(db)
}

pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None)
        .await
        .map_err(|e| anyhow::anyhow!("applying migrations: {e}"))
}

/// A fresh, migrated in-memory SQLite database on one connection that is never
/// recycled (the database lives as long as that connection).
pub async fn memory() -> anyhow::Result<DatabaseConnection> {
    let year = Duration::from_secs(365 * 86_400);
    let mut opts = ConnectOptions::new("sqlite::memory:");
    opts.max_connections(1)
        .min_connections(1)
        .idle_timeout(year)
        .max_lifetime(year)
        .sqlx_logging(false);
    let db = Database::connect(opts).await?;
    migrate(&db).await?;
    Ok(db)
}
