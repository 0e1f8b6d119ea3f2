//! Deterministic synthetic demo data shaped like a real humanitarian response in Ethiopia.
//!
//! Demos, manual testing and benchmarks need data that exercises the registry's rules (sector
//! crosswalks, sensitive sectors, nested areas, overlapping work) at any scale, without
//! shipping anyone's real and possibly sensitive records. Everything is drawn from ChaCha8,
//! whose output is specified and portable, so the same seed gives the same data on every
//! machine (for a given `rand` release). Interventions come out of an iterator, one at a time, because benchmarks ask for
//! a million of them and nobody should need the memory to hold them all.
//!
//! The organisations carry real names, with the IATI identifiers they publish under where we
//! know them; the identifiers of national and local NGOs are invented. Nothing here is a
//! statement about what any organisation actually does.

use chrono::{Days, Months, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::area::{AdminLevel, NewArea, Pcode};
use crate::intervention::{
    BudgetInput, InterventionInput, LocationInput, ParticipationInput, SectorShareInput,
};
use crate::need::NeedInput;
use crate::organisation::{OrganisationId, OrganisationInput};
use crate::population::{PopulationBandInput, PopulationInput};
use crate::reference::{self, SectorVocabulary};
use crate::values::{ActivityStatus, Approach, InterventionKind};

/// How much demo data to generate, and from which seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DemoConfig {
    /// Number of interventions.
    pub size: u64,
    pub seed: u64,
}

/// The demo country's administrative areas.
#[derive(Clone, Debug, PartialEq)]
pub struct DemoCountry {
    /// Parents first (level 0, then 1, then 2), so they can be stored in order.
    pub areas: Vec<NewArea>,
}

// ---------------------------------------------------------------------------------------
// Geography
// ---------------------------------------------------------------------------------------

const COUNTRY: &str = "ET";
const COUNTRY_NAME: &str = "Ethiopia";

struct RegionSpec {
    pcode: &'static str,
    name: &'static str,
    /// How the region reads in a title ("in Somali Region", but "in Addis Ababa").
    place: &'static str,
    /// Share of the response's attention; zones within share it Zipf-like, in list order.
    weight: f64,
    /// Baseline JIAF severity before sector adjustments.
    severity: f64,
    /// Drought raises food, water and nutrition needs (the 2020-2023 Horn of Africa drought).
    drought: bool,
    /// Conflict raises protection and shelter needs.
    conflict: bool,
    /// Hosts refugee camps, so refugees appear among the people targeted.
    refugees: bool,
    /// Admin-2 zones, the hardest hit first.
    zones: &'static [&'static str],
}

/// The OCHA COD region P-codes of Ethiopia (before the 2020s splits of SNNP), with zones
/// named as in the COD where we know them.
#[rustfmt::skip]
const REGIONS: &[RegionSpec] = &[
    RegionSpec { pcode: "ET01", name: "Tigray", place: "Tigray Region", weight: 3.0, severity: 3.4, drought: false, conflict: true, refugees: true,
        zones: &["Central Tigray", "Eastern Tigray", "North Western Tigray", "Southern Tigray", "South Eastern Tigray", "Western Tigray", "Mekelle"] },
    RegionSpec { pcode: "ET02", name: "Afar", place: "Afar Region", weight: 3.5, severity: 3.4, drought: true, conflict: false, refugees: true,
        zones: &["Awsi Rasu", "Kilbati Rasu", "Gabi Rasu", "Fanti Rasu", "Hari Rasu", "Mahi Rasu"] },
    RegionSpec { pcode: "ET03", name: "Amhara", place: "Amhara Region", weight: 3.0, severity: 3.0, drought: false, conflict: true, refugees: false,
        zones: &["North Wollo", "Wag Hemra", "South Wollo", "North Gondar", "Central Gondar", "West Gondar", "South Gondar", "North Shewa (Amhara)", "Oromia Special Zone", "East Gojjam", "West Gojjam", "Awi", "Bahir Dar Special Zone"] },
    RegionSpec { pcode: "ET04", name: "Oromia", place: "Oromia Region", weight: 5.0, severity: 3.1, drought: true, conflict: false, refugees: false,
        zones: &["Borena", "Guji", "East Hararghe", "Bale", "West Hararghe", "West Guji", "East Bale", "Arsi", "West Arsi", "East Shewa", "West Shewa", "North Shewa (Oromia)", "South West Shewa", "Jimma", "Illubabor", "Buno Bedele", "East Wellega", "West Wellega", "Kelem Wellega", "Horo Guduru Wellega"] },
    RegionSpec { pcode: "ET05", name: "Somali", place: "Somali Region", weight: 5.0, severity: 3.5, drought: true, conflict: false, refugees: true,
        zones: &["Liben", "Afder", "Dawa", "Shabelle", "Korahe", "Doolo", "Jarar", "Nogob", "Erer", "Fafan", "Sitti"] },
    RegionSpec { pcode: "ET06", name: "Benishangul Gumuz", place: "Benishangul Gumuz Region", weight: 1.0, severity: 2.7, drought: false, conflict: true, refugees: true,
        zones: &["Metekel", "Kamashi", "Assosa", "Mao Komo Special Woreda"] },
    RegionSpec { pcode: "ET07", name: "SNNP", place: "SNNP Region", weight: 2.0, severity: 2.6, drought: false, conflict: false, refugees: false,
        zones: &["South Omo", "Konso", "Gedeo", "Gamo", "Gofa", "Wolayita", "Hadiya", "Kembata Tembaro", "Gurage", "Silte", "Dawro", "Keffa", "Bench Sheko"] },
    RegionSpec { pcode: "ET12", name: "Gambela", place: "Gambela Region", weight: 1.5, severity: 2.8, drought: false, conflict: true, refugees: true,
        zones: &["Nuwer", "Anywaa", "Itang Special Woreda", "Majang"] },
    RegionSpec { pcode: "ET13", name: "Harari", place: "Harari Region", weight: 0.3, severity: 2.0, drought: false, conflict: false, refugees: false,
        zones: &["Sofi", "Erer Woldiya", "Dire Teyara", "Amir Nur"] },
    RegionSpec { pcode: "ET14", name: "Addis Ababa", place: "Addis Ababa", weight: 0.5, severity: 1.6, drought: false, conflict: false, refugees: false,
        zones: &["Akaki Kality", "Kolfe Keranio", "Yeka", "Bole", "Nifas Silk-Lafto", "Gulele", "Addis Ketema", "Arada", "Kirkos", "Lideta", "Lemi Kura"] },
    RegionSpec { pcode: "ET15", name: "Dire Dawa", place: "Dire Dawa", weight: 0.5, severity: 2.2, drought: false, conflict: false, refugees: false,
        zones: &["Biyo Awale", "Jeldesa", "Wahil", "Dire Dawa Urban"] },
];

fn zone_pcode(region: &RegionSpec, index: usize) -> String {
    format!("{}{:02}", region.pcode, index + 1)
}

/// Ethiopia with its regions and zones, built from the constant tables above.
pub fn country() -> DemoCountry {
    let country = Pcode::parse(COUNTRY).expect("ET is a well-formed P-code");
    let admin1 = AdminLevel::new(1).expect("1 is an admin level");
    let admin2 = AdminLevel::new(2).expect("2 is an admin level");
    let mut areas = vec![
        NewArea::new(
            country.clone(),
            COUNTRY_NAME,
            AdminLevel::COUNTRY,
            None,
            COUNTRY,
            None,
        )
        .expect("Ethiopia is a valid level-0 area"),
    ];
    let regions: Vec<Pcode> = REGIONS
        .iter()
        .map(|r| Pcode::parse(r.pcode).expect("demo region P-codes are well-formed"))
        .collect();
    for (region, pcode) in REGIONS.iter().zip(&regions) {
        areas.push(
            NewArea::new(
                pcode.clone(),
                region.name,
                admin1,
                Some((&country, AdminLevel::COUNTRY)),
                COUNTRY,
                None,
            )
            .expect("demo regions nest under Ethiopia"),
        );
    }
    for (region, parent) in REGIONS.iter().zip(&regions) {
        for (i, zone) in region.zones.iter().enumerate() {
            let pcode =
                Pcode::parse(&zone_pcode(region, i)).expect("demo zone P-codes are well-formed");
            areas.push(
                NewArea::new(pcode, zone, admin2, Some((parent, admin1)), COUNTRY, None)
                    .expect("demo zones nest under their region"),
            );
        }
    }
    // Synthetic points inside Ethiopia's bounding box, stable per P-code, so maps of the
    // demo data have something to draw (they are not the real centroids).
    let areas = areas
        .into_iter()
        .map(|area| {
            let hash = area
                .pcode
                .as_str()
                .bytes()
                .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                    (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
                });
            let lat = 4.0 + (hash % 10_000) as f64 / 10_000.0 * 10.0;
            let lon = 35.0 + ((hash / 10_000) % 10_000) as f64 / 10_000.0 * 12.0;
            let centroid = crate::area::Centroid::parse(lat, lon).ok();
            area.with_centroid(centroid)
        })
        .collect();
    DemoCountry { areas }
}

// ---------------------------------------------------------------------------------------
// Organisations
// ---------------------------------------------------------------------------------------

/// The kind of actor, which fixes its IATI OrganisationType and level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Multilateral,
    RegionalBody,
    DonorGovernment,
    Foundation,
    Ingo,
    RegionalNgo,
    RedCross,
    NationalRedCross,
    Government,
    LocalGovernment,
    NationalNgo,
    LocalNgo,
    Academic,
    PrivateSector,
}

impl Class {
    fn organisation_type(self) -> &'static str {
        match self {
            Class::Multilateral | Class::RegionalBody => "40",
            Class::DonorGovernment | Class::Government => "10",
            Class::LocalGovernment => "11",
            Class::Foundation => "60",
            Class::Ingo => "21",
            Class::NationalNgo => "22",
            Class::RegionalNgo => "23",
            Class::LocalNgo => "24",
            Class::PrivateSector => "72",
            Class::Academic => "80",
            Class::RedCross | Class::NationalRedCross => "90",
        }
    }

    fn level(self) -> &'static str {
        match self {
            Class::Multilateral
            | Class::DonorGovernment
            | Class::Foundation
            | Class::Ingo
            | Class::RedCross => "INTERNATIONAL",
            Class::RegionalBody | Class::RegionalNgo => "REGIONAL",
            Class::Government
            | Class::NationalRedCross
            | Class::NationalNgo
            | Class::Academic
            | Class::PrivateSector => "NATIONAL",
            Class::LocalGovernment | Class::LocalNgo => "LOCAL",
        }
    }
}

struct OrgSpec {
    name: &'static str,
    /// Empty when the organisation has none.
    acronym: &'static str,
    /// Empty when the organisation publishes no IATI identifier.
    iati: &'static str,
    class: Class,
    /// ISO alpha-2 of the headquarters; empty for pooled funds that belong to no country.
    country: &'static str,
    /// The currency its grants are reported in, so budgets follow the money.
    currency: &'static str,
    /// How often it reports, funds and implements, relative to the others.
    weights: [f64; 3],
    /// HPC codes of the clusters it mostly works in; empty for generalists.
    focus: &'static [&'static str],
}

const REPORTS: usize = 0;
const FUNDS: usize = 1;
const IMPLEMENTS: usize = 2;

/// A realistic mix for Ethiopia: UN agencies and INGOs report most of the work, donors and
/// pooled funds fund it, and national and local organisations implement much of it.
#[rustfmt::skip]
const ORGANISATIONS: &[OrgSpec] = &[
    // UN agencies, pooled funds and multilaterals.
    OrgSpec { name: "World Food Programme", acronym: "WFP", iati: "XM-DAC-41140", class: Class::Multilateral, country: "IT", currency: "USD", weights: [40.0, 6.0, 0.0], focus: &["FSC", "NUT", "LOG", "TEL"] },
    OrgSpec { name: "United Nations Children's Fund", acronym: "UNICEF", iati: "XM-DAC-41122", class: Class::Multilateral, country: "US", currency: "USD", weights: [35.0, 8.0, 0.0], focus: &["WSH", "NUT", "EDU", "PRO-CPN", "HEA"] },
    OrgSpec { name: "United Nations High Commissioner for Refugees", acronym: "UNHCR", iati: "XM-DAC-41121", class: Class::Multilateral, country: "CH", currency: "USD", weights: [20.0, 5.0, 0.0], focus: &["PRO", "SHL", "CCM", "PRO-HLP"] },
    OrgSpec { name: "World Health Organization", acronym: "WHO", iati: "XM-DAC-928", class: Class::Multilateral, country: "CH", currency: "USD", weights: [15.0, 3.0, 0.0], focus: &["HEA"] },
    OrgSpec { name: "Food and Agriculture Organization of the United Nations", acronym: "FAO", iati: "XM-DAC-41301", class: Class::Multilateral, country: "IT", currency: "USD", weights: [14.0, 3.0, 0.0], focus: &["FSC"] },
    OrgSpec { name: "International Organization for Migration", acronym: "IOM", iati: "XM-DAC-47066", class: Class::Multilateral, country: "CH", currency: "USD", weights: [18.0, 3.0, 0.0], focus: &["SHL", "CCM", "WSH"] },
    OrgSpec { name: "United Nations Development Programme", acronym: "UNDP", iati: "XM-DAC-41114", class: Class::Multilateral, country: "US", currency: "USD", weights: [8.0, 3.0, 0.0], focus: &["ERY", "PRO-MIN"] },
    OrgSpec { name: "United Nations Population Fund", acronym: "UNFPA", iati: "XM-DAC-41119", class: Class::Multilateral, country: "US", currency: "USD", weights: [10.0, 3.0, 0.0], focus: &["PRO-GBV", "HEA"] },
    OrgSpec { name: "Ethiopia Humanitarian Fund", acronym: "EHF", iati: "", class: Class::Multilateral, country: "", currency: "USD", weights: [0.0, 12.0, 0.0], focus: &[] },
    OrgSpec { name: "Central Emergency Response Fund", acronym: "CERF", iati: "", class: Class::Multilateral, country: "", currency: "USD", weights: [0.0, 6.0, 0.0], focus: &[] },
    OrgSpec { name: "World Bank", acronym: "WB", iati: "XM-DAC-44000", class: Class::Multilateral, country: "US", currency: "USD", weights: [1.0, 4.0, 0.0], focus: &["ERY", "FSC"] },
    OrgSpec { name: "European Civil Protection and Humanitarian Aid Operations", acronym: "ECHO", iati: "XI-IATI-EC_ECHO", class: Class::Multilateral, country: "BE", currency: "EUR", weights: [0.3, 12.0, 0.0], focus: &[] },
    OrgSpec { name: "Intergovernmental Authority on Development", acronym: "IGAD", iati: "", class: Class::RegionalBody, country: "DJ", currency: "USD", weights: [1.0, 1.0, 0.5], focus: &["FSC", "ERY"] },
    // Donor governments and foundations.
    OrgSpec { name: "Foreign, Commonwealth and Development Office", acronym: "FCDO", iati: "GB-GOV-1", class: Class::DonorGovernment, country: "GB", currency: "GBP", weights: [0.5, 12.0, 0.0], focus: &[] },
    OrgSpec { name: "United States Agency for International Development", acronym: "USAID", iati: "US-GOV-1", class: Class::DonorGovernment, country: "US", currency: "USD", weights: [0.3, 12.0, 0.0], focus: &[] },
    OrgSpec { name: "German Federal Foreign Office", acronym: "GFFO", iati: "XM-DAC-5-7", class: Class::DonorGovernment, country: "DE", currency: "EUR", weights: [0.0, 6.0, 0.0], focus: &[] },
    OrgSpec { name: "Swedish International Development Cooperation Agency", acronym: "Sida", iati: "SE-0", class: Class::DonorGovernment, country: "SE", currency: "USD", weights: [0.0, 4.0, 0.0], focus: &[] },
    OrgSpec { name: "Norwegian Ministry of Foreign Affairs", acronym: "Norway MFA", iati: "NO-BRC-971277882", class: Class::DonorGovernment, country: "NO", currency: "USD", weights: [0.0, 3.0, 0.0], focus: &[] },
    OrgSpec { name: "Ministry of Foreign Affairs of the Netherlands", acronym: "NL MFA", iati: "XM-DAC-7", class: Class::DonorGovernment, country: "NL", currency: "EUR", weights: [0.0, 3.0, 0.0], focus: &[] },
    OrgSpec { name: "Global Affairs Canada", acronym: "GAC", iati: "XM-DAC-301-2", class: Class::DonorGovernment, country: "CA", currency: "USD", weights: [0.0, 3.0, 0.0], focus: &[] },
    OrgSpec { name: "Japan International Cooperation Agency", acronym: "JICA", iati: "XM-DAC-701-8", class: Class::DonorGovernment, country: "JP", currency: "USD", weights: [0.2, 2.0, 0.0], focus: &["WSH", "HEA"] },
    OrgSpec { name: "Bill & Melinda Gates Foundation", acronym: "BMGF", iati: "DAC-1601", class: Class::Foundation, country: "US", currency: "USD", weights: [0.0, 2.0, 0.0], focus: &["HEA", "NUT"] },
    OrgSpec { name: "IKEA Foundation", acronym: "", iati: "NL-KVK-41149486", class: Class::Foundation, country: "NL", currency: "EUR", weights: [0.0, 1.0, 0.0], focus: &["ERY"] },
    // International NGOs.
    OrgSpec { name: "Save the Children International", acronym: "SCI", iati: "GB-CHC-1076822", class: Class::Ingo, country: "GB", currency: "GBP", weights: [14.0, 0.3, 6.0], focus: &["EDU", "PRO-CPN", "NUT", "HEA"] },
    OrgSpec { name: "Oxfam GB", acronym: "Oxfam", iati: "GB-CHC-202918", class: Class::Ingo, country: "GB", currency: "GBP", weights: [8.0, 0.3, 4.0], focus: &["WSH", "FSC", "ERY"] },
    OrgSpec { name: "Norwegian Refugee Council", acronym: "NRC", iati: "NO-BRC-977538319", class: Class::Ingo, country: "NO", currency: "USD", weights: [9.0, 0.3, 3.0], focus: &["SHL", "EDU", "WSH", "PRO-HLP", "FSC"] },
    OrgSpec { name: "International Rescue Committee", acronym: "IRC", iati: "US-EIN-13-5660870", class: Class::Ingo, country: "US", currency: "USD", weights: [9.0, 0.3, 4.0], focus: &["HEA", "PRO-GBV", "WSH", "ERY"] },
    OrgSpec { name: "CARE USA", acronym: "CARE", iati: "US-EIN-13-1685039", class: Class::Ingo, country: "US", currency: "USD", weights: [6.0, 0.3, 4.0], focus: &["FSC", "PRO-GBV", "ERY"] },
    OrgSpec { name: "Mercy Corps", acronym: "", iati: "US-EIN-91-1148123", class: Class::Ingo, country: "US", currency: "USD", weights: [6.0, 0.3, 3.0], focus: &["ERY", "FSC", "WSH"] },
    OrgSpec { name: "World Vision UK", acronym: "WV", iati: "GB-CHC-285908", class: Class::Ingo, country: "GB", currency: "GBP", weights: [10.0, 0.3, 4.0], focus: &["FSC", "WSH", "EDU", "PRO-CPN"] },
    OrgSpec { name: "Action Against Hunger UK", acronym: "ACF", iati: "GB-CHC-1047501", class: Class::Ingo, country: "GB", currency: "GBP", weights: [7.0, 0.3, 3.0], focus: &["NUT", "WSH", "FSC"] },
    OrgSpec { name: "Plan International UK", acronym: "Plan", iati: "GB-CHC-276035", class: Class::Ingo, country: "GB", currency: "GBP", weights: [4.0, 0.3, 2.0], focus: &["PRO-CPN", "EDU", "PRO-GBV"] },
    OrgSpec { name: "Danish Refugee Council", acronym: "DRC", iati: "DK-CVR-20699310", class: Class::Ingo, country: "DK", currency: "USD", weights: [6.0, 0.3, 3.0], focus: &["PRO", "SHL", "PRO-MIN", "ERY"] },
    OrgSpec { name: "Concern Worldwide (UK)", acronym: "Concern", iati: "GB-CHC-1092236", class: Class::Ingo, country: "GB", currency: "GBP", weights: [5.0, 0.3, 3.0], focus: &["NUT", "FSC", "WSH"] },
    OrgSpec { name: "Catholic Relief Services", acronym: "CRS", iati: "US-EIN-13-5563422", class: Class::Ingo, country: "US", currency: "USD", weights: [7.0, 0.3, 4.0], focus: &["FSC", "WSH", "SHL"] },
    OrgSpec { name: "International Medical Corps UK", acronym: "IMC", iati: "GB-CHC-1115379", class: Class::Ingo, country: "GB", currency: "GBP", weights: [5.0, 0.0, 3.0], focus: &["HEA", "NUT"] },
    OrgSpec { name: "Islamic Relief Worldwide", acronym: "IRW", iati: "GB-CHC-328158", class: Class::Ingo, country: "GB", currency: "GBP", weights: [4.0, 0.3, 2.0], focus: &["FSC", "WSH", "SHL"] },
    OrgSpec { name: "Médecins Sans Frontières Holland", acronym: "MSF-H", iati: "", class: Class::Ingo, country: "NL", currency: "EUR", weights: [5.0, 0.0, 0.0], focus: &["HEA", "NUT"] },
    OrgSpec { name: "Welthungerhilfe", acronym: "WHH", iati: "", class: Class::Ingo, country: "DE", currency: "EUR", weights: [4.0, 0.3, 3.0], focus: &["FSC", "WSH", "ERY"] },
    OrgSpec { name: "The HALO Trust", acronym: "HALO", iati: "GB-CHC-1001813", class: Class::Ingo, country: "GB", currency: "GBP", weights: [1.0, 0.0, 1.0], focus: &["PRO-MIN"] },
    // Regional and Red Cross actors.
    OrgSpec { name: "Horn of Africa Resilience Network", acronym: "HARN", iati: "", class: Class::RegionalNgo, country: "KE", currency: "USD", weights: [2.0, 0.0, 3.0], focus: &["FSC", "ERY"] },
    OrgSpec { name: "International Committee of the Red Cross", acronym: "ICRC", iati: "", class: Class::RedCross, country: "CH", currency: "USD", weights: [6.0, 1.0, 0.0], focus: &["PRO", "HEA", "WSH"] },
    OrgSpec { name: "Ethiopian Red Cross Society", acronym: "ERCS", iati: "", class: Class::NationalRedCross, country: "ET", currency: "USD", weights: [4.0, 0.0, 6.0], focus: &["HEA", "SHL", "WSH"] },
    // Ethiopian government.
    OrgSpec { name: "Ethiopian Disaster Risk Management Commission", acronym: "EDRMC", iati: "", class: Class::Government, country: "ET", currency: "USD", weights: [3.0, 1.0, 3.0], focus: &["FSC", "SHL", "LOG"] },
    OrgSpec { name: "Ministry of Health of Ethiopia", acronym: "MoH", iati: "", class: Class::Government, country: "ET", currency: "USD", weights: [2.0, 0.5, 4.0], focus: &["HEA", "NUT"] },
    OrgSpec { name: "Afar Regional Health Bureau", acronym: "ARHB", iati: "", class: Class::LocalGovernment, country: "ET", currency: "USD", weights: [1.0, 0.0, 4.0], focus: &["HEA", "NUT"] },
    OrgSpec { name: "Somali Region Disaster Prevention and Preparedness Bureau", acronym: "DPPB", iati: "", class: Class::LocalGovernment, country: "ET", currency: "USD", weights: [1.0, 0.0, 4.0], focus: &["FSC", "WSH", "SHL"] },
    // Ethiopian national NGOs.
    OrgSpec { name: "Organization for Rehabilitation and Development in Amhara", acronym: "ORDA", iati: "ET-CSO-0231", class: Class::NationalNgo, country: "ET", currency: "USD", weights: [3.0, 0.0, 8.0], focus: &["FSC", "WSH", "ERY"] },
    OrgSpec { name: "Relief Society of Tigray", acronym: "REST", iati: "ET-CSO-0117", class: Class::NationalNgo, country: "ET", currency: "USD", weights: [3.0, 0.0, 8.0], focus: &["FSC", "WSH", "ERY"] },
    OrgSpec { name: "Afar Pastoralist Development Association", acronym: "APDA", iati: "ET-CSO-0412", class: Class::NationalNgo, country: "ET", currency: "USD", weights: [2.0, 0.0, 7.0], focus: &["HEA", "EDU", "WSH"] },
    OrgSpec { name: "Organization for Welfare and Development in Action", acronym: "OWDA", iati: "ET-CSO-1288", class: Class::NationalNgo, country: "ET", currency: "USD", weights: [2.0, 0.0, 7.0], focus: &["WSH", "FSC", "NUT"] },
    OrgSpec { name: "Hope for the Horn", acronym: "HfH", iati: "", class: Class::NationalNgo, country: "ET", currency: "USD", weights: [1.5, 0.0, 6.0], focus: &["WSH", "EDU", "FSC"] },
    OrgSpec { name: "Ethiopian Orthodox Church Development and Inter-Church Aid Commission", acronym: "EOC-DICAC", iati: "ET-CSO-0056", class: Class::NationalNgo, country: "ET", currency: "USD", weights: [2.0, 0.0, 5.0], focus: &["FSC", "PRO", "WSH"] },
    OrgSpec { name: "Mothers and Children Multisectoral Development Organization", acronym: "MCMDO", iati: "ET-CSO-2094", class: Class::NationalNgo, country: "ET", currency: "USD", weights: [1.5, 0.0, 6.0], focus: &["NUT", "HEA"] },
    OrgSpec { name: "Gayo Pastoral Development Initiative", acronym: "GPDI", iati: "", class: Class::NationalNgo, country: "ET", currency: "USD", weights: [1.0, 0.0, 5.0], focus: &["FSC", "ERY"] },
    OrgSpec { name: "Action for Development", acronym: "AFD", iati: "ET-CSO-0931", class: Class::NationalNgo, country: "ET", currency: "USD", weights: [1.0, 0.0, 5.0], focus: &["FSC", "WSH"] },
    OrgSpec { name: "Women Empowerment-Action", acronym: "WE-Action", iati: "", class: Class::NationalNgo, country: "ET", currency: "USD", weights: [1.0, 0.0, 4.0], focus: &["PRO-GBV", "ERY"] },
    OrgSpec { name: "Rift Valley Children and Women Development Organization", acronym: "RCWDO", iati: "", class: Class::NationalNgo, country: "ET", currency: "USD", weights: [1.0, 0.0, 4.0], focus: &["PRO-CPN", "EDU"] },
    // Local organisations, academia and the private sector.
    OrgSpec { name: "Dubti Pastoral Women's Association", acronym: "DPWA", iati: "", class: Class::LocalNgo, country: "ET", currency: "USD", weights: [0.3, 0.0, 3.0], focus: &["FSC", "PRO-GBV"] },
    OrgSpec { name: "Borena Pastoralist Cooperative Union", acronym: "BPCU", iati: "", class: Class::LocalNgo, country: "ET", currency: "USD", weights: [0.3, 0.0, 3.0], focus: &["FSC"] },
    OrgSpec { name: "Gode Community Health Volunteers Association", acronym: "GCHVA", iati: "", class: Class::LocalNgo, country: "ET", currency: "USD", weights: [0.3, 0.0, 3.0], focus: &["HEA", "NUT"] },
    OrgSpec { name: "Gambela Women Development Association", acronym: "GWDA", iati: "", class: Class::LocalNgo, country: "ET", currency: "USD", weights: [0.3, 0.0, 3.0], focus: &["PRO-GBV", "PRO"] },
    OrgSpec { name: "Haramaya University", acronym: "HU", iati: "", class: Class::Academic, country: "ET", currency: "USD", weights: [0.3, 0.0, 1.0], focus: &["FSC"] },
    OrgSpec { name: "Safaricom Ethiopia", acronym: "", iati: "", class: Class::PrivateSector, country: "ET", currency: "USD", weights: [0.1, 0.0, 1.0], focus: &["TEL", "FSC"] },
];

fn non_empty(value: &'static str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_owned())
}

/// The demo organisations, in the order `interventions` expects their stored ids.
pub fn organisations() -> Vec<OrganisationInput> {
    ORGANISATIONS
        .iter()
        .map(|o| OrganisationInput {
            name: o.name.to_owned(),
            acronym: non_empty(o.acronym),
            iati_identifier: non_empty(o.iati),
            organisation_type: o.class.organisation_type().to_owned(),
            level: o.class.level().to_owned(),
            country: non_empty(o.country),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Sectors and activities
// ---------------------------------------------------------------------------------------

struct ActivitySpec {
    title: &'static str,
    /// DAC 5-digit codes mapped to the cluster; empty where DAC has no fitting code, so the
    /// work is reported with the cluster only.
    dac: &'static [&'static str],
}

struct ClusterSpec {
    hpc: &'static str,
    /// Share of interventions, in percent.
    weight: f64,
    /// Clusters that commonly share an intervention with this one (integrated programming).
    companions: &'static [&'static str],
    /// Typical cost per person targeted, in USD, to size budgets.
    cost_per_person: f64,
    activities: &'static [ActivitySpec],
}

/// What a response in Ethiopia looks like: food, water and health dominate, and protection,
/// GBV and child protection (the sensitive sectors) are about a tenth of the work.
#[rustfmt::skip]
const CLUSTERS: &[ClusterSpec] = &[
    ClusterSpec { hpc: "FSC", weight: 23.0, companions: &["NUT", "ERY"], cost_per_person: 90.0, activities: &[
        ActivitySpec { title: "Emergency food distribution", dac: &["72040"] },
        ActivitySpec { title: "Cash transfers for food needs", dac: &["52010", "43072"] },
        ActivitySpec { title: "Livestock feed and fodder distribution", dac: &["31163"] },
        ActivitySpec { title: "Animal health and veterinary services", dac: &["31195"] },
        ActivitySpec { title: "Commercial destocking of drought-affected livestock", dac: &["31163"] },
        ActivitySpec { title: "Seed and tools distribution", dac: &["31150", "31161"] },
        ActivitySpec { title: "Small-scale irrigation rehabilitation", dac: &["31140"] },
        ActivitySpec { title: "Household food security programme", dac: &["43072"] },
    ] },
    ClusterSpec { hpc: "WSH", weight: 17.0, companions: &["HEA", "NUT", "SHL"], cost_per_person: 35.0, activities: &[
        ActivitySpec { title: "Emergency water trucking", dac: &["14031"] },
        ActivitySpec { title: "Borehole drilling and rehabilitation", dac: &["14031", "14021"] },
        ActivitySpec { title: "Latrine construction and desludging", dac: &["14032"] },
        ActivitySpec { title: "Hygiene promotion and hygiene kit distribution", dac: &["14030", "72010"] },
        ActivitySpec { title: "Rehabilitation of rural water schemes", dac: &["14020", "14021"] },
        ActivitySpec { title: "Household water treatment for cholera prevention", dac: &["14030"] },
    ] },
    ClusterSpec { hpc: "HEA", weight: 15.0, companions: &["NUT", "WSH"], cost_per_person: 30.0, activities: &[
        ActivitySpec { title: "Mobile health teams", dac: &["72011"] },
        ActivitySpec { title: "Primary health care support", dac: &["12220", "12230"] },
        ActivitySpec { title: "Cholera and measles outbreak response", dac: &["12250"] },
        ActivitySpec { title: "Malaria prevention and treatment", dac: &["12262"] },
        ActivitySpec { title: "Sexual and reproductive health services", dac: &["13020", "13030"] },
        ActivitySpec { title: "Mental health and psychosocial support", dac: &["12340"] },
        ActivitySpec { title: "Emergency referral and medical services", dac: &["12191"] },
    ] },
    ClusterSpec { hpc: "NUT", weight: 11.0, companions: &["HEA", "FSC", "WSH"], cost_per_person: 45.0, activities: &[
        ActivitySpec { title: "Treatment of severe acute malnutrition", dac: &["12240"] },
        ActivitySpec { title: "Targeted supplementary feeding", dac: &["12240", "72040"] },
        ActivitySpec { title: "Infant and young child feeding counselling", dac: &["12240"] },
        ActivitySpec { title: "Blanket supplementary feeding for children under five", dac: &["72040", "12240"] },
        ActivitySpec { title: "Nutrition screening and referral", dac: &["12240", "72011"] },
    ] },
    ClusterSpec { hpc: "SHL", weight: 7.0, companions: &["WSH", "CCM"], cost_per_person: 120.0, activities: &[
        ActivitySpec { title: "Emergency shelter kit distribution", dac: &["72010"] },
        ActivitySpec { title: "Non-food item distribution", dac: &["72010"] },
        ActivitySpec { title: "Transitional shelter construction", dac: &["16040"] },
        ActivitySpec { title: "Cash for shelter repair", dac: &["16040"] },
    ] },
    ClusterSpec { hpc: "EDU", weight: 6.0, companions: &["FSC", "WSH"], cost_per_person: 60.0, activities: &[
        ActivitySpec { title: "Temporary learning spaces", dac: &["72012"] },
        ActivitySpec { title: "Emergency school feeding", dac: &["11250"] },
        ActivitySpec { title: "Teacher training in emergencies", dac: &["11130", "72012"] },
        ActivitySpec { title: "Back-to-school campaign and learning materials", dac: &["11220", "72012"] },
        ActivitySpec { title: "Accelerated learning for out-of-school children", dac: &["11220", "11231"] },
    ] },
    ClusterSpec { hpc: "ERY", weight: 5.0, companions: &["FSC"], cost_per_person: 150.0, activities: &[
        ActivitySpec { title: "Cash for work", dac: &["16020"] },
        ActivitySpec { title: "Rehabilitation of community infrastructure", dac: &["73010"] },
        ActivitySpec { title: "Livelihood recovery grants", dac: &["16020", "73010"] },
    ] },
    ClusterSpec { hpc: "CCM", weight: 2.0, companions: &["SHL", "WSH"], cost_per_person: 25.0, activities: &[
        ActivitySpec { title: "Site management for displaced people", dac: &[] },
        ActivitySpec { title: "Displacement site improvement", dac: &["72010"] },
    ] },
    ClusterSpec { hpc: "LOG", weight: 1.5, companions: &[], cost_per_person: 10.0, activities: &[
        ActivitySpec { title: "Common logistics and warehousing services", dac: &["72050"] },
    ] },
    ClusterSpec { hpc: "TEL", weight: 0.5, companions: &[], cost_per_person: 5.0, activities: &[
        ActivitySpec { title: "Emergency telecommunications and connectivity", dac: &["22020", "22040"] },
    ] },
    ClusterSpec { hpc: "PRO-MIN", weight: 1.0, companions: &[], cost_per_person: 20.0, activities: &[
        ActivitySpec { title: "Explosive ordnance risk education", dac: &["15250"] },
        ActivitySpec { title: "Survey and clearance of explosive remnants of war", dac: &["15250"] },
    ] },
    ClusterSpec { hpc: "PRO-HLP", weight: 1.0, companions: &["SHL"], cost_per_person: 30.0, activities: &[
        ActivitySpec { title: "Housing, land and property counselling", dac: &["43041", "43031"] },
    ] },
    ClusterSpec { hpc: "PRO", weight: 4.0, companions: &["CCM"], cost_per_person: 40.0, activities: &[
        ActivitySpec { title: "Protection monitoring", dac: &["15160"] },
        ActivitySpec { title: "Legal aid and civil documentation", dac: &["15160"] },
        ActivitySpec { title: "Community-based protection", dac: &[] },
    ] },
    ClusterSpec { hpc: "PRO-GBV", weight: 3.5, companions: &["HEA"], cost_per_person: 70.0, activities: &[
        ActivitySpec { title: "GBV case management", dac: &["15180"] },
        ActivitySpec { title: "Women and girls safe spaces", dac: &["15180"] },
        ActivitySpec { title: "Clinical management of rape", dac: &["15180"] },
    ] },
    ClusterSpec { hpc: "PRO-CPN", weight: 2.5, companions: &["EDU"], cost_per_person: 60.0, activities: &[
        ActivitySpec { title: "Child-friendly spaces", dac: &[] },
        ActivitySpec { title: "Family tracing and reunification", dac: &[] },
        ActivitySpec { title: "Case management for unaccompanied children", dac: &[] },
        ActivitySpec { title: "Reintegration of children associated with armed groups", dac: &["15261"] },
    ] },
];

// ---------------------------------------------------------------------------------------
// Random helpers
// ---------------------------------------------------------------------------------------

/// A cumulative weight table: one draw and a binary search per pick, which keeps a million
/// interventions in seconds. Non-positive weights are never picked.
#[derive(Clone, Debug)]
struct Weights {
    cumulative: Vec<f64>,
}

impl Weights {
    fn new(weights: impl IntoIterator<Item = f64>) -> Self {
        let mut total = 0.0;
        let cumulative = weights
            .into_iter()
            .map(|w| {
                if w.is_finite() && w > 0.0 {
                    total += w;
                }
                total
            })
            .collect();
        Self { cumulative }
    }

    /// `None` when nothing can be picked (no entry has a positive weight).
    fn pick(&self, rng: &mut ChaCha8Rng) -> Option<usize> {
        let total = *self.cumulative.last()?;
        if total <= 0.0 {
            return None;
        }
        let x = rng.random::<f64>() * total;
        let i = self.cumulative.partition_point(|&c| c <= x);
        Some(i.min(self.cumulative.len() - 1))
    }
}

/// Picks from a constant table of (value, weight) pairs; tables are never empty.
fn pick_from<T: Copy>(rng: &mut ChaCha8Rng, table: &[(T, f64)]) -> T {
    let total: f64 = table.iter().map(|(_, w)| w).sum();
    let mut x = rng.random::<f64>() * total;
    for &(value, weight) in table {
        if x < weight {
            return value;
        }
        x -= weight;
    }
    table[table.len() - 1].0
}

/// Standard normal draw (Box-Muller): `rand` without `rand_distr` has no normal
/// distribution, and one transcendental pair per draw is cheap enough.
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn log_normal(rng: &mut ChaCha8Rng, median: f64, sigma: f64) -> f64 {
    median * (sigma * normal(rng)).exp()
}

/// Reported figures are often rounded; exact ones come from registration lists.
fn round_people(rng: &mut ChaCha8Rng, people: f64) -> i64 {
    let people = people.round() as i64;
    if rng.random_bool(0.5) {
        return people;
    }
    let step = match people {
        ..1_000 => 10,
        1_000..10_000 => 50,
        _ => 500,
    };
    ((people + step / 2) / step * step).max(step)
}

fn add_days(date: NaiveDate, days: i64) -> NaiveDate {
    let shifted = if days >= 0 {
        date.checked_add_days(Days::new(days.unsigned_abs()))
    } else {
        date.checked_sub_days(Days::new(days.unsigned_abs()))
    };
    shifted.unwrap_or(date)
}

/// The inclusive last day of a period of `months` starting on `start`.
fn end_after(start: NaiveDate, months: u32) -> NaiveDate {
    let end = start
        .checked_add_months(Months::new(months))
        .unwrap_or(start);
    add_days(end, -1).max(start)
}

/// The first day of a period of `months` that ends on `end` (inclusive).
fn start_before(end: NaiveDate, months: u32) -> NaiveDate {
    let start = end.checked_sub_months(Months::new(months)).unwrap_or(end);
    add_days(start, 1).min(end)
}

const fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    match NaiveDate::from_ymd_opt(year, month, day) {
        Some(date) => date,
        None => panic!("invalid constant date"),
    }
}

/// One cell of a disaggregation: sex, minimum and maximum age, share of the people.
type Cell = (Option<&'static str>, Option<i64>, Option<i64>, f64);

/// Splits `total` over cells by share, exactly: every cell is rounded down and the last
/// takes the remainder, so disaggregations add up to the total as 5W sheets require.
fn split_bands(total: i64, cells: &[Cell]) -> Vec<PopulationBandInput> {
    let shares: f64 = cells.iter().map(|c| c.3).sum();
    let mut left = total;
    cells
        .iter()
        .enumerate()
        .map(|(i, &(sex, min_age, max_age, share))| {
            let people = if i + 1 == cells.len() {
                left
            } else {
                ((total as f64) * share / shares).floor() as i64
            }
            .min(left)
            .max(0);
            left -= people;
            PopulationBandInput {
                sex: sex.map(str::to_owned),
                min_age,
                max_age,
                group: None,
                people,
            }
        })
        .collect()
}

/// Sex and age cells for the people a sector serves, since a nutrition programme targets
/// small children and pregnant women, not the whole population pyramid.
fn demographic_cells(rng: &mut ChaCha8Rng, hpc: &str) -> Vec<Cell> {
    let female = 0.5 + rng.random_range(-0.03..0.06);
    match hpc {
        "NUT" => vec![
            (Some("F"), Some(0), Some(4), 0.4),
            (Some("M"), Some(0), Some(4), 0.4),
            (Some("F"), Some(15), Some(49), 0.2),
        ],
        "EDU" | "PRO-CPN" => vec![
            (Some("F"), Some(0), Some(17), female),
            (Some("M"), Some(0), Some(17), 1.0 - female),
        ],
        "PRO-GBV" => vec![
            (Some("F"), Some(0), Some(17), 0.3),
            (Some("F"), Some(18), Some(59), 0.55),
            (Some("F"), Some(60), None, 0.05),
            (Some("M"), Some(0), Some(17), 0.05),
            (Some("M"), Some(18), None, 0.05),
        ],
        _ => {
            let children = 0.48 + rng.random_range(-0.06..0.06);
            let elderly = 0.05;
            let adults = 1.0 - children - elderly;
            vec![
                (Some("F"), Some(0), Some(17), children * female),
                (Some("M"), Some(0), Some(17), children * (1.0 - female)),
                (Some("F"), Some(18), Some(59), adults * female),
                (Some("M"), Some(18), Some(59), adults * (1.0 - female)),
                (Some("F"), Some(60), None, elderly * female),
                (Some("M"), Some(60), None, elderly * (1.0 - female)),
            ]
        }
    }
}

// ---------------------------------------------------------------------------------------
// Needs
// ---------------------------------------------------------------------------------------

/// The clusters the demo HNO states needs for: (HPC code, share of the population a severe
/// crisis puts in need, severity offset, extra severity under drought, under conflict).
const NEED_CLUSTERS: [(&str, f64, f64, f64, f64); 6] = [
    ("FSC", 1.0, 0.2, 0.5, 0.3),
    ("WSH", 0.85, 0.0, 0.5, 0.2),
    ("HEA", 0.75, 0.0, 0.2, 0.4),
    ("NUT", 0.3, 0.1, 0.5, 0.2),
    ("SHL", 0.25, -0.7, 0.0, 0.8),
    ("PRO", 0.4, -0.3, 0.0, 0.8),
];

/// Share of a zone's population in need at each severity phase (1..=5).
const PIN_SHARE: [f64; 5] = [0.01, 0.06, 0.16, 0.30, 0.48];

const NEED_YEAR_START: NaiveDate = date(2025, 1, 1);
const NEED_YEAR_END: NaiveDate = date(2025, 12, 31);
const NEED_SOURCE: &str = "Demo HNO 2025";

/// Seeded streams keep needs and interventions independent: asking for more interventions
/// never changes the needs drawn from the same seed.
const NEEDS_STREAM: u64 = 1;
const INTERVENTIONS_STREAM: u64 = 0;

/// People in need for 2025, per zone: one figure per cluster and the intersectoral figure,
/// which is the largest sector figure plus a margin, never their sum, because the same
/// person is often in need in several sectors.
pub fn needs(seed: u64) -> Vec<NeedInput> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(NEEDS_STREAM);
    let mut needs = Vec::new();
    for region in REGIONS {
        let zones = region.zones.len();
        for (rank, _) in region.zones.iter().enumerate() {
            let pcode = zone_pcode(region, rank);
            let population = if region.pcode == "ET14" {
                log_normal(&mut rng, 350_000.0, 0.25)
            } else {
                (rng.random_range(250_000f64.ln()..2_200_000f64.ln())).exp()
            };
            let hardest_hit = 1.0 - rank as f64 / (zones.max(2) - 1) as f64;
            let base = region.severity + 0.6 * hardest_hit - 0.3 + 0.35 * normal(&mut rng);

            let mut sectors = Vec::with_capacity(NEED_CLUSTERS.len());
            for &(hpc, reach, offset, drought, conflict) in &NEED_CLUSTERS {
                let raw = base
                    + offset
                    + if region.drought { drought } else { 0.0 }
                    + if region.conflict { conflict } else { 0.0 }
                    + 0.4 * normal(&mut rng);
                let severity = (raw.round() as i64).clamp(1, 5);
                let share = PIN_SHARE[(severity - 1) as usize] * reach;
                let pin = (population * share * rng.random_range(0.85..1.15)).round() as i64;
                sectors.push((hpc, pin, severity));
            }
            let (max_pin, max_severity) = sectors
                .iter()
                .fold((0, 1), |(p, s), &(_, pin, sev)| (p.max(pin), s.max(sev)));
            let intersectoral = ((max_pin as f64 * rng.random_range(1.05..1.15)).round() as i64)
                .min(population.round() as i64)
                .max(max_pin);

            let need = |sector: Option<&str>, pin: i64, severity: i64, rng: &mut ChaCha8Rng| {
                let cells = demographic_cells(rng, sector.unwrap_or(""));
                NeedInput {
                    pcode: pcode.clone(),
                    sector: sector.map(str::to_owned),
                    period_start: NEED_YEAR_START,
                    period_end: NEED_YEAR_END,
                    people_in_need: pin,
                    bands: split_bands(pin, &cells),
                    severity: Some(severity),
                    source: Some(NEED_SOURCE.to_owned()),
                }
            };
            needs.push(need(None, intersectoral, max_severity, &mut rng));
            for (hpc, pin, severity) in sectors {
                needs.push(need(Some(hpc), pin, severity, &mut rng));
            }
        }
    }
    needs
}

// ---------------------------------------------------------------------------------------
// Interventions
// ---------------------------------------------------------------------------------------

/// The demo's "today": statuses and dates are drawn relative to it rather than to the clock,
/// because the domain is pure and the same seed must give the same data next year too.
const DEMO_TODAY: NaiveDate = date(2025, 7, 1);
/// The response the demo describes started in 2023 (the end of the drought).
const FIRST_START: NaiveDate = date(2023, 1, 1);

/// Share of interventions that repeat the previous one's sector, zone and dates under
/// another organisation: the duplication the overlap engine exists to find.
const NEAR_DUPLICATE_SHARE: f64 = 0.03;
/// Share of interventions at admin-1 or country level rather than in zones.
const WIDE_AREA_SHARE: f64 = 0.05;

#[rustfmt::skip]
const STATUSES: [(ActivityStatus, f64); 6] = [
    (ActivityStatus::Pipeline, 12.0),
    (ActivityStatus::Implementation, 55.0),
    (ActivityStatus::Finalisation, 8.0),
    (ActivityStatus::Closed, 18.0),
    (ActivityStatus::Cancelled, 4.0),
    (ActivityStatus::Suspended, 3.0),
];

/// Humanitarian projects cluster at six and twelve months (donor grant cycles).
const DURATIONS: [(u32, f64); 7] = [
    (3, 10.0),
    (4, 5.0),
    (6, 25.0),
    (9, 8.0),
    (12, 30.0),
    (18, 12.0),
    (24, 10.0),
];

const APPROACHES: [(Approach, f64); 3] = [
    (Approach::Protection, 50.0),
    (Approach::Both, 30.0),
    (Approach::Empowerment, 20.0),
];

struct Zone {
    pcode: String,
    name: &'static str,
    region: usize,
}

struct ClusterPlan {
    spec: &'static ClusterSpec,
    /// The numeric cluster id IATI data carries ("11").
    id: &'static str,
    sensitive: bool,
    /// Per activity, the DAC codes that exist and map to this cluster.
    activities: Vec<Vec<&'static str>>,
    /// Every DAC 5-digit code mapped to the cluster, for the occasional less typical code.
    pool: Vec<&'static str>,
    companions: Vec<usize>,
}

struct OrgPlan {
    id: OrganisationId,
    spec: &'static OrgSpec,
    /// Prefix of the external ids it gives its activities.
    prefix: String,
}

/// Everything an intervention draws from, computed once so each draw is a few binary
/// searches rather than lookups in the reference tables.
struct Plan {
    zones: Vec<Zone>,
    zone_weights: Weights,
    region_pcodes: Vec<String>,
    region_weights: Weights,
    zones_by_region: Vec<Vec<usize>>,
    region_zone_weights: Vec<Weights>,
    clusters: Vec<ClusterPlan>,
    cluster_weights: Weights,
    orgs: Vec<OrgPlan>,
    reporters: Vec<Weights>,
    implementers: Vec<Weights>,
    funders: Weights,
}

/// Zipf-like within a region (the hardest-hit zones get most of the work), normalised so
/// the region's total is its weight whatever its number of zones.
fn zone_weights(region: &RegionSpec) -> Vec<f64> {
    let raw: Vec<f64> = (0..region.zones.len())
        .map(|rank| 1.0 / ((rank + 1) as f64).powf(0.9))
        .collect();
    let sum: f64 = raw.iter().sum();
    raw.into_iter().map(|w| region.weight * w / sum).collect()
}

/// Organisations mostly work in their own clusters; generalists anywhere.
fn affinity(spec: &OrgSpec, hpc: &str) -> f64 {
    if spec.focus.is_empty() {
        1.0
    } else if spec.focus.contains(&hpc) {
        4.0
    } else {
        0.2
    }
}

fn id_prefix(spec: &OrgSpec) -> String {
    if !spec.iati.is_empty() {
        return format!("{}-{COUNTRY}", spec.iati);
    }
    let source = if spec.acronym.is_empty() {
        spec.name
    } else {
        spec.acronym
    };
    let cleaned: String = source
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("{COUNTRY}-{cleaned}")
}

impl Plan {
    fn new(organisation_ids: &[OrganisationId]) -> Self {
        let mut zones = Vec::new();
        let mut weights = Vec::new();
        let mut zones_by_region = Vec::new();
        let mut region_zone_weights = Vec::new();
        for (r, region) in REGIONS.iter().enumerate() {
            let region_weights = zone_weights(region);
            let mut indices = Vec::new();
            for (i, name) in region.zones.iter().enumerate() {
                indices.push(zones.len());
                zones.push(Zone {
                    pcode: zone_pcode(region, i),
                    name,
                    region: r,
                });
            }
            weights.extend(&region_weights);
            region_zone_weights.push(Weights::new(region_weights));
            zones_by_region.push(indices);
        }

        let mut clusters: Vec<ClusterPlan> = CLUSTERS
            .iter()
            .filter_map(|spec| {
                let cluster = reference::sector(SectorVocabulary::Cluster, spec.hpc)?;
                let id = cluster.code.as_str();
                // Only codes that exist and map to the cluster, and no sensitive code on
                // work that is not itself sensitive, so visibility defaults stay honest.
                let fits = |s: &reference::Sector| {
                    s.clusters.iter().any(|c| c == id) && (cluster.sensitive || !s.sensitive)
                };
                let activities = spec
                    .activities
                    .iter()
                    .map(|a| {
                        a.dac
                            .iter()
                            .filter_map(|code| reference::sector(SectorVocabulary::Dac5, code))
                            .filter(|s| fits(s))
                            .map(|s| s.code.as_str())
                            .collect()
                    })
                    .collect();
                let pool = reference::sectors_of(SectorVocabulary::Dac5)
                    .filter(|s| fits(s))
                    .map(|s| s.code.as_str())
                    .collect();
                Some(ClusterPlan {
                    spec,
                    id,
                    sensitive: cluster.sensitive,
                    activities,
                    pool,
                    companions: Vec::new(),
                })
            })
            .collect();
        let companions: Vec<Vec<usize>> = clusters
            .iter()
            .map(|c| {
                c.spec
                    .companions
                    .iter()
                    .filter_map(|hpc| clusters.iter().position(|o| o.spec.hpc == *hpc))
                    .collect()
            })
            .collect();
        for (cluster, companions) in clusters.iter_mut().zip(companions) {
            cluster.companions = companions;
        }

        let orgs: Vec<OrgPlan> = ORGANISATIONS
            .iter()
            .zip(organisation_ids)
            .map(|(spec, &id)| OrgPlan {
                id,
                spec,
                prefix: id_prefix(spec),
            })
            .collect();
        let per_cluster = |role: usize| -> Vec<Weights> {
            clusters
                .iter()
                .map(|c| {
                    Weights::new(
                        orgs.iter()
                            .map(|o| o.spec.weights[role] * affinity(o.spec, c.spec.hpc)),
                    )
                })
                .collect()
        };
        let mut reporters = per_cluster(REPORTS);
        // Whoever the caller stored, someone must report: fall back to equal chances.
        for weights in &mut reporters {
            if weights.cumulative.last().is_none_or(|&t| t <= 0.0) {
                *weights = Weights::new(orgs.iter().map(|_| 1.0));
            }
        }
        let implementers = per_cluster(IMPLEMENTS);
        let funders = Weights::new(orgs.iter().map(|o| o.spec.weights[FUNDS]));

        Self {
            zones,
            zone_weights: Weights::new(weights),
            region_pcodes: REGIONS.iter().map(|r| r.pcode.to_owned()).collect(),
            region_weights: Weights::new(REGIONS.iter().map(|r| r.weight)),
            zones_by_region,
            region_zone_weights,
            cluster_weights: Weights::new(clusters.iter().map(|c| c.spec.weight)),
            clusters,
            orgs,
            reporters,
            implementers,
            funders,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Dates {
    planned_start: NaiveDate,
    planned_end: Option<NaiveDate>,
    actual_start: Option<NaiveDate>,
    actual_end: Option<NaiveDate>,
}

impl Dates {
    fn shifted(self, days: i64) -> Self {
        Self {
            planned_start: add_days(self.planned_start, days),
            planned_end: self.planned_end.map(|d| add_days(d, days)),
            actual_start: self.actual_start.map(|d| add_days(d, days)),
            actual_end: self.actual_end.map(|d| add_days(d, days)),
        }
    }
}

/// Dates consistent with the status as of `DEMO_TODAY`: pipeline work starts later, closed
/// work has ended, only started work has an actual start.
fn dates_for(rng: &mut ChaCha8Rng, status: ActivityStatus) -> Dates {
    let months = pick_from(rng, &DURATIONS);
    let span = i64::from(months) * 30;
    // ~15% of all interventions are open-ended: ongoing services without a set end.
    let open = |rng: &mut ChaCha8Rng, end: NaiveDate| (!rng.random_bool(0.21)).then_some(end);
    match status {
        ActivityStatus::Pipeline => {
            let start = add_days(DEMO_TODAY, rng.random_range(0..=540));
            Dates {
                planned_start: start,
                planned_end: open(rng, end_after(start, months)),
                actual_start: None,
                actual_end: None,
            }
        }
        ActivityStatus::Implementation | ActivityStatus::Suspended => {
            let start = add_days(DEMO_TODAY, -rng.random_range(0..span)).max(FIRST_START);
            let actual = add_days(start, rng.random_range(0..45)).min(DEMO_TODAY);
            Dates {
                planned_start: start,
                planned_end: open(rng, end_after(start, months)),
                actual_start: Some(actual.max(start)),
                actual_end: None,
            }
        }
        ActivityStatus::Finalisation => {
            let end = add_days(DEMO_TODAY, -rng.random_range(0..60));
            let start = start_before(end, months).max(FIRST_START);
            Dates {
                planned_start: start,
                planned_end: Some(end),
                actual_start: Some(add_days(start, rng.random_range(0..30)).min(end)),
                actual_end: None,
            }
        }
        ActivityStatus::Closed => {
            let mut end = add_days(DEMO_TODAY, -rng.random_range(60..900));
            let mut start = start_before(end, months);
            if start < FIRST_START {
                start = add_days(FIRST_START, rng.random_range(0..90));
                end = end_after(start, months);
            }
            let actual_start = add_days(start, rng.random_range(0..30)).min(end);
            let actual_end = add_days(end, rng.random_range(-20..40))
                .min(DEMO_TODAY)
                .max(actual_start);
            Dates {
                planned_start: start,
                planned_end: Some(end),
                actual_start: Some(actual_start),
                actual_end: Some(actual_end),
            }
        }
        ActivityStatus::Cancelled => {
            let start = add_days(DEMO_TODAY, rng.random_range(-360..=360));
            Dates {
                planned_start: start,
                planned_end: Some(end_after(start, months)),
                actual_start: None,
                actual_end: None,
            }
        }
    }
}

/// What makes two interventions near-duplicates: same activity, zone and time.
#[derive(Clone, Copy, Debug)]
struct Signature {
    cluster: usize,
    activity: usize,
    zone: usize,
    reporter: usize,
    status: ActivityStatus,
    dates: Dates,
}

/// The demo interventions, generated one at a time from the seed.
pub struct Interventions {
    rng: ChaCha8Rng,
    remaining: u64,
    plan: Plan,
    /// Next sequence number of each organisation's external ids.
    sequences: Vec<u64>,
    last: Option<Signature>,
}

/// `size` interventions reported by the organisations whose stored ids are given, in the
/// order of [`organisations`]. Ids beyond the list are ignored; with fewer ids only those
/// organisations take part, and with none the iterator is empty.
pub fn interventions(config: &DemoConfig, organisation_ids: &[OrganisationId]) -> Interventions {
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    rng.set_stream(INTERVENTIONS_STREAM);
    let plan = Plan::new(organisation_ids);
    Interventions {
        rng,
        remaining: if plan.orgs.is_empty() { 0 } else { config.size },
        sequences: vec![0; plan.orgs.len()],
        plan,
        last: None,
    }
}

impl Iterator for Interventions {
    type Item = InterventionInput;

    fn next(&mut self) -> Option<InterventionInput> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        Some(self.generate())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::try_from(self.remaining).unwrap_or(usize::MAX);
        (n, usize::try_from(self.remaining).ok())
    }
}

/// Where an intervention works and how its title names the place.
struct Place {
    locations: Vec<LocationInput>,
    label: String,
    /// The first zone, when the work is in zones.
    zone: Option<usize>,
    region: Option<usize>,
}

impl Interventions {
    fn generate(&mut self) -> InterventionInput {
        let Self {
            rng,
            plan,
            sequences,
            last,
            ..
        } = self;
        let plan = &*plan;

        let original = last.take();
        let duplicate = original
            .filter(|_| rng.random_bool(NEAR_DUPLICATE_SHARE))
            .and_then(|o| {
                let weights = &plan.reporters[o.cluster];
                (0..8)
                    .filter_map(|_| weights.pick(rng))
                    .find(|&r| r != o.reporter)
                    .map(|reporter| (o, reporter))
            });

        let (cluster, activity, reporter, status, dates, place) = match duplicate {
            Some((o, reporter)) => {
                let place = zone_place(rng, plan, o.zone);
                // Never earlier than the response the demo describes.
                let earliest = FIRST_START
                    .signed_duration_since(o.dates.planned_start)
                    .num_days();
                let dates = o.dates.shifted(rng.random_range(-30..=30).max(earliest));
                (o.cluster, o.activity, reporter, o.status, dates, place)
            }
            None => {
                let cluster = plan.cluster_weights.pick(rng).unwrap_or(0);
                let activity = rng.random_range(0..plan.clusters[cluster].activities.len());
                let reporter = plan.reporters[cluster].pick(rng).unwrap_or(0);
                let status = pick_from(rng, &STATUSES);
                let dates = dates_for(rng, status);
                let place = if rng.random_bool(WIDE_AREA_SHARE) {
                    wide_place(rng, plan)
                } else {
                    let zone = plan.zone_weights.pick(rng).unwrap_or(0);
                    zone_place(rng, plan, zone)
                };
                (cluster, activity, reporter, status, dates, place)
            }
        };
        *last = place.zone.map(|zone| Signature {
            cluster,
            activity,
            zone,
            reporter,
            status,
            dates,
        });

        let plan_cluster = &plan.clusters[cluster];
        let hpc = plan_cluster.spec.hpc;
        let region = place.region.map(|r| &REGIONS[r]);
        let groups = population_groups(rng, region);
        let target = rng
            .random_bool(0.9)
            .then(|| target_population(rng, hpc, &groups));
        let mut locations = place.locations;
        if let Some(target) = &target {
            locate_targets(rng, target.total, &mut locations);
        }

        let sectors = sector_shares(rng, plan, cluster, activity);
        let participants = participants(rng, plan, cluster, reporter);
        let budget = budget(
            rng,
            plan,
            plan_cluster,
            target.as_ref(),
            &participants,
            reporter,
        );

        let activity_title = plan_cluster.spec.activities[activity].title;
        let kind = if activity_title.starts_with("Emergency") {
            InterventionKind::Response
        } else if hpc == "ERY" {
            pick_from(
                rng,
                &[
                    (InterventionKind::Recovery, 70.0),
                    (InterventionKind::Response, 20.0),
                    (InterventionKind::Prevention, 10.0),
                ],
            )
        } else {
            pick_from(
                rng,
                &[
                    (InterventionKind::Response, 78.0),
                    (InterventionKind::Prevention, 10.0),
                    (InterventionKind::Recovery, 12.0),
                ],
            )
        };
        let approach = pick_from(rng, &APPROACHES);
        // Sensitive work keeps the domain's restrictive default; some other work is shared
        // with partners only (draft plans, security concerns).
        let visibility =
            (!plan_cluster.sensitive && rng.random_bool(0.1)).then(|| "PARTNERS".to_owned());

        let org = &plan.orgs[reporter];
        sequences[reporter] += 1;
        let external_id = format!("{}-{:06}", org.prefix, sequences[reporter]);
        // "Site management for displaced people" already names who it serves.
        let qualifier = if activity_title.contains(" for ") {
            None
        } else {
            qualifier(rng, hpc, region, &groups)
        };
        let title = match qualifier {
            Some(q) => format!("{activity_title} {q} in {}", place.label),
            None => format!("{activity_title} in {}", place.label),
        };
        let description = rng.random_bool(0.4).then(|| {
            let year = dates.planned_start.format("%Y");
            match &target {
                Some(t) => format!(
                    "{activity_title} in {}, targeting {} people, within the {year} humanitarian response.",
                    place.label, t.total
                ),
                None => format!(
                    "{activity_title} in {}, within the {year} humanitarian response.",
                    place.label
                ),
            }
        });

        InterventionInput {
            external_id,
            title,
            description,
            reporting_organisation: org.id,
            participants,
            sectors,
            locations,
            planned_start: Some(dates.planned_start),
            planned_end: dates.planned_end,
            actual_start: dates.actual_start,
            actual_end: dates.actual_end,
            status: status.code().to_owned(),
            kind: kind.code().to_owned(),
            approach: approach.code().to_owned(),
            target,
            budget,
            visibility,
            linked_activities: Vec::new(),
            humanitarian: None,
        }
    }
}

/// One to three zones, mostly in the same region, since projects follow an area office.
fn zone_place(rng: &mut ChaCha8Rng, plan: &Plan, first: usize) -> Place {
    let count = pick_from(rng, &[(1usize, 60.0), (2, 25.0), (3, 15.0)]);
    let region = plan.zones[first].region;
    let mut chosen = vec![first];
    for _ in 0..(count - 1) * 4 {
        if chosen.len() == count {
            break;
        }
        let zone = if rng.random_bool(0.9) {
            plan.region_zone_weights[region]
                .pick(rng)
                .map(|i| plan.zones_by_region[region][i])
        } else {
            plan.zone_weights.pick(rng)
        };
        if let Some(zone) = zone.filter(|z| !chosen.contains(z)) {
            chosen.push(zone);
        }
    }
    let names: Vec<&str> = chosen.iter().map(|&z| plan.zones[z].name).collect();
    let label = match names.as_slice() {
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
        [] => COUNTRY_NAME.to_owned(),
    };
    Place {
        locations: chosen
            .iter()
            .map(|&z| LocationInput {
                pcode: plan.zones[z].pcode.clone(),
                target: None,
                site: None,
            })
            .collect(),
        label,
        zone: Some(first),
        region: Some(region),
    }
}

/// A whole region or the whole country, for programmes reported at that level.
fn wide_place(rng: &mut ChaCha8Rng, plan: &Plan) -> Place {
    if rng.random_bool(0.3) {
        return Place {
            locations: vec![LocationInput {
                pcode: COUNTRY.to_owned(),
                target: None,
                site: None,
            }],
            label: COUNTRY_NAME.to_owned(),
            zone: None,
            region: None,
        };
    }
    let region = plan.region_weights.pick(rng).unwrap_or(0);
    Place {
        locations: vec![LocationInput {
            pcode: plan.region_pcodes[region].clone(),
            target: None,
            site: None,
        }],
        label: REGIONS[region].place.to_owned(),
        zone: None,
        region: Some(region),
    }
}

/// Refugees only where there are camps; displaced people and host communities anywhere.
fn population_groups(rng: &mut ChaCha8Rng, region: Option<&RegionSpec>) -> Vec<&'static str> {
    if !rng.random_bool(0.35) {
        return Vec::new();
    }
    let refugees = region.is_some_and(|r| r.refugees);
    let table: &[(&str, f64)] = if refugees {
        &[("IDP", 3.0), ("HST", 3.0), ("REF", 3.0), ("RET", 1.0)]
    } else {
        &[("IDP", 4.0), ("HST", 3.0), ("RET", 1.5)]
    };
    let first = pick_from(rng, table);
    let mut groups = vec![first];
    if rng.random_bool(0.4) {
        let second = pick_from(rng, table);
        if second != first {
            groups.push(second);
        }
    }
    groups
}

fn qualifier(
    rng: &mut ChaCha8Rng,
    hpc: &str,
    region: Option<&RegionSpec>,
    groups: &[&str],
) -> Option<&'static str> {
    match groups.first() {
        Some(&"IDP") => Some("for internally displaced people"),
        Some(&"REF") => Some("for refugees"),
        Some(&"RET") => Some("for returnees"),
        Some(&"HST") => Some("for host communities"),
        _ => {
            let region = region?;
            if !rng.random_bool(0.3) {
                None
            } else if region.drought && matches!(hpc, "FSC" | "WSH" | "NUT" | "HEA") {
                Some("for drought-affected households")
            } else if region.conflict {
                Some("for conflict-affected households")
            } else {
                None
            }
        }
    }
}

/// Log-normal between 200 and 200,000 people, as real project sizes are: many small
/// community projects, a few very large distributions.
fn target_population(rng: &mut ChaCha8Rng, hpc: &str, groups: &[&str]) -> PopulationInput {
    let drawn = log_normal(rng, 3_500.0, 1.2).clamp(200.0, 200_000.0);
    let total = round_people(rng, drawn);
    let bands = match pick_from(rng, &[(0u8, 35.0), (1, 20.0), (2, 45.0)]) {
        0 => Vec::new(),
        1 => {
            let female = 0.5 + rng.random_range(-0.03..0.08);
            split_bands(
                total,
                &[
                    (Some("F"), None, None, female),
                    (Some("M"), None, None, 1.0 - female),
                ],
            )
        }
        _ => split_bands(total, &demographic_cells(rng, hpc)),
    };
    // WHO's global estimate is 16% of people with a significant disability.
    let with_disability = rng
        .random_bool(0.15)
        .then(|| ((total as f64) * rng.random_range(0.05..0.16)).round() as i64);
    PopulationInput {
        total,
        with_disability,
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        bands,
    }
}

/// Per-location targets that never add up to more than the total, as the domain requires.
fn locate_targets(rng: &mut ChaCha8Rng, total: i64, locations: &mut [LocationInput]) {
    if !rng.random_bool(0.35) {
        return;
    }
    if locations.len() > 1 && rng.random_bool(0.3) {
        locations[0].target = Some(total * 6 / 10);
        return;
    }
    let shares: Vec<f64> = locations
        .iter()
        .map(|_| rng.random_range(0.5..1.5))
        .collect();
    let sum: f64 = shares.iter().sum();
    for (location, share) in locations.iter_mut().zip(shares) {
        location.target = Some(((total as f64) * share / sum).floor() as i64);
    }
}

/// Integer percentages that add up to exactly 100, the main sector first.
fn percentages(rng: &mut ChaCha8Rng, n: usize) -> Vec<f64> {
    if n <= 1 {
        return vec![100.0; n];
    }
    let rest = (n - 1) as u32;
    let main = pick_from(rng, &[(50u32, 1.0), (60, 1.0), (70, 1.0), (80, 0.5)]);
    let each = (100 - main) / rest;
    let main = 100 - each * rest;
    std::iter::once(main)
        .chain(std::iter::repeat_n(each, n - 1))
        .map(f64::from)
        .collect()
}

/// Reported the way actors really report: DAC codes (donor-facing), clusters (coordination
/// facing) or both, with or without percentages, and sometimes a second cluster for
/// integrated programmes.
fn sector_shares(
    rng: &mut ChaCha8Rng,
    plan: &Plan,
    cluster: usize,
    activity: usize,
) -> Vec<SectorShareInput> {
    let primary = &plan.clusters[cluster];
    let mut dac: Vec<&'static str> = Vec::with_capacity(4);
    let codes = &primary.activities[activity];
    if !codes.is_empty() {
        let i = rng.random_range(0..codes.len());
        dac.push(codes[i]);
        if codes.len() > 1 && rng.random_bool(0.35) {
            dac.push(codes[(i + 1) % codes.len()]);
        }
        if !primary.pool.is_empty() && rng.random_bool(0.1) {
            let extra = primary.pool[rng.random_range(0..primary.pool.len())];
            if !dac.contains(&extra) {
                dac.push(extra);
            }
        }
    }
    let mut clusters = vec![cluster];
    if !primary.companions.is_empty() && rng.random_bool(0.2) {
        let companion = primary.companions[rng.random_range(0..primary.companions.len())];
        clusters.push(companion);
        let other = &plan.clusters[companion];
        let codes = &other.activities[rng.random_range(0..other.activities.len())];
        if !codes.is_empty() && !dac.is_empty() && rng.random_bool(0.5) {
            let code = codes[rng.random_range(0..codes.len())];
            if !dac.contains(&code) {
                dac.push(code);
            }
        }
    }

    let mode = rng.random::<f64>();
    let (with_dac, with_clusters) = if dac.is_empty() {
        (false, true)
    } else if mode < 0.45 {
        (true, true)
    } else if mode < 0.75 {
        (false, true)
    } else {
        (true, false)
    };

    // One reporter writes one way: vocabulary named or not, cluster id or HPC code.
    let name_vocabulary = rng.random_bool(0.85);
    let numeric_cluster = rng.random_bool(0.6);
    let mut shares = Vec::with_capacity(dac.len() + clusters.len());
    if with_dac {
        let pct = rng.random_bool(0.5).then(|| percentages(rng, dac.len()));
        for (i, code) in dac.iter().enumerate() {
            shares.push(SectorShareInput {
                vocabulary: name_vocabulary.then(|| "1".to_owned()),
                code: (*code).to_owned(),
                percentage: pct.as_ref().map(|p| p[i]),
            });
        }
    }
    if with_clusters {
        let pct = rng
            .random_bool(0.5)
            .then(|| percentages(rng, clusters.len()));
        for (i, &c) in clusters.iter().enumerate() {
            let c = &plan.clusters[c];
            // IATI files carry the numeric id, 5W sheets the HPC code.
            let code = if numeric_cluster { c.id } else { c.spec.hpc };
            shares.push(SectorShareInput {
                vocabulary: name_vocabulary.then(|| "10".to_owned()),
                code: code.to_owned(),
                percentage: pct.as_ref().map(|p| p[i]),
            });
        }
    }
    shares
}

fn pick_other(rng: &mut ChaCha8Rng, weights: &Weights, exclude: &[usize]) -> Option<usize> {
    (0..8)
        .filter_map(|_| weights.pick(rng))
        .find(|i| !exclude.contains(i))
}

/// Funders for about 60%, an implementing partner for about half; never the reporter in
/// those roles, never the same organisation twice in one role.
fn participants(
    rng: &mut ChaCha8Rng,
    plan: &Plan,
    cluster: usize,
    reporter: usize,
) -> Vec<ParticipationInput> {
    let mut out = Vec::new();
    if rng.random_bool(0.6)
        && let Some(funder) = pick_other(rng, &plan.funders, &[reporter])
    {
        out.push(ParticipationInput {
            organisation: plan.orgs[funder].id,
            role: "1".to_owned(),
            activity_id: None,
        });
        if rng.random_bool(0.15)
            && let Some(second) = pick_other(rng, &plan.funders, &[reporter, funder])
        {
            out.push(ParticipationInput {
                organisation: plan.orgs[second].id,
                role: "1".to_owned(),
                activity_id: None,
            });
        }
    }
    if rng.random_bool(0.5)
        && let Some(partner) = pick_other(rng, &plan.implementers[cluster], &[reporter])
    {
        let activity_id = rng.random_bool(0.25).then(|| {
            format!(
                "{}-{:06}",
                plan.orgs[partner].prefix,
                rng.random_range(1..1_000_000)
            )
        });
        out.push(ParticipationInput {
            organisation: plan.orgs[partner].id,
            role: "4".to_owned(),
            activity_id,
        });
    }
    out
}

/// Sized from the people targeted and the sector's typical cost, in the funder's currency.
fn budget(
    rng: &mut ChaCha8Rng,
    plan: &Plan,
    cluster: &ClusterPlan,
    target: Option<&PopulationInput>,
    participants: &[ParticipationInput],
    reporter: usize,
) -> Option<BudgetInput> {
    if !rng.random_bool(0.7) {
        return None;
    }
    let usd = match target {
        Some(t) => (t.total as f64) * log_normal(rng, cluster.spec.cost_per_person, 0.5),
        None => log_normal(rng, 250_000.0, 1.0),
    };
    let funder = participants
        .iter()
        .find(|p| p.role == "1")
        .and_then(|p| plan.orgs.iter().find(|o| o.id == p.organisation));
    let currency = funder.map_or(plan.orgs[reporter].spec.currency, |f| f.spec.currency);
    let rate = match currency {
        "EUR" => 0.92,
        "GBP" => 0.79,
        _ => 1.0,
    };
    let amount = ((usd * rate / 1_000.0).round() * 1_000.0).max(5_000.0);
    Some(BudgetInput {
        amount,
        currency: currency.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;
    use crate::intervention::NewIntervention;
    use crate::need::{NeedSector, NewNeed};
    use crate::organisation::NewOrganisation;
    use crate::values::Visibility;

    fn ids() -> Vec<OrganisationId> {
        (0..organisations().len())
            .map(|i| OrganisationId(i as i64 + 1))
            .collect()
    }

    fn generate(size: u64, seed: u64) -> Vec<InterventionInput> {
        interventions(&DemoConfig { size, seed }, &ids()).collect()
    }

    #[test]
    fn same_seed_same_data_other_seed_other_data() {
        let a = generate(200, 7);
        assert_eq!(a.len(), 200);
        assert_eq!(a, generate(200, 7));
        assert_ne!(a, generate(200, 8));
        assert_eq!(needs(7), needs(7));
        assert_ne!(needs(7), needs(8));
        // Needs do not depend on how many interventions are asked for, and a longer run
        // starts with the shorter one.
        assert_eq!(generate(50, 7)[..], a[..50]);
    }

    #[test]
    fn produces_exactly_size_items_and_nothing_without_organisations() {
        let config = DemoConfig { size: 37, seed: 1 };
        let it = interventions(&config, &ids());
        assert_eq!(it.size_hint(), (37, Some(37)));
        assert_eq!(it.count(), 37);
        assert_eq!(interventions(&config, &[]).count(), 0);
        // With a few organisations only, only they appear.
        let few = [OrganisationId(10), OrganisationId(20), OrganisationId(30)];
        for i in interventions(&DemoConfig { size: 300, seed: 1 }, &few) {
            assert!(few.contains(&i.reporting_organisation));
            assert!(i.participants.iter().all(|p| few.contains(&p.organisation)));
            NewIntervention::parse(&i).expect("valid with few organisations");
        }
    }

    #[test]
    fn every_intervention_is_valid() {
        for (i, input) in generate(2_000, 42).iter().enumerate() {
            if let Err(e) = NewIntervention::parse(input) {
                panic!(
                    "intervention {i} ({}) is invalid: {e:?}\n{input:#?}",
                    input.external_id
                );
            }
        }
    }

    #[test]
    fn every_need_is_valid_and_intersectoral_is_not_a_sum() {
        let needs = needs(3);
        assert_eq!(
            needs.len(),
            7 * country()
                .areas
                .iter()
                .filter(|a| a.admin_level.get() == 2)
                .count()
        );
        let mut by_zone: HashMap<&str, Vec<NewNeed>> = HashMap::new();
        for input in &needs {
            let need = NewNeed::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e:?}"));
            assert_eq!(input.source.as_deref(), Some("Demo HNO 2025"));
            let banded: i64 = input.bands.iter().map(|b| b.people).sum();
            assert_eq!(banded, input.people_in_need, "bands add up to the total");
            by_zone.entry(input.pcode.as_str()).or_default().push(need);
        }
        for (zone, needs) in by_zone {
            let intersectoral: Vec<&NewNeed> = needs
                .iter()
                .filter(|n| n.sector == NeedSector::Intersectoral)
                .collect();
            assert_eq!(intersectoral.len(), 1, "{zone}");
            let total = intersectoral[0].people_in_need.total.get();
            let sectors: Vec<u64> = needs
                .iter()
                .filter(|n| n.sector != NeedSector::Intersectoral)
                .map(|n| n.people_in_need.total.get())
                .collect();
            assert_eq!(sectors.len(), 6);
            let max = *sectors.iter().max().expect("six sectors");
            assert!(total >= max, "{zone}: {total} < {max}");
            assert!(
                total as f64 <= max as f64 * 1.16 + 1.0,
                "{zone}: {total} vs {max}"
            );
        }
    }

    #[test]
    fn drought_regions_are_worse() {
        let needs = needs(11);
        let mean = |prefixes: &[&str]| {
            let s: Vec<i64> = needs
                .iter()
                .filter(|n| n.sector.is_none())
                .filter(|n| prefixes.iter().any(|p| n.pcode.starts_with(p)))
                .filter_map(|n| n.severity)
                .collect();
            s.iter().sum::<i64>() as f64 / s.len() as f64
        };
        assert!(mean(&["ET02", "ET05"]) > mean(&["ET07", "ET13", "ET14", "ET15"]) + 0.5);
    }

    #[test]
    fn every_organisation_is_valid_and_unique() {
        let orgs = organisations();
        assert!(
            (55..=70).contains(&orgs.len()),
            "{} organisations",
            orgs.len()
        );
        let mut names = HashSet::new();
        let mut identifiers = HashSet::new();
        let mut levels = HashSet::new();
        let mut types = HashSet::new();
        for input in &orgs {
            let org =
                NewOrganisation::parse(input).unwrap_or_else(|e| panic!("{}: {e:?}", input.name));
            assert!(
                names.insert(org.name.clone()),
                "duplicate name {}",
                org.name
            );
            if let Some(id) = &org.iati_identifier {
                assert!(
                    identifiers.insert(id.clone()),
                    "duplicate identifier {}",
                    id.as_str()
                );
            }
            levels.insert(org.level);
            types.insert(org.organisation_type);
        }
        assert_eq!(levels.len(), 4, "every actor level is represented");
        for code in [
            "10", "11", "21", "22", "23", "24", "40", "60", "72", "80", "90",
        ] {
            assert!(types.contains(code), "no organisation of type {code}");
        }
    }

    #[test]
    fn external_ids_are_unique_per_organisation() {
        let mut seen = HashSet::new();
        for i in generate(20_000, 5) {
            assert!(
                seen.insert((i.reporting_organisation, i.external_id.clone())),
                "{} repeated",
                i.external_id
            );
        }
    }

    #[test]
    fn country_areas_come_parents_first_and_nest() {
        let areas = country().areas;
        let mut seen: HashMap<&Pcode, u8> = HashMap::new();
        for area in &areas {
            if let Some(parent) = &area.parent {
                let level = seen
                    .get(parent)
                    .unwrap_or_else(|| panic!("{} before its parent", area.pcode));
                assert_eq!(*level + 1, area.admin_level.get());
                if *level > 0 {
                    assert!(area.pcode.is_nested_under(parent));
                }
            } else {
                assert_eq!(area.admin_level, AdminLevel::COUNTRY);
            }
            assert!(
                seen.insert(&area.pcode, area.admin_level.get()).is_none(),
                "{} twice",
                area.pcode
            );
        }
        let level = |l: u8| areas.iter().filter(|a| a.admin_level.get() == l).count();
        assert_eq!((level(0), level(1)), (1, 11));
        assert!((85..=100).contains(&level(2)), "{} zones", level(2));
        for region in REGIONS {
            assert!((4..=20).contains(&region.zones.len()), "{}", region.name);
        }
    }

    #[test]
    fn curated_codes_all_exist_and_map_to_their_cluster() {
        let plan = Plan::new(&ids());
        assert_eq!(plan.clusters.len(), CLUSTERS.len());
        for cluster in &plan.clusters {
            assert_eq!(
                cluster.companions.len(),
                cluster.spec.companions.len(),
                "{}",
                cluster.spec.hpc
            );
            for (codes, spec) in cluster.activities.iter().zip(cluster.spec.activities) {
                assert_eq!(
                    codes.len(),
                    spec.dac.len(),
                    "{}: {}",
                    cluster.spec.hpc,
                    spec.title
                );
            }
            assert!(
                !cluster.pool.is_empty(),
                "{} has no DAC code",
                cluster.spec.hpc
            );
        }
        let sensitive: f64 = plan
            .clusters
            .iter()
            .filter(|c| c.sensitive)
            .map(|c| c.spec.weight)
            .sum();
        let all: f64 = plan.clusters.iter().map(|c| c.spec.weight).sum();
        assert!((sensitive / all - 0.10).abs() < 0.005);
    }

    #[test]
    fn shape_of_the_response() {
        let items = generate(10_000, 9);
        let parsed: Vec<NewIntervention> = items
            .iter()
            .map(|i| NewIntervention::parse(i).expect("valid"))
            .collect();
        let share = |f: &dyn Fn(&NewIntervention) -> bool| {
            parsed.iter().filter(|i| f(i)).count() as f64 / parsed.len() as f64
        };
        let restricted = share(&|i| i.visibility == Visibility::Restricted);
        assert!(
            (0.07..0.13).contains(&restricted),
            "restricted {restricted}"
        );
        let partners = share(&|i| i.visibility == Visibility::Partners);
        assert!((0.06..0.12).contains(&partners), "partners {partners}");
        let implementation = share(&|i| i.status == ActivityStatus::Implementation);
        assert!(
            (0.45..0.65).contains(&implementation),
            "implementation {implementation}"
        );
        let open = share(&|i| i.planned.is_some_and(|p| p.end().is_none()));
        assert!((0.10..0.20).contains(&open), "open-ended {open}");
        let funded = share(&|i| i.participants.iter().any(|p| p.role.code() == "1"));
        assert!((0.5..0.7).contains(&funded), "funded {funded}");
        let partnered = share(&|i| i.participants.iter().any(|p| p.role.code() == "4"));
        assert!((0.4..0.6).contains(&partnered), "partnered {partnered}");
        let wide = share(&|i| i.locations.iter().any(|l| l.pcode.as_str().len() < 6));
        assert!((0.03..0.08).contains(&wide), "wide {wide}");
        let drought = share(&|i| {
            ["ET02", "ET04", "ET05"]
                .iter()
                .any(|r| i.locations[0].pcode.as_str().starts_with(r))
        });
        assert!(drought > 0.45, "drought regions {drought}");
        for i in &parsed {
            let start = i.planned.map(|p| p.start()).expect("planned start");
            assert!(
                (2023..=2026).contains(&chrono::Datelike::year(&start)),
                "{start}"
            );
            if matches!(
                i.status,
                ActivityStatus::Implementation | ActivityStatus::Closed
            ) {
                assert!(i.actual.is_some(), "started work has an actual start");
            }
        }
        // The biggest reporters are UN agencies.
        let mut counts: HashMap<OrganisationId, usize> = HashMap::new();
        for i in &parsed {
            *counts.entry(i.reporting_organisation).or_default() += 1;
        }
        let top = counts
            .iter()
            .max_by_key(|(_, n)| **n)
            .map(|(id, _)| id.0 as usize - 1);
        let top = top.map(|i| ORGANISATIONS[i].class);
        assert_eq!(top, Some(Class::Multilateral), "a UN agency reports most");
    }

    #[test]
    fn some_work_is_duplicated_by_another_organisation() {
        let items = generate(10_000, 13);
        let activity = |title: &str| {
            title
                .split(" in ")
                .next()
                .unwrap_or_default()
                .split(" for ")
                .next()
                .unwrap_or_default()
                .to_owned()
        };
        let duplicates = items
            .windows(2)
            .filter(|w| {
                w[0].locations[0].pcode == w[1].locations[0].pcode
                    && w[0].reporting_organisation != w[1].reporting_organisation
                    && activity(&w[0].title) == activity(&w[1].title)
            })
            .count();
        let share = duplicates as f64 / items.len() as f64;
        assert!((0.015..0.05).contains(&share), "near-duplicates {share}");
    }

    /// `cargo test --release -p concord-domain --lib demo::tests::a_million -- --ignored`
    #[test]
    #[ignore = "timing check, run in release"]
    fn a_million_in_seconds() {
        let started = std::time::Instant::now();
        let n = interventions(
            &DemoConfig {
                size: 1_000_000,
                seed: 1,
            },
            &ids(),
        )
        .count();
        assert_eq!(n, 1_000_000);
        assert!(started.elapsed().as_secs() < 20, "{:?}", started.elapsed());
    }
}
