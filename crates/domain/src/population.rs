//! People counted by an intervention, a need or a progress report, disaggregated the way
//! HDX HAPI and the 5W sheets do it: by sex, by age band (stored as minimum and maximum
//! age, never as labels such as "children", whose bounds differ between agencies), by
//! disability and by population group.

use serde::{Deserialize, Serialize};

use crate::error::{ValidationError, ValidationErrors};
use crate::values::{PeopleCount, PopulationGroup, Sex};

/// The oldest age a band may name; beyond it a band is open-ended (`max_age` absent).
pub const MAX_AGE: i64 = 120;

/// A population as a client sends it, before validation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PopulationInput {
    pub total: i64,
    pub with_disability: Option<i64>,
    pub groups: Vec<String>,
    pub bands: Vec<PopulationBandInput>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PopulationBandInput {
    pub sex: Option<String>,
    pub min_age: Option<i64>,
    pub max_age: Option<i64>,
    pub group: Option<String>,
    pub people: i64,
}

/// One cell of a disaggregation: so many people of this sex, age band and group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PopulationBand {
    pub sex: Sex,
    pub min_age: Option<u8>,
    pub max_age: Option<u8>,
    pub group: Option<PopulationGroup>,
    pub people: PeopleCount,
}

/// A validated population figure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Population {
    pub total: PeopleCount,
    pub with_disability: Option<PeopleCount>,
    pub groups: Vec<PopulationGroup>,
    pub bands: Vec<PopulationBand>,
}

impl Population {
    /// A bare total, for sources that give no disaggregation.
    pub fn total_only(total: PeopleCount) -> Self {
        Self {
            total,
            with_disability: None,
            groups: Vec::new(),
            bands: Vec::new(),
        }
    }

    pub fn parse(field: &str, input: &PopulationInput) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let total = errors.take(PeopleCount::parse(&format!("{field}.total"), input.total));
        let with_disability = input
            .with_disability
            .and_then(|n| errors.take(PeopleCount::parse(&format!("{field}.withDisability"), n)));
        if let (Some(total), Some(disabled)) = (total, with_disability)
            && disabled > total
        {
            errors.push(ValidationError::new(
                format!("{field}.withDisability"),
                "is larger than the total",
            ));
        }
        let mut groups = Vec::new();
        for (i, code) in input.groups.iter().enumerate() {
            if let Some(group) = errors.take(PopulationGroup::parse(
                &format!("{field}.groups[{i}]"),
                code,
            )) && !groups.contains(&group)
            {
                groups.push(group);
            }
        }
        let mut bands = Vec::new();
        for (i, band) in input.bands.iter().enumerate() {
            let path = format!("{field}.bands[{i}]");
            match parse_band(&path, band) {
                Ok(band) => {
                    if let Some(total) = total
                        && band.people > total
                    {
                        errors.push(ValidationError::new(
                            format!("{path}.people"),
                            "is larger than the total",
                        ));
                    }
                    if let Some(group) = band.group
                        && !groups.contains(&group)
                    {
                        groups.push(group);
                    }
                    bands.push(band);
                }
                Err(e) => errors.0.extend(e.0),
            }
        }
        errors.into_result(|| Population {
            total: total.unwrap_or_default(),
            with_disability,
            groups,
            bands,
        })
    }
}

fn parse_band(path: &str, input: &PopulationBandInput) -> Result<PopulationBand, ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let sex = match &input.sex {
        Some(code) => errors.take(Sex::parse(&format!("{path}.sex"), code)),
        None => Some(Sex::All),
    };
    let age = |name: &str, value: Option<i64>, errors: &mut ValidationErrors| match value {
        Some(age) if !(0..=MAX_AGE).contains(&age) => {
            errors.push(ValidationError::new(
                format!("{path}.{name}"),
                format!("must be between 0 and {MAX_AGE}"),
            ));
            None
        }
        Some(age) => Some(age as u8),
        None => None,
    };
    let min_age = age("minAge", input.min_age, &mut errors);
    let max_age = age("maxAge", input.max_age, &mut errors);
    if let (Some(min), Some(max)) = (min_age, max_age)
        && max < min
    {
        errors.push(ValidationError::new(
            format!("{path}.maxAge"),
            "is below the minimum age",
        ));
    }
    let group = match &input.group {
        Some(code) => errors.take(PopulationGroup::parse(&format!("{path}.group"), code)),
        None => None,
    };
    let people = errors.take(PeopleCount::parse(&format!("{path}.people"), input.people));
    errors.into_result(|| PopulationBand {
        sex: sex.unwrap_or(Sex::All),
        min_age,
        max_age,
        group,
        people: people.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn band(sex: &str, min: Option<i64>, max: Option<i64>, people: i64) -> PopulationBandInput {
        PopulationBandInput {
            sex: Some(sex.into()),
            min_age: min,
            max_age: max,
            group: None,
            people,
        }
    }

    #[test]
    fn parses_a_disaggregated_population() {
        let input = PopulationInput {
            total: 1000,
            with_disability: Some(150),
            groups: vec!["IDP".into()],
            bands: vec![
                band("F", Some(0), Some(17), 300),
                band("M", Some(18), None, 250),
            ],
        };
        let p = Population::parse("target", &input).unwrap();
        assert_eq!(p.total.get(), 1000);
        assert_eq!(p.bands[1].max_age, None);
        assert_eq!(p.groups, vec![PopulationGroup::InternallyDisplaced]);
    }

    #[test]
    fn reports_every_problem_with_its_path() {
        let input = PopulationInput {
            total: 100,
            with_disability: Some(200),
            groups: vec!["XYZ".into()],
            bands: vec![band("F", Some(18), Some(5), 30)],
        };
        let err = Population::parse("target", &input).unwrap_err();
        let fields: Vec<&str> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "target.withDisability",
                "target.groups[0]",
                "target.bands[0].maxAge",
            ]
        );
    }

    #[test]
    fn a_band_cannot_exceed_the_total() {
        let input = PopulationInput {
            total: 100,
            bands: vec![band("M", None, None, 300)],
            ..Default::default()
        };
        let err = Population::parse("target", &input).unwrap_err();
        assert_eq!(err.0[0].field, "target.bands[0].people");
    }

    #[test]
    fn a_band_group_joins_the_groups() {
        let mut b = band("ALL", None, None, 10);
        b.group = Some("REF".into());
        let input = PopulationInput {
            total: 10,
            bands: vec![b],
            ..Default::default()
        };
        assert_eq!(
            Population::parse("t", &input).unwrap().groups,
            vec![PopulationGroup::Refugees]
        );
    }
}
