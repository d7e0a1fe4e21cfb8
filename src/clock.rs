//! The wall clock, read at the edge only: the HTTP extractor takes one `now` per
//! request and passes it down; start-up and the commands take theirs here. The core
//! never reads the clock (`clippy.toml` bans it there), so every expiry rule can be
//! tested with a fixed time.

/// Whole seconds since the epoch.
#[allow(clippy::disallowed_methods)] // the one place the edge reads the clock
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}
