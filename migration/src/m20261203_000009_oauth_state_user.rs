//! A web flow remembers the user who started it while signed in, so that only that user
//! can finish it as a link (`linkProvider`): a code and state obtained by someone else
//! cannot be planted on a victim's account.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OauthStates {
    Table,
    UserId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(OauthStates::Table)
                .add_column(ColumnDef::new(OauthStates::UserId).string_len(36).null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(OauthStates::Table)
                .drop_column(OauthStates::UserId)
                .to_owned(),
        )
        .await
    }
}
