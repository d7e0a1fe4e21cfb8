//! assets/pages, embedded in the binary (rust-embed): the layout and each page's
//! fragment, and the scripts and styles served at /assets/pages/{file}. A debug build
//! reads the directory at each request instead, so a page can be edited and reloaded
//! without a rebuild; a release build carries the files.
use std::borrow::Cow;

use axum::extract::Path;
use axum::http::HeaderMap;
use axum::response::Response;
use rust_embed::RustEmbed;

use crate::http::static_files::{content_type, etag_of_hash, not_found, serve};

#[derive(RustEmbed)]
#[folder = "assets/pages/"]
struct Files;

/// A text file of the directory (a template or a fragment).
pub fn text(name: &str) -> Option<String> {
    let file = Files::get(name)?;
    match file.data {
        Cow::Borrowed(b) => std::str::from_utf8(b).ok().map(str::to_owned),
        Cow::Owned(b) => String::from_utf8(b).ok(),
    }
}

/// GET /assets/pages/{file}: scripts, styles and images (never the HTML templates).
pub async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    if name.contains('/') || name.contains('\\') {
        return not_found();
    }
    let (Some(ct), Some(file)) = (content_type(&name), Files::get(&name)) else {
        return not_found();
    };
    // rust-embed hashed the file already (at build time in a release build).
    let etag = etag_of_hash(&file.metadata.sha256_hash());
    serve(file.data.into_owned(), ct, &etag, &headers)
}
