//! The one integration-test binary: the real server over real HTTP, every storage test
//! on SQLite and on PostgreSQL.
#![allow(clippy::disallowed_methods)] // tests and benchmarks measure real time
mod helpers;

mod accounts;
mod admin;
mod api_keys;
mod audit_api;
mod authenticator;
mod cli;
mod directives;
mod email;
mod faults;
mod forward_auth;
mod forward_auth_nginx;
mod graphql_http;
mod guessing;
mod http;
mod instances;
mod lifecycle;
mod limits;
mod live_schema;
mod pages;
mod passkeys;
mod providers;
mod rest;
mod rest_client;
mod rest_guard;
mod rest_input;
mod rest_keys;
mod review;
mod sessions;
mod social;
mod tenant_keys;
mod tenant_members;
mod tenant_rules;
mod tenants;
mod tokens;
mod two_factor;
