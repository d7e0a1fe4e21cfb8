//! Files embedded in the binary, served with their type and an ETag: `no-cache`, so a
//! browser revalidates each use (a new release is picked up at once) and an unchanged
//! file costs a 304.
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// A strong ETag of `bytes`.
pub fn etag_of(bytes: &[u8]) -> String {
    etag_of_hash(&Sha256::digest(bytes))
}

/// The ETag of a file whose SHA-256 is known already.
pub fn etag_of_hash(sha256: &[u8]) -> String {
    format!("\"{}\"", hex::encode(&sha256[..12.min(sha256.len())]))
}

/// The content type of a file name's extension; None for one this server does not serve.
pub fn content_type(name: &str) -> Option<&'static str> {
    Some(match name.rsplit_once('.')?.1 {
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        _ => return None,
    })
}

pub fn serve(
    bytes: impl Into<axum::body::Body>,
    content_type: &'static str,
    etag: &str,
    request: &HeaderMap,
) -> Response {
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut out = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, content_type)], bytes.into()).into_response()
    };
    let h = out.headers_mut();
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    out
}

pub fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "no such file").into_response()
}
