//! The audit log as an API: each event keeps the client's User-Agent and the user's
//! tenant at the time, and the pages of the log (newest first, by user or by event type)
//! read off indexes that end in the id, so a page costs the same at 10 M rows.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    Event,
    UserId,
    UserAgent,
    TenantId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        m.alter_table(
            Table::alter()
                .table(AuditLog::Table)
                .add_column(ColumnDef::new(AuditLog::UserAgent).string_len(256).null())
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(AuditLog::Table)
                .add_column(ColumnDef::new(AuditLog::TenantId).string_len(64).null())
                .to_owned(),
        )
        .await?;
        m.drop_index(
            Index::drop()
                .name("idx_audit_log_user")
                .table(AuditLog::Table)
                .to_owned(),
        )
        .await?;
        for (name, col) in [
            ("idx_audit_log_user_id", AuditLog::UserId),
            ("idx_audit_log_event_id", AuditLog::Event),
        ] {
            m.create_index(
                Index::create()
                    .name(name)
                    .table(AuditLog::Table)
                    .col(col)
                    .col(AuditLog::Id)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for name in ["idx_audit_log_user_id", "idx_audit_log_event_id"] {
            m.drop_index(Index::drop().name(name).table(AuditLog::Table).to_owned())
                .await?;
        }
        m.create_index(
            Index::create()
                .name("idx_audit_log_user")
                .table(AuditLog::Table)
                .col(AuditLog::UserId)
                .to_owned(),
        )
        .await?;
        for col in [AuditLog::TenantId, AuditLog::UserAgent] {
            m.alter_table(
                Table::alter()
                    .table(AuditLog::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
