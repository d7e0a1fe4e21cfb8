//! A pending second-factor login remembers its first factor ("pwd" or "fed"), so the
//! finished login's `amr` says what really happened.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum MfaChallenges {
    Table,
    FirstFactor,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(MfaChallenges::Table)
                .add_column(
                    ColumnDef::new(MfaChallenges::FirstFactor)
                        .string_len(16)
                        .not_null()
                        .default("pwd"),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(MfaChallenges::Table)
                .drop_column(MfaChallenges::FirstFactor)
                .to_owned(),
        )
        .await
    }
}
