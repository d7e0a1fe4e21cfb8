//! GraphiQL, served from the binary: the page and its scripts and styles come from this
//! origin only (vendored from npm into assets/graphiql by its refresh.sh; the versions
//! are in assets/graphiql/VERSIONS), so the page works offline and its CSP allows no
//! other origin and no inline script.
use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderName, header};
use axum::response::{Html, IntoResponse, Response};

use super::static_files::{content_type, etag_of, not_found, serve};

/// The page's policy: everything from this origin, no inline script, nothing framed.
/// The one inline style allowed, by its hash, is the fixed `<style>` element GraphiQL
/// 4.1.2's dialogs insert to lock scrolling (tests/browser/graphiql.mjs opens one and
/// fails on any CSP violation; recheck the hash after assets/graphiql/refresh.sh).
const CSP: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self' 'sha256-nzTgYzXYDNe6BAHiiI7NNlfK8n/auuOAhh2t92YvuXo='; img-src 'self' data:; \
     font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

fn security_headers() -> [(HeaderName, &'static str); 4] {
    [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
    ]
}

pub fn page() -> Response {
    let html = include_str!("../../assets/graphiql/index.html");
    (
        security_headers(),
        [(header::CACHE_CONTROL, "no-cache")],
        Html(html),
    )
        .into_response()
}

/// (name, bytes) of every file under /assets/graphiql/.
const FILES: &[(&str, &[u8])] = &[
    (
        "graphiql.min.js",
        include_bytes!("../../assets/graphiql/graphiql.min.js"),
    ),
    (
        "graphiql.min.css",
        include_bytes!("../../assets/graphiql/graphiql.min.css"),
    ),
    (
        "react.production.min.js",
        include_bytes!("../../assets/graphiql/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        include_bytes!("../../assets/graphiql/react-dom.production.min.js"),
    ),
    ("init.js", include_bytes!("../../assets/graphiql/init.js")),
    ("page.css", include_bytes!("../../assets/graphiql/page.css")),
];

/// Each file's ETag, computed once.
fn etags() -> &'static [String] {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    TAGS.get_or_init(|| FILES.iter().map(|(_, bytes)| etag_of(bytes)).collect())
}

/// GET /assets/graphiql/{file}.
pub async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let Some(i) = FILES.iter().position(|(n, _)| *n == name) else {
        return not_found();
    };
    let (name, bytes) = FILES[i];
    let Some(ct) = content_type(name) else {
        return not_found();
    };
    serve(bytes, ct, &etags()[i], &headers)
}
