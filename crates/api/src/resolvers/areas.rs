use async_graphql::{Context, InputObject, Object};
use concord_domain::area::{AdminLevel, Pcode};
use concord_store::AreaFilter as StoreFilter;

use crate::access::read_scope;
use crate::error::{ApiError, ApiResult};
use crate::paging::page_request;
use crate::types::{Area, store};

use crate::types::area_connection;

#[derive(InputObject, Default)]
pub struct AreaFilter {
    /// Admin level: 0 countries, 1 regions or provinces, and so on.
    pub level: Option<i64>,
    /// Children of this P-code.
    pub parent: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    /// Case-insensitive part of the name.
    pub name: Option<String>,
}

impl AreaFilter {
    fn into_store(self) -> ApiResult<StoreFilter> {
        Ok(StoreFilter {
            admin_level: self
                .level
                .map(AdminLevel::new)
                .transpose()
                .map_err(|e| ApiError::invalid("filter.level", &e.message))?,
            parent: self
                .parent
                .map(|p| Pcode::parse(&p))
                .transpose()
                .map_err(|e| ApiError::invalid("filter.parent", &e.message))?,
            country: self.country,
            name: self.name,
        })
    }
}

#[derive(Default)]
pub struct AreaQuery;

#[Object]
impl AreaQuery {
    #[graphql(complexity = "crate::limits::page_cost(first, child_complexity)")]
    async fn areas(
        &self,
        ctx: &Context<'_>,
        filter: Option<AreaFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<crate::types::AreaConnection> {
        read_scope(ctx)?;
        let filter = filter.unwrap_or_default().into_store()?;
        let has_after = after.is_some();
        let page = store(ctx)
            .areas(&filter, page_request(first, after)?)
            .await?;
        Ok(area_connection(page, filter, has_after))
    }

    /// An area by its P-code.
    async fn area(&self, ctx: &Context<'_>, pcode: String) -> ApiResult<Option<Area>> {
        read_scope(ctx)?;
        let pcode = Pcode::parse(&pcode).map_err(|e| ApiError::invalid("pcode", &e.message))?;
        Ok(store(ctx).area(&pcode).await?.map(Area))
    }
}
