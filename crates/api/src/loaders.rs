//! DataLoaders for every relation field, all registered in `register`, so a page of 100
//! interventions costs a handful of statements, not hundreds.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use concord_domain::access::ReadScope;
use concord_domain::area::{Area, AreaId, Pcode};
use concord_domain::intervention::{Intervention, InterventionId};
use concord_domain::need::ProgressReport;
use concord_domain::organisation::{Organisation, OrganisationId};
use concord_store::{Store, StoreError};

pub struct OrganisationLoader(Store);
/// Interventions as the caller may read them: built per request with the caller's scope.
pub struct InterventionLoader(Store, ReadScope);
pub struct AreaLoader(Store);
pub struct ProgressLoader(Store);

impl Loader<OrganisationId> for OrganisationLoader {
    type Value = Organisation;
    type Error = Arc<StoreError>;

    async fn load(
        &self,
        keys: &[OrganisationId],
    ) -> Result<HashMap<OrganisationId, Organisation>, Self::Error> {
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

impl Loader<InterventionId> for InterventionLoader {
    type Value = Intervention;
    type Error = Arc<StoreError>;

    async fn load(
        &self,
        keys: &[InterventionId],
    ) -> Result<HashMap<InterventionId, Intervention>, Self::Error> {
        Ok(self
            .0
            .interventions_by_ids(keys, &self.1)
            .await?
            .into_iter()
            .map(|i| (i.id, i))
            .collect())
    }
}

impl Loader<InterventionId> for ProgressLoader {
    type Value = Vec<ProgressReport>;
    type Error = Arc<StoreError>;

    async fn load(
        &self,
        keys: &[InterventionId],
    ) -> Result<HashMap<InterventionId, Vec<ProgressReport>>, Self::Error> {
        let mut out: HashMap<InterventionId, Vec<ProgressReport>> = HashMap::new();
        for report in self.0.progress_reports(keys).await? {
            out.entry(report.report.intervention)
                .or_default()
                .push(report);
        }
        Ok(out)
    }
}

/// Loaders live for one request, so their caches never serve another caller's data.
/// One request's loaders, built with the caller's read scope.
pub struct RequestLoaders {
    organisations: Organisations,
    areas: Areas,
    progress: Progress,
    interventions: Interventions,
}

impl RequestLoaders {
    pub fn new(store: &Store, scope: ReadScope) -> Self {
        RequestLoaders {
            organisations: DataLoader::with_cache(
                OrganisationLoader(store.clone()),
                tokio::spawn,
                HashMapCache::default(),
            ),
            areas: DataLoader::with_cache(
                AreaLoader(store.clone()),
                tokio::spawn,
                HashMapCache::default(),
            ),
            progress: DataLoader::with_cache(
                ProgressLoader(store.clone()),
                tokio::spawn,
                HashMapCache::default(),
            ),
            interventions: DataLoader::with_cache(
                InterventionLoader(store.clone(), scope),
                tokio::spawn,
                HashMapCache::default(),
            ),
        }
    }

    /// A subscription lives for a whole connection: its loaders batch but never cache, so
    /// each event shows the records as they are now.
    pub fn uncached(self) -> Self {
        self.organisations.enable_all_cache(false);
        self.areas.enable_all_cache(false);
        self.progress.enable_all_cache(false);
        self.interventions.enable_all_cache(false);
        self
    }

    pub fn into_data(self, data: &mut async_graphql::Data) {
        data.insert(self.organisations);
        data.insert(self.areas);
        data.insert(self.progress);
        data.insert(self.interventions);
    }
}

/// Loaders live for one request, so their caches never serve another caller's data. Each
/// caches what it loaded, so a list resolver can prime it for the whole page.
pub fn register(
    request: async_graphql::Request,
    store: &Store,
    scope: ReadScope,
) -> async_graphql::Request {
    let loaders = RequestLoaders::new(store, scope);
    request
        .data(loaders.organisations)
        .data(loaders.areas)
        .data(loaders.progress)
        .data(loaders.interventions)
}

pub type Organisations = DataLoader<OrganisationLoader, HashMapCache>;
pub type Areas = DataLoader<AreaLoader, HashMapCache>;
pub type Progress = DataLoader<ProgressLoader, HashMapCache>;
pub type Interventions = DataLoader<InterventionLoader, HashMapCache>;

/// Loads, in one statement each, the organisations and areas a page of interventions refers
/// to, when the query asks for them. Batching by delay alone splits a large page into
/// several batches; priming makes the cost of a page fixed.
pub async fn prime_for_interventions(
    ctx: &async_graphql::Context<'_>,
    interventions: &[concord_domain::intervention::Intervention],
) -> Result<(), Arc<StoreError>> {
    let store = ctx.data_unchecked::<Store>();
    let node = ctx.look_ahead().field("edges").field("node");
    let wants_orgs = node.field("reportingOrganisation").exists()
        || node.field("participants").field("organisation").exists();
    if wants_orgs {
        let mut ids: Vec<OrganisationId> = interventions
            .iter()
            .flat_map(|i| i.record.organisations())
            .collect();
        ids.sort();
        ids.dedup();
        let orgs = store.organisations_by_ids(&ids).await?;
        ctx.data_unchecked::<Organisations>()
            .feed_many(orgs.into_iter().map(|o| (o.id, o)))
            .await;
    }
    if node.field("locations").field("area").exists() {
        let mut pcodes: Vec<Pcode> = interventions
            .iter()
            .flat_map(|i| i.record.locations.iter().map(|l| l.pcode.clone()))
            .collect();
        pcodes.sort();
        pcodes.dedup();
        let areas = store.areas_by_pcodes(&pcodes).await?;
        ctx.data_unchecked::<Areas>()
            .feed_many(areas.into_iter().map(|a| (a.pcode.clone(), a)))
            .await;
    }
    Ok(())
}
