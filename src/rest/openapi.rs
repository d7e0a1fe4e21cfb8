//! `GET /openapi.json`: the OpenAPI 3.1 document of every REST route, built from the
//! route table (`table::routes`) and the request and answer types' schemas (utoipa's
//! `ToSchema`), so it cannot describe a route, a credential or a field the server does
//! not have.
use std::collections::BTreeMap;

use axum::http::Method;
use utoipa::openapi::path::{
    HttpMethod, Operation, OperationBuilder, Parameter, ParameterBuilder, ParameterIn,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ArrayBuilder, ComponentsBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::server::Server;
use utoipa::openapi::{Content, Header, Info, OpenApi, Paths, Ref, RefOr, Required, Tag};
use utoipa::{PartialSchema, ToSchema};

use super::failure::Family;
use super::table::{Doc, Input, Output, Route};

/// `{"error": "<Code>", "message": "..."}`: TruCore, TokenBot, Truvera, forward auth.
#[derive(ToSchema)]
#[allow(dead_code)] // a schema only: the body is written by `Failure::render`
pub struct CodedError {
    /// The status in one word: `BadRequest`, `Unauthorized`, `Forbidden`, ...
    error: String,
    message: String,
}

/// `{"detail": "..."}`: Torale.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DetailError {
    detail: String,
}

const JSON: &str = "application/json";
const BEARER: &str = "bearer";
const API_KEY: &str = "apiKey";
const SERVICE: &str = "serviceToken";
const CERTS: &str = "certsToken";

fn http_method(m: &Method) -> HttpMethod {
    match *m {
        Method::POST => HttpMethod::Post,
        Method::PUT => HttpMethod::Put,
        Method::PATCH => HttpMethod::Patch,
        Method::DELETE => HttpMethod::Delete,
        Method::HEAD => HttpMethod::Head,
        Method::OPTIONS => HttpMethod::Options,
        _ => HttpMethod::Get,
    }
}

fn named(doc: &Doc, schemas: &mut BTreeMap<String, RefOr<Schema>>) -> Ref {
    let name = (doc.name)().into_owned();
    schemas.insert(name.clone(), (doc.schema)());
    let mut nested = Vec::new();
    (doc.nested)(&mut nested);
    schemas.extend(nested);
    Ref::from_schema_name(name)
}

fn error_response(description: &str, family: Family) -> Response {
    let schema = match family {
        Family::Detail => "DetailError",
        Family::Coded | Family::Forward => "CodedError",
    };
    ResponseBuilder::new()
        .description(description)
        .content(JSON, Content::new(Some(Ref::from_schema_name(schema))))
        .build()
}

fn string_header(description: &str) -> Header {
    let mut h = Header::new(ObjectBuilder::new().schema_type(Type::String));
    h.description = Some(description.to_owned());
    h
}

fn path_parameters(path: &str) -> Vec<Parameter> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some("The key's id."))
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .min_length(Some(1))
                        .max_length(Some(128)),
                ))
                .build()
        })
        .collect()
}

/// The credentials of a rule as OpenAPI security alternatives (any one suffices).
fn security(route: &Route) -> Vec<SecurityRequirement> {
    let rule = &route.rule;
    let mut names = Vec::new();
    if rule.user_roles.is_some() || rule.key_scopes.is_some() {
        names.push(BEARER);
    }
    if rule.key_scopes.is_some() {
        names.push(API_KEY);
    }
    if rule.service {
        names.push(SERVICE);
        if route.certs_token {
            names.push(CERTS);
        }
    }
    names
        .into_iter()
        .map(|n| SecurityRequirement::new(n, Vec::<String>::new()))
        .collect()
}

fn operation(route: &Route, schemas: &mut BTreeMap<String, RefOr<Schema>>) -> OperationBuilder {
    let mut ok = ResponseBuilder::new().description("Done.");
    match route.output {
        Output::One(doc) => {
            ok = ok.content(JSON, Content::new(Some(named(&doc, schemas))));
        }
        Output::List(doc) => {
            let list = ArrayBuilder::new().items(named(&doc, schemas));
            ok = ok.content(JSON, Content::new(Some(list)));
        }
        Output::Headers(headers) => {
            for h in headers {
                ok = ok.header(*h, string_header("The caller's identity (see REST.md)."));
            }
        }
    }
    let family = route.family;
    let mut op = OperationBuilder::new()
        .tag(route.tag)
        .summary(Some(route.summary))
        .response("200", ok.build())
        .response(
            "400",
            error_response("Bad input: the message says what to fix.", family),
        )
        .response(
            "404",
            error_response("No such object for this caller.", family),
        )
        .response(
            "405",
            error_response("This path does not answer this method.", family),
        )
        .response(
            "409",
            error_response("A conflicting change won a race; try again.", family),
        )
        .response(
            "429",
            ResponseBuilder::from(error_response("Rate limited.", family))
                .header("Retry-After", string_header("Seconds to wait."))
                .build(),
        )
        .response("500", error_response("Internal error (no detail).", family))
        .response(
            "503",
            error_response("A service this depends on is unavailable.", family),
        );
    // A public route answers 401 too: a wrong password at login.
    op = op.response(
        "401",
        ResponseBuilder::from(error_response("No or invalid credential.", family))
            .header("WWW-Authenticate", string_header("`Bearer`."))
            .build(),
    );
    if !route.rule.public {
        op = op
            .response(
                "403",
                error_response("The credential lacks the role or scope.", family),
            )
            .securities(Some(security(route)));
    }
    let mut params = path_parameters(route.path);
    if let Some(query) = route.query {
        params.extend(query());
    }
    if !params.is_empty() {
        op = op.parameters(Some(params));
    }
    let body = match route.input {
        Input::Nothing => None,
        Input::Required(doc) => Some((doc, Required::True)),
        Input::Optional(doc) => Some((doc, Required::False)),
    };
    if let Some((doc, required)) = body {
        op = op
            .request_body(Some(
                RequestBodyBuilder::new()
                    .required(Some(required))
                    .content(JSON, Content::new(Some(named(&doc, schemas))))
                    .build(),
            ))
            .response("413", error_response("The body is too large.", family))
            .response("415", error_response("The body is not JSON.", family));
    }
    op
}

/// The document of `routes`, served from `public_url`.
pub fn document(routes: &[Route], public_url: &str) -> OpenApi {
    let mut schemas = BTreeMap::new();
    let mut paths = Paths::new();
    for route in routes {
        let op: Operation = operation(route, &mut schemas).build();
        for m in route.methods {
            let id = if route.methods.len() > 1 {
                format!("{}{}", route.operation_id, m.as_str())
            } else {
                route.operation_id.to_owned()
            };
            let mut op = op.clone();
            op.operation_id = Some(id);
            paths.add_path_operation(route.path, vec![http_method(m)], op);
        }
    }
    schemas.insert(CodedError::name().into_owned(), CodedError::schema());
    schemas.insert(DetailError::name().into_owned(), DetailError::schema());
    let components = ComponentsBuilder::new()
        .schemas_from_iter(schemas)
        .security_scheme(
            BEARER,
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        )
        .security_scheme(
            API_KEY,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        )
        .security_scheme(
            SERVICE,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Service-Token"))),
        )
        .security_scheme(
            CERTS,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("CERTS-TOKEN"))),
        )
        .build();
    let mut info = Info::new("latchkey REST", env!("CARGO_PKG_VERSION"));
    info.description = Some(
        "The REST routes of the documents latchkey is modelled on, beside its GraphQL API, and forward auth for reverse proxies. Each route calls the same core as the GraphQL field of the same meaning.".into(),
    );
    let mut doc = OpenApi::new(info, paths);
    doc.components = Some(components);
    doc.servers = Some(vec![Server::new(public_url.trim_end_matches('/'))]);
    doc.tags = Some(
        ["TruCore", "Torale", "TokenBot", "Truvera", "Forward auth"]
            .into_iter()
            .map(Tag::new)
            .collect(),
    );
    doc
}
