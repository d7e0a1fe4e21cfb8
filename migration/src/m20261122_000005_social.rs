//! Social login: identities (a provider's subject → one user, for good) and the web
//! authorization-code flows in flight (state stored as SHA-256, with its PKCE verifier,
//! nonce and redirect URI; 10 minutes, single use).
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Identities {
    Table,
    Id,
    Provider,
    Subject,
    UserId,
    Email,
    CreatedAt,
    LastLoginAt,
}

#[derive(DeriveIden)]
enum OauthStates {
    Table,
    StateHash,
    Provider,
    RedirectUri,
    PkceVerifier,
    Nonce,
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
                .table(Identities::Table)
                .if_not_exists()
                .col(string_len(Identities::Id, 36).primary_key())
                .col(string_len(Identities::Provider, 16))
                .col(string_len(Identities::Subject, 255))
                .col(string_len(Identities::UserId, 36))
                .col(string_len_null(Identities::Email, 320))
                .col(big_integer(Identities::CreatedAt))
                .col(big_integer(Identities::LastLoginAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Identities::Table, Identities::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_identities_provider_subject")
                .table(Identities::Table)
                .col(Identities::Provider)
                .col(Identities::Subject)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_identities_user")
                .table(Identities::Table)
                .col(Identities::UserId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(OauthStates::Table)
                .if_not_exists()
                .col(string_len(OauthStates::StateHash, 64).primary_key())
                .col(string_len(OauthStates::Provider, 16))
                .col(text(OauthStates::RedirectUri))
                .col(text(OauthStates::PkceVerifier))
                .col(string_len(OauthStates::Nonce, 128))
                .col(big_integer(OauthStates::ExpiresAt))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            OauthStates::Table.into_iden(),
            Identities::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
