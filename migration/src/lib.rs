//! Database migrations for latchkey. One file per change, applied in order by
//! `latchkey migrate` and at the start of `latchkey serve`.
pub use sea_orm_migration::prelude::*;

mod m20261122_000001_accounts;
mod m20261122_000002_api_keys;
mod m20261122_000003_two_factor;
mod m20261122_000004_passkeys;
mod m20261122_000005_social;
mod m20261122_000006_mfa_first_factor;
mod m20261202_000007_mfa_client;
mod m20261203_000008_audit_api;
mod m20261203_000009_oauth_state_user;
mod m20261204_000010_tenants;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_accounts::Migration),
            Box::new(m20261122_000002_api_keys::Migration),
            Box::new(m20261122_000003_two_factor::Migration),
            Box::new(m20261122_000004_passkeys::Migration),
            Box::new(m20261122_000005_social::Migration),
            Box::new(m20261122_000006_mfa_first_factor::Migration),
            Box::new(m20261202_000007_mfa_client::Migration),
            Box::new(m20261203_000008_audit_api::Migration),
            Box::new(m20261203_000009_oauth_state_user::Migration),
            Box::new(m20261204_000010_tenants::Migration),
        ]
    }
}
