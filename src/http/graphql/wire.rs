//! The answer side of GraphQL over HTTP: which media type the client accepts
//! (`application/graphql-response+json` or `application/json`, else 406), the status
//! each answer gets, and a body that has no `data` key when the request never ran.
use std::collections::BTreeMap;

use async_graphql::{Response, ServerError, Value};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;

use crate::graphql::errors::refused_request;

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

/// The media type of the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `application/graphql-response+json`: the status says whether the request ran
    /// (400 when it did not).
    GraphqlResponse,
    /// `application/json`, the legacy type: 200 for every well-formed request.
    Json,
}

impl Format {
    /// Reads `Accept`. No header means `application/json` (as does `*/*`, what curl and
    /// most libraries send); of the two types the higher `q` wins, and on a tie
    /// `application/graphql-response+json`. None: the client accepts neither (406).
    pub fn negotiate(headers: &HeaderMap) -> Option<Format> {
        let mut best: Option<(f32, Format)> = None;
        let mut any = false;
        for value in headers.get_all(header::ACCEPT) {
            let Ok(value) = value.to_str() else { continue };
            for range in value.split(',') {
                let mut parts = range.split(';');
                let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
                if media.is_empty() {
                    continue;
                }
                any = true;
                let q = parts
                    .filter_map(|p| p.trim().strip_prefix("q="))
                    .find_map(|q| q.trim().parse::<f32>().ok())
                    .unwrap_or(1.0);
                let format = match media.as_str() {
                    GRAPHQL_RESPONSE_JSON => Format::GraphqlResponse,
                    JSON | "application/*" | "*/*" => Format::Json,
                    _ => continue,
                };
                if q <= 0.0 {
                    continue;
                }
                let better = match best {
                    None => true,
                    Some((bq, bf)) => {
                        q > bq || (q == bq && format == Format::GraphqlResponse && bf != format)
                    }
                };
                if better {
                    best = Some((q, format));
                }
            }
        }
        match best {
            Some((_, f)) => Some(f),
            None if !any => Some(Format::Json),
            None => None,
        }
    }

    fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Format::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
            Format::Json => "application/json; charset=utf-8",
        })
    }
}

/// One response as the spec writes it: `data` absent when the request never ran (it did
/// not parse or validate, or was refused before execution), present (maybe null) once it
/// did.
#[derive(Serialize)]
struct Body<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a Value>,
    #[serde(skip_serializing_if = "<[ServerError]>::is_empty")]
    errors: &'a [ServerError],
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    extensions: &'a BTreeMap<String, Value>,
}

/// Whether the request never reached execution: no data, and no error belongs to a
/// field (a field error always carries its path).
fn never_ran(resp: &Response) -> bool {
    resp.data == Value::Null
        && !resp.errors.is_empty()
        && resp.errors.iter().all(|e| e.path.is_empty())
}

fn body(resp: &Response) -> Body<'_> {
    Body {
        data: (!never_ran(resp)).then_some(&resp.data),
        errors: &resp.errors,
        extensions: &resp.extensions,
    }
}

fn json_response(
    format: Format,
    status: StatusCode,
    bytes: Vec<u8>,
    extra: HeaderMap,
) -> axum::response::Response {
    let mut out = (status, bytes).into_response();
    let headers = out.headers_mut();
    headers.extend(extra);
    headers.insert(header::CONTENT_TYPE, format.content_type());
    // Answers carry tokens and personal data: never stored by a cache on the way.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    out
}

/// One operation's answer: 200, or 400 under `graphql-response+json` when it never ran.
pub fn reply(format: Format, mut resp: Response) -> axum::response::Response {
    let status = if format == Format::GraphqlResponse && never_ran(&resp) {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let bytes = serde_json::to_vec(&body(&resp)).unwrap_or_default();
    json_response(
        format,
        status,
        bytes,
        std::mem::take(&mut resp.http_headers),
    )
}

/// A batch's answers, in order; 200 (each entry says how it went).
pub fn reply_batch(format: Format, resps: Vec<Response>) -> axum::response::Response {
    let bodies: Vec<Body<'_>> = resps.iter().map(body).collect();
    let bytes = serde_json::to_vec(&bodies).unwrap_or_default();
    json_response(format, StatusCode::OK, bytes, HeaderMap::new())
}

/// A request that could not be run at all (unreadable, malformed parameters, a mutation
/// over GET, too large): `status` with one BAD_USER_INPUT error saying what to fix.
pub fn request_error(
    format: Format,
    status: StatusCode,
    message: &str,
) -> axum::response::Response {
    refusal(format, status, message, "BAD_USER_INPUT")
}

/// `status` with one error of `code` (a contract code) saying `message`.
pub fn refusal(
    format: Format,
    status: StatusCode,
    message: &str,
    code: &str,
) -> axum::response::Response {
    let mut resp = refused_request(message);
    for e in &mut resp.errors {
        if let Some(ext) = e.extensions.as_mut() {
            ext.set("code", code);
        }
    }
    let bytes = serde_json::to_vec(&body(&resp)).unwrap_or_default();
    json_response(format, status, bytes, HeaderMap::new())
}

/// 406: the client accepts neither JSON type.
pub fn not_acceptable() -> axum::response::Response {
    request_error(
        Format::Json,
        StatusCode::NOT_ACCEPTABLE,
        "This endpoint answers application/graphql-response+json or application/json; the request's Accept header allows neither.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> Option<Format> {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        Format::negotiate(&h)
    }

    #[test]
    fn accept_is_honoured() {
        use Format::*;
        assert_eq!(Format::negotiate(&HeaderMap::new()), Some(Json));
        assert_eq!(accept("*/*"), Some(Json));
        assert_eq!(accept("application/json"), Some(Json));
        assert_eq!(
            accept("application/graphql-response+json"),
            Some(GraphqlResponse)
        );
        assert_eq!(
            accept("application/graphql-response+json, application/json;q=0.9"),
            Some(GraphqlResponse)
        );
        assert_eq!(
            accept("application/json, application/graphql-response+json"),
            Some(GraphqlResponse)
        );
        assert_eq!(
            accept("application/graphql-response+json;q=0.5, application/json"),
            Some(Json)
        );
        assert_eq!(accept("application/json; charset=utf-8"), Some(Json));
        assert_eq!(accept("text/html"), None);
        assert_eq!(accept("application/xml, text/plain;q=0.5"), None);
        assert_eq!(accept("application/json;q=0"), None);
    }

    #[test]
    fn a_request_that_never_ran_has_no_data_key() {
        let refused = serde_json::to_string(&body(&refused_request("no"))).unwrap();
        assert!(!refused.contains("\"data\""), "{refused}");
        let mut ran = Response::new(Value::Null);
        let mut e = ServerError::new("boom", None);
        e.path = vec![async_graphql::PathSegment::Field("me".into())];
        ran.errors.push(e);
        let ran = serde_json::to_string(&body(&ran)).unwrap();
        assert!(ran.starts_with("{\"data\":null"), "{ran}");
    }
}
