//! `Caller`: who is making a request, as established once per request by the HTTP
//! extractor from its credentials, and read by the GraphQL guards and resolvers.
use crate::domain::Role;
use crate::idm::{self, ClientInfo};

/// A verified user access token (or the development user in `noauth` mode).
#[derive(Debug, Clone)]
pub struct UserCaller {
    pub user_id: String,
    pub session_id: String,
    pub tenant_id: String,
    pub role: Role,
    pub amr: Vec<String>,
}

/// A verified API key.
#[derive(Debug, Clone)]
pub struct KeyCaller {
    pub key_id: String,
    pub user_id: String,
    pub tenant_id: String,
    /// Lower-case scope names: "read", "write", "delete".
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Caller {
    pub user: Option<UserCaller>,
    pub key: Option<KeyCaller>,
    pub service: bool,
    /// A credential was presented and failed: every non-public field answers
    /// UNAUTHENTICATED with this message rather than treating the caller as anonymous.
    pub invalid: Option<&'static str>,
    pub client: ClientInfo,
}

impl Caller {
    pub fn kind(&self) -> &'static str {
        if self.user.is_some() {
            "a user access token"
        } else if self.key.is_some() {
            "an API key"
        } else if self.service {
            "the service token"
        } else {
            "anonymous requests"
        }
    }

    /// The signed-in user; for resolvers whose field admits only user tokens.
    pub fn user(&self) -> idm::Result<&UserCaller> {
        self.user
            .as_ref()
            .ok_or_else(|| idm::Error::unauthenticated("A user access token is required."))
    }

    /// The user acting, by user token or through one of their API keys.
    pub fn acting_user_id(&self) -> idm::Result<&str> {
        match (&self.user, &self.key) {
            (Some(u), _) => Ok(&u.user_id),
            (None, Some(k)) => Ok(&k.user_id),
            _ => Err(idm::Error::unauthenticated("Authentication required.")),
        }
    }
}
