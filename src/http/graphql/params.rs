//! The GraphQL-over-HTTP request parameters (`query`, `operationName`, `variables`,
//! `extensions`), read from a POST body or a GET query string and checked one by one,
//! so that a malformed request is told what to fix ("`variables` must be an object")
//! instead of a deserializer's words.
use async_graphql::Request;
use serde_json::{Map, Value};

/// What a request asks for: one operation or a non-empty batch.
pub enum Params {
    Single(Box<Request>),
    Batch(Vec<Request>),
}

/// A POST body: a JSON object (one operation) or a non-empty array of them (a batch of at
/// most `max_batch`).
pub fn from_body(body: &[u8], max_batch: usize) -> Result<Params, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        if body.iter().all(u8::is_ascii_whitespace) {
            "The request body is empty; send a JSON object with a `query`.".to_owned()
        } else {
            format!("The request body is not valid JSON ({e}).")
        }
    })?;
    match value {
        Value::Object(obj) => Ok(Params::Single(Box::new(operation(obj)?))),
        Value::Array(entries) if entries.is_empty() => {
            Err("The batch is empty; send at least one operation.".to_owned())
        }
        Value::Array(entries) if entries.len() > max_batch => Err(format!(
            "A batch may hold at most {max_batch} operations; this one holds {}.",
            entries.len()
        )),
        Value::Array(entries) => {
            let n = entries.len();
            let ops = entries
                .into_iter()
                .enumerate()
                .map(|(i, entry)| match entry {
                    Value::Object(obj) => operation(obj),
                    _ => Err("it is not a JSON object".to_owned()),
                }
                .map_err(|e| format!("Operation {} of {n} in the batch: {e}", i + 1)))
                .collect::<Result<_, _>>()?;
            Ok(Params::Batch(ops))
        }
        _ => Err(
            "The request body must be a JSON object (one operation) or a non-empty array of them (a batch)."
                .to_owned(),
        ),
    }
}

/// A GET query string: `query`, `operationName`, and `variables` / `extensions` as
/// URL-encoded JSON. None when it carries no `query` at all (a browser opening the page).
pub fn from_query_string(qs: &str) -> Option<Result<Request, String>> {
    let mut obj = Map::new();
    let mut has_query = false;
    for (key, value) in url::form_urlencoded::parse(qs.as_bytes()) {
        let value = match key.as_ref() {
            "query" | "operationName" => {
                has_query |= key == "query";
                Value::String(value.into_owned())
            }
            "variables" | "extensions" => match serde_json::from_str(&value) {
                Ok(v) => v,
                Err(e) => {
                    return Some(Err(format!(
                        "`{key}` must be a URL-encoded JSON object ({e})."
                    )));
                }
            },
            _ => continue,
        };
        if obj.insert(key.clone().into_owned(), value).is_some() {
            return Some(Err(format!("`{key}` is given more than once.")));
        }
    }
    has_query.then(|| operation(obj))
}

/// One operation's parameters, each checked for its type.
fn operation(mut obj: Map<String, Value>) -> Result<Request, String> {
    let query = match obj.remove("query") {
        Some(Value::String(q)) => q,
        None | Some(Value::Null) => {
            return Err("`query` is required: send the GraphQL document as a string.".to_owned());
        }
        Some(_) => return Err("`query` must be a string holding the GraphQL document.".to_owned()),
    };
    let mut req = Request::new(query);
    match obj.remove("operationName") {
        None | Some(Value::Null) => {}
        Some(Value::String(name)) => req = req.operation_name(name),
        Some(_) => return Err("`operationName` must be a string or null.".to_owned()),
    }
    match obj.remove("variables") {
        None | Some(Value::Null) => {}
        Some(Value::Object(vars)) => {
            req = req.variables(async_graphql::Variables::from_json(Value::Object(vars)));
        }
        Some(_) => return Err("`variables` must be an object (or null).".to_owned()),
    }
    match obj.remove("extensions") {
        None | Some(Value::Null) => {}
        Some(Value::Object(ext)) => {
            for (name, value) in ext {
                let value = async_graphql::Value::from_json(value)
                    .map_err(|_| "`extensions` holds a value that is not JSON.".to_owned())?;
                req.extensions.insert(name, value);
            }
        }
        Some(_) => return Err("`extensions` must be an object (or null).".to_owned()),
    }
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn single(body: &str) -> Result<Request, String> {
        match from_body(body.as_bytes(), 4)? {
            Params::Single(r) => Ok(*r),
            Params::Batch(_) => Err("a batch".into()),
        }
    }

    #[test]
    fn each_malformed_parameter_is_named() {
        assert!(single("{").unwrap_err().contains("not valid JSON"));
        assert!(single("").unwrap_err().contains("empty"));
        assert!(single("7").unwrap_err().contains("JSON object"));
        assert!(single("{}").unwrap_err().contains("`query` is required"));
        assert!(
            single(r#"{"query":1}"#)
                .unwrap_err()
                .contains("must be a string")
        );
        let e = single(r#"{"query":"{a}","variables":[]}"#).unwrap_err();
        assert!(e.contains("`variables` must be an object"), "{e}");
        let e = single(r#"{"query":"{a}","extensions":"x"}"#).unwrap_err();
        assert!(e.contains("`extensions` must be an object"), "{e}");
        let e = single(r#"{"query":"{a}","operationName":3}"#).unwrap_err();
        assert!(e.contains("`operationName`"), "{e}");
        assert!(single("[]").is_err());
        let e = single(r#"[{"query":"{a}"}, 5]"#).unwrap_err();
        assert!(e.starts_with("Operation 2 of 2"), "{e}");
        let e = single(
            r#"[{"query":"{a}"},{"query":"{a}"},{"query":"{a}"},{"query":"{a}"},{"query":"{a}"}]"#,
        )
        .unwrap_err();
        assert!(e.contains("at most 4"), "{e}");
    }

    #[test]
    fn well_formed_parameters_reach_the_request() {
        let r = single(
            r#"{"query":"{a}","operationName":null,"variables":{"x":1},"extensions":{"k":true}}"#,
        )
        .unwrap();
        assert_eq!(r.query, "{a}");
        assert!(r.operation_name.is_none());
        assert_eq!(
            r.variables.get("x").map(|v| v.to_string()),
            Some("1".into())
        );
        assert!(r.extensions.contains_key("k"));
    }

    #[test]
    fn a_query_string_is_read_like_a_body() {
        assert!(from_query_string("").is_none());
        assert!(from_query_string("foo=1").is_none());
        let r = from_query_string("query=%7Ba%7D&variables=%7B%22x%22%3A1%7D")
            .unwrap()
            .unwrap();
        assert_eq!(r.query, "{a}");
        let e = from_query_string("query=%7Ba%7D&variables=nope")
            .unwrap()
            .unwrap_err();
        assert!(e.contains("`variables`"), "{e}");
        let e = from_query_string("query=a&query=b").unwrap().unwrap_err();
        assert!(e.contains("more than once"), "{e}");
    }
}
