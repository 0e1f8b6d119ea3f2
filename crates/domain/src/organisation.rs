//! Organisations: the actors that report, fund and implement interventions.

use serde::{Deserialize, Serialize};

use crate::error::{ValidationError, ValidationErrors};
use crate::reference;
use crate::values::{ActorLevel, optional_text, required_text};

/// Storage identity of an organisation.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct OrganisationId(pub i64);

/// An organisation as a client sends it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OrganisationInput {
    pub name: String,
    pub acronym: Option<String>,
    pub iati_identifier: Option<String>,
    pub organisation_type: String,
    pub level: String,
    pub country: Option<String>,
}

/// A validated organisation, ready to store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewOrganisation {
    pub name: String,
    pub acronym: Option<String>,
    pub iati_identifier: Option<IatiOrgIdentifier>,
    /// IATI OrganisationType code ("21" international NGO, "22" national NGO, ...).
    pub organisation_type: String,
    pub level: ActorLevel,
    /// ISO 3166-1 alpha-2 of the country the organisation is based in.
    pub country: Option<String>,
}

/// A stored organisation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organisation {
    pub id: OrganisationId,
    pub name: String,
    pub acronym: Option<String>,
    pub iati_identifier: Option<IatiOrgIdentifier>,
    pub organisation_type: String,
    pub level: ActorLevel,
    pub country: Option<String>,
}

/// An IATI organisation identifier: a registration agency prefix and the agency's own
/// number (`GB-CHC-202918`, `XM-DAC-41114`). Publishers are told to avoid spaces and `/`,
/// which break URLs and identifiers built from it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IatiOrgIdentifier(String);

impl IatiOrgIdentifier {
    pub fn parse(field: &str, value: &str) -> Result<Self, ValidationError> {
        let value = value.trim();
        let well_formed = value.len() <= 100
            && value.contains('-')
            && !value.starts_with('-')
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
        if !well_formed {
            return Err(ValidationError::new(
                field,
                "must be an IATI organisation identifier such as GB-CHC-202918",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl NewOrganisation {
    pub fn parse(input: &OrganisationInput) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let name = errors.take(required_text("name", &input.name, 300));
        let acronym = errors
            .take(optional_text("acronym", input.acronym.as_deref(), 40))
            .flatten();
        let iati_identifier = match input.iati_identifier.as_deref().map(str::trim) {
            Some(id) if !id.is_empty() => {
                errors.take(IatiOrgIdentifier::parse("iatiIdentifier", id))
            }
            _ => None,
        };
        let organisation_type = input.organisation_type.trim().to_owned();
        if !reference::organisation_types()
            .iter()
            .any(|t| t.code == organisation_type)
        {
            errors.push(ValidationError::new(
                "organisationType",
                format!("`{organisation_type}` is not an IATI OrganisationType code"),
            ));
        }
        let level = errors.take(ActorLevel::parse("level", &input.level));
        let country = match input.country.as_deref().map(str::trim) {
            Some(code) if !code.is_empty() => {
                let code = code.to_ascii_uppercase();
                if reference::country_by_alpha2(&code).is_none() {
                    errors.push(ValidationError::new(
                        "country",
                        format!("`{code}` is not an ISO 3166-1 alpha-2 country code"),
                    ));
                }
                Some(code)
            }
            _ => None,
        };
        errors.into_result(|| NewOrganisation {
            name: name.unwrap_or_default(),
            acronym,
            iati_identifier,
            organisation_type,
            level: level.unwrap_or(ActorLevel::Local),
            country,
        })
    }
}

impl IatiOrgIdentifier {
    /// Rebuilds an identifier read back from storage, where it was validated on the way in.
    pub fn from_stored(value: String) -> Self {
        Self(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> OrganisationInput {
        OrganisationInput {
            name: " Save the Children International ".into(),
            acronym: Some("SCI".into()),
            iati_identifier: Some("GB-CHC-1076822".into()),
            organisation_type: "21".into(),
            level: "INTERNATIONAL".into(),
            country: Some("gb".into()),
        }
    }

    #[test]
    fn parses_a_valid_organisation() {
        let org = NewOrganisation::parse(&input()).unwrap();
        assert_eq!(org.name, "Save the Children International");
        assert_eq!(org.country.as_deref(), Some("GB"));
        assert_eq!(org.level, ActorLevel::International);
    }

    #[test]
    fn names_each_bad_field() {
        let bad = OrganisationInput {
            name: "".into(),
            iati_identifier: Some("not an id".into()),
            organisation_type: "99".into(),
            level: "GLOBAL".into(),
            country: Some("ZZ".into()),
            ..input()
        };
        let err = NewOrganisation::parse(&bad).unwrap_err();
        let fields: Vec<&str> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "name",
                "iatiIdentifier",
                "organisationType",
                "level",
                "country"
            ]
        );
    }
}
