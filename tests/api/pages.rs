//! The server's own pages and their browser session: the pages render with their
//! policy, the refresh token lives in an HttpOnly cookie no script reads, the session
//! endpoints refuse other sites, and signing out revokes. (The pages' behaviour in a
//! browser: tests/browser/pages-*.mjs.)
use reqwest::header::{CONTENT_TYPE, SET_COOKIE};
use reqwest::redirect::Policy;
use serde_json::{Value, json};

use crate::helpers::*;

const SIGNUP: &str = "mutation($e: String!, $p: String!) { signup(email: $e, password: $p) { auth { accessToken refreshToken expiresIn user { id email } } } }";

async fn app_with(configure: impl FnOnce(&mut latchkey::config::Settings)) -> TestApp {
    spawn_app_with(Backend::Sqlite, configure)
        .await
        .expect("app")
}

fn set_cookies(r: &reqwest::Response) -> Vec<String> {
    r.headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// The value of cookie `name` among Set-Cookie headers.
fn cookie_value(cookies: &[String], name: &str) -> Option<String> {
    cookies.iter().find_map(|c| {
        c.split(';')
            .next()
            .and_then(|kv| kv.split_once('='))
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v.to_owned())
    })
}

async fn session_post(
    app: &TestApp,
    path: &str,
    body: Value,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = app
        .client
        .post(format!("{}{path}", app.url))
        .header(CONTENT_TYPE, "application/json")
        .body(body.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

async fn signup_in_browser(app: &TestApp, email: &str) -> (Value, String) {
    let r = session_post(
        app,
        "/session/graphql",
        json!({ "query": SIGNUP, "variables": { "e": email, "p": PASSWORD } }),
        &[("sec-fetch-site", "same-origin"), ("origin", &app.url)],
    )
    .await;
    assert_eq!(r.status(), 200);
    let cookies = set_cookies(&r);
    let text = r.text().await.unwrap();
    let token = cookie_value(&cookies, "lk_refresh").expect("the refresh cookie");
    assert!(
        !text.contains(&token),
        "the refresh token is not in the answer: {text}"
    );
    assert!(!text.contains("refreshToken"), "{text}");
    let refresh = cookies
        .iter()
        .find(|c| c.starts_with("lk_refresh="))
        .unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/session", "Max-Age="] {
        assert!(refresh.contains(attr), "{attr} in {refresh}");
    }
    assert!(
        !refresh.contains("Secure"),
        "no Secure over http: {refresh}"
    );
    (serde_json::from_str(&text).unwrap(), token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_render_with_a_strict_policy_and_home_redirects() {
    let app = app_with(|s| s.oauth.google.client_id = "web-client".into()).await;
    let client = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    for (path, page) in [
        ("/login", "login"),
        ("/signup", "signup"),
        ("/forgot-password", "forgot-password"),
        ("/reset-password?token=abc", "reset-password"),
        ("/verify-email?token=abc", "verify-email"),
        ("/oauth/callback/google?code=c&state=s", "oauth-callback"),
        ("/account", "account"),
    ] {
        let r = client
            .get(format!("{}{path}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("default-src 'self'"),
            "{csp}"
        );
        assert!(!csp.contains("unsafe"), "{csp}");
        assert_eq!(
            h["referrer-policy"], "no-referrer",
            "tokens in the URL stay here"
        );
        assert_eq!(h["x-frame-options"], "DENY");
        let html = r.text().await.unwrap();
        assert!(html.contains(&format!("data-page=\"{page}\"")), "{path}");
        assert!(
            html.contains("&quot;providers&quot;:[&quot;google&quot;]"),
            "{path}"
        );
        assert!(!html.contains("{{"), "every placeholder filled: {path}");
        assert!(
            !html.contains("<script>") && !html.contains(" style="),
            "nothing inline: {path}"
        );
    }
    let r = client.get(format!("{}/", app.url)).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login");
    let r = client
        .get(format!("{}/", app.url))
        .header("cookie", "lk_signed_in=1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/account");
    let r = client
        .get(format!("{}/oauth/callback/myspace", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // The templates are not files to fetch.
    for path in [
        "/assets/pages/layout.html",
        "/assets/pages/login.html",
        "/assets/pages/..%2F..%2FCargo.toml",
    ] {
        let r = client
            .get(format!("{}{path}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_console_off_there_are_no_pages_and_no_browser_session() {
    let app = app_with(|s| s.console.enabled = false).await;
    for path in ["/login", "/account", "/"] {
        let r = app
            .client
            .get(format!("{}{path}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    let r = session_post(&app, "/session/refresh", json!({}), &[]).await;
    assert_eq!(r.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_refresh_token_lives_in_the_cookie_rotates_and_signing_out_revokes() {
    let app = app_with(|_| {}).await;
    let (signed_up, first) = signup_in_browser(&app, "page-user@example.com").await;
    let user_id = signed_up["data"]["signup"]["auth"]["user"]["id"].clone();
    // The cookie buys an access token (and the cookie rotates).
    let cookie = format!("lk_refresh={first}");
    let r = session_post(&app, "/session/refresh", json!({}), &[("cookie", &cookie)]).await;
    let cookies = set_cookies(&r);
    assert_eq!(
        r.status(),
        200,
        "{cookie} {cookies:?} {}",
        r.text().await.unwrap()
    );
    let second = cookie_value(&cookies, "lk_refresh").expect("a rotated cookie");
    assert_ne!(first, second);
    let v: Value = r.json().await.unwrap();
    let access = v["data"]["refreshToken"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        v["data"]["refreshToken"].get("refreshToken").is_none(),
        "{v}"
    );
    assert_eq!(v["data"]["refreshToken"]["user"]["id"], user_id);
    app.me(&access).await.ok();
    // Signing out revokes the session: the access token stops working at once.
    let cookie = format!("lk_refresh={second}");
    let r = session_post(&app, "/session/logout", json!({}), &[("cookie", &cookie)]).await;
    assert_eq!(r.status(), 200);
    let cleared = set_cookies(&r);
    assert!(
        cleared.iter().all(|c| c.contains("Max-Age=0")),
        "{cleared:?}"
    );
    assert_eq!(r.json::<Value>().await.unwrap()["signedOut"], true);
    app.me(&access).await.expect_code("UNAUTHENTICATED");
    let r = session_post(&app, "/session/refresh", json!({}), &[("cookie", &cookie)]).await;
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    // No cookie at all.
    let r = session_post(&app, "/session/refresh", json!({}), &[]).await;
    assert_eq!(r.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_refresh_cookie_ends_the_session() {
    let app = app_with(|_| {}).await;
    let (_, first) = signup_in_browser(&app, "replay-page@example.com").await;
    let cookie = format!("lk_refresh={first}");
    let r = session_post(&app, "/session/refresh", json!({}), &[("cookie", &cookie)]).await;
    let second = cookie_value(&set_cookies(&r), "lk_refresh").unwrap();
    // The old cookie again (a stolen copy): refused, and the whole session ends.
    let r = session_post(&app, "/session/refresh", json!({}), &[("cookie", &cookie)]).await;
    assert_eq!(r.status(), 401);
    let r = session_post(
        &app,
        "/session/refresh",
        json!({}),
        &[("cookie", &format!("lk_refresh={second}"))],
    )
    .await;
    assert_eq!(r.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_sites_cannot_use_the_session_endpoints() {
    let app = app_with(|_| {}).await;
    let (_, token) = signup_in_browser(&app, "csrf-page@example.com").await;
    let cookie = format!("lk_refresh={token}");
    for path in ["/session/refresh", "/session/logout", "/session/graphql"] {
        for headers in [
            vec![
                ("origin", "https://evil.example"),
                ("cookie", cookie.as_str()),
            ],
            vec![
                ("sec-fetch-site", "cross-site"),
                ("cookie", cookie.as_str()),
            ],
            vec![("sec-fetch-site", "same-site"), ("cookie", cookie.as_str())],
        ] {
            let r = session_post(&app, path, json!({}), &headers).await;
            assert_eq!(r.status(), 403, "{path} {headers:?}");
        }
        // A form or text/plain post (what a page elsewhere can send without a preflight).
        let r = app
            .client
            .post(format!("{}{path}", app.url))
            .header(CONTENT_TYPE, "text/plain")
            .header("cookie", &cookie)
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 415, "{path}");
    }
    // None of that signed the browser out.
    let r = session_post(&app, "/session/refresh", json!({}), &[("cookie", &cookie)]).await;
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_request_cannot_smuggle_the_refresh_token_out() {
    let app = app_with(|_| {}).await;
    let aliased = "mutation($e: String!, $p: String!) { signup(email: $e, password: $p) { auth { rt: refreshToken } } }";
    let r = session_post(
        &app,
        "/session/graphql",
        json!({ "query": aliased, "variables": { "e": "alias@example.com", "p": PASSWORD } }),
        &[],
    )
    .await;
    assert_eq!(r.status(), 400);
    assert!(set_cookies(&r).is_empty());
    let v: Value = r.json().await.unwrap();
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("without an alias"),
        "{v}"
    );
    // Nothing ran: the address is still free.
    app.signup("alias@example.com").await;
    let batch = json!([{ "query": "{ __typename }" }, { "query": "{ __typename }" }]);
    let r = session_post(&app, "/session/graphql", batch, &[]).await;
    assert_eq!(r.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookies_are_secure_when_the_server_is_https() {
    let app = app_with(|s| s.public_url = "https://id.example.com".into()).await;
    let r = session_post(
        &app,
        "/session/graphql",
        json!({ "query": SIGNUP, "variables": { "e": "secure@example.com", "p": PASSWORD } }),
        &[("origin", "https://id.example.com")],
    )
    .await;
    assert_eq!(r.status(), 200);
    let cookies = set_cookies(&r);
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    assert!(
        cookies.iter().all(|c| c.contains("; Secure")),
        "{cookies:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_own_callback_is_an_allowed_redirect_uri_of_its_provider_only() {
    let q = "mutation($p: OAuthProvider!, $r: String!) { oauthAuthorizationUrl(provider: $p, redirectUri: $r) { url state } }";
    let app = app_with(|s| {
        s.oauth.google.client_id = "web-client".into();
        s.oauth.github.client_id = "gh-client".into();
    })
    .await;
    let own = format!(
        "{}/oauth/callback/google",
        app.state.idm.settings.public_url
    );
    let r = app.gql(q, json!({ "p": "GOOGLE", "r": own })).await;
    assert!(
        r.ok()["oauthAuthorizationUrl"]["url"]
            .as_str()
            .unwrap()
            .contains("web-client")
    );
    for wrong in [
        format!(
            "{}/oauth/callback/github",
            app.state.idm.settings.public_url
        ),
        format!(
            "{}/oauth/callback/google/x",
            app.state.idm.settings.public_url
        ),
        "https://evil.example/oauth/callback/google".to_owned(),
    ] {
        let r = app.gql(q, json!({ "p": "GOOGLE", "r": wrong })).await;
        r.expect_code("BAD_USER_INPUT");
    }
    let off = app_with(|s| {
        s.oauth.google.client_id = "web-client".into();
        s.console.enabled = false;
    })
    .await;
    let own = format!(
        "{}/oauth/callback/google",
        off.state.idm.settings.public_url
    );
    off.gql(q, json!({ "p": "GOOGLE", "r": own }))
        .await
        .expect_code("BAD_USER_INPUT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apples_form_post_reaches_the_callback_page_escaped() {
    let app = app_with(|_| {}).await;
    let r = app
        .client
        .post(format!("{}/oauth/callback/apple", app.url))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("code=c0de&state=%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E&user=%7B%22name%22%3A1%7D&other=x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("&quot;code&quot;:&quot;c0de&quot;"), "{html}");
    assert!(!html.contains("<script>alert"), "escaped: {html}");
    assert!(html.contains("&lt;script&gt;"), "{html}");
    assert!(!html.contains("other"), "only the fields Apple sends");
    // Not UTF-8 at all: still a page, never a 500.
    let r = app
        .client
        .post(format!("{}/oauth/callback/apple", app.url))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(vec![0xff, 0xfe, b'=', 0x80])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_refresh_keeps_the_browser_signed_in() {
    let app = app_with(|s| s.rate_limit.refresh_per_minute = 1).await;
    let (_, token) = signup_in_browser(&app, "limited-page@example.com").await;
    let r = session_post(
        &app,
        "/session/refresh",
        json!({}),
        &[("cookie", &format!("lk_refresh={token}"))],
    )
    .await;
    assert_eq!(r.status(), 200);
    let next = cookie_value(&set_cookies(&r), "lk_refresh").unwrap();
    let cookie = format!("lk_refresh={next}");
    let r = session_post(&app, "/session/refresh", json!({}), &[("cookie", &cookie)]).await;
    assert_eq!(r.status(), 429);
    assert!(set_cookies(&r).is_empty(), "the cookie stays");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["errors"][0]["extensions"]["code"], "RATE_LIMITED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_placeholder_in_a_form_post_stays_text() {
    let app = app_with(|_| {}).await;
    let r = app
        .client
        .post(format!("{}/oauth/callback/apple", app.url))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("code=%7B%7Bmain%7D%7D&state=%7B%7Btitle%7D%7D")
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    assert!(
        html.contains("&quot;code&quot;:&quot;{{main}}&quot;"),
        "{html}"
    );
    assert!(
        html.contains("&quot;state&quot;:&quot;{{title}}&quot;"),
        "{html}"
    );
}
