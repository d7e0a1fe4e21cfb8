//! The server's own pages (`[console] enabled`): sign-in, sign-up, the email links'
//! landings, the social callback and the account page. Each page is the layout of
//! assets/pages with its own static fragment and a little configuration as data
//! attributes; the page's script does everything else through the GraphQL API, so the
//! pages are a reference web client of that API. The browser session lives in
//! `session` (the refresh token in an HttpOnly cookie, out of the scripts' reach).
mod assets;
mod session;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::http::AppState;

/// The pages' policy: everything from this origin, nothing inline, nothing framed, and
/// no referrer (the email links carry their token in the URL).
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The routes of the pages and of the browser session.
pub fn router() -> Router<AppState> {
    let page = |name: &'static str, title: &'static str| {
        get(move |State(app): State<AppState>| async move { render(&app, name, title, json!({})) })
    };
    Router::new()
        .route("/", get(home))
        .route("/login", page("login", "Sign in"))
        .route("/signup", page("signup", "Create an account"))
        .route(
            "/forgot-password",
            page("forgot-password", "Forgot your password?"),
        )
        .route(
            "/reset-password",
            page("reset-password", "Choose a new password"),
        )
        .route(
            "/verify-email",
            page("verify-email", "Confirm your email address"),
        )
        .route("/account", page("account", "Your account"))
        .route("/account/keys", page("account-keys", "API keys"))
        .route("/account/security", page("account-security", "Security"))
        .route("/account/tenant", page("account-tenant", "Your team"))
        .route("/accept-invite", page("accept-invite", "Join a team"))
        .route("/admin", page("admin", "Administration"))
        .route(
            "/oauth/callback/{provider}",
            get(oauth_callback).post(oauth_form_post),
        )
        .route("/assets/pages/{file}", get(assets::asset))
        .route("/session/graphql", post(session::graphql))
        .route("/session/refresh", post(session::refresh))
        .route("/session/logout", post(session::logout))
}

/// `&`, `<`, `>`, `"` and `'` as entities: safe in text and in a quoted attribute.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page_headers() -> [(HeaderName, &'static str); 5] {
    [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
    ]
}

/// The page `name`: the layout with its title, its fragment and its configuration
/// (`extra` merged into what every page gets: the configured providers and where a
/// signed-in person goes).
fn render(app: &AppState, name: &str, title: &str, extra: Value) -> Response {
    let (Some(layout), Some(main)) = (
        assets::text("layout.html"),
        assets::text(&format!("{name}.html")),
    ) else {
        tracing::error!(page = name, "a page's template is missing from the build");
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "This page is missing from the build.",
        )
            .into_response();
    };
    let settings = &app.idm.settings;
    let providers: Vec<&str> = app
        .idm
        .configured_providers()
        .into_iter()
        .map(|p| p.as_str())
        .collect();
    let mut config = json!({
        "providers": providers,
        "appUrl": settings.console.landing(),
        "publicUrl": settings.public_url.trim_end_matches('/'),
    });
    if let (Value::Object(base), Value::Object(more)) = (&mut config, extra) {
        base.extend(more);
    }
    // The fragment first and the request-borne configuration last, so that no value
    // is scanned for placeholders again (a form_post field holding "{{main}}" stays text).
    let html = layout
        .replace("{{main}}", &main)
        .replace("{{title}}", &escape(title))
        .replace("{{page}}", name)
        .replace("{{config}}", &escape(&config.to_string()));
    (page_headers(), Html(html)).into_response()
}

/// `/`: the account page when this browser holds a session, else sign-in.
async fn home(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if session::signed_in(&headers) {
        Redirect::to(app.idm.settings.console.landing()).into_response()
    } else {
        Redirect::to("/login").into_response()
    }
}

fn provider_of(name: &str) -> Option<&'static str> {
    crate::idm::social::Provider::parse(name).map(|p| p.as_str())
}

/// The redirect page of the social web flow (GET: Google, X, GitHub).
async fn oauth_callback(State(app): State<AppState>, Path(provider): Path<String>) -> Response {
    let Some(provider) = provider_of(&provider) else {
        return unknown_provider(&app);
    };
    render(
        &app,
        "oauth-callback",
        "Signing you in",
        json!({ "provider": provider }),
    )
}

/// Apple's `response_mode=form_post`: the code, the state and (at the first sign-in)
/// the user's name arrive as a form POST; the page gets them as configuration and
/// checks the state against the one this browser stored, as for a GET.
async fn oauth_form_post(
    State(app): State<AppState>,
    Path(provider): Path<String>,
    body: Bytes,
) -> Response {
    let Some(provider) = provider_of(&provider) else {
        return unknown_provider(&app);
    };
    let mut form = serde_json::Map::new();
    for (k, v) in url::form_urlencoded::parse(&body) {
        if matches!(k.as_ref(), "code" | "state" | "user" | "error") && v.len() <= 4096 {
            form.insert(k.into_owned(), Value::String(v.into_owned()));
        }
    }
    render(
        &app,
        "oauth-callback",
        "Signing you in",
        json!({ "provider": provider, "form": form }),
    )
}

fn unknown_provider(app: &AppState) -> Response {
    let mut resp = render(
        app,
        "oauth-callback",
        "Signing you in",
        json!({ "error": "This sign-in provider is unknown: use google, apple, x or github." }),
    );
    *resp.status_mut() = StatusCode::NOT_FOUND;
    resp
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escaping_covers_text_and_attributes() {
        assert_eq!(
            escape(r#"<a href="x" onclick='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
    }
}
