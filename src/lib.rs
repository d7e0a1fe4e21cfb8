//! latchkey: a self-hostable identity server with a GraphQL API.
pub mod clock;
pub mod config;
pub mod domain;
pub mod entities;
pub mod graphql;
pub mod http;
pub mod idm;
pub mod metrics;
pub mod pages;
pub mod rest;
pub mod startup;
pub mod store;
pub mod telemetry;
