//! The compact REST client the REST tests share: one call per line, the answer's
//! status, headers and JSON body.
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp};

pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    /// A header's value, if sent and readable.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body's field names, sorted, compared with `names`.
    #[track_caller]
    pub fn assert_fields(&self, names: &[&str]) {
        assert_fields(&self.body, names);
    }
}

#[track_caller]
pub fn assert_fields(v: &Value, names: &[&str]) {
    let mut got: Vec<&str> = v
        .as_object()
        .expect("an object")
        .keys()
        .map(|k| k.as_str())
        .collect();
    let mut want = names.to_vec();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want, "{v}");
}

/// A REST client for one test app, with a fixed set of headers (its credential).
#[derive(Clone)]
pub struct Rest<'a> {
    pub app: &'a TestApp,
    headers: Vec<(String, String)>,
}

impl<'a> Rest<'a> {
    pub fn anon(app: &'a TestApp) -> Self {
        Rest {
            app,
            headers: Vec::new(),
        }
    }
    pub fn bearer(app: &'a TestApp, token: &str) -> Self {
        Rest::anon(app).with("authorization", &format!("Bearer {token}"))
    }
    pub fn key(app: &'a TestApp, secret: &str) -> Self {
        Rest::anon(app).with("x-api-key", secret)
    }
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// One call: `body` as JSON unless it is `Value::Null` (then no body at all).
    pub async fn send(&self, method: Method, path: &str, body: Value) -> Answer {
        let mut req = self
            .app
            .client
            .request(method, format!("{}{path}", self.app.url));
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        if !body.is_null() {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = match text.as_str() {
            "" => Value::Null,
            t => serde_json::from_str(t).unwrap_or_else(|_| panic!("not JSON ({status}): {t}")),
        };
        Answer {
            status,
            headers,
            body,
        }
    }
    pub async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, Value::Null).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(Method::POST, path, body).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> Answer {
        self.send(Method::PATCH, path, body).await
    }
    pub async fn delete(&self, path: &str) -> Answer {
        self.send(Method::DELETE, path, Value::Null).await
    }
}

/// Signs up over REST; answers (access token, the answer).
pub async fn rest_signup(app: &TestApp, email: &str) -> (String, Value) {
    let a = Rest::anon(app)
        .post(
            "/auth/signup",
            json!({ "email": email, "password": PASSWORD }),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    (a.body["token"].as_str().expect("token").to_owned(), a.body)
}

/// One call with the given headers; `body` as JSON when given.
pub async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Answer {
    let rest = headers
        .iter()
        .fold(Rest::anon(app), |r, (k, v)| r.with(k, v));
    rest.send(method, path, body.unwrap_or(Value::Null)).await
}

pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}
