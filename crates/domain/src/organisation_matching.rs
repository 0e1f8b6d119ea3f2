//! Matching the organisation names that 3W/4W/5W tables carry ("WVI", "Cáritas",
//! "Save the children International") against the organisations Concord knows, and
//! suggesting which names in a set probably mean the same organisation.
//!
//! Pure and deterministic: no database, no network, no fuzzy scores. A match is one of three
//! exact tests, tried in order, and says which one decided:
//!
//! 1. **Identifier**: the IATI organisation identifier (`GB-CHC-1076822`), compared
//!    case-insensitively. Identifiers are assigned, so they win over anything typed.
//! 2. **Acronym**: the mention's acronym, or else its name, equal (case-insensitive, nothing
//!    else folded) to a known acronym. 3W sheets mostly carry acronyms in their name column
//!    ("PMA", "WVI"), so the name is tried as an acronym too.
//! 3. **Normalised name**: both names put through [`normalise_name`] and compared without
//!    spaces, so "Child Fund" meets "ChildFund" and "Cáritas" meets "CARITAS".
//!
//! Two known organisations answering the same test make the match [`OrganisationMatch::Ambiguous`]
//! rather than a guess: a wrong link files one agency's work under another.
//!
//! [`suggest_duplicates`] never merges: it groups names and says why, for a person to decide.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use crate::organisation::{Organisation, OrganisationId};

/// Articles, prepositions and conjunctions (English, Spanish, French), dropped when names
/// are compared: "Save the Children" and "Save Children" are one name.
const CONNECTORS: &[&str] = &[
    "the", "of", "and", "for", "de", "del", "la", "las", "el", "los", "y", "e", "para", "et", "du",
    "des", "le", "les", "pour", "l", "d",
];

/// Legal and boilerplate words, dropped when names are compared (not when initials are
/// taken): the same agency signs "Oxfam" and "Oxfam International", "The Shalom Foundation"
/// and "Fundación Shalom". Kept short on purpose: every word here makes two names that differ
/// only by it equal, so only words that never tell two organisations apart belong here.
const BOILERPLATE: &[&str] = &[
    "international",
    "internacional",
    "internationale",
    "intl",
    "ong",
    "ngo",
    "asociacion",
    "association",
    "fundacion",
    "foundation",
    "fondation",
    "inc",
    "ltd",
];

/// An organisation Concord knows, as the matcher needs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KnownOrganisation {
    pub id: OrganisationId,
    pub name: String,
    pub acronym: Option<String>,
    pub iati_identifier: Option<String>,
}

impl From<&Organisation> for KnownOrganisation {
    fn from(organisation: &Organisation) -> Self {
        Self {
            id: organisation.id,
            name: organisation.name.clone(),
            acronym: organisation.acronym.clone(),
            iati_identifier: organisation
                .iati_identifier
                .as_ref()
                .map(|i| i.as_str().to_owned()),
        }
    }
}

/// An organisation as a table names it: any of the three may be missing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OrganisationMention<'a> {
    pub name: Option<&'a str>,
    pub acronym: Option<&'a str>,
    pub identifier: Option<&'a str>,
}

impl<'a> OrganisationMention<'a> {
    /// A mention by name only, the usual case in 3W sheets.
    pub fn name(name: &'a str) -> Self {
        Self {
            name: Some(name),
            ..Self::default()
        }
    }
}

/// Which test decided a match.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum MatchMethod {
    Identifier,
    Acronym,
    Name,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum OrganisationMatch {
    Matched(OrganisationId, MatchMethod),
    /// Several known organisations pass the first test that finds any; ids ascending.
    Ambiguous(Vec<OrganisationId>, MatchMethod),
    Unmatched,
}

/// The known organisations, indexed once for many look-ups.
#[derive(Clone, Debug, Default)]
pub struct OrganisationMatcher {
    by_identifier: HashMap<String, BTreeSet<OrganisationId>>,
    by_acronym: HashMap<String, BTreeSet<OrganisationId>>,
    by_name: HashMap<String, BTreeSet<OrganisationId>>,
}

impl OrganisationMatcher {
    pub fn new<'k>(known: impl IntoIterator<Item = &'k KnownOrganisation>) -> Self {
        let mut matcher = Self::default();
        for organisation in known {
            let add = |map: &mut HashMap<String, BTreeSet<OrganisationId>>, key: String| {
                if !key.is_empty() {
                    map.entry(key).or_default().insert(organisation.id);
                }
            };
            if let Some(identifier) = &organisation.iati_identifier {
                add(&mut matcher.by_identifier, identifier_key(identifier));
            }
            if let Some(acronym) = &organisation.acronym {
                add(&mut matcher.by_acronym, acronym_key(acronym));
            }
            add(&mut matcher.by_name, name_key(&organisation.name));
        }
        matcher
    }

    pub fn find(&self, mention: &OrganisationMention<'_>) -> OrganisationMatch {
        let name = present(mention.name);
        let acronym = present(mention.acronym);
        let identifier = present(mention.identifier);
        let bracketed = name.and_then(|n| split_bracketed_acronym(n).1);
        // The name column sometimes holds the identifier itself, or the acronym.
        let tests: [(MatchMethod, &HashMap<_, _>, Option<String>); 6] = [
            (
                MatchMethod::Identifier,
                &self.by_identifier,
                identifier.map(identifier_key),
            ),
            (
                MatchMethod::Identifier,
                &self.by_identifier,
                name.map(identifier_key),
            ),
            (
                MatchMethod::Acronym,
                &self.by_acronym,
                acronym.map(acronym_key),
            ),
            (
                MatchMethod::Acronym,
                &self.by_acronym,
                bracketed.map(acronym_key),
            ),
            (
                MatchMethod::Acronym,
                &self.by_acronym,
                name.map(acronym_key),
            ),
            (MatchMethod::Name, &self.by_name, name.map(name_key)),
        ];
        for (method, map, key) in tests {
            let Some(ids) = key.and_then(|k| map.get(&k)) else {
                continue;
            };
            let ids: Vec<OrganisationId> = ids.iter().copied().collect();
            return match ids.as_slice() {
                [id] => OrganisationMatch::Matched(*id, method),
                _ => OrganisationMatch::Ambiguous(ids, method),
            };
        }
        OrganisationMatch::Unmatched
    }
}

/// Matches one mention against known organisations. Build an [`OrganisationMatcher`] once
/// instead when matching many.
pub fn match_organisation(
    mention: &OrganisationMention<'_>,
    known: &[KnownOrganisation],
) -> OrganisationMatch {
    OrganisationMatcher::new(known).find(mention)
}

fn present(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|s| !s.is_empty())
}

fn identifier_key(identifier: &str) -> String {
    identifier.trim().to_ascii_uppercase()
}

fn acronym_key(acronym: &str) -> String {
    acronym.trim().to_lowercase()
}

fn name_key(name: &str) -> String {
    normalise_name(name).replace(' ', "")
}

// ---------------------------------------------------------------------------------------
// Normalisation
// ---------------------------------------------------------------------------------------

/// Lower case with the accents and ligatures of Latin letters folded to ASCII (`Ç` to `c`,
/// `ß` to `ss`, `Œ` to `oe`); other characters are kept as they are. Written out rather than
/// taken from a Unicode normalisation crate because the names in this field are Latin-script
/// (Spanish, French, Portuguese, English) and a table this size is easy to check.
pub fn fold_latin(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        match fold_char(c) {
            Some(folded) => out.push_str(folded),
            None => out.push(c),
        }
    }
    out
}

/// The ASCII for a lower-case Latin-1 or Latin Extended-A letter with a diacritic.
fn fold_char(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => "c",
        'ď' | 'đ' | 'ð' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
        'ĥ' | 'ħ' => "h",
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => "i",
        'ĳ' => "ij",
        'ĵ' => "j",
        'ķ' => "k",
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => "l",
        'ñ' | 'ń' | 'ņ' | 'ň' | 'ŉ' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => "o",
        'œ' => "oe",
        'ŕ' | 'ŗ' | 'ř' => "r",
        'ś' | 'ŝ' | 'ş' | 'š' => "s",
        'ß' => "ss",
        'ţ' | 'ť' | 'ŧ' => "t",
        'þ' => "th",
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
        'ŵ' => "w",
        'ý' | 'ÿ' | 'ŷ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        _ => return None,
    })
}

/// The words of a name: folded, punctuation as spaces. An apostrophe after a single letter
/// is an elision (`l'enfance`, `d'urgence`), so the letter is a word of its own; any other
/// apostrophe is dropped (`Int'l` is `intl`). A trailing acronym in brackets ("Cruz Roja
/// Hondureña (CRH)") is not part of the name.
fn tokens(name: &str) -> Vec<String> {
    let folded = fold_latin(split_bracketed_acronym(name).0);
    let mut words = Vec::new();
    for token in folded.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '\u{2019}')) {
        let mut parts = token.split(['\'', '\u{2019}']).filter(|p| !p.is_empty());
        let Some(head) = parts.next() else { continue };
        let rest: String = parts.collect();
        if head.chars().count() == 1 && !rest.is_empty() {
            words.push(head.to_owned());
            words.push(rest);
        } else {
            words.push(format!("{head}{rest}"));
        }
    }
    words
}

/// "Name (ACR)" to the name and the acronym, when the bracketed part reads as an acronym.
fn split_bracketed_acronym(name: &str) -> (&str, Option<&str>) {
    let trimmed = name.trim();
    let split = trimmed
        .strip_suffix(')')
        .and_then(|rest| rest.rsplit_once('('))
        .filter(|(base, inner)| !base.trim().is_empty() && acronym_of(inner).is_some());
    match split {
        Some((base, inner)) => (base.trim_end(), Some(inner.trim())),
        None => (trimmed, None),
    }
}

fn is_connector(word: &str) -> bool {
    CONNECTORS.contains(&word)
}

fn is_boilerplate(word: &str) -> bool {
    BOILERPLATE.contains(&word)
}

/// A name as the matcher compares it: lower case, accents folded, punctuation removed,
/// spaces collapsed, a trailing bracketed acronym, connectors ([`CONNECTORS`]) and legal or
/// boilerplate words ([`BOILERPLATE`]) dropped. "Save the children International" is
/// `save children`.
pub fn normalise_name(name: &str) -> String {
    let words: Vec<String> = tokens(name)
        .into_iter()
        .filter(|w| !is_connector(w) && !is_boilerplate(w))
        .collect();
    words.join(" ")
}

/// The initials a name's acronym could be. Conventions differ: "Médicos del Mundo" is MDM
/// (connectors kept), "Programa Mundial de Alimentos" is PMA (connectors skipped), "Save the
/// Children International" is SCI or SC (boilerplate kept or not). Each word list of two
/// words or more gives its initials; duplicates are left out.
fn initials(name: &str) -> Vec<String> {
    let all = tokens(name);
    let without_connectors: Vec<String> =
        all.iter().filter(|w| !is_connector(w)).cloned().collect();
    let plain: Vec<String> = without_connectors
        .iter()
        .filter(|w| !is_boilerplate(w))
        .cloned()
        .collect();
    let mut out: Vec<String> = Vec::new();
    for words in [&all, &without_connectors, &plain] {
        if words.len() < 2 {
            continue;
        }
        let letters: String = words.iter().filter_map(|w| w.chars().next()).collect();
        if !out.contains(&letters) {
            out.push(letters);
        }
    }
    out
}

/// A name that reads as an acronym: one token of 2 to 8 upper-case letters, dots allowed
/// (`PMA`, `U.N.`). Requiring capitals keeps ordinary one-word names ("Plan", "Goal") from
/// being read as someone's initials.
fn acronym_of(text: &str) -> Option<String> {
    let compact: String = text.trim().chars().filter(|c| *c != '.').collect();
    let letters = compact.chars().count();
    let shaped = (2..=8).contains(&letters)
        && compact
            .chars()
            .all(|c| c.is_alphabetic() && c.is_uppercase());
    shaped.then(|| fold_latin(&compact))
}

// ---------------------------------------------------------------------------------------
// Duplicate suggestions
// ---------------------------------------------------------------------------------------

/// Why two names are suggested as the same organisation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum DuplicateReason {
    /// Both normalise to the same name (compared without spaces).
    SameNormalisedName {
        first: String,
        second: String,
        normalised: String,
    },
    /// The acronym is the initials of the name.
    AcronymOfName { acronym: String, name: String },
}

/// Names that probably mean one organisation, with every link that joined them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DuplicateSuggestion {
    /// In the order the names were first given.
    pub names: Vec<String>,
    pub reasons: Vec<DuplicateReason>,
}

/// Groups names that probably mean the same organisation: equal normalised names, and an
/// acronym-shaped name equal to the initials of another. Exact repeats of a name are one
/// name. Groups come in the order of their first name; names that join nothing are left out.
pub fn suggest_duplicates<S: AsRef<str>>(names: &[S]) -> Vec<DuplicateSuggestion> {
    let mut distinct: Vec<&str> = Vec::new();
    for name in names {
        let name = name.as_ref().trim();
        if !name.is_empty() && !distinct.contains(&name) {
            distinct.push(name);
        }
    }
    let mut groups = UnionFind::new(distinct.len());
    let mut reasons: Vec<(usize, DuplicateReason)> = Vec::new();

    let mut by_key: HashMap<String, usize> = HashMap::new();
    for (i, name) in distinct.iter().enumerate() {
        let key = name_key(name);
        if key.is_empty() {
            continue;
        }
        match by_key.get(&key) {
            Some(&first) => {
                groups.join(first, i);
                reasons.push((
                    first,
                    DuplicateReason::SameNormalisedName {
                        first: distinct[first].to_owned(),
                        second: (*name).to_owned(),
                        normalised: normalise_name(name),
                    },
                ));
            }
            None => {
                by_key.insert(key, i);
            }
        }
    }

    let mut acronyms: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, name) in distinct.iter().enumerate() {
        if let Some(acronym) = acronym_of(name) {
            acronyms.entry(acronym).or_default().push(i);
        }
    }
    for (i, name) in distinct.iter().enumerate() {
        for candidate in initials(name) {
            for &a in acronyms.get(&candidate).into_iter().flatten() {
                if a == i {
                    continue;
                }
                groups.join(a, i);
                reasons.push((
                    a.min(i),
                    DuplicateReason::AcronymOfName {
                        acronym: distinct[a].to_owned(),
                        name: (*name).to_owned(),
                    },
                ));
            }
        }
    }

    let mut members: HashMap<usize, Vec<usize>> = HashMap::new();
    for i in 0..distinct.len() {
        members.entry(groups.root(i)).or_default().push(i);
    }
    let mut out: Vec<(usize, DuplicateSuggestion)> = members
        .into_values()
        .filter(|m| m.len() > 1)
        .map(|m| {
            let root = groups.root(m[0]);
            let group_reasons = reasons
                .iter()
                .filter(|(i, _)| groups.root(*i) == root)
                .map(|(_, r)| r.clone())
                .collect();
            (
                m[0],
                DuplicateSuggestion {
                    names: m.iter().map(|&i| distinct[i].to_owned()).collect(),
                    reasons: group_reasons,
                },
            )
        })
        .collect();
    out.sort_by_key(|(first, _)| *first);
    out.into_iter().map(|(_, s)| s).collect()
}

struct UnionFind(Vec<usize>);

impl UnionFind {
    fn new(n: usize) -> Self {
        Self((0..n).collect())
    }

    fn root(&self, mut i: usize) -> usize {
        while self.0[i] != i {
            i = self.0[i];
        }
        i
    }

    /// The smaller index stays the root, so a group's root is its first name.
    fn join(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.root(a), self.root(b));
        let (low, high) = (ra.min(rb), ra.max(rb));
        self.0[high] = low;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Vec<KnownOrganisation> {
        let org =
            |id: i64, name: &str, acronym: Option<&str>, iati: Option<&str>| KnownOrganisation {
                id: OrganisationId(id),
                name: name.into(),
                acronym: acronym.map(Into::into),
                iati_identifier: iati.map(Into::into),
            };
        vec![
            org(
                1,
                "Save the Children International",
                Some("SCI"),
                Some("GB-CHC-1076822"),
            ),
            org(
                2,
                "International Rescue Committee",
                Some("IRC"),
                Some("US-EIN-135660870"),
            ),
            org(3, "Plan International", Some("PLAN"), None),
            org(4, "World Vision International", Some("WVI"), None),
            org(
                5,
                "Programa Mundial de Alimentos",
                Some("PMA"),
                Some("XM-DAC-41140"),
            ),
            org(6, "Cáritas Honduras", None, None),
            org(7, "Médicos del Mundo", Some("MDM"), None),
            org(8, "Médicos Sin Fronteras", Some("MSF"), None),
            org(9, "ChildFund", None, None),
            org(10, "Cruz Roja Hondureña", Some("CRH"), None),
            org(11, "Mercy Corps", Some("MC"), None),
            org(12, "Malteser International", Some("MC"), None),
        ]
    }

    fn find(mention: OrganisationMention<'_>) -> OrganisationMatch {
        match_organisation(&mention, &known())
    }

    fn by_name(name: &str) -> OrganisationMatch {
        find(OrganisationMention::name(name))
    }

    use MatchMethod::*;
    use OrganisationMatch::*;

    #[test]
    fn identifier_first_then_acronym_then_name() {
        // The identifier wins even when the name points elsewhere.
        let mention = OrganisationMention {
            name: Some("Plan International"),
            acronym: None,
            identifier: Some(" gb-chc-1076822 "),
        };
        assert_eq!(find(mention), Matched(OrganisationId(1), Identifier));
        assert_eq!(
            by_name("XM-DAC-41140"),
            Matched(OrganisationId(5), Identifier)
        );
        let mention = OrganisationMention {
            name: Some("Plan International"),
            acronym: Some("irc"),
            identifier: None,
        };
        assert_eq!(find(mention), Matched(OrganisationId(2), Acronym));
        assert_eq!(by_name("wvi"), Matched(OrganisationId(4), Acronym));
        assert_eq!(by_name(" PMA "), Matched(OrganisationId(5), Acronym));
    }

    #[test]
    fn names_match_after_normalisation() {
        assert_eq!(
            by_name("Save the children  International"),
            Matched(OrganisationId(1), Name)
        );
        assert_eq!(
            by_name("SAVE THE CHILDREN"),
            Matched(OrganisationId(1), Name)
        );
        assert_eq!(
            by_name("Caritas HONDURAS"),
            Matched(OrganisationId(6), Name)
        );
        assert_eq!(by_name("Child Fund"), Matched(OrganisationId(9), Name));
        assert_eq!(
            by_name("Medicos del mundo"),
            Matched(OrganisationId(7), Name)
        );
        assert_eq!(by_name("Plan"), Matched(OrganisationId(3), Acronym));
        assert_eq!(
            by_name("Plan Internacional"),
            Matched(OrganisationId(3), Name)
        );
        assert_eq!(
            by_name("Cruz Roja Hondureña (CRH)"),
            Matched(OrganisationId(10), Acronym)
        );
        assert_eq!(
            by_name("Cruz Roja Hondurena (Honduras)"),
            Unmatched,
            "only an acronym in brackets is set apart from the name"
        );
    }

    #[test]
    fn near_misses_do_not_match() {
        for name in [
            "International Rescue",
            "Save the Elephants",
            "Médicos Sin Fronteras España",
            "Cruz Verde",
            "Children",
            "UNICEF",
            "Plan Rescue",
            "International",
            "ONG Internacional",
            "",
            "   ",
        ] {
            assert_eq!(by_name(name), Unmatched, "{name:?}");
        }
        // Plan and IRC both carry "International", which is boilerplate, not identity.
        assert_ne!(
            normalise_name("Plan International"),
            normalise_name("International Rescue Committee")
        );
        assert_eq!(
            by_name("International Rescue Committee"),
            Matched(OrganisationId(2), Name)
        );
        assert_eq!(
            by_name("Médicos Sin Fronteras"),
            Matched(OrganisationId(8), Name)
        );
    }

    #[test]
    fn two_known_organisations_on_one_test_are_ambiguous() {
        assert_eq!(
            by_name("mc"),
            Ambiguous(vec![OrganisationId(11), OrganisationId(12)], Acronym)
        );
    }

    #[test]
    fn normalisation() {
        assert_eq!(
            normalise_name("Save the children International"),
            "save children"
        );
        assert_eq!(normalise_name("  AYUDA EN ACCIÓN "), "ayuda en accion");
        assert_eq!(normalise_name("Misiones del Agua Int'l"), "misiones agua");
        assert_eq!(
            normalise_name("Protection de l'Enfance / Fondation X"),
            "protection enfance x"
        );
        assert_eq!(
            normalise_name("Asociación Gente Ayudando Gente"),
            "gente ayudando gente"
        );
        assert_eq!(normalise_name("The Shalom Foundation"), "shalom");
        assert_eq!(
            fold_latin("ÇÃO Œuvre Straße ÅŁÓDŹ"),
            "cao oeuvre strasse alodz"
        );
        assert_eq!(
            initials("International Rescue Committee"),
            vec!["irc", "rc"]
        );
        assert_eq!(
            initials("Save the Children International"),
            vec!["stci", "sci", "sc"]
        );
        assert_eq!(initials("Médicos del Mundo"), vec!["mdm", "mm"]);
        assert_eq!(initials("Cruz Roja Hondureña (CRH)"), vec!["crh"]);
        assert_eq!(initials("UNICEF"), Vec::<String>::new());
        assert_eq!(acronym_of("U.N.H.C.R."), Some("unhcr".into()));
        assert_eq!(acronym_of("Plan"), None);
        assert_eq!(acronym_of("ACCIÓN"), Some("accion".into()));
        assert_eq!(acronym_of("CHILD FUND"), None);
    }

    #[test]
    fn save_the_children_names_are_one_suggested_group() {
        let suggestions = suggest_duplicates(&[
            "SC",
            "Save the Children",
            "Plan International",
            "Save the children International",
            "International Rescue Committee",
            "SC",
        ]);
        assert_eq!(
            suggestions,
            vec![DuplicateSuggestion {
                names: vec![
                    "SC".into(),
                    "Save the Children".into(),
                    "Save the children International".into(),
                ],
                reasons: vec![
                    DuplicateReason::SameNormalisedName {
                        first: "Save the Children".into(),
                        second: "Save the children International".into(),
                        normalised: "save children".into(),
                    },
                    DuplicateReason::AcronymOfName {
                        acronym: "SC".into(),
                        name: "Save the Children".into(),
                    },
                    DuplicateReason::AcronymOfName {
                        acronym: "SC".into(),
                        name: "Save the children International".into(),
                    },
                ],
            }]
        );
    }

    #[test]
    fn suggestions_leave_near_misses_apart() {
        let suggestions = suggest_duplicates(&[
            "Plan International",
            "International Rescue Committee",
            "IRC",
            "PI",
            "Cruz Roja",
            "Cruz Verde",
            "Médicos del Mundo",
            "Médicos Sin Fronteras",
            "MSF",
            "Plan",
            "CARITAS",
            "Cáritas",
            "MDM",
        ]);
        let groups: Vec<Vec<&str>> = suggestions
            .iter()
            .map(|s| s.names.iter().map(String::as_str).collect())
            .collect();
        assert_eq!(
            groups,
            vec![
                vec!["Plan International", "PI", "Plan"],
                vec!["International Rescue Committee", "IRC"],
                vec!["Médicos del Mundo", "MDM"],
                vec!["Médicos Sin Fronteras", "MSF"],
                vec!["CARITAS", "Cáritas"],
            ]
        );
    }
}
