//! A cache of parsed GraphQL documents, keyed by the query text. Clients send the same
//! few documents over and over (with different variables); parsing is a sixth of the
//! CPU time of a small keyed request, so a hit is handed a copy of the parsed document
//! instead. Validation and execution still run on every request. Bounded: at most
//! `MAX_ENTRIES` documents of at most `MAX_QUERY_LEN` bytes, cleared when full.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{ServerResult, Variables};

const MAX_ENTRIES: usize = 512;
const MAX_QUERY_LEN: usize = 8 * 1024;

#[derive(Default, Clone)]
pub struct DocumentCache {
    docs: Arc<Mutex<HashMap<String, Arc<ExecutableDocument>>>>,
}

impl ExtensionFactory for DocumentCache {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(self.clone())
    }
}

#[async_trait::async_trait]
impl Extension for DocumentCache {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        if query.len() > MAX_QUERY_LEN {
            return next.run(ctx, query, variables).await;
        }
        let hit = self.docs.lock().ok().and_then(|m| m.get(query).cloned());
        if let Some(doc) = hit {
            return Ok((*doc).clone());
        }
        let doc = next.run(ctx, query, variables).await?;
        if let Ok(mut m) = self.docs.lock() {
            if m.len() >= MAX_ENTRIES {
                m.clear();
            }
            m.insert(query.to_owned(), Arc::new(doc.clone()));
        }
        Ok(doc)
    }
}
