//! Interventions: who does what, where, when, for whom, with what money.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::area::Pcode;
use crate::error::{ValidationError, ValidationErrors};
use crate::organisation::OrganisationId;
use crate::population::{Population, PopulationInput};
use crate::reference::{self, SectorVocabulary};
use crate::values::{
    ActivityStatus, Approach, InterventionKind, Money, OrganisationRole, PeopleCount, Percentage,
    Period, Visibility, optional_text, required_text,
};

/// Storage identity of an intervention.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct InterventionId(pub i64);

/// An intervention as a client sends it, before validation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InterventionInput {
    pub external_id: String,
    pub title: String,
    pub description: Option<String>,
    pub reporting_organisation: OrganisationId,
    pub participants: Vec<ParticipationInput>,
    pub sectors: Vec<SectorShareInput>,
    pub locations: Vec<LocationInput>,
    pub planned_start: Option<NaiveDate>,
    pub planned_end: Option<NaiveDate>,
    pub actual_start: Option<NaiveDate>,
    pub actual_end: Option<NaiveDate>,
    pub status: String,
    pub kind: String,
    pub approach: String,
    pub target: Option<PopulationInput>,
    pub budget: Option<BudgetInput>,
    pub visibility: Option<String>,
    /// Identifiers of other records of the same activity this one references (IATI
    /// `related-activity`, a transaction's `provider-activity-id`): links of one chain.
    #[serde(default)]
    pub linked_activities: Vec<String>,
    /// The IATI humanitarian flag, when the publisher states it.
    #[serde(default)]
    pub humanitarian: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ParticipationInput {
    pub organisation: OrganisationId,
    pub role: String,
    /// The participant's own identifier for the same activity (IATI `participating-org/@activity-id`).
    pub activity_id: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SectorShareInput {
    /// IATI SectorVocabulary code ("1" DAC 5-digit, "2" DAC 3-digit, "10" clusters); guessed
    /// from the code when absent.
    pub vocabulary: Option<String>,
    pub code: String,
    pub percentage: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LocationInput {
    pub pcode: String,
    pub target: Option<i64>,
    /// The named place within the area (a community, school or camp), as a 3W's `#loc`
    /// gives it.
    #[serde(default)]
    pub site: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BudgetInput {
    pub amount: f64,
    pub currency: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participation {
    pub organisation: OrganisationId,
    pub role: OrganisationRole,
    pub activity_id: Option<String>,
}

/// A sector an intervention works in, with its share of the intervention when given.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SectorShare {
    pub vocabulary: SectorVocabulary,
    /// The canonical code: DAC digits, or the numeric cluster id.
    pub code: String,
    pub percentage: Option<Percentage>,
}

/// A place an intervention works in, with the people it targets there when known.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    pub pcode: Pcode,
    pub target: Option<PeopleCount>,
    /// The named place within the area, trimmed; `None` when not named. Areas are the
    /// P-code hierarchy; a site below them is what a 3W lists one row per.
    #[serde(default)]
    pub site: Option<String>,
}

/// A validated intervention, ready to store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewIntervention {
    pub external_id: String,
    pub title: String,
    pub description: Option<String>,
    pub reporting_organisation: OrganisationId,
    pub participants: Vec<Participation>,
    pub sectors: Vec<SectorShare>,
    pub locations: Vec<Location>,
    pub planned: Option<Period>,
    pub actual: Option<Period>,
    pub status: ActivityStatus,
    pub kind: InterventionKind,
    pub approach: Approach,
    pub target: Option<Population>,
    pub budget: Option<Money>,
    pub visibility: Visibility,
    /// Sorted and without repeats.
    #[serde(default)]
    pub linked_activities: Vec<String>,
    #[serde(default)]
    pub humanitarian: Option<bool>,
}

/// Links a record may declare: more is a publishing error, not a chain.
pub const MAX_LINKED_ACTIVITIES: usize = 100;

/// A stored intervention.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Intervention {
    pub id: InterventionId,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub record: NewIntervention,
}

impl NewIntervention {
    pub fn parse(input: &InterventionInput) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let external_id = errors.take(required_text("externalId", &input.external_id, 200));
        let title = errors.take(required_text("title", &input.title, 500));
        let description = errors
            .take(optional_text(
                "description",
                input.description.as_deref(),
                20_000,
            ))
            .flatten();

        let participants = parse_participants(&input.participants, &mut errors);
        let sectors = parse_sectors(&input.sectors, &mut errors);
        let locations = parse_locations(&input.locations, &mut errors);

        let planned = parse_period(
            "planned",
            input.planned_start,
            input.planned_end,
            &mut errors,
        );
        let actual = parse_period("actual", input.actual_start, input.actual_end, &mut errors);
        if planned.is_none()
            && actual.is_none()
            && input.planned_start.is_none()
            && input.actual_start.is_none()
        {
            errors.push(ValidationError::new(
                "plannedStart",
                "a planned or actual start date is required",
            ));
        }

        let status = errors.take(ActivityStatus::parse("status", &input.status));
        let kind = errors.take(InterventionKind::parse("kind", &input.kind));
        let approach = errors.take(Approach::parse("approach", &input.approach));
        let target = match &input.target {
            Some(t) => match Population::parse("target", t) {
                Ok(p) => Some(p),
                Err(e) => {
                    errors.0.extend(e.0);
                    None
                }
            },
            None => None,
        };
        if let Some(target) = &target {
            let located: u64 = locations
                .iter()
                .filter_map(|l| l.target)
                .map(PeopleCount::get)
                .sum();
            if located > target.total.get() {
                errors.push(ValidationError::new(
                    "locations",
                    "the per-location targets add up to more than the total target",
                ));
            }
        }
        let budget = input
            .budget
            .as_ref()
            .and_then(|b| errors.take(Money::parse("budget", b.amount, &b.currency)));
        let visibility = match &input.visibility {
            Some(code) => errors.take(Visibility::parse("visibility", code)),
            None => Some(default_visibility(&sectors)),
        };
        let linked_activities = parse_links(&input.linked_activities, &mut errors);

        errors.into_result(|| NewIntervention {
            external_id: external_id.unwrap_or_default(),
            title: title.unwrap_or_default(),
            description,
            reporting_organisation: input.reporting_organisation,
            participants,
            sectors,
            locations,
            planned,
            actual,
            status: status.unwrap_or(ActivityStatus::Pipeline),
            kind: kind.unwrap_or(InterventionKind::Response),
            approach: approach.unwrap_or(Approach::Protection),
            target,
            budget,
            visibility: visibility.unwrap_or(Visibility::Restricted),
            linked_activities,
            humanitarian: input.humanitarian,
        })
    }

    /// The dates the intervention runs: actual dates where known, else planned; an open end
    /// means ongoing.
    pub fn effective_period(&self) -> Option<Period> {
        let start = self
            .actual
            .map(|p| p.start())
            .or(self.planned.map(|p| p.start()))?;
        let end = self
            .actual
            .and_then(|p| p.end())
            .or(self.planned.and_then(|p| p.end()));
        // An actual start after the planned end leaves the planned end meaningless.
        let end = end.filter(|e| *e >= start);
        Period::new("period", start, end).ok()
    }

    /// The identifiers of other records this one declares as links of its chain: its
    /// participants' own activity ids and the activities it references.
    pub fn linked_ids(&self) -> Vec<String> {
        self.participants
            .iter()
            .filter_map(|p| p.activity_id.clone())
            .chain(self.linked_activities.iter().cloned())
            .collect()
    }

    /// Every organisation named on the record, the reporter first.
    pub fn organisations(&self) -> Vec<OrganisationId> {
        let mut ids = vec![self.reporting_organisation];
        for p in &self.participants {
            if !ids.contains(&p.organisation) {
                ids.push(p.organisation);
            }
        }
        ids
    }
}

/// Protection, child protection and GBV services are dangerous to publish by default: a
/// public map of a GBV shelter puts its clients at risk.
pub fn default_visibility(sectors: &[SectorShare]) -> Visibility {
    let sensitive = sectors
        .iter()
        .any(|s| reference::sector(s.vocabulary, &s.code).is_some_and(|r| r.sensitive));
    if sensitive {
        Visibility::Restricted
    } else {
        Visibility::Public
    }
}

fn parse_links(links: &[String], errors: &mut ValidationErrors) -> Vec<String> {
    if links.len() > MAX_LINKED_ACTIVITIES {
        errors.push(ValidationError::new(
            "linkedActivities",
            format!("at most {MAX_LINKED_ACTIVITIES} linked activities"),
        ));
        return Vec::new();
    }
    let mut out = Vec::with_capacity(links.len());
    for (i, link) in links.iter().enumerate() {
        match required_text(&format!("linkedActivities.{i}"), link, 200) {
            Ok(link) => out.push(link),
            Err(e) => errors.push(e),
        }
    }
    out.sort();
    out.dedup();
    out
}

fn parse_period(
    name: &str,
    start: Option<NaiveDate>,
    end: Option<NaiveDate>,
    errors: &mut ValidationErrors,
) -> Option<Period> {
    match (start, end) {
        (Some(start), end) => errors.take(Period::new(&format!("{name}End"), start, end)),
        (None, Some(_)) => {
            errors.push(ValidationError::new(
                format!("{name}Start"),
                "an end date needs a start date",
            ));
            None
        }
        (None, None) => None,
    }
}

fn parse_participants(
    input: &[ParticipationInput],
    errors: &mut ValidationErrors,
) -> Vec<Participation> {
    let mut out: Vec<Participation> = Vec::new();
    for (i, p) in input.iter().enumerate() {
        let path = format!("participants[{i}]");
        let role = errors.take(OrganisationRole::parse(&format!("{path}.role"), &p.role));
        let activity_id = errors
            .take(optional_text(
                &format!("{path}.activityId"),
                p.activity_id.as_deref(),
                200,
            ))
            .flatten();
        if let Some(role) = role {
            if out
                .iter()
                .any(|o| o.organisation == p.organisation && o.role == role)
            {
                errors.push(ValidationError::new(
                    path,
                    "the same organisation is listed twice in the same role",
                ));
                continue;
            }
            out.push(Participation {
                organisation: p.organisation,
                role,
                activity_id,
            });
        }
    }
    out
}

fn parse_sectors(input: &[SectorShareInput], errors: &mut ValidationErrors) -> Vec<SectorShare> {
    if input.is_empty() {
        errors.push(ValidationError::new(
            "sectors",
            "at least one sector is required",
        ));
        return Vec::new();
    }
    let mut out: Vec<SectorShare> = Vec::new();
    for (i, s) in input.iter().enumerate() {
        let path = format!("sectors[{i}]");
        let code = s.code.trim();
        let found = match s.vocabulary.as_deref().map(str::trim) {
            Some(v) => match SectorVocabulary::from_iati_code(v) {
                Some(vocabulary) => reference::sector(vocabulary, code),
                None => {
                    errors.push(ValidationError::new(
                        format!("{path}.vocabulary"),
                        format!("`{v}` is not a supported sector vocabulary (1, 2 or 10)"),
                    ));
                    continue;
                }
            },
            None => reference::find_sector(code),
        };
        let Some(sector) = found else {
            errors.push(ValidationError::new(
                format!("{path}.code"),
                format!("`{code}` is not a known sector code"),
            ));
            continue;
        };
        let percentage = s
            .percentage
            .and_then(|p| errors.take(Percentage::parse(&format!("{path}.percentage"), p)));
        if out
            .iter()
            .any(|o| o.vocabulary == sector.vocabulary && o.code == sector.code)
        {
            errors.push(ValidationError::new(
                path,
                "the same sector is listed twice",
            ));
            continue;
        }
        out.push(SectorShare {
            vocabulary: sector.vocabulary,
            code: sector.code.clone(),
            percentage,
        });
    }
    // IATI: within one vocabulary, percentages are all given or all absent, and add up to 100.
    for vocabulary in SectorVocabulary::ALL {
        let shares: Vec<&SectorShare> = out.iter().filter(|s| s.vocabulary == vocabulary).collect();
        let given: Vec<f64> = shares
            .iter()
            .filter_map(|s| s.percentage.map(Percentage::get))
            .collect();
        if given.is_empty() {
            continue;
        }
        if given.len() != shares.len() {
            errors.push(ValidationError::new(
                "sectors",
                format!(
                    "percentages must be given for every sector of vocabulary {} or for none",
                    vocabulary.iati_code()
                ),
            ));
        } else if (given.iter().sum::<f64>() - 100.0).abs() > 0.01 {
            errors.push(ValidationError::new(
                "sectors",
                format!(
                    "the percentages of vocabulary {} add up to {}, not 100",
                    vocabulary.iati_code(),
                    given.iter().sum::<f64>()
                ),
            ));
        }
    }
    out
}

/// The longest site name accepted: place names in 3W tables run to a few dozen characters.
const SITE_MAX_CHARS: usize = 200;

fn parse_locations(input: &[LocationInput], errors: &mut ValidationErrors) -> Vec<Location> {
    if input.is_empty() {
        errors.push(ValidationError::new(
            "locations",
            "at least one location is required (the country's P-code for national work)",
        ));
    }
    let mut out: Vec<Location> = Vec::new();
    for (i, l) in input.iter().enumerate() {
        let path = format!("locations[{i}]");
        let pcode = errors.take(Pcode::parse(&l.pcode).map_err(|e| e.within(&path)));
        let target = l
            .target
            .and_then(|t| errors.take(PeopleCount::parse(&format!("{path}.target"), t)));
        let site = errors
            .take(optional_text(
                &format!("{path}.site"),
                l.site.as_deref(),
                SITE_MAX_CHARS,
            ))
            .flatten();
        if let Some(pcode) = pcode {
            if out.iter().any(|o| o.pcode == pcode) {
                errors.push(ValidationError::new(
                    format!("{path}.pcode"),
                    "the same area is listed twice",
                ));
                continue;
            }
            out.push(Location {
                pcode,
                target,
                site,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn linked_activities_are_trimmed_sorted_and_join_the_participants_ids() {
        let mut input = valid_input();
        input.participants[0].activity_id = Some("NGO-7".into());
        input.linked_activities = vec![" B-2 ".into(), "A-1".into(), "B-2".into()];
        let record = NewIntervention::parse(&input).unwrap();
        assert_eq!(record.linked_activities, vec!["A-1", "B-2"]);
        assert_eq!(record.linked_ids(), vec!["NGO-7", "A-1", "B-2"]);
        input.linked_activities = vec![" ".into()];
        let errors = NewIntervention::parse(&input).unwrap_err();
        assert_eq!(errors.0[0].field, "linkedActivities.0");
        input.linked_activities = vec!["X".into(); MAX_LINKED_ACTIVITIES + 1];
        assert!(NewIntervention::parse(&input).is_err());
    }

    pub(crate) fn valid_input() -> InterventionInput {
        InterventionInput {
            external_id: "XM-DAC-41114-ET-001".into(),
            title: "Water trucking in Afar".into(),
            description: None,
            reporting_organisation: OrganisationId(1),
            participants: vec![ParticipationInput {
                organisation: OrganisationId(2),
                role: "4".into(),
                activity_id: None,
            }],
            sectors: vec![
                SectorShareInput {
                    vocabulary: Some("1".into()),
                    code: "14030".into(),
                    percentage: Some(60.0),
                },
                SectorShareInput {
                    vocabulary: Some("1".into()),
                    code: "12220".into(),
                    percentage: Some(40.0),
                },
                SectorShareInput {
                    vocabulary: None,
                    code: "WSH".into(),
                    percentage: None,
                },
            ],
            locations: vec![
                LocationInput {
                    pcode: "ET02".into(),
                    target: Some(600),
                    site: None,
                },
                LocationInput {
                    pcode: "et0201".into(),
                    target: None,
                    site: None,
                },
            ],
            planned_start: Some(d("2024-01-01")),
            planned_end: Some(d("2024-12-31")),
            actual_start: Some(d("2024-02-01")),
            actual_end: None,
            status: "2".into(),
            kind: "RESPONSE".into(),
            approach: "BOTH".into(),
            target: Some(PopulationInput {
                total: 1000,
                ..Default::default()
            }),
            budget: Some(BudgetInput {
                amount: 250_000.0,
                currency: "USD".into(),
            }),
            visibility: None,
            linked_activities: vec!["XM-DAC-41114-ET-000".into()],
            humanitarian: Some(true),
        }
    }

    #[test]
    fn parses_a_valid_intervention() {
        let i = NewIntervention::parse(&valid_input()).unwrap();
        assert_eq!(i.sectors.len(), 3);
        assert_eq!(i.sectors[2].vocabulary, SectorVocabulary::Cluster);
        assert_eq!(
            i.sectors[2].code, "11",
            "HPC code WSH is stored as its cluster id"
        );
        assert_eq!(i.locations[1].pcode.as_str(), "ET0201");
        assert_eq!(i.visibility, Visibility::Public);
        let period = i.effective_period().unwrap();
        assert_eq!(period.start(), d("2024-02-01"), "actual start wins");
        assert_eq!(period.end(), Some(d("2024-12-31")), "planned end stands in");
    }

    #[test]
    fn protection_work_defaults_to_restricted() {
        let mut input = valid_input();
        input.sectors = vec![SectorShareInput {
            vocabulary: Some("10".into()),
            code: "PRO-GBV".into(),
            percentage: None,
        }];
        assert_eq!(
            NewIntervention::parse(&input).unwrap().visibility,
            Visibility::Restricted
        );
        input.visibility = Some("PUBLIC".into());
        assert_eq!(
            NewIntervention::parse(&input).unwrap().visibility,
            Visibility::Public
        );
    }

    #[test]
    fn refuses_percentages_that_do_not_add_up() {
        let mut input = valid_input();
        input.sectors[1].percentage = Some(30.0);
        let err = NewIntervention::parse(&input).unwrap_err();
        assert_eq!(err.0[0].field, "sectors");
        assert!(err.0[0].message.contains("90"));
    }

    #[test]
    fn collects_every_error_with_its_field_path() {
        let mut input = valid_input();
        input.title = " ".into();
        input.sectors[0].code = "99999".into();
        input.locations[0].pcode = "1234".into();
        input.planned_end = Some(d("2023-01-01"));
        input.status = "9".into();
        input.locations[0].target = Some(-5);
        let err = NewIntervention::parse(&input).unwrap_err();
        let fields: Vec<&str> = err.0.iter().map(|e| e.field.as_str()).collect();
        for expected in [
            "title",
            "sectors[0].code",
            "locations[0].pcode",
            "locations[0].target",
            "plannedEnd",
            "status",
        ] {
            assert!(
                fields.contains(&expected),
                "{expected} missing from {fields:?}"
            );
        }
    }

    #[test]
    fn sites_are_trimmed_and_bounded() {
        let mut input = valid_input();
        input.locations[0].site = Some("  Escuela Central ".into());
        input.locations[1].site = Some(" ".into());
        let parsed = NewIntervention::parse(&input).unwrap();
        assert_eq!(parsed.locations[0].site.as_deref(), Some("Escuela Central"));
        assert_eq!(parsed.locations[1].site, None, "blank is not named");
        input.locations[1].site = Some("x".repeat(201));
        let err = NewIntervention::parse(&input).unwrap_err();
        assert_eq!(err.0[0].field, "locations[1].site");
    }

    #[test]
    fn location_targets_cannot_exceed_the_total() {
        let mut input = valid_input();
        input.locations[1].target = Some(500);
        let err = NewIntervention::parse(&input).unwrap_err();
        assert_eq!(err.0[0].field, "locations");
    }

    #[test]
    fn a_start_date_is_required_and_open_ends_are_allowed() {
        let mut input = valid_input();
        input.planned_start = None;
        input.planned_end = None;
        input.actual_start = None;
        let err = NewIntervention::parse(&input).unwrap_err();
        assert_eq!(err.0[0].field, "plannedStart");
        input.planned_start = Some(d("2024-01-01"));
        let i = NewIntervention::parse(&input).unwrap();
        assert_eq!(i.effective_period().unwrap().end(), None);
    }
}
