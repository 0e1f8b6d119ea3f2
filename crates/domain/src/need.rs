//! Needs (people in need per area, sector and period, with severity) and progress reports
//! (people reached by an intervention in a period).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::area::Pcode;
use crate::error::{ValidationError, ValidationErrors};
use crate::intervention::InterventionId;
use crate::population::{Population, PopulationBandInput, PopulationInput};
use crate::reference::{self, SectorVocabulary};
use crate::values::{Period, optional_text};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NeedId(pub i64);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ProgressReportId(pub i64);

/// JIAF severity phase, 1 (minimal) to 5 (catastrophic).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Severity(u8);

impl Severity {
    pub fn parse(field: &str, value: i64) -> Result<Self, ValidationError> {
        if !(1..=5).contains(&value) {
            return Err(ValidationError::new(field, "must be between 1 and 5"));
        }
        Ok(Self(value as u8))
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

/// The sector a need is stated for. People in need are never summed across sectors, so the
/// figure for everyone is a separate, intersectoral, need.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NeedSector {
    Intersectoral,
    Sector {
        vocabulary: SectorVocabulary,
        code: String,
    },
}

impl NeedSector {
    /// A single string that identifies the sector, for unique keys (`*` is intersectoral).
    pub fn key(&self) -> String {
        match self {
            NeedSector::Intersectoral => "*".to_owned(),
            NeedSector::Sector { vocabulary, code } => format!("{}:{code}", vocabulary.iati_code()),
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        if key == "*" {
            return Some(NeedSector::Intersectoral);
        }
        let (vocabulary, code) = key.split_once(':')?;
        let sector = reference::sector(SectorVocabulary::from_iati_code(vocabulary)?, code)?;
        Some(NeedSector::Sector {
            vocabulary: sector.vocabulary,
            code: sector.code.clone(),
        })
    }
}

/// A need as a client sends it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NeedInput {
    pub pcode: String,
    /// A sector code (DAC or cluster id or HPC code); absent for the intersectoral figure.
    pub sector: Option<String>,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub people_in_need: i64,
    pub bands: Vec<PopulationBandInput>,
    pub severity: Option<i64>,
    pub source: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewNeed {
    pub pcode: Pcode,
    pub sector: NeedSector,
    pub period: Period,
    pub people_in_need: Population,
    pub severity: Option<Severity>,
    pub source: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Need {
    pub id: NeedId,
    pub need: NewNeed,
}

impl NewNeed {
    pub fn parse(input: &NeedInput) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let pcode = errors.take(Pcode::parse(&input.pcode));
        let sector = match input.sector.as_deref().map(str::trim) {
            None | Some("") => Some(NeedSector::Intersectoral),
            Some(code) if code.eq_ignore_ascii_case("intersectoral") => {
                Some(NeedSector::Intersectoral)
            }
            Some(code) => match reference::find_sector(code) {
                Some(s) => Some(NeedSector::Sector {
                    vocabulary: s.vocabulary,
                    code: s.code.clone(),
                }),
                None => {
                    errors.push(ValidationError::new(
                        "sector",
                        format!("`{code}` is not a known sector code"),
                    ));
                    None
                }
            },
        };
        let period = errors.take(Period::new(
            "periodEnd",
            input.period_start,
            Some(input.period_end),
        ));
        let people = match Population::parse(
            "peopleInNeed",
            &PopulationInput {
                total: input.people_in_need,
                with_disability: None,
                groups: Vec::new(),
                bands: input.bands.clone(),
            },
        ) {
            Ok(p) => Some(p),
            Err(e) => {
                errors.0.extend(e.0.into_iter().map(|mut e| {
                    e.field = e
                        .field
                        .replace("peopleInNeed.total", "peopleInNeed")
                        .replace("peopleInNeed.bands", "bands");
                    e
                }));
                None
            }
        };
        let severity = input
            .severity
            .and_then(|s| errors.take(Severity::parse("severity", s)));
        let source = errors
            .take(optional_text("source", input.source.as_deref(), 500))
            .flatten();
        errors.into_result(|| NewNeed {
            pcode: pcode.expect("checked"),
            sector: sector.expect("checked"),
            period: period.expect("checked"),
            people_in_need: people.expect("checked"),
            severity,
            source,
        })
    }
}

/// A progress report as a client sends it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProgressInput {
    pub intervention: InterventionId,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub reached: PopulationInput,
    pub note: Option<String>,
}

/// People reached in one period. A target is never a report of people reached: reports
/// carry only what was delivered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewProgressReport {
    pub intervention: InterventionId,
    pub period: Period,
    pub reached: Population,
    pub note: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProgressReport {
    pub id: ProgressReportId,
    pub report: NewProgressReport,
}

impl NewProgressReport {
    pub fn parse(input: &ProgressInput) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let period = errors.take(Period::new(
            "periodEnd",
            input.period_start,
            Some(input.period_end),
        ));
        let reached = match Population::parse("reached", &input.reached) {
            Ok(p) => Some(p),
            Err(e) => {
                errors.0.extend(e.0);
                None
            }
        };
        let note = errors
            .take(optional_text("note", input.note.as_deref(), 2000))
            .flatten();
        errors.into_result(|| NewProgressReport {
            intervention: input.intervention,
            period: period.expect("checked"),
            reached: reached.expect("checked"),
            note,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn need() -> NeedInput {
        NeedInput {
            pcode: "ET0201".into(),
            sector: Some("FSC".into()),
            period_start: d("2024-01-01"),
            period_end: d("2024-12-31"),
            people_in_need: 80_418,
            bands: Vec::new(),
            severity: Some(4),
            source: Some("HNO 2024".into()),
        }
    }

    #[test]
    fn parses_a_need_and_keys_its_sector() {
        let n = NewNeed::parse(&need()).unwrap();
        assert_eq!(n.sector.key(), "10:6");
        assert_eq!(NeedSector::from_key("10:6"), Some(n.sector.clone()));
        assert_eq!(n.people_in_need.total.get(), 80_418);
    }

    #[test]
    fn intersectoral_when_no_sector() {
        let mut input = need();
        input.sector = None;
        assert_eq!(
            NewNeed::parse(&input).unwrap().sector,
            NeedSector::Intersectoral
        );
        assert_eq!(NeedSector::from_key("*"), Some(NeedSector::Intersectoral));
    }

    #[test]
    fn refuses_bad_needs_with_paths() {
        let mut input = need();
        input.severity = Some(6);
        input.people_in_need = -3;
        input.period_end = d("2023-12-31");
        input.sector = Some("nope".into());
        let err = NewNeed::parse(&input).unwrap_err();
        let fields: Vec<&str> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec!["sector", "periodEnd", "peopleInNeed", "severity"]
        );
    }

    #[test]
    fn progress_needs_a_valid_period_and_count() {
        let input = ProgressInput {
            intervention: InterventionId(1),
            period_start: d("2024-03-01"),
            period_end: d("2024-03-31"),
            reached: PopulationInput {
                total: 120,
                ..Default::default()
            },
            note: None,
        };
        assert!(NewProgressReport::parse(&input).is_ok());
        let bad = ProgressInput {
            period_end: d("2024-02-01"),
            ..input
        };
        assert_eq!(
            NewProgressReport::parse(&bad).unwrap_err().0[0].field,
            "periodEnd"
        );
    }
}
