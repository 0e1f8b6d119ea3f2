use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Object};
use concord_domain::reference;

use crate::access::read_scope;
use crate::enums::SectorVocabulary;
use crate::error::ApiResult;
use crate::paging::{IdCursor, page_request};
use crate::types::{Sector, SectorCount};

#[derive(Default)]
pub struct SectorQuery;

#[Object]
impl SectorQuery {
    /// The reference sectors: DAC 5- and 3-digit codes and the humanitarian clusters, each
    /// with the human security dimensions and freedoms it serves.
    #[graphql(complexity = "crate::limits::page_cost(first, child_complexity)")]
    async fn sectors(
        &self,
        ctx: &Context<'_>,
        vocabulary: Option<SectorVocabulary>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<IdCursor, Sector, SectorCount>> {
        read_scope(ctx)?;
        let page = page_request(first, after)?;
        let all: Vec<(usize, &'static reference::Sector)> = reference::sectors()
            .iter()
            .enumerate()
            .filter(|(_, s)| vocabulary.is_none_or(|v| s.vocabulary == v.into()))
            .collect();
        let total_count = all.len() as u64;
        // Sectors are a fixed list: the cursor is the position in it.
        let start = page.after.map_or(0, |a| a + 1) as usize;
        let items: Vec<_> = all.into_iter().filter(|(i, _)| *i >= start).collect();
        let has_next = items.len() as u64 > page.first;
        let mut connection = Connection::with_additional_fields(
            page.after.is_some(),
            has_next,
            SectorCount { total_count },
        );
        connection.edges = items
            .into_iter()
            .take(page.first as usize)
            .map(|(i, s)| Edge::new(IdCursor(i as i64), Sector(s)))
            .collect();
        Ok(connection)
    }
}
