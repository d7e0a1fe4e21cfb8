//! The live schema is schema.graphql: the server's answer to the standard introspection
//! query, printed, equals `latchkey schema` printed the same way. Both sides go through
//! one printer (types by name; fields, arguments and values in their order; every
//! description, default value, deprecation, `specifiedBy`, interface, union member,
//! `@oneOf` and directive definition). Applied directives (`@userToken` ...) are SDL only:
//! introspection has no way to carry them (tests/api/directives.rs covers them).
use std::fmt::Write;

use async_graphql::Positioned;
use async_graphql::parser::parse_schema;
use async_graphql::parser::types::{
    ConstDirective, InputValueDefinition, TypeKind, TypeSystemDefinition,
};
use serde_json::{Value, json};

use crate::helpers::*;

const BUILT_IN_SCALARS: [&str; 5] = ["String", "Int", "Float", "Boolean", "ID"];
/// The spec's own directives: printers leave their definitions out of an SDL.
const SPECIFIED_DIRECTIVES: [&str; 5] = ["skip", "include", "deprecated", "specifiedBy", "oneOf"];

fn desc(out: &mut String, indent: &str, d: Option<&str>) {
    if let Some(d) = d {
        let _ = writeln!(out, "{indent}\"{}\"", d.replace('\n', "\\n"));
    }
}

fn squeeze(v: &str) -> String {
    v.chars().filter(|c| !c.is_whitespace()).collect()
}

// ---- the introspection answer ----

fn type_ref(t: &Value) -> String {
    match t["kind"].as_str() {
        Some("NON_NULL") => format!("{}!", type_ref(&t["ofType"])),
        Some("LIST") => format!("[{}]", type_ref(&t["ofType"])),
        _ => t["name"].as_str().unwrap_or("?").to_owned(),
    }
}

fn deprecation(v: &Value) -> String {
    if v["isDeprecated"].as_bool() == Some(true) {
        format!(
            " @deprecated({})",
            v["deprecationReason"].as_str().unwrap_or("")
        )
    } else {
        String::new()
    }
}

fn live_inputs(out: &mut String, indent: &str, args: &Value) {
    for a in args.as_array().into_iter().flatten() {
        desc(out, indent, a["description"].as_str());
        let default = a["defaultValue"]
            .as_str()
            .map(|d| format!(" = {}", squeeze(d)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{indent}{}: {}{default}{}",
            a["name"].as_str().unwrap_or("?"),
            type_ref(&a["type"]),
            deprecation(a)
        );
    }
}

fn print_live(schema: &Value) -> String {
    let mut out = String::new();
    let root = |k: &str| schema[k]["name"].as_str().unwrap_or("-").to_owned();
    let _ = writeln!(
        out,
        "schema query={} mutation={} subscription={}",
        root("queryType"),
        root("mutationType"),
        root("subscriptionType")
    );
    desc(&mut out, "", schema["description"].as_str());
    let mut types: Vec<&Value> = schema["types"].as_array().unwrap().iter().collect();
    types.retain(|t| {
        let name = t["name"].as_str().unwrap_or("");
        !name.starts_with("__") && !BUILT_IN_SCALARS.contains(&name)
    });
    types.sort_by_key(|t| t["name"].as_str().unwrap_or("").to_owned());
    for t in types {
        desc(&mut out, "", t["description"].as_str());
        let name = t["name"].as_str().unwrap_or("?");
        let mut head = match t["kind"].as_str().unwrap_or("?") {
            "SCALAR" => format!("scalar {name}"),
            "OBJECT" => format!("type {name}"),
            "INTERFACE" => format!("interface {name}"),
            "UNION" => format!("union {name}"),
            "ENUM" => format!("enum {name}"),
            "INPUT_OBJECT" => format!("input {name}"),
            k => format!("{k} {name}"),
        };
        let names = |k: &str| -> Vec<String> {
            t[k].as_array()
                .into_iter()
                .flatten()
                .filter_map(|i| i["name"].as_str().map(String::from))
                .collect()
        };
        if !names("interfaces").is_empty() {
            let _ = write!(head, " implements {}", names("interfaces").join(" & "));
        }
        if t["kind"] == "UNION" {
            let mut members = names("possibleTypes");
            members.sort();
            let _ = write!(head, " = {}", members.join(" | "));
        }
        if let Some(url) = t["specifiedByURL"].as_str() {
            let _ = write!(head, " @specifiedBy({url})");
        }
        if t["isOneOf"].as_bool() == Some(true) {
            head.push_str(" @oneOf");
        }
        let _ = writeln!(out, "{head}");
        for f in t["fields"].as_array().into_iter().flatten() {
            desc(&mut out, "  ", f["description"].as_str());
            let _ = writeln!(
                out,
                "  {}: {}{}",
                f["name"].as_str().unwrap_or("?"),
                type_ref(&f["type"]),
                deprecation(f)
            );
            live_inputs(&mut out, "    ", &f["args"]);
        }
        live_inputs(&mut out, "  ", &t["inputFields"]);
        for v in t["enumValues"].as_array().into_iter().flatten() {
            desc(&mut out, "  ", v["description"].as_str());
            let _ = writeln!(
                out,
                "  {}{}",
                v["name"].as_str().unwrap_or("?"),
                deprecation(v)
            );
        }
    }
    let mut directives: Vec<&Value> = schema["directives"].as_array().unwrap().iter().collect();
    directives.retain(|d| !SPECIFIED_DIRECTIVES.contains(&d["name"].as_str().unwrap_or("")));
    directives.sort_by_key(|d| d["name"].as_str().unwrap_or("").to_owned());
    for d in directives {
        desc(&mut out, "", d["description"].as_str());
        let locations: Vec<&str> = d["locations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let repeatable = if d["isRepeatable"] == true {
            " repeatable"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "directive @{}{repeatable} on {}",
            d["name"].as_str().unwrap_or("?"),
            locations.join(" | ")
        );
        live_inputs(&mut out, "  ", &d["args"]);
    }
    out
}

// ---- the SDL ----

fn sdl_deprecation(directives: &[Positioned<ConstDirective>]) -> String {
    directives
        .iter()
        .find(|d| d.node.name.node == "deprecated")
        .map(|d| {
            let reason = d
                .node
                .get_argument("reason")
                .map(|r| match &r.node {
                    async_graphql::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .unwrap_or_else(|| "No longer supported".into());
            format!(" @deprecated({reason})")
        })
        .unwrap_or_default()
}

fn sdl_inputs(out: &mut String, indent: &str, inputs: &[Positioned<InputValueDefinition>]) {
    for a in inputs {
        let a = &a.node;
        desc(out, indent, a.description.as_ref().map(|d| d.node.as_str()));
        let default = a
            .default_value
            .as_ref()
            .map(|d| format!(" = {}", squeeze(&d.node.to_string())))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{indent}{}: {}{default}{}",
            a.name.node,
            a.ty.node,
            sdl_deprecation(&a.directives)
        );
    }
}

/// `FieldDefinition` → `FIELD_DEFINITION`.
fn screaming(location: &impl std::fmt::Debug) -> String {
    let mut out = String::new();
    for (i, c) in format!("{location:?}").chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

fn print_sdl(sdl: &str) -> String {
    let doc = parse_schema(sdl).expect("schema.graphql parses");
    let mut out = String::new();
    let mut types = Vec::new();
    let mut directives = Vec::new();
    let mut roots = ("Query".to_owned(), "-".to_owned(), "-".to_owned());
    for def in doc.definitions {
        match def {
            TypeSystemDefinition::Schema(s) => {
                let name = |n: &Option<Positioned<async_graphql::Name>>| {
                    n.as_ref().map(|n| n.node.to_string()).unwrap_or("-".into())
                };
                roots = (
                    name(&s.node.query),
                    name(&s.node.mutation),
                    name(&s.node.subscription),
                );
            }
            TypeSystemDefinition::Type(t) => types.push(t.node),
            TypeSystemDefinition::Directive(d) => directives.push(d.node),
        }
    }
    let _ = writeln!(
        out,
        "schema query={} mutation={} subscription={}",
        roots.0, roots.1, roots.2
    );
    types.retain(|t| !BUILT_IN_SCALARS.contains(&t.name.node.as_str()));
    types.sort_by_key(|t| t.name.node.to_string());
    for t in types {
        desc(
            &mut out,
            "",
            t.description.as_ref().map(|d| d.node.as_str()),
        );
        let name = &t.name.node;
        let applied = |n: &str| t.directives.iter().find(|d| d.node.name.node == n);
        let mut head = match &t.kind {
            TypeKind::Scalar => format!("scalar {name}"),
            TypeKind::Object(_) => format!("type {name}"),
            TypeKind::Interface(_) => format!("interface {name}"),
            TypeKind::Union(_) => format!("union {name}"),
            TypeKind::Enum(_) => format!("enum {name}"),
            TypeKind::InputObject(_) => format!("input {name}"),
        };
        let implements = match &t.kind {
            TypeKind::Object(o) => &o.implements[..],
            TypeKind::Interface(i) => &i.implements[..],
            _ => &[],
        };
        if !implements.is_empty() {
            let names: Vec<String> = implements.iter().map(|n| n.node.to_string()).collect();
            let _ = write!(head, " implements {}", names.join(" & "));
        }
        if let TypeKind::Union(u) = &t.kind {
            let mut members: Vec<String> = u.members.iter().map(|n| n.node.to_string()).collect();
            members.sort();
            let _ = write!(head, " = {}", members.join(" | "));
        }
        if let Some(url) = applied("specifiedBy").and_then(|d| d.node.get_argument("url")) {
            let _ = write!(
                head,
                " @specifiedBy({})",
                url.node.to_string().trim_matches('"')
            );
        }
        if applied("oneOf").is_some() {
            head.push_str(" @oneOf");
        }
        let _ = writeln!(out, "{head}");
        let fields = match &t.kind {
            TypeKind::Object(o) => &o.fields[..],
            TypeKind::Interface(i) => &i.fields[..],
            _ => &[],
        };
        for f in fields {
            let f = &f.node;
            desc(
                &mut out,
                "  ",
                f.description.as_ref().map(|d| d.node.as_str()),
            );
            let _ = writeln!(
                out,
                "  {}: {}{}",
                f.name.node,
                f.ty.node,
                sdl_deprecation(&f.directives)
            );
            sdl_inputs(&mut out, "    ", &f.arguments);
        }
        if let TypeKind::InputObject(i) = &t.kind {
            sdl_inputs(&mut out, "  ", &i.fields);
        }
        if let TypeKind::Enum(e) = &t.kind {
            for v in &e.values {
                let v = &v.node;
                desc(
                    &mut out,
                    "  ",
                    v.description.as_ref().map(|d| d.node.as_str()),
                );
                let _ = writeln!(out, "  {}{}", v.value.node, sdl_deprecation(&v.directives));
            }
        }
    }
    directives.retain(|d| !SPECIFIED_DIRECTIVES.contains(&d.name.node.as_str()));
    directives.sort_by_key(|d| d.name.node.to_string());
    for d in directives {
        desc(
            &mut out,
            "",
            d.description.as_ref().map(|d| d.node.as_str()),
        );
        let locations: Vec<String> = d.locations.iter().map(|l| screaming(&l.node)).collect();
        // Read off the text: async-graphql-parser 7.2.1 reports every directive as
        // repeatable (its grammar's `repeatable` rule also matches nothing).
        let head = format!("directive @{}", d.name.node);
        let repeatable = sdl
            .lines()
            .find(|l| l.starts_with(&format!("{head}(")) || l.starts_with(&format!("{head} ")))
            .is_some_and(|l| l.contains(" repeatable "));
        let repeatable = if repeatable { " repeatable" } else { "" };
        let _ = writeln!(out, "{head}{repeatable} on {}", locations.join(" | "));
        sdl_inputs(&mut out, "  ", &d.arguments);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspecting_the_server_gives_schema_graphql() {
    let app = spawn_app_with(Backend::Sqlite, |_| {}).await.expect("app");
    let query = include_str!("fixtures/introspection-full.graphql");
    let v: Value = app
        .post(json!({ "query": query }), &[])
        .await
        .json()
        .await
        .unwrap();
    assert!(v.get("errors").is_none(), "{v}");
    let schema = &v["data"]["__schema"];
    assert!(
        schema["description"].is_null(),
        "no schema description: {}",
        schema["description"]
    );
    let live = print_live(schema);
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
        .expect("schema.graphql");
    let printed = print_sdl(&committed);
    assert!(
        live.lines().count() > 200,
        "the printer printed little:\n{live}"
    );
    if live != printed {
        let diff: Vec<String> = live
            .lines()
            .zip(printed.lines())
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .take(10)
            .map(|(i, (a, b))| format!("line {}: live {a:?} / schema.graphql {b:?}", i + 1))
            .collect();
        panic!(
            "the live schema differs from schema.graphql ({} / {} lines):\n{}",
            live.lines().count(),
            printed.lines().count(),
            diff.join("\n")
        );
    }
}
