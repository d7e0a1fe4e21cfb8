//! sea-orm entities. They never leave the store layer: the idm core turns rows into
//! domain values, and the GraphQL layer exposes chosen fields of those.
pub mod api_key;
pub mod audit_log;
pub mod identity;
pub mod invitation;
pub mod membership;
pub mod mfa_challenge;
pub mod oauth_state;
pub mod one_time_token;
pub mod passkey;
pub mod recovery_code;
pub mod refresh_token;
pub mod session;
pub mod signing_key;
pub mod tenant;
pub mod two_factor;
pub mod user;
pub mod webauthn_ceremony;
