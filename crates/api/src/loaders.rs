//! DataLoaders for every relation field, all registered in `register`, so a page of 100
//! interventions costs a handful of statements, not hundreds.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use concord_domain::area::{Area, AreaId, Pcode};
use concord_domain::intervention::InterventionId;
use concord_domain::need::ProgressReport;
use concord_domain::organisation::{Organisation, OrganisationId};
use concord_store::{Store, StoreError};

pub struct OrganisationLoader(Store);
pub struct AreaLoader(Store);
pub struct ProgressLoader(Store);

impl Loader<OrganisationId> for OrganisationLoader {
    type Value = Organisation;
    type Error = Arc<StoreError>;

    async fn load(&self, keys: &[OrganisationId]) -> Result<HashMap<OrganisationId, Organisation>, Self::Error> {
        Ok(self
            .0
            .organisations_by_ids(keys)
            .await?
            .into_iter()
            .map(|o| (o.id, o))
            .collect())
    }
}

impl Loader<AreaId> for AreaLoader {
    type Value = Area;
    type Error = Arc<StoreError>;

    async fn load(&self, keys: &[AreaId]) -> Result<HashMap<AreaId, Area>, Self::Error> {
        Ok(self
            .0
            .areas_by_ids(keys)
            .await?
            .into_iter()
            .map(|a| (a.id, a))
            .collect())
    }
}

impl Loader<Pcode> for AreaLoader {
    type Value = Area;
    type Error = Arc<StoreError>;

    async fn load(&self, keys: &[Pcode]) -> Result<HashMap<Pcode, Area>, Self::Error> {
        Ok(self
            .0
            .areas_by_pcodes(keys)
            .await?
            .into_iter()
            .map(|a| (a.pcode.clone(), a))
            .collect())
    }
}

impl Loader<InterventionId> for ProgressLoader {
    type Value = Vec<ProgressReport>;
    type Error = Arc<StoreError>;

    async fn load(&self, keys: &[InterventionId]) -> Result<HashMap<InterventionId, Vec<ProgressReport>>, Self::Error> {
        let mut out: HashMap<InterventionId, Vec<ProgressReport>> = HashMap::new();
        for report in self.0.progress_reports(keys).await? {
            out.entry(report.report.intervention).or_default().push(report);
        }
        Ok(out)
    }
}

/// Loaders live for one request, so their caches never serve another caller's data.
pub fn register(request: async_graphql::Request, store: &Store) -> async_graphql::Request {
    request
        .data(DataLoader::new(OrganisationLoader(store.clone()), tokio::spawn))
        .data(DataLoader::new(AreaLoader(store.clone()), tokio::spawn))
        .data(DataLoader::new(ProgressLoader(store.clone()), tokio::spawn))
}
