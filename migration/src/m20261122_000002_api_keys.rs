//! API keys: only the SHA-256 of a key is stored (unique, so a lookup is one indexed
//! read). `revoked_at` may lie in the future: a rotated key's grace period ends then.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    UserId,
    TenantId,
    Name,
    Prefix,
    KeyHash,
    Environment,
    Scopes,
    Ips,
    Temporary,
    CreatedAt,
    ExpiresAt,
    LastUsedAt,
    RevokedAt,
    DeletedAt,
    ReplacedBy,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ApiKeys::Table)
                .if_not_exists()
                .col(string_len(ApiKeys::Id, 36).primary_key())
                .col(string_len(ApiKeys::UserId, 36))
                .col(string_len(ApiKeys::TenantId, 32))
                .col(string_len(ApiKeys::Name, 64))
                .col(string_len(ApiKeys::Prefix, 40))
                .col(string_len_uniq(ApiKeys::KeyHash, 64))
                .col(string_len(ApiKeys::Environment, 8))
                .col(string_len(ApiKeys::Scopes, 32))
                .col(text(ApiKeys::Ips))
                .col(boolean(ApiKeys::Temporary))
                .col(big_integer(ApiKeys::CreatedAt))
                .col(big_integer_null(ApiKeys::ExpiresAt))
                .col(big_integer_null(ApiKeys::LastUsedAt))
                .col(big_integer_null(ApiKeys::RevokedAt))
                .col(big_integer_null(ApiKeys::DeletedAt))
                .col(string_len_null(ApiKeys::ReplacedBy, 36))
                .foreign_key(
                    ForeignKey::create()
                        .from(ApiKeys::Table, ApiKeys::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_api_keys_user")
                .table(ApiKeys::Table)
                .col(ApiKeys::UserId)
                .col(ApiKeys::CreatedAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ApiKeys::Table).if_exists().to_owned())
            .await
    }
}
