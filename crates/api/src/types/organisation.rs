use async_graphql::{Context, ID, Object};
use concord_domain::organisation;

use crate::enums::ActorLevel;
use crate::error::ApiResult;

/// An actor that reports, funds or implements interventions.
pub struct Organisation(pub organisation::Organisation);

#[Object]
impl Organisation {
    async fn id(&self) -> ID {
        ID(self.0.id.0.to_string())
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn acronym(&self) -> Option<&str> {
        self.0.acronym.as_deref()
    }

    /// IATI organisation identifier, such as GB-CHC-202918.
    async fn iati_identifier(&self) -> Option<&str> {
        self.0.iati_identifier.as_ref().map(|i| i.as_str())
    }

    /// IATI OrganisationType code (10 government, 21 international NGO, 22 national NGO, 40 multilateral, ...).
    async fn organisation_type(&self) -> &str {
        &self.0.organisation_type
    }

    /// The name of the IATI OrganisationType.
    async fn organisation_type_name(&self) -> Option<&'static str> {
        concord_domain::reference::organisation_types()
            .iter()
            .find(|t| t.code == self.0.organisation_type)
            .map(|t| t.name.as_str())
    }

    async fn level(&self) -> ActorLevel {
        self.0.level.into()
    }

    /// ISO 3166-1 alpha-2 code of the country it is based in.
    async fn country(&self) -> Option<&str> {
        self.0.country.as_deref()
    }
}

pub struct OrganisationCount;

#[Object]
impl OrganisationCount {
    /// How many organisations there are.
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        Ok(super::store(ctx).count_organisations().await?)
    }
}
