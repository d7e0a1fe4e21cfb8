//! A pending second-factor login remembers which client opened it (a hash of its IP
//! and User-Agent), so that `verify_2fa_code` without the `mfa_token` can only finish a
//! login opened from the same client.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum MfaChallenges {
    Table,
    ClientHash,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(MfaChallenges::Table)
                .add_column(
                    ColumnDef::new(MfaChallenges::ClientHash)
                        .string_len(64)
                        .null(),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(MfaChallenges::Table)
                .drop_column(MfaChallenges::ClientHash)
                .to_owned(),
        )
        .await
    }
}
