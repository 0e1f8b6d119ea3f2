use async_graphql::{Object, SimpleObject};
use concord_domain::population;

use crate::enums::{PopulationGroup, Sex};

/// People counted, with their disaggregation by sex, age band, disability and group.
pub struct Population(pub population::Population);

/// So many people of one sex, age band and group. Age bands are minimum and maximum ages
/// (inclusive); an absent maximum is open-ended.
#[derive(SimpleObject)]
pub struct PopulationBand {
    pub sex: Sex,
    pub min_age: Option<u8>,
    pub max_age: Option<u8>,
    pub group: Option<PopulationGroup>,
    pub people: u64,
}

#[Object]
impl Population {
    async fn total(&self) -> u64 {
        self.0.total.get()
    }

    async fn with_disability(&self) -> Option<u64> {
        self.0.with_disability.map(|n| n.get())
    }

    async fn groups(&self) -> Vec<PopulationGroup> {
        self.0.groups.iter().map(|g| (*g).into()).collect()
    }

    async fn bands(&self) -> Vec<PopulationBand> {
        self.0
            .bands
            .iter()
            .map(|b| PopulationBand {
                sex: b.sex.into(),
                min_age: b.min_age,
                max_age: b.max_age,
                group: b.group.map(Into::into),
                people: b.people.get(),
            })
            .collect()
    }
}
