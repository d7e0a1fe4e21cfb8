//! What a guarded operation accepts, and the decision whether a caller may use it.
//! GraphQL reads each root field's rule off its printed directives; every other
//! transport declares its rules the same way and asks the same `authorize`.
use super::Caller;
use crate::domain::{Role, Scope, TenantRole};
use crate::idm::{Error, Idm, Result};

/// Any one of the listed credentials is accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rule {
    pub public: bool,
    /// `Some(roles)`: a user token is accepted; an empty list means any role.
    pub user_roles: Option<Vec<Role>>,
    /// `Some(scopes)`: an API key holding every listed scope is accepted.
    pub key_scopes: Option<Vec<Scope>>,
    pub service: bool,
    /// `Some(roles)`: besides the credential, the acting user's role in the caller's
    /// tenant (a token's `tid`, a key's tenant) must be one of these.
    pub tenant_roles: Option<Vec<TenantRole>>,
}

impl Rule {
    /// The credentials the rule accepts, in words for an error message.
    pub fn describe(&self) -> String {
        let mut kinds = Vec::new();
        if self.user_roles.is_some() {
            kinds.push("a user access token (Authorization: Bearer <token>)");
        }
        if self.key_scopes.is_some() {
            kinds.push("an API key (X-API-Key: <key>)");
        }
        if self.service {
            kinds.push("the service token (X-Service-Token)");
        }
        kinds.join(" or ")
    }
}

impl Idm {
    /// Whether `caller` may use what `rule` guards, at the caller's `now`: the
    /// credential, then the tenant role. Roles are read from the store (the user's
    /// cached briefly, the tenant's not at all), not from the token, so a demotion takes
    /// effect at once.
    pub async fn authorize(&self, rule: &Rule, caller: &Caller) -> Result<()> {
        self.admits_credential(rule, caller).await?;
        let Some(roles) = &rule.tenant_roles else {
            return Ok(());
        };
        let (user_id, tenant_id) = match (&caller.user, &caller.key) {
            (Some(u), _) => (&u.user_id, &u.tenant_id),
            (None, Some(k)) => (&k.user_id, &k.tenant_id),
            _ => return Err(Error::forbidden("This needs a member of a tenant.")),
        };
        match self.tenant_role(tenant_id, user_id).await? {
            Some(role) if roles.contains(&role) => Ok(()),
            Some(_) => {
                let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
                Err(Error::forbidden(format!(
                    "This action requires the {} role in this tenant.",
                    names.join(" or ")
                )))
            }
            None => Err(Error::forbidden(
                "You are no longer a member of this tenant; switch to another or sign in again.",
            )),
        }
    }

    async fn admits_credential(&self, rule: &Rule, caller: &Caller) -> Result<()> {
        if rule.public {
            return Ok(());
        }
        if let Some(refused) = caller.refused {
            return Err(Error::unauthenticated(refused.to_string()));
        }
        if rule.service && caller.service {
            return Ok(());
        }
        if let (Some(roles), Some(user)) = (&rule.user_roles, &caller.user) {
            if roles.is_empty() {
                return Ok(());
            }
            let current = self
                .user(&user.user_id, caller.now)
                .await
                .map_err(|_| Error::unauthenticated("Sign in again."))?;
            if roles.contains(&current.role) {
                return Ok(());
            }
            let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            return Err(Error::forbidden(format!(
                "This action requires the {} role.",
                names.join(" or ")
            )));
        }
        if let (Some(scopes), Some(key)) = (&rule.key_scopes, &caller.key) {
            if let Some(missing) = scopes.iter().find(|s| !key.scopes.contains(s)) {
                return Err(Error::forbidden(format!(
                    "This action requires the '{}' scope.",
                    missing.as_str()
                )));
            }
            return Ok(());
        }
        if caller.user.is_some() || caller.key.is_some() || caller.service {
            return Err(Error::forbidden(format!(
                "This field does not accept {}; it needs {}.",
                caller.kind(),
                rule.describe()
            )));
        }
        if rule.key_scopes.is_some() && rule.user_roles.is_none() && !rule.service {
            return Err(Error::unauthenticated(
                super::Refused::InvalidKey.to_string(),
            ));
        }
        Err(Error::unauthenticated(format!(
            "Authentication required: send {}.",
            rule.describe()
        )))
    }
}
