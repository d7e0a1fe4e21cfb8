//! The guard of every REST route: reads the body (under its limit) first, then asks
//! the core who the caller is and whether the route's rule admits them, exactly as the
//! GraphQL guard does for a field; writes every failure in the route's family shape.
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;

use super::failure::{Failure, Family};
use super::table::Route;
use crate::http::AppState;
use crate::http::extract::{caller_with, presented, presented_with_certs_token};
use crate::http::graphql::over_limit;
use crate::idm;
use crate::idm::auth::{Caller, Refused, Rule};

/// The most a REST body may hold: every request of REST.md is a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What the guard needs of a route's row.
pub struct Policy {
    pub rule: Rule,
    pub family: Family,
    pub certs_token: bool,
    pub reads_body: bool,
}

impl Policy {
    pub fn of(route: &Route) -> Self {
        Policy {
            rule: route.rule.clone(),
            family: route.family,
            certs_token: route.certs_token,
            reads_body: route.reads_body(),
        }
    }
}

#[derive(Clone)]
pub struct Guarded {
    pub app: AppState,
    pub policy: Arc<Policy>,
}

pub async fn guard(State(g): State<Guarded>, req: Request, next: Next) -> Response {
    let family = g.policy.family;
    let (mut parts, body) = req.into_parts();
    let bytes = if g.policy.reads_body {
        match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
            Ok(b) => b,
            Err(e) if over_limit(&e) => {
                return Failure::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("The request body is larger than the {MAX_BODY_BYTES} bytes this route accepts."),
                )
                .render(family);
            }
            Err(_) => {
                return Failure::bad_input("The request body could not be read.").render(family);
            }
        }
    } else {
        Bytes::new()
    };
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let caller = {
        let presented = if g.policy.certs_token {
            presented_with_certs_token(&parts.headers)
        } else {
            presented(&parts.headers)
        };
        // Forward auth never admits a request that sends nothing, not even as the
        // `noauth` development user: that would open the whole API behind the proxy.
        if family == Family::Forward && !presented.any() {
            let e = idm::Error::unauthenticated("Invalid or missing API key");
            return refusal(family, false, &Caller::default(), e).render(family);
        }
        let caller = caller_with(&g.app, &parts.headers, peer, &presented).await;
        if let Err(e) = g.app.idm.authorize(&g.policy.rule, &caller).await {
            return refusal(family, presented.any(), &caller, e).render(family);
        }
        caller
    };
    parts.extensions.insert(caller);
    let req = Request::from_parts(parts, Body::from(bytes));
    let mut resp = next.run(req).await;
    match resp.extensions_mut().remove::<Failure>() {
        Some(f) => f.render(family),
        None => resp,
    }
}

/// A refusal as the family's document words it.
fn refusal(family: Family, presented: bool, caller: &Caller, e: idm::Error) -> Failure {
    let mut f = Failure::from(e);
    if f.status != StatusCode::UNAUTHORIZED {
        return f;
    }
    match family {
        Family::Coded => {}
        Family::Detail => {
            f.message = if !presented {
                "Authorization header missing".into()
            } else {
                match caller.refused {
                    Some(Refused::InvalidKey) => "Invalid API key".into(),
                    Some(Refused::InvalidToken) => {
                        "Token has expired or is not valid; sign in again".into()
                    }
                    _ => f.message,
                }
            };
        }
        Family::Forward => {
            // Only a bearer that is not a key is judged as an access token.
            f.message = if caller.refused == Some(Refused::InvalidToken) {
                "Invalid or missing access token".into()
            } else {
                "Invalid or missing API key".into()
            };
        }
    }
    f
}
