//! Listing API keys: a user's in pages, a tenant's in pages (for its OWNERs and ADMINs),
//! and the one-array listings of the REST routes (the newest `MAX_LISTED`).
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use super::Idm;
use super::api_keys::{ApiKey, MAX_LISTED, MAX_PAGE, Page};
use super::error::Result;
use crate::entities::api_key::{self, Column};

impl Idm {
    pub async fn list_api_keys(
        &self,
        user_id: &str,
        offset: i64,
        limit: i64,
        now: i64,
    ) -> Result<Page> {
        self.key_page(Column::UserId.eq(user_id), offset, limit, now)
            .await
    }

    /// Every member's keys made in the tenant, newest first (for its OWNERs and ADMINs).
    pub async fn list_tenant_api_keys(
        &self,
        tenant_id: &str,
        offset: i64,
        limit: i64,
        now: i64,
    ) -> Result<Page> {
        self.key_page(Column::TenantId.eq(tenant_id), offset, limit, now)
            .await
    }

    async fn key_page(
        &self,
        whose: sea_orm::sea_query::SimpleExpr,
        offset: i64,
        limit: i64,
        now: i64,
    ) -> Result<Page> {
        let (offset, limit) = super::page_bounds(offset, limit, MAX_PAGE)?;
        let base = api_key::Entity::find()
            .filter(whose)
            .filter(Column::DeletedAt.is_null());
        let total = base.clone().count(&self.db).await?;
        let rows = base
            .order_by_desc(Column::CreatedAt)
            .order_by_desc(Column::Id)
            .offset(offset)
            .limit(limit)
            .all(&self.db)
            .await?;
        let items = rows.into_iter().map(|m| self.to_api_key(m, now)).collect();
        Ok(Page {
            items,
            total,
            offset,
            limit,
        })
    }

    /// The user's newest `MAX_LISTED` keys (deleted ones excepted): for the REST
    /// listings that answer one array rather than pages.
    pub async fn all_api_keys(&self, user_id: &str, now: i64) -> Result<Vec<ApiKey>> {
        let rows = api_key::Entity::find()
            .filter(Column::UserId.eq(user_id))
            .filter(Column::DeletedAt.is_null())
            .order_by_desc(Column::CreatedAt)
            .order_by_desc(Column::Id)
            .limit(MAX_LISTED)
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|m| self.to_api_key(m, now)).collect())
    }

    /// The keys of `tenant_id` the user may see, newest `MAX_LISTED`: every member's to
    /// its OWNERs and ADMINs, the user's own made there to a MEMBER.
    pub async fn tenant_keys_visible_to(
        &self,
        user_id: &str,
        tenant_id: &str,
        now: i64,
    ) -> Result<Vec<ApiKey>> {
        let admin = matches!(
            self.tenant_role(tenant_id, user_id).await?,
            Some(crate::domain::TenantRole::Owner | crate::domain::TenantRole::Admin)
        );
        let mut q = api_key::Entity::find()
            .filter(Column::TenantId.eq(tenant_id))
            .filter(Column::DeletedAt.is_null());
        if !admin {
            q = q.filter(Column::UserId.eq(user_id));
        }
        let rows = q
            .order_by_desc(Column::CreatedAt)
            .order_by_desc(Column::Id)
            .limit(MAX_LISTED)
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|m| self.to_api_key(m, now)).collect())
    }

    pub async fn get_api_key(&self, user_id: &str, id: &str, now: i64) -> Result<ApiKey> {
        let m = self.owned_key(&self.db, user_id, id).await?;
        Ok(self.to_api_key(m, now))
    }
}
