//! Accounts: tenants, users, sessions and their refresh tokens, one-time email tokens,
//! JWT signing keys and the audit log. Every timestamp is UTC seconds since the epoch
//! (BIGINT): the same ordering and comparison on SQLite and PostgreSQL.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    TenantId,
    Email,
    EmailVerified,
    PasswordHash,
    FirstName,
    Username,
    Role,
    IsActive,
    HasSeenWelcome,
    TwoFactorEnabled,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    UserId,
    Amr,
    CreatedAt,
    LastUsedAt,
    ExpiresAt,
    RevokedAt,
    Ip,
    UserAgent,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    TokenHash,
    SessionId,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum OneTimeTokens {
    Table,
    TokenHash,
    UserId,
    Purpose,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum SigningKeys {
    Table,
    Kid,
    PrivateKey,
    PublicKey,
    Encrypted,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    At,
    Event,
    UserId,
    Ip,
    Detail,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Tenants::Table)
                .if_not_exists()
                .col(string_len(Tenants::Id, 32).primary_key())
                .col(big_integer(Tenants::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Users::Table)
                .if_not_exists()
                .col(string_len(Users::Id, 36).primary_key())
                .col(string_len(Users::TenantId, 32))
                // Normalised (lower case); NULL for a social account without an email.
                .col(string_len_null(Users::Email, 320).unique_key())
                .col(boolean(Users::EmailVerified))
                .col(text_null(Users::PasswordHash))
                .col(string_len_null(Users::FirstName, 128))
                .col(string_len_null(Users::Username, 64))
                .col(string_len(Users::Role, 16))
                .col(boolean(Users::IsActive))
                .col(boolean(Users::HasSeenWelcome))
                .col(boolean(Users::TwoFactorEnabled))
                .col(big_integer(Users::CreatedAt))
                .col(big_integer(Users::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Users::Table, Users::TenantId)
                        .to(Tenants::Table, Tenants::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Sessions::Table)
                .if_not_exists()
                .col(string_len(Sessions::Id, 36).primary_key())
                .col(string_len(Sessions::UserId, 36))
                .col(string_len(Sessions::Amr, 64))
                .col(big_integer(Sessions::CreatedAt))
                .col(big_integer_null(Sessions::LastUsedAt))
                .col(big_integer(Sessions::ExpiresAt))
                .col(big_integer_null(Sessions::RevokedAt))
                .col(string_len_null(Sessions::Ip, 64))
                .col(string_len_null(Sessions::UserAgent, 256))
                .foreign_key(
                    ForeignKey::create()
                        .from(Sessions::Table, Sessions::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_sessions_user")
                .table(Sessions::Table)
                .col(Sessions::UserId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(RefreshTokens::Table)
                .if_not_exists()
                .col(string_len(RefreshTokens::TokenHash, 64).primary_key())
                .col(string_len(RefreshTokens::SessionId, 36))
                .col(big_integer(RefreshTokens::CreatedAt))
                .col(big_integer(RefreshTokens::ExpiresAt))
                .col(big_integer_null(RefreshTokens::UsedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(RefreshTokens::Table, RefreshTokens::SessionId)
                        .to(Sessions::Table, Sessions::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(OneTimeTokens::Table)
                .if_not_exists()
                .col(string_len(OneTimeTokens::TokenHash, 64).primary_key())
                .col(string_len(OneTimeTokens::UserId, 36))
                .col(string_len(OneTimeTokens::Purpose, 32))
                .col(big_integer(OneTimeTokens::CreatedAt))
                .col(big_integer(OneTimeTokens::ExpiresAt))
                .col(big_integer_null(OneTimeTokens::UsedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(OneTimeTokens::Table, OneTimeTokens::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_one_time_tokens_user")
                .table(OneTimeTokens::Table)
                .col(OneTimeTokens::UserId)
                .col(OneTimeTokens::Purpose)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(SigningKeys::Table)
                .if_not_exists()
                .col(string_len(SigningKeys::Kid, 64).primary_key())
                .col(text(SigningKeys::PrivateKey))
                .col(text(SigningKeys::PublicKey))
                .col(boolean(SigningKeys::Encrypted))
                .col(big_integer(SigningKeys::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(AuditLog::Table)
                .if_not_exists()
                .col(big_pk_auto(AuditLog::Id))
                .col(big_integer(AuditLog::At))
                .col(string_len(AuditLog::Event, 64))
                .col(string_len_null(AuditLog::UserId, 36))
                .col(string_len_null(AuditLog::Ip, 64))
                .col(text_null(AuditLog::Detail))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_audit_log_user")
                .table(AuditLog::Table)
                .col(AuditLog::UserId)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            AuditLog::Table.into_iden(),
            SigningKeys::Table.into_iden(),
            OneTimeTokens::Table.into_iden(),
            RefreshTokens::Table.into_iden(),
            Sessions::Table.into_iden(),
            Users::Table.into_iden(),
            Tenants::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
