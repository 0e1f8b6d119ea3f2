use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Object};
use concord_domain::area;
use concord_store::{AreaFilter, Page};

use crate::error::ApiResult;
use crate::loaders::Areas;
use crate::paging::{IdCursor, page_request};
use crate::scalars::Date;

/// A point in WGS 84 degrees.
#[derive(async_graphql::SimpleObject)]
pub struct Point {
    pub lat: f64,
    pub lon: f64,
}

/// An administrative area on the official P-code hierarchy (COD).
pub struct Area(pub area::Area);

pub type AreaConnection = Connection<IdCursor, Area, AreaCount>;

/// Builds a page of areas with a lazily counted total.
pub fn area_connection(page: Page<area::Area>, filter: AreaFilter, after: bool) -> AreaConnection {
    let mut connection =
        Connection::with_additional_fields(after, page.has_next_page, AreaCount(filter));
    connection.edges = page
        .items
        .into_iter()
        .map(|a| Edge::new(IdCursor(a.id.0), Area(a)))
        .collect();
    connection
}

#[Object]
impl Area {
    async fn pcode(&self) -> &str {
        self.0.pcode.as_str()
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    /// 0 is the country, 1 the first administrative level, and so on.
    async fn admin_level(&self) -> u8 {
        self.0.admin_level.get()
    }

    /// ISO 3166-1 alpha-2 code of the country.
    async fn country(&self) -> &str {
        &self.0.country
    }

    /// The COD version the P-code comes from, when known.
    async fn cod_version(&self) -> Option<&str> {
        self.0.cod_version.as_deref()
    }

    async fn valid_from(&self) -> Option<Date> {
        self.0.valid_from.map(Date)
    }

    /// A point inside the area, when known (COD `center_lat`/`center_lon`).
    async fn centroid(&self) -> Option<Point> {
        self.0.centroid.map(|c| Point {
            lat: c.lat(),
            lon: c.lon(),
        })
    }

    async fn parent(&self, ctx: &Context<'_>) -> ApiResult<Option<Area>> {
        let Some(parent) = self.0.parent else {
            return Ok(None);
        };
        Ok(ctx
            .data_unchecked::<Areas>()
            .load_one(parent)
            .await?
            .map(Area))
    }

    /// The areas one level down.
    #[graphql(complexity = "crate::limits::page_cost(first, child_complexity)")]
    async fn children(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<AreaConnection> {
        let has_after = after.is_some();
        let page = page_request(first, after)?;
        let filter = AreaFilter {
            parent: Some(self.0.pcode.clone()),
            ..Default::default()
        };
        let areas = super::store(ctx).areas(&filter, page).await?;
        Ok(area_connection(areas, filter, has_after))
    }

    /// Every area above this one, from the country down.
    async fn ancestors(&self, ctx: &Context<'_>) -> ApiResult<Vec<Area>> {
        Ok(super::store(ctx)
            .ancestors(&self.0)
            .await?
            .into_iter()
            .map(Area)
            .collect())
    }
}

pub struct AreaCount(pub AreaFilter);

#[Object]
impl AreaCount {
    /// How many areas match, across all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        Ok(super::store(ctx).count_areas(&self.0).await?)
    }
}
