//! The pure part of authentication: what the edge reads off the `Authorization`,
//! `X-API-Key` and `X-Service-Token` headers (`latchkey::http::extract::presented`) for
//! arbitrary header bytes, how the core classifies it (`latchkey::idm::auth`), and the
//! service-token comparison.
//!
//! Invariants: never panics; the classification is the one `classify_authorization`
//! gives the trimmed header value; a `Bearer` API key is exactly a token with our
//! `<prefix>_<env>_` start; every well-formed API key is routed as an API key (never
//! to the JWT verifier); anything but `Bearer <…>` is a bad scheme; the service token
//! matches exactly when it equals a non-empty configured one; a credential header that
//! is sent twice or is not visible ASCII refuses the request's credentials (never reads
//! as absent).
#![no_main]

use arbitrary::Arbitrary;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use latchkey::domain::ApiKeySecret;
use latchkey::http::extract::presented;
use latchkey::idm::auth::{
    Authorization, Header, classify_authorization, looks_like_api_key, service_token_matches,
};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
enum Name {
    Authorization,
    ApiKey,
    ServiceToken,
    UserAgent,
    Other,
}

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    /// The configured API-key prefix: `lk` or arbitrary.
    prefix: Option<&'a str>,
    /// The configured service token.
    expected_service_token: &'a str,
    /// Headers in order; a name may repeat (the first value is the one read).
    headers: Vec<(Name, &'a [u8])>,
}

/// A credential header's one value, if visible ASCII, trimmed.
fn first<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

fn value(h: Header<'_>) -> Option<&str> {
    match h {
        Header::Value(v) => Some(v),
        _ => None,
    }
}

/// Whether a credential header is present but sent twice or not visible ASCII.
fn unreadable(headers: &HeaderMap, name: &str) -> bool {
    let values: Vec<_> = headers.get_all(name).iter().collect();
    values.len() > 1 || values.iter().any(|v| v.to_str().is_err())
}

fuzz_target!(|input: Input| {
    let prefix = input.prefix.unwrap_or("lk");
    let mut headers = HeaderMap::new();
    for (name, value) in &input.headers {
        let name = match name {
            Name::Authorization => "authorization",
            Name::ApiKey => "x-api-key",
            Name::ServiceToken => "x-service-token",
            Name::UserAgent => "user-agent",
            Name::Other => "x-other",
        };
        // What hyper would refuse before the extractor ever runs is skipped.
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append(HeaderName::from_static(name), value);
        }
    }

    let p = presented(&headers);
    let refused = ["authorization", "x-api-key", "x-service-token"]
        .iter()
        .any(|n| unreadable(&headers, n));
    assert_eq!(p.unreadable(), refused);
    if refused {
        assert!(p.any());
        return;
    }
    assert_eq!(value(p.api_key), first(&headers, "x-api-key"));
    assert_eq!(value(p.service_token), first(&headers, "x-service-token"));
    let auth = first(&headers, "authorization");
    assert_eq!(value(p.authorization), auth);

    if let Some(value) = auth {
        let class = classify_authorization(value, prefix);
        let bearer = value
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        match class {
            Authorization::ApiKey(token) => {
                assert_eq!(Some(token), bearer);
                assert!(looks_like_api_key(prefix, token));
            }
            Authorization::AccessToken(token) => {
                assert_eq!(Some(token), bearer);
                assert!(!looks_like_api_key(prefix, token));
                assert!(!ApiKeySecret::is_well_formed(prefix, token));
            }
            Authorization::BadScheme => assert_eq!(bearer, None),
        }
    }

    // Every value seen, as a token: a well-formed key always looks like one.
    for (_, value) in &input.headers {
        if let Ok(s) = std::str::from_utf8(value) {
            if ApiKeySecret::is_well_formed(prefix, s) {
                assert!(looks_like_api_key(prefix, s));
            }
        }
    }

    let expected = input.expected_service_token;
    if let Some(token) = value(p.service_token) {
        assert_eq!(
            service_token_matches(token, expected),
            !expected.is_empty() && token == expected
        );
    }
    assert!(!service_token_matches("", ""));
    assert_eq!(
        service_token_matches(expected, expected),
        !expected.is_empty()
    );
});
