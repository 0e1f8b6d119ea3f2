use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ID, Object, SimpleObject};
use concord_domain::organisation::{NewOrganisation, OrganisationId};

use crate::access::{self, read_scope};
use crate::error::ApiResult;
use crate::inputs::CreateOrganisationInput;
use crate::paging::{IdCursor, page_request};
use crate::types::{Organisation, OrganisationCount, parse_id, store};

#[derive(Default)]
pub struct OrganisationQuery;

#[Object]
impl OrganisationQuery {
    #[graphql(complexity = "crate::limits::page_cost(first, child_complexity)")]
    async fn organisations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<IdCursor, Organisation, OrganisationCount>> {
        read_scope(ctx)?;
        let has_after = after.is_some();
        let page = store(ctx)
            .organisations(page_request(first, after)?)
            .await?;
        let mut connection =
            Connection::with_additional_fields(has_after, page.has_next_page, OrganisationCount);
        connection.edges = page
            .items
            .into_iter()
            .map(|o| Edge::new(IdCursor(o.id.0), Organisation(o)))
            .collect();
        Ok(connection)
    }

    async fn organisation(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<Organisation>> {
        read_scope(ctx)?;
        let id = OrganisationId(parse_id("id", &id)?);
        Ok(store(ctx).organisation(id).await?.map(Organisation))
    }
}

#[derive(SimpleObject)]
pub struct CreateOrganisationPayload {
    organisation: Organisation,
}

#[derive(Default)]
pub struct OrganisationMutation;

#[Object]
impl OrganisationMutation {
    /// Registers an organisation (administrators and coordinators). An IATI identifier
    /// already registered is a CONFLICT.
    async fn create_organisation(
        &self,
        ctx: &Context<'_>,
        input: CreateOrganisationInput,
    ) -> ApiResult<CreateOrganisationPayload> {
        access::require(ctx, |p| p.may_register_organisations())?;
        let org = NewOrganisation::parse(&input.into())?;
        let organisation = store(ctx)
            .create_organisation(&org, access::actor(ctx))
            .await?;
        Ok(CreateOrganisationPayload {
            organisation: Organisation(organisation),
        })
    }
}
