//! The four auth directives of the contract, defined once, and the guard that
//! enforces them through the core's `Idm::authorize`.
//!
//! Each `#[TypeDirective]` below is what the SDL prints. The guard is derived from that
//! same SDL: at start-up `AuthPolicy::from_sdl` reads the directives off every root
//! field of the printed schema, and the `Guard` extension enforces exactly those on
//! each root field it resolves. So the schema cannot say one thing while the server
//! enforces another, and a root field with no auth directive stops the schema from
//! being built at all.
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo,
};
use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
use async_graphql::{PathSegment, ServerError, ServerResult, TypeDirective, Value};

use super::types::{ApiKeyScope, Role as GqlRole, TenantRole as GqlTenantRole};
use crate::domain::{Role, Scope, TenantRole};
use crate::idm::auth::{Caller, Rule};
use crate::idm::{self, Idm};

/// No credentials needed.
#[TypeDirective(location = "FieldDefinition", name = "public")]
pub fn public() {}

/// A user access token. With roles, the user's role must be one of them.
#[TypeDirective(location = "FieldDefinition", name = "userToken")]
pub fn user_token(roles: Option<Vec<GqlRole>>) {}

/// An API key. With scopes, the key must hold every one of them.
#[TypeDirective(location = "FieldDefinition", name = "apiKey")]
pub fn api_key(scopes: Option<Vec<ApiKeyScope>>) {}

/// The deployment's service token, for internal callers (other services of the deployment).
#[TypeDirective(location = "FieldDefinition", name = "serviceToken")]
pub fn service_token() {}

/// The caller's role in its current tenant must be one of these. It narrows the credential
/// directives on the same field (a user token's tenant is its `tid`; an API key's is the tenant
/// it was made in, and its role is its owner's role there now); it is no credential by itself.
#[TypeDirective(location = "FieldDefinition", name = "tenantRole")]
pub fn tenant_role(roles: Vec<GqlTenantRole>) {}

/// The rule of every root field, keyed by (type, field).
#[derive(Debug, Default)]
pub struct AuthPolicy {
    /// type → field → rule (nested, so that a lookup allocates nothing)
    rules: HashMap<String, HashMap<String, Rule>>,
}

fn enum_list(
    args: &[(
        async_graphql::Positioned<async_graphql::Name>,
        async_graphql::Positioned<Value>,
    )],
    name: &str,
) -> Vec<String> {
    args.iter()
        .filter(|(n, _)| n.node.as_str() == name)
        .flat_map(|(_, v)| match &v.node {
            Value::List(items) => items
                .iter()
                .filter_map(|i| match i {
                    Value::Enum(e) => Some(e.to_string()),
                    _ => None,
                })
                .collect(),
            Value::Enum(e) => vec![e.to_string()],
            _ => Vec::new(),
        })
        .collect()
}

impl AuthPolicy {
    /// Reads the rules off the printed schema. Errors name each root field that
    /// carries no auth directive.
    pub fn from_sdl(sdl: &str) -> Result<Self, String> {
        let doc = async_graphql::parser::parse_schema(sdl)
            .map_err(|e| format!("schema does not parse: {e}"))?;
        let mut rules: HashMap<String, HashMap<String, Rule>> = HashMap::new();
        let mut bare = Vec::new();
        for def in doc.definitions {
            let TypeSystemDefinition::Type(ty) = def else {
                continue;
            };
            let type_name = ty.node.name.node.to_string();
            if !matches!(type_name.as_str(), "Query" | "Mutation" | "Subscription") {
                continue;
            }
            let TypeKind::Object(obj) = &ty.node.kind else {
                continue;
            };
            for field in &obj.fields {
                let mut rule = Rule::default();
                let mut any = false;
                for d in &field.node.directives {
                    let args = &d.node.arguments;
                    match d.node.name.node.as_str() {
                        "public" => rule.public = true,
                        "serviceToken" => rule.service = true,
                        "userToken" => {
                            let roles = enum_list(args, "roles")
                                .iter()
                                .map(|r| r.parse())
                                .collect::<Result<Vec<Role>, _>>()?;
                            rule.user_roles = Some(roles);
                        }
                        "apiKey" => {
                            let scopes = enum_list(args, "scopes")
                                .iter()
                                .map(|s| {
                                    s.to_lowercase()
                                        .parse()
                                        .map_err(|()| format!("unknown API-key scope `{s}`"))
                                })
                                .collect::<Result<Vec<Scope>, _>>()?;
                            rule.key_scopes = Some(scopes);
                        }
                        // It narrows a credential; it is none by itself.
                        "tenantRole" => {
                            let roles = enum_list(args, "roles")
                                .iter()
                                .map(|r| r.parse())
                                .collect::<Result<Vec<TenantRole>, _>>()?;
                            rule.tenant_roles = Some(roles);
                            continue;
                        }
                        _ => continue,
                    }
                    any = true;
                }
                let field_name = field.node.name.node.to_string();
                if !any {
                    bare.push(format!("{type_name}.{field_name}"));
                }
                rules
                    .entry(type_name.clone())
                    .or_default()
                    .insert(field_name, rule);
            }
        }
        if !bare.is_empty() {
            return Err(format!(
                "root fields without an auth directive: {}",
                bare.join(", ")
            ));
        }
        Ok(Self { rules })
    }

    pub fn rule(&self, type_name: &str, field: &str) -> Option<&Rule> {
        self.rules.get(type_name)?.get(field)
    }

    /// Every (type, field, rule).
    pub fn fields(&self) -> impl Iterator<Item = (&str, &str, &Rule)> {
        self.rules
            .iter()
            .flat_map(|(t, fields)| fields.iter().map(move |(f, r)| (t.as_str(), f.as_str(), r)))
    }
}

/// The extension that enforces the policy on every root field, and times it.
pub struct Guard {
    pub policy: Arc<AuthPolicy>,
}

impl ExtensionFactory for Guard {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(GuardExtension {
            policy: self.policy.clone(),
        })
    }
}

struct GuardExtension {
    policy: Arc<AuthPolicy>,
}

pub fn to_server_error(e: &idm::Error, field: &str) -> ServerError {
    let mut err = super::errors::to_graphql(e).into_server_error(Default::default());
    err.locations.clear();
    err.path = vec![PathSegment::Field(field.to_owned())];
    err
}

#[async_trait::async_trait]
impl Extension for GuardExtension {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        // Introspection answers what schema.graphql says: the schema has no description
        // (async-graphql's own answer is a generic sentence) and no scalar a
        // `@specifiedBy` (async-graphql gives chrono's DateTime one; the contract's SDL
        // has none).
        if info.is_for_introspection
            && matches!(
                (info.parent_type, info.name),
                ("__Schema", "description") | ("__Type", "specifiedByURL")
            )
        {
            return Ok(None);
        }
        if info.path_node.parent.is_some()
            || info.is_for_introspection
            || info.name.starts_with("__")
        {
            return next.run(ctx, info).await;
        }
        let shown = info.alias.unwrap_or(info.name).to_owned();
        let op = info.name.to_owned();
        #[allow(clippy::disallowed_methods)] // the metrics' timing, at the edge
        let started = Instant::now();
        let outcome = async {
            let rule = self
                .policy
                .rule(info.parent_type, info.name)
                .ok_or_else(|| idm::Error::forbidden("This field is not available."))?;
            let caller = ctx
                .data_opt::<Caller>()
                .ok_or_else(|| idm::Error::Internal(anyhow::anyhow!("no caller in request")))?;
            let idm = ctx
                .data_opt::<Arc<Idm>>()
                .ok_or_else(|| idm::Error::Internal(anyhow::anyhow!("no idm in schema")))?;
            idm.authorize(rule, caller).await?;
            Ok::<_, idm::Error>(idm)
        }
        .await;
        let idm = match outcome {
            Ok(idm) => idm,
            Err(e) => {
                if let Some(idm) = ctx.data_opt::<Arc<Idm>>() {
                    idm.metrics
                        .operation(&op, false, started.elapsed().as_secs_f64());
                }
                return Err(to_server_error(&e, &shown));
            }
        };
        let result = next.run(ctx, info).await.map_err(|mut e| {
            super::errors::annotate(&mut e);
            e
        });
        idm.metrics
            .operation(&op, result.is_ok(), started.elapsed().as_secs_f64());
        result
    }
}
