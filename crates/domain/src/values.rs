//! Small validated values shared by every record: counts, periods, percentages, money, and
//! the enumerations of the field's code lists that the registry reasons about.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::error::ValidationError;
use crate::reference;

/// A number of people. Never negative; counts above eight billion are a typing error.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct PeopleCount(u64);

impl PeopleCount {
    /// More people than live on Earth is a unit error (households typed as cents, say).
    pub const MAX: u64 = 10_000_000_000;

    pub fn parse(field: &str, value: i64) -> Result<Self, ValidationError> {
        if value < 0 {
            return Err(ValidationError::new(field, "must not be negative"));
        }
        let value = value as u64;
        if value > Self::MAX {
            return Err(ValidationError::new(field, "is larger than any population"));
        }
        Ok(Self(value))
    }

    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for PeopleCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A share of an intervention (sector percentages), 0..=100.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Serialize, Deserialize)]
pub struct Percentage(f64);

impl Percentage {
    pub fn parse(field: &str, value: f64) -> Result<Self, ValidationError> {
        if !value.is_finite() || !(0.0..=100.0).contains(&value) {
            return Err(ValidationError::new(field, "must be between 0 and 100"));
        }
        Ok(Self(value))
    }

    pub fn get(self) -> f64 {
        self.0
    }
}

/// A date range whose end may be open ("ongoing"). The end is inclusive, as in IATI and 3W
/// sheets, where an activity "from 1 March to 31 March" runs on the 31st.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Period {
    start: NaiveDate,
    end: Option<NaiveDate>,
}

impl Period {
    pub fn new(
        field: &str,
        start: NaiveDate,
        end: Option<NaiveDate>,
    ) -> Result<Self, ValidationError> {
        if let Some(end) = end
            && end < start
        {
            return Err(ValidationError::new(
                field,
                "end date is before the start date",
            ));
        }
        Ok(Self { start, end })
    }

    pub fn start(&self) -> NaiveDate {
        self.start
    }

    pub fn end(&self) -> Option<NaiveDate> {
        self.end
    }

    /// Whether the two periods share at least one day.
    pub fn intersects(&self, other: &Period) -> bool {
        let starts_before_other_ends = other.end.is_none_or(|end| self.start <= end);
        let other_starts_before_self_ends = self.end.is_none_or(|end| other.start <= end);
        starts_before_other_ends && other_starts_before_self_ends
    }
}

/// Parses a date as clients send it: ISO 8601 `YYYY-MM-DD`.
pub fn parse_date(field: &str, value: &str) -> Result<NaiveDate, ValidationError> {
    NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d")
        .map_err(|_| ValidationError::new(field, "must be a date written YYYY-MM-DD"))
}

/// An amount in an ISO 4217 currency. Amounts are never converted: donors report in their
/// own currency and conversion rates are a reporting choice, not a registry fact.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Money {
    amount: f64,
    currency: String,
}

impl Money {
    pub fn parse(field: &str, amount: f64, currency: &str) -> Result<Self, ValidationError> {
        if !amount.is_finite() || amount < 0.0 {
            return Err(ValidationError::new(
                format!("{field}.amount"),
                "must be a non-negative number",
            ));
        }
        let currency = currency.trim().to_ascii_uppercase();
        if !reference::is_currency(&currency) {
            return Err(ValidationError::new(
                format!("{field}.currency"),
                format!("`{currency}` is not an ISO 4217 currency code"),
            ));
        }
        Ok(Self { amount, currency })
    }

    pub fn amount(&self) -> f64 {
        self.amount
    }

    pub fn currency(&self) -> &str {
        &self.currency
    }
}

/// Trims a required free-text value and bounds its length.
pub fn required_text(
    field: &str,
    value: &str,
    max_chars: usize,
) -> Result<String, ValidationError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    optional_text(field, Some(value), max_chars).map(|v| v.unwrap_or_default())
}

/// Trims an optional free-text value; blank means absent.
pub fn optional_text(
    field: &str,
    value: Option<&str>,
    max_chars: usize,
) -> Result<Option<String>, ValidationError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value.chars().count() > max_chars {
        return Err(ValidationError::new(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(Some(value.to_owned()))
}

/// Declares a closed code list with its stable wire codes, so the store, the API and the
/// importers all spell a value the same way.
macro_rules! code_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $code:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, ::serde::Serialize, ::serde::Deserialize)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            pub fn from_code(code: &str) -> Option<Self> {
                match code { $($code => Some($name::$variant),)+ _ => None }
            }

            /// Parses a code, naming the field and the accepted codes when it is wrong.
            pub fn parse(field: &str, code: &str) -> Result<Self, $crate::error::ValidationError> {
                Self::from_code(code.trim()).ok_or_else(|| {
                    let accepted: Vec<&str> = Self::ALL.iter().map(|v| v.code()).collect();
                    $crate::error::ValidationError::new(
                        field,
                        format!("`{}` is not one of {}", code.trim(), accepted.join(", ")),
                    )
                })
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

pub(crate) use code_enum;

code_enum!(
    /// Who may read a record (DESIGN.md section 5).
    Visibility { Public = "PUBLIC", Partners = "PARTNERS", Restricted = "RESTRICTED" }
);

code_enum!(
    /// The level an actor works at, from a village association to a UN agency.
    ActorLevel { Local = "LOCAL", National = "NATIONAL", Regional = "REGIONAL", International = "INTERNATIONAL" }
);

code_enum!(
    /// IATI ActivityStatus.
    ActivityStatus {
        Pipeline = "1",
        Implementation = "2",
        Finalisation = "3",
        Closed = "4",
        Cancelled = "5",
        Suspended = "6",
    }
);

impl ActivityStatus {
    /// Closed and cancelled work delivers nothing any more: it neither covers a need nor
    /// duplicates anyone.
    pub fn is_live(self) -> bool {
        !matches!(self, ActivityStatus::Closed | ActivityStatus::Cancelled)
    }
}

code_enum!(
    /// IATI OrganisationRole of a participating organisation.
    OrganisationRole { Funding = "1", Accountable = "2", Extending = "3", Implementing = "4" }
);

code_enum!(
    /// Where on the human security continuum an intervention sits.
    InterventionKind { Prevention = "PREVENTION", Response = "RESPONSE", Recovery = "RECOVERY" }
);

code_enum!(
    /// Protection (top-down) or empowerment (bottom-up), or both.
    Approach { Protection = "PROTECTION", Empowerment = "EMPOWERMENT", Both = "BOTH" }
);

code_enum!(
    /// Sex of a population band; `All` when a band is split by age only.
    Sex { Female = "F", Male = "M", All = "ALL" }
);

code_enum!(
    /// HDX HAPI population groups (after UNHCR).
    PopulationGroup {
        Refugees = "REF",
        RefugeeLike = "ROC",
        AsylumSeekers = "ASY",
        OtherInternationalProtection = "OIP",
        InternallyDisplaced = "IDP",
        IdpLike = "IOC",
        Stateless = "STA",
        OthersOfConcern = "OOC",
        HostCommunity = "HST",
        ReturnedRefugees = "RET",
        Resettled = "RST",
        Naturalised = "NAT",
        ReturnedIdps = "RDP",
        Returnees = "RRI",
        All = "all",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn people_count_refuses_negative_and_absurd() {
        assert!(PeopleCount::parse("x", -1).is_err());
        assert!(PeopleCount::parse("x", 20_000_000_000).is_err());
        assert_eq!(PeopleCount::parse("x", 80_418).unwrap().get(), 80_418);
    }

    #[test]
    fn period_refuses_end_before_start() {
        let err = Period::new("planned", d("2024-05-01"), Some(d("2024-04-30"))).unwrap_err();
        assert_eq!(err.field, "planned");
        assert!(Period::new("p", d("2024-05-01"), Some(d("2024-05-01"))).is_ok());
    }

    #[test]
    fn periods_intersect_inclusively_and_open_ends_run_on() {
        let march = Period::new("p", d("2024-03-01"), Some(d("2024-03-31"))).unwrap();
        let april = Period::new("p", d("2024-04-01"), Some(d("2024-04-30"))).unwrap();
        let from_31 = Period::new("p", d("2024-03-31"), None).unwrap();
        let ongoing_2020 = Period::new("p", d("2020-01-01"), None).unwrap();
        assert!(!march.intersects(&april));
        assert!(march.intersects(&from_31));
        assert!(from_31.intersects(&april));
        assert!(ongoing_2020.intersects(&march));
        assert!(march.intersects(&ongoing_2020));
    }

    #[test]
    fn percentage_bounds() {
        assert!(Percentage::parse("p", 100.0).is_ok());
        assert!(Percentage::parse("p", 100.5).is_err());
        assert!(Percentage::parse("p", f64::NAN).is_err());
    }

    #[test]
    fn money_needs_an_iso_currency() {
        assert_eq!(
            Money::parse("budget", 10.0, "usd").unwrap().currency(),
            "USD"
        );
        assert_eq!(
            Money::parse("budget", 10.0, "XYZ").unwrap_err().field,
            "budget.currency"
        );
        assert_eq!(
            Money::parse("budget", -1.0, "USD").unwrap_err().field,
            "budget.amount"
        );
    }

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(required_text("t", "  a  ", 5).unwrap(), "a");
        assert!(required_text("t", "   ", 5).is_err());
        assert!(required_text("t", "abcdef", 5).is_err());
        assert!(required_text("t", "a\u{0}b", 5).is_err());
        assert_eq!(optional_text("t", Some(" "), 5).unwrap(), None);
    }

    #[test]
    fn codes_round_trip_and_name_the_accepted_values() {
        for status in ActivityStatus::ALL {
            assert_eq!(ActivityStatus::from_code(status.code()), Some(*status));
        }
        let err = Visibility::parse("visibility", "SECRET").unwrap_err();
        assert!(err.message.contains("PUBLIC, PARTNERS, RESTRICTED"));
    }
}
