//! GraphQL input types. Each converts to the domain's raw input, which the domain validates:
//! the API checks only what GraphQL itself cannot say (ids are ours).

use async_graphql::{ID, InputObject};
use concord_domain::intervention::{
    BudgetInput, InterventionInput as DomainIntervention, LocationInput as DomainLocation,
    ParticipationInput as DomainParticipation, SectorShareInput as DomainSector,
};
use concord_domain::need::{NeedInput as DomainNeed, ProgressInput};
use concord_domain::organisation::{OrganisationId, OrganisationInput};
use concord_domain::population::{
    PopulationBandInput as DomainBand, PopulationInput as DomainPopulation,
};
use concord_domain::values;
use concord_domain::{ValidationError, ValidationErrors};

use crate::enums::{
    ActivityStatus, ActorLevel, Approach, InterventionKind, OrganisationRole, PopulationGroup,
    SectorVocabulary, Sex, Visibility,
};
use crate::scalars::Date;

fn id_or_error(field: &str, id: &ID, errors: &mut ValidationErrors) -> i64 {
    match id.parse::<i64>() {
        Ok(n) if n > 0 => n,
        _ => {
            errors.push(ValidationError::new(field, "is not a valid id"));
            0
        }
    }
}

#[derive(InputObject)]
pub struct CreateOrganisationInput {
    pub name: String,
    pub acronym: Option<String>,
    /// IATI organisation identifier; unique when given.
    pub iati_identifier: Option<String>,
    /// IATI OrganisationType code, such as 21 (international NGO) or 22 (national NGO).
    pub organisation_type: String,
    pub level: ActorLevel,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
}

impl From<CreateOrganisationInput> for OrganisationInput {
    fn from(i: CreateOrganisationInput) -> Self {
        OrganisationInput {
            name: i.name,
            acronym: i.acronym,
            iati_identifier: i.iati_identifier,
            organisation_type: i.organisation_type,
            level: values::ActorLevel::from(i.level).code().to_owned(),
            country: i.country,
        }
    }
}

#[derive(InputObject)]
pub struct PopulationBandInput {
    #[graphql(default_with = "Sex::All")]
    pub sex: Sex,
    pub min_age: Option<i64>,
    /// Inclusive; leave out for an open-ended band ("60 and over").
    pub max_age: Option<i64>,
    pub group: Option<PopulationGroup>,
    pub people: i64,
}

impl From<PopulationBandInput> for DomainBand {
    fn from(b: PopulationBandInput) -> Self {
        DomainBand {
            sex: Some(values::Sex::from(b.sex).code().to_owned()),
            min_age: b.min_age,
            max_age: b.max_age,
            group: b
                .group
                .map(|g| values::PopulationGroup::from(g).code().to_owned()),
            people: b.people,
        }
    }
}

#[derive(InputObject)]
pub struct PopulationInput {
    pub total: i64,
    pub with_disability: Option<i64>,
    #[graphql(default)]
    pub groups: Vec<PopulationGroup>,
    #[graphql(default)]
    pub bands: Vec<PopulationBandInput>,
}

impl From<PopulationInput> for DomainPopulation {
    fn from(p: PopulationInput) -> Self {
        DomainPopulation {
            total: p.total,
            with_disability: p.with_disability,
            groups: p
                .groups
                .into_iter()
                .map(|g| values::PopulationGroup::from(g).code().to_owned())
                .collect(),
            bands: p.bands.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(InputObject)]
pub struct ParticipationInput {
    pub organisation_id: ID,
    pub role: OrganisationRole,
    /// The participant's own identifier for the same activity.
    pub activity_id: Option<String>,
}

#[derive(InputObject)]
pub struct SectorShareInput {
    /// Guessed from the code when absent: 5 digits DAC, 3 digits DAC category, else a cluster id or HPC code.
    pub vocabulary: Option<SectorVocabulary>,
    pub code: String,
    /// Within one vocabulary, give percentages for every sector or for none; they add up to 100.
    pub percentage: Option<f64>,
}

#[derive(InputObject)]
pub struct LocationInput {
    pub pcode: String,
    pub target: Option<i64>,
    /// The named place within the area (a community, school or camp), at most 200
    /// characters. Two records of one organisation at differently named sites are not
    /// probable duplicates of each other.
    pub site: Option<String>,
}

#[derive(InputObject)]
pub struct MoneyInput {
    pub amount: f64,
    /// ISO 4217 code.
    pub currency: String,
}

#[derive(InputObject)]
pub struct InterventionInput {
    /// The reporting organisation's own identifier; unique per organisation.
    pub external_id: String,
    pub title: String,
    pub description: Option<String>,
    pub reporting_organisation_id: ID,
    #[graphql(default)]
    pub participants: Vec<ParticipationInput>,
    pub sectors: Vec<SectorShareInput>,
    /// At least one; the country's P-code for national work.
    pub locations: Vec<LocationInput>,
    pub planned_start: Option<Date>,
    pub planned_end: Option<Date>,
    pub actual_start: Option<Date>,
    pub actual_end: Option<Date>,
    pub status: ActivityStatus,
    pub kind: InterventionKind,
    pub approach: Approach,
    pub target: Option<PopulationInput>,
    pub budget: Option<MoneyInput>,
    /// Defaults to RESTRICTED for protection, child protection and GBV work, else PUBLIC.
    pub visibility: Option<Visibility>,
    /// Identifiers of other records of the same activity this one references (a funder's
    /// record, IATI related activities): such records are never reported as overlapping.
    #[graphql(default)]
    pub linked_activities: Vec<String>,
    /// The IATI humanitarian flag.
    pub humanitarian: Option<bool>,
}

impl InterventionInput {
    pub fn into_domain(self) -> Result<DomainIntervention, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let reporting = id_or_error(
            "reportingOrganisationId",
            &self.reporting_organisation_id,
            &mut errors,
        );
        let participants = self
            .participants
            .into_iter()
            .enumerate()
            .map(|(i, p)| DomainParticipation {
                organisation: OrganisationId(id_or_error(
                    &format!("participants[{i}].organisationId"),
                    &p.organisation_id,
                    &mut errors,
                )),
                role: values::OrganisationRole::from(p.role).code().to_owned(),
                activity_id: p.activity_id,
            })
            .collect();
        let input = DomainIntervention {
            external_id: self.external_id,
            title: self.title,
            description: self.description,
            reporting_organisation: OrganisationId(reporting),
            participants,
            sectors: self
                .sectors
                .into_iter()
                .map(|s| DomainSector {
                    vocabulary: s.vocabulary.map(|v| {
                        concord_domain::reference::SectorVocabulary::from(v)
                            .iati_code()
                            .to_owned()
                    }),
                    code: s.code,
                    percentage: s.percentage,
                })
                .collect(),
            locations: self
                .locations
                .into_iter()
                .map(|l| DomainLocation {
                    pcode: l.pcode,
                    target: l.target,
                    site: l.site,
                })
                .collect(),
            planned_start: self.planned_start.map(|d| d.0),
            planned_end: self.planned_end.map(|d| d.0),
            actual_start: self.actual_start.map(|d| d.0),
            actual_end: self.actual_end.map(|d| d.0),
            status: values::ActivityStatus::from(self.status).code().to_owned(),
            kind: values::InterventionKind::from(self.kind).code().to_owned(),
            approach: values::Approach::from(self.approach).code().to_owned(),
            target: self.target.map(Into::into),
            budget: self.budget.map(|b| BudgetInput {
                amount: b.amount,
                currency: b.currency,
            }),
            visibility: self
                .visibility
                .map(|v| values::Visibility::from(v).code().to_owned()),
            linked_activities: self.linked_activities,
            humanitarian: self.humanitarian,
        };
        errors.into_result(|| input)
    }
}

#[derive(InputObject)]
pub struct NeedInput {
    pub pcode: String,
    /// A DAC code, cluster id or HPC code; leave out for the intersectoral figure.
    pub sector: Option<String>,
    pub period_start: Date,
    pub period_end: Date,
    pub people_in_need: i64,
    #[graphql(default)]
    pub bands: Vec<PopulationBandInput>,
    /// JIAF severity, 1 to 5.
    pub severity: Option<i64>,
    pub source: Option<String>,
}

impl From<NeedInput> for DomainNeed {
    fn from(n: NeedInput) -> Self {
        DomainNeed {
            pcode: n.pcode,
            sector: n.sector,
            period_start: n.period_start.0,
            period_end: n.period_end.0,
            people_in_need: n.people_in_need,
            bands: n.bands.into_iter().map(Into::into).collect(),
            severity: n.severity,
            source: n.source,
        }
    }
}

#[derive(InputObject)]
pub struct ReportProgressInput {
    pub intervention_id: ID,
    pub period_start: Date,
    pub period_end: Date,
    /// People actually reached in the period; never a target.
    pub reached: PopulationInput,
    pub note: Option<String>,
}

impl ReportProgressInput {
    pub fn into_domain(self) -> Result<ProgressInput, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let id = id_or_error("interventionId", &self.intervention_id, &mut errors);
        let input = ProgressInput {
            intervention: concord_domain::intervention::InterventionId(id),
            period_start: self.period_start.0,
            period_end: self.period_end.0,
            reached: self.reached.into(),
            note: self.note,
        };
        errors.into_result(|| input)
    }
}
