//! Passkeys (WebAuthn): each user's registered credentials (webauthn-rs's serialised
//! `Passkey`, with its signature counter and backup flags) and the ceremonies in flight.
//! A ceremony row is keyed by its challenge, which the browser echoes in the
//! credential's clientDataJSON, so any instance can finish what another began.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Passkeys {
    Table,
    Id,
    UserId,
    CredentialId,
    Credential,
    DeviceName,
    BackedUp,
    CreatedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum WebauthnCeremonies {
    Table,
    Challenge,
    Kind,
    UserId,
    State,
    ExpiresAt,
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
                .table(Passkeys::Table)
                .if_not_exists()
                .col(string_len(Passkeys::Id, 36).primary_key())
                .col(string_len(Passkeys::UserId, 36))
                .col(string_len_uniq(Passkeys::CredentialId, 1400))
                .col(text(Passkeys::Credential))
                .col(string_len(Passkeys::DeviceName, 256))
                .col(boolean(Passkeys::BackedUp))
                .col(big_integer(Passkeys::CreatedAt))
                .col(big_integer_null(Passkeys::LastUsedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Passkeys::Table, Passkeys::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_passkeys_user")
                .table(Passkeys::Table)
                .col(Passkeys::UserId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(WebauthnCeremonies::Table)
                .if_not_exists()
                .col(string_len(WebauthnCeremonies::Challenge, 128).primary_key())
                .col(string_len(WebauthnCeremonies::Kind, 16))
                .col(string_len_null(WebauthnCeremonies::UserId, 36))
                .col(text(WebauthnCeremonies::State))
                .col(big_integer(WebauthnCeremonies::ExpiresAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_webauthn_ceremonies_expiry")
                .table(WebauthnCeremonies::Table)
                .col(WebauthnCeremonies::ExpiresAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            WebauthnCeremonies::Table.into_iden(),
            Passkeys::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
