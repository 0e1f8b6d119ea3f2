use async_graphql::{Object, SimpleObject};
use concord_domain::reference::{self, SectorVocabulary as DomainVocabulary};

use crate::enums::{Dimension, Freedom, SectorVocabulary};

/// A sector of a reference code list, with the human security dimensions and freedoms it serves.
pub struct Sector(pub &'static reference::Sector);

#[Object]
impl Sector {
    async fn vocabulary(&self) -> SectorVocabulary {
        self.0.vocabulary.into()
    }

    /// DAC digits, or the numeric cluster id of IATI vocabulary 10.
    async fn code(&self) -> &str {
        &self.0.code
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Clusters only: the HPC code (WSH, FSC, PRO-GBV, ...).
    async fn hpc_code(&self) -> Option<&str> {
        self.0.hpc_code.as_deref()
    }

    /// DAC 5-digit codes only: their 3-digit category.
    async fn category(&self) -> Option<Sector> {
        self.0
            .category
            .as_deref()
            .and_then(|c| reference::sector(DomainVocabulary::Dac3, c))
            .map(Sector)
    }

    /// The clusters a DAC code falls under, through the crosswalk.
    async fn clusters(&self) -> Vec<Sector> {
        self.0
            .clusters
            .iter()
            .filter_map(|c| reference::sector(DomainVocabulary::Cluster, c))
            .map(Sector)
            .collect()
    }

    async fn dimensions(&self) -> Vec<Dimension> {
        self.0.dimensions.iter().map(|d| (*d).into()).collect()
    }

    async fn freedoms(&self) -> Vec<Freedom> {
        self.0.freedoms.iter().map(|f| (*f).into()).collect()
    }

    /// Work in this sector (protection, child protection, GBV) is RESTRICTED unless its
    /// reporter says otherwise.
    async fn sensitive(&self) -> bool {
        self.0.sensitive
    }
}

#[derive(SimpleObject)]
pub struct SectorCount {
    /// How many sectors match, across all pages.
    pub total_count: u64,
}
