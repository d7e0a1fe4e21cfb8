//! The limits on one document: its depth, its complexity and its aliased fields
//! (`[graphql]` max_depth, max_complexity, max_aliases). Batch size and body size are
//! checked over HTTP.
//!
//! A document that only introspects the schema (every root field is `__schema`,
//! `__type` or `__typename`) may be as deep and as complex as the standard introspection
//! query of graphql-js and GraphiQL, even when the configured limits are lower: schema
//! tools and the playground must work under the defaults. The allowance is the larger
//! of those measures and the configured ones (not the standard query's shape), and
//! every other document gets the configured limits.
//!
//! Aliases are counted over the document as it runs: a fragment's aliases count at
//! every spread of it.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextValidation,
};
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Selection, SelectionSet,
};
use async_graphql::{ServerError, ServerResult, ValidationResult, Variables};

use crate::config::GraphqlSettings;

/// The depth of graphql-js's `getIntrospectionQuery()` with every option on (its
/// `TypeRef` fragment nests `ofType` nine levels under `__schema { types { fields {
/// type`); GraphiQL sends the same query.
pub const INTROSPECTION_DEPTH: usize = 15;
/// The complexity of that query, counted as async-graphql counts it (one per field,
/// fragments inlined).
pub const INTROSPECTION_COMPLEXITY: usize = 230;

#[derive(Clone)]
pub struct Limits {
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_aliases: usize,
    /// Introspection is served: only then do introspection documents get the allowance.
    pub introspection: bool,
}

impl Limits {
    pub fn new(s: &GraphqlSettings) -> Self {
        Self {
            max_depth: s.max_depth,
            max_complexity: s.max_complexity,
            max_aliases: s.max_aliases,
            introspection: s.introspection,
        }
    }
}

impl ExtensionFactory for Limits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(DocumentLimits {
            limits: self.clone(),
            introspection_only: AtomicBool::new(false),
        })
    }
}

/// One request's check: what the parsed document is, then its validated measures.
struct DocumentLimits {
    limits: Limits,
    introspection_only: AtomicBool,
}

/// Aliased fields under `set`, fragments counted at each spread; stops counting once
/// past `budget` (so a fragment spread many times over costs no more than the limit).
fn aliases(
    doc: &ExecutableDocument,
    set: &SelectionSet,
    budget: usize,
    stack: &mut Vec<String>,
) -> usize {
    let mut n = 0;
    for item in &set.items {
        if n > budget {
            break;
        }
        n += match &item.node {
            Selection::Field(f) => {
                usize::from(f.node.alias.is_some())
                    + aliases(doc, &f.node.selection_set.node, budget - n, stack)
            }
            Selection::InlineFragment(f) => {
                aliases(doc, &f.node.selection_set.node, budget - n, stack)
            }
            Selection::FragmentSpread(s) => {
                let name = s.node.fragment_name.node.to_string();
                // A cycle is refused by validation; here it just stops.
                match doc.fragments.get(&s.node.fragment_name.node) {
                    Some(f) if !stack.contains(&name) => {
                        stack.push(name);
                        let k = aliases(doc, &f.node.selection_set.node, budget - n, stack);
                        stack.pop();
                        k
                    }
                    _ => 0,
                }
            }
        };
    }
    n
}

fn operations(doc: &ExecutableDocument) -> Vec<&SelectionSet> {
    match &doc.operations {
        DocumentOperations::Single(op) => vec![&op.node.selection_set.node],
        DocumentOperations::Multiple(ops) => {
            ops.values().map(|op| &op.node.selection_set.node).collect()
        }
    }
}

/// Aliased fields in the document as it runs (each operation, fragments inlined), or
/// a number past `max` as soon as the count passes it.
pub fn count_aliases(doc: &ExecutableDocument, max: usize) -> usize {
    let mut n = 0;
    for set in operations(doc) {
        if n > max {
            break;
        }
        n += aliases(doc, set, max - n, &mut Vec::new());
    }
    n
}

/// Whether every root field of every operation (fragments at the root followed) is an
/// introspection field. `seen` stops a fragment cycle (which validation then refuses).
fn introspects_only(doc: &ExecutableDocument, set: &SelectionSet, seen: &mut Vec<String>) -> bool {
    set.items.iter().all(|item| match &item.node {
        Selection::Field(f) => f.node.name.node.starts_with("__"),
        Selection::InlineFragment(f) => introspects_only(doc, &f.node.selection_set.node, seen),
        Selection::FragmentSpread(s) => {
            let name = s.node.fragment_name.node.to_string();
            if seen.contains(&name) {
                return true;
            }
            seen.push(name);
            doc.fragments
                .get(&s.node.fragment_name.node)
                .is_some_and(|f| introspects_only(doc, &f.node.selection_set.node, seen))
        }
    })
}

pub fn is_introspection(doc: &ExecutableDocument) -> bool {
    operations(doc)
        .into_iter()
        .all(|set| introspects_only(doc, set, &mut Vec::new()))
}

/// The parser's message (a framed excerpt over several lines) as one line:
/// "Syntax error at line 1, column 8: expected selection_set."
fn one_line(mut err: ServerError) -> ServerError {
    if !err.message.contains('\n') {
        return err;
    }
    let expected = err
        .message
        .lines()
        .rev()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("= "))
        .unwrap_or("the document is not valid GraphQL")
        .to_owned();
    err.message = match err.locations.first() {
        Some(at) => format!(
            "Syntax error at line {}, column {}: {expected}.",
            at.line, at.column
        ),
        None => format!("Syntax error: {expected}."),
    };
    err
}

#[async_trait::async_trait]
impl Extension for DocumentLimits {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await.map_err(one_line)?;
        let n = count_aliases(&doc, self.limits.max_aliases);
        // (n is only known to be past the limit once it is.)
        if n > self.limits.max_aliases {
            return Err(ServerError::new(
                format!(
                    "The document has more than {} aliased fields (a fragment's count at each of its spreads); at most {} are allowed (graphql.max_aliases).",
                    self.limits.max_aliases, self.limits.max_aliases
                ),
                None,
            ));
        }
        self.introspection_only.store(
            self.limits.introspection && is_introspection(&doc),
            Ordering::Relaxed,
        );
        Ok(doc)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let measured = next.run(ctx).await?;
        let (mut max_depth, mut max_complexity) =
            (self.limits.max_depth, self.limits.max_complexity);
        if self.introspection_only.load(Ordering::Relaxed) {
            max_depth = max_depth.max(INTROSPECTION_DEPTH);
            max_complexity = max_complexity.max(INTROSPECTION_COMPLEXITY);
        }
        if measured.depth > max_depth {
            return Err(vec![ServerError::new(
                format!(
                    "The document is nested {} fields deep; this server allows {max_depth} (graphql.max_depth).",
                    measured.depth
                ),
                None,
            )]);
        }
        if measured.complexity > max_complexity {
            return Err(vec![ServerError::new(
                format!(
                    "The document's complexity is {}; this server allows {max_complexity} (graphql.max_complexity).",
                    measured.complexity
                ),
                None,
            )]);
        }
        Ok(measured)
    }
}
