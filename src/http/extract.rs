//! The credential extractor: reads a request's client address and credential headers
//! (Authorization, X-API-Key, X-Service-Token) and its `now`, and asks the core who the
//! caller is (`Idm::authenticate`). Nothing here decides anything about a credential.
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use super::AppState;
use crate::clock::now;
use crate::idm::ClientInfo;
use crate::idm::auth::{Caller, Header, Presented};

impl<S> FromRequestParts<S> for Caller
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let head = Head::from_request_parts(parts, state).await?;
        Ok(head.caller(&AppState::from_ref(state)).await)
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// A request's head as authentication needs it, taken before the body is read; the
/// credentials are judged only once the body has arrived (`Head::caller`), so a request
/// held open while its body trickles in cannot act on a session revoked meanwhile.
pub struct Head {
    pub headers: HeaderMap,
    pub peer: Option<IpAddr>,
}

impl<S: Send + Sync> FromRequestParts<S> for Head {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Head {
            headers: parts.headers.clone(),
            peer: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        })
    }
}

impl Head {
    pub async fn caller(&self, app: &AppState) -> Caller {
        caller_from(app, &self.headers, self.peer).await
    }
}

/// The client's address: the socket peer, unless the peer is a trusted proxy, in which
/// case the right-most X-Forwarded-For entry that is not itself a trusted proxy.
pub fn client_ip(app: &AppState, headers: &HeaderMap, peer: Option<IpAddr>) -> Option<IpAddr> {
    let proxies = &app.idm.settings.trusted_proxies;
    let trusted = |ip: &IpAddr| proxies.iter().any(|net| net.contains(ip));
    let peer = peer?;
    if !trusted(&peer) {
        return Some(peer);
    }
    // Every X-Forwarded-For line, in order: a proxy may append its own line rather
    // than extend the client's, and the client writes the first one.
    let lines: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| v.to_str().unwrap_or(""))
        .collect();
    let hops = lines
        .iter()
        .flat_map(|line| line.split(','))
        .rev()
        .map(|h| h.trim().parse::<IpAddr>().ok());
    // The right-most hop that is not a trusted proxy; an unreadable hop there is where
    // the trusted chain ends, so the peer stands.
    for hop in hops {
        match hop {
            Some(ip) if trusted(&ip) => continue,
            Some(ip) => return Some(ip),
            None => return Some(peer),
        }
    }
    Some(peer)
}

/// A credential header: absent; unreadable when sent twice or not visible ASCII; else
/// its trimmed value.
fn credential_header<'a>(headers: &'a HeaderMap, name: &str) -> Header<'a> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Header::Absent;
    };
    if values.next().is_some() {
        return Header::Unreadable;
    }
    match first.to_str() {
        Ok(v) => Header::Value(v.trim()),
        Err(_) => Header::Unreadable,
    }
}

/// Reads the `Authorization`, `X-API-Key` and `X-Service-Token` headers; what they
/// mean is the core's decision (`Idm::authenticate`).
pub fn presented(headers: &HeaderMap) -> Presented<'_> {
    Presented {
        authorization: credential_header(headers, "authorization"),
        api_key: credential_header(headers, "x-api-key"),
        service_token: credential_header(headers, "x-service-token"),
    }
}

/// As `presented`, with Truvera's `CERTS-TOKEN` header read as the service token (both
/// it and `X-Service-Token` sent: unreadable, never one picked).
pub fn presented_with_certs_token(headers: &HeaderMap) -> Presented<'_> {
    let mut p = presented(headers);
    match (p.service_token, credential_header(headers, "certs-token")) {
        (_, Header::Absent) => {}
        (Header::Absent, certs) => p.service_token = certs,
        _ => p.service_token = Header::Unreadable,
    }
    p
}

/// The request's caller: its client, its credentials as the core judges them, and
/// its `now`, read here once for everything the request does.
pub async fn caller_from(app: &AppState, headers: &HeaderMap, peer: Option<IpAddr>) -> Caller {
    caller_with(app, headers, peer, &presented(headers)).await
}

/// The caller presenting `presented` (read from `headers` by the transport's rules).
pub async fn caller_with(
    app: &AppState,
    headers: &HeaderMap,
    peer: Option<IpAddr>,
    presented: &Presented<'_>,
) -> Caller {
    let client = ClientInfo {
        ip: client_ip(app, headers, peer),
        user_agent: header(headers, "user-agent").map(str::to_owned),
    };
    app.idm.authenticate(presented, client, now()).await
}
