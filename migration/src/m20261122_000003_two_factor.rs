//! Two-factor authentication: each user's TOTP secret (confirmed or pending; each value
//! says whether it is sealed by the master key) with the last accepted time step (no code is accepted
//! twice), single-use recovery codes stored as SHA-256, and the pending logins that
//! wait for a second factor.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum TwoFactor {
    Table,
    UserId,
    Secret,
    PendingSecret,
    LastStep,
    EnabledAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum RecoveryCodes {
    Table,
    CodeHash,
    UserId,
    CreatedAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum MfaChallenges {
    Table,
    TokenHash,
    UserId,
    CreatedAt,
    ExpiresAt,
    Attempts,
    UsedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

fn owned_by_user(table: impl IntoIden, col: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, col)
        .to(Users::Table, Users::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(TwoFactor::Table)
                .if_not_exists()
                .col(string_len(TwoFactor::UserId, 36).primary_key())
                .col(text_null(TwoFactor::Secret))
                .col(text_null(TwoFactor::PendingSecret))
                .col(big_integer(TwoFactor::LastStep))
                .col(big_integer_null(TwoFactor::EnabledAt))
                .col(big_integer(TwoFactor::UpdatedAt))
                .foreign_key(&mut owned_by_user(TwoFactor::Table, TwoFactor::UserId))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(RecoveryCodes::Table)
                .if_not_exists()
                .col(string_len(RecoveryCodes::CodeHash, 64).primary_key())
                .col(string_len(RecoveryCodes::UserId, 36))
                .col(big_integer(RecoveryCodes::CreatedAt))
                .col(big_integer_null(RecoveryCodes::UsedAt))
                .foreign_key(&mut owned_by_user(
                    RecoveryCodes::Table,
                    RecoveryCodes::UserId,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_recovery_codes_user")
                .table(RecoveryCodes::Table)
                .col(RecoveryCodes::UserId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(MfaChallenges::Table)
                .if_not_exists()
                .col(string_len(MfaChallenges::TokenHash, 64).primary_key())
                .col(string_len(MfaChallenges::UserId, 36))
                .col(big_integer(MfaChallenges::CreatedAt))
                .col(big_integer(MfaChallenges::ExpiresAt))
                .col(integer(MfaChallenges::Attempts))
                .col(big_integer_null(MfaChallenges::UsedAt))
                .foreign_key(&mut owned_by_user(
                    MfaChallenges::Table,
                    MfaChallenges::UserId,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_mfa_challenges_user")
                .table(MfaChallenges::Table)
                .col(MfaChallenges::UserId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            MfaChallenges::Table.into_iden(),
            RecoveryCodes::Table.into_iden(),
            TwoFactor::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
