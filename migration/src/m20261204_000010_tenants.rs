//! Tenants with members: a tenant has a name; a user belongs to one or more tenants
//! with a role (OWNER, ADMIN, MEMBER); a session lives in one tenant (the access
//! token's `tid`); invitations carry a token stored as its SHA-256. Every existing
//! user becomes the OWNER of the tenant signup made, and every session lives there.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    Name,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    TenantId,
}

#[derive(DeriveIden)]
enum Memberships {
    Table,
    TenantId,
    UserId,
    Role,
    JoinedAt,
}

#[derive(DeriveIden)]
enum Invitations {
    Table,
    Id,
    TenantId,
    Email,
    Role,
    TokenHash,
    InvitedBy,
    CreatedAt,
    ExpiresAt,
    AcceptedAt,
    RevokedAt,
    DeclinedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Tenants::Table)
                .add_column(string_len(Tenants::Name, 128).default("My team"))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Sessions::Table)
                .add_column(ColumnDef::new(Sessions::TenantId).string_len(32).null())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Memberships::Table)
                .col(string_len(Memberships::TenantId, 32))
                .col(string_len(Memberships::UserId, 36))
                .col(string_len(Memberships::Role, 16))
                .col(big_integer(Memberships::JoinedAt))
                .primary_key(
                    Index::create()
                        .col(Memberships::TenantId)
                        .col(Memberships::UserId),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(Memberships::Table, Memberships::TenantId)
                        .to(Tenants::Table, Tenants::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(Memberships::Table, Memberships::UserId)
                        .to(Users::Table, Users::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_memberships_user")
                .table(Memberships::Table)
                .col(Memberships::UserId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Invitations::Table)
                .col(string_len(Invitations::Id, 36).primary_key())
                .col(string_len(Invitations::TenantId, 32))
                .col(string_len(Invitations::Email, 320))
                .col(string_len(Invitations::Role, 16))
                .col(string_len(Invitations::TokenHash, 64).unique_key())
                .col(ColumnDef::new(Invitations::InvitedBy).string_len(36).null())
                .col(big_integer(Invitations::CreatedAt))
                .col(big_integer(Invitations::ExpiresAt))
                .col(ColumnDef::new(Invitations::AcceptedAt).big_integer().null())
                .col(ColumnDef::new(Invitations::RevokedAt).big_integer().null())
                .col(ColumnDef::new(Invitations::DeclinedAt).big_integer().null())
                .foreign_key(
                    ForeignKey::create()
                        .from(Invitations::Table, Invitations::TenantId)
                        .to(Tenants::Table, Tenants::Id),
                )
                .to_owned(),
        )
        .await?;
        for (name, col) in [
            ("idx_invitations_tenant", Invitations::TenantId),
            ("idx_invitations_email", Invitations::Email),
        ] {
            m.create_index(
                Index::create()
                    .name(name)
                    .table(Invitations::Table)
                    .col(col)
                    .to_owned(),
            )
            .await?;
        }
        let db = m.get_connection();
        db.execute_unprepared(
            "INSERT INTO memberships (tenant_id, user_id, role, joined_at) \
             SELECT tenant_id, id, 'OWNER', created_at FROM users",
        )
        .await?;
        db.execute_unprepared(
            "UPDATE sessions SET tenant_id = \
             (SELECT users.tenant_id FROM users WHERE users.id = sessions.user_id)",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Invitations::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(Memberships::Table).to_owned())
            .await?;
        m.alter_table(
            Table::alter()
                .table(Sessions::Table)
                .drop_column(Sessions::TenantId)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Tenants::Table)
                .drop_column(Tenants::Name)
                .to_owned(),
        )
        .await
    }
}
