//! The coverage engine's inputs held in memory, indexed by area, so that a question about
//! one area (its gaps, its drill-down) reads only the work located in or under the areas
//! that matter to it instead of reloading them. The index is plain data: whoever keeps it
//! (the API) tells it what changed; what counts and how is still `coverage`'s business.

use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDate;

use crate::area::AreaPath;
use crate::coverage::{CoverageIntervention, NeedFigure};
use crate::intervention::InterventionId;
use crate::values::{Period, Visibility};

/// One progress report's figure: people reached in a reporting period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReachFigure {
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub reached: u64,
}

/// The reach of an intervention in `period`: the latest report lying inside it. Reports are
/// cumulative over their own period, so adding them would count people twice; a target is
/// never a reach, so no report means no reach.
pub fn reach_in(reports: &[ReachFigure], period: &Period) -> Option<u64> {
    reports
        .iter()
        .filter(|r| r.start >= period.start() && period.end().is_none_or(|end| r.end <= end))
        // Of equal ends the later report wins: reports arrive in id order, and a second
        // report for the same period corrects the first.
        .fold(None::<&ReachFigure>, |best, r| match best {
            Some(b) if b.end > r.end => Some(b),
            _ => Some(r),
        })
        .map(|r| r.reached)
}

/// An intervention as the index keeps it: the engine's view (its `reached` left empty,
/// since reach depends on the period asked about), who may read it, and its reports.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexedIntervention {
    pub intervention: CoverageIntervention,
    pub visibility: Visibility,
    pub reports: Vec<ReachFigure>,
}

/// What one question needs: the work and needs in and under an area, reach computed for the
/// period asked about.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CoverageSlice {
    pub interventions: Vec<CoverageIntervention>,
    pub visibility: HashMap<InterventionId, Visibility>,
    pub needs: Vec<NeedFigure>,
}

/// The inputs, with every intervention listed under each area it is located in and each of
/// that area's ancestors, so a subtree is one lookup.
#[derive(Clone, Debug, Default)]
pub struct CoverageIndex {
    interventions: HashMap<InterventionId, IndexedIntervention>,
    // Sorted sets: a slice lists interventions in id order whatever the order of writes,
    // so the same data gives the same answer.
    by_area: HashMap<String, BTreeSet<InterventionId>>,
    needs: Vec<NeedFigure>,
    needs_by_area: HashMap<String, Vec<usize>>,
}

/// The path of every area from the root down to `path` itself (`/ET/`, `/ET/ET02/`, ...).
fn subtree_keys(path: &AreaPath) -> impl Iterator<Item = &str> {
    let s = path.as_str();
    s.char_indices()
        .skip(1)
        .filter(|&(_, c)| c == '/')
        .map(move |(i, _)| &s[..=i])
}

impl CoverageIndex {
    pub fn new(interventions: Vec<IndexedIntervention>, needs: Vec<NeedFigure>) -> Self {
        let mut index = Self::default();
        for i in interventions {
            index.upsert(i);
        }
        index.replace_needs(needs);
        index
    }

    pub fn len(&self) -> usize {
        self.interventions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.interventions.is_empty()
    }

    /// Adds an intervention, or replaces the one with its id (its locations may have moved).
    pub fn upsert(&mut self, item: IndexedIntervention) {
        let id = item.intervention.id;
        self.remove(id);
        for (path, _) in &item.intervention.locations {
            for key in subtree_keys(path) {
                self.by_area.entry(key.to_owned()).or_default().insert(id);
            }
        }
        self.interventions.insert(id, item);
    }

    pub fn remove(&mut self, id: InterventionId) {
        let Some(old) = self.interventions.remove(&id) else {
            return;
        };
        for (path, _) in &old.intervention.locations {
            for key in subtree_keys(path) {
                if let Some(set) = self.by_area.get_mut(key) {
                    set.remove(&id);
                    if set.is_empty() {
                        self.by_area.remove(key);
                    }
                }
            }
        }
    }

    /// Needs are few (areas x sectors x periods) next to interventions: they are replaced
    /// whole.
    pub fn replace_needs(&mut self, needs: Vec<NeedFigure>) {
        self.needs_by_area.clear();
        for (i, need) in needs.iter().enumerate() {
            for key in subtree_keys(&need.area) {
                self.needs_by_area
                    .entry(key.to_owned())
                    .or_default()
                    .push(i);
            }
        }
        self.needs = needs;
    }

    /// The work located in `within` or under it (everything when `None`) and the needs
    /// stated there, with each intervention's reach in `period`. Work outside the period is
    /// included: the engine filters by period itself, and ENDING looks past it.
    pub fn slice(&self, within: Option<&AreaPath>, period: &Period) -> CoverageSlice {
        let ids: Vec<InterventionId> = match within {
            Some(area) => self
                .by_area
                .get(area.as_str())
                .map(|set| set.iter().copied().collect())
                .unwrap_or_default(),
            None => {
                let mut all: Vec<InterventionId> = self.interventions.keys().copied().collect();
                all.sort_unstable();
                all
            }
        };
        let mut slice = CoverageSlice::default();
        for id in ids {
            let Some(item) = self.interventions.get(&id) else {
                continue;
            };
            let mut intervention = item.intervention.clone();
            intervention.reached = reach_in(&item.reports, period);
            slice.visibility.insert(id, item.visibility);
            slice.interventions.push(intervention);
        }
        slice.needs = match within {
            Some(area) => self
                .needs_by_area
                .get(area.as_str())
                .map(|list| list.iter().map(|&i| self.needs[i].clone()).collect())
                .unwrap_or_default(),
            None => self.needs.clone(),
        };
        slice
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::area::Pcode;
    use crate::need::NeedSector;
    use crate::organisation::OrganisationId;
    use crate::reference::SectorVocabulary;
    use crate::values::ActivityStatus;

    fn day(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, d).unwrap()
    }

    fn path(pcodes: &[&str]) -> AreaPath {
        let mut codes = pcodes.iter().map(|p| Pcode::parse(p).unwrap());
        let root = AreaPath::root(&codes.next().unwrap());
        codes.fold(root, |p, c| p.child(&c))
    }

    fn year() -> Period {
        Period::new("period", day(1, 1), Some(day(12, 31))).unwrap()
    }

    fn item(id: i64, at: &[&[&str]], reports: Vec<ReachFigure>) -> IndexedIntervention {
        IndexedIntervention {
            intervention: CoverageIntervention {
                id: InterventionId(id),
                organisation: OrganisationId(1),
                status: ActivityStatus::Implementation,
                period: year(),
                sectors: vec![(SectorVocabulary::Cluster, "6".into())],
                locations: at.iter().map(|p| (path(p), None)).collect(),
                target: Some(100),
                reached: None,
                own_ids: vec![format!("X-{id}")],
                linked_ids: vec![],
                implementing: true,
                disjoint: false,
            },
            visibility: Visibility::Public,
            reports,
        }
    }

    fn need(at: &[&str]) -> NeedFigure {
        NeedFigure {
            area: path(at),
            sector: NeedSector::Intersectoral,
            period: year(),
            people_in_need: 1000,
            severity: None,
        }
    }

    fn ids(slice: &CoverageSlice) -> Vec<i64> {
        slice.interventions.iter().map(|i| i.id.0).collect()
    }

    #[test]
    fn the_latest_report_inside_the_period_is_the_reach() {
        let reports = vec![
            ReachFigure {
                start: day(1, 1),
                end: day(3, 31),
                reached: 40,
            },
            ReachFigure {
                start: day(1, 1),
                end: day(6, 30),
                reached: 70,
            },
            // Ends after the period: not inside it.
            ReachFigure {
                start: day(1, 1),
                end: day(12, 31),
                reached: 99,
            },
        ];
        let half = Period::new("p", day(1, 1), Some(day(6, 30))).unwrap();
        assert_eq!(reach_in(&reports, &half), Some(70));
        assert_eq!(reach_in(&reports, &year()), Some(99));
        let later = Period::new("p", day(7, 1), Some(day(12, 31))).unwrap();
        assert_eq!(reach_in(&reports, &later), None);
        assert_eq!(reach_in(&[], &year()), None);
    }

    #[test]
    fn a_slice_holds_the_work_and_needs_in_and_under_the_area_only() {
        let index = CoverageIndex::new(
            vec![
                item(1, &[&["ET", "ET02", "ET0201"]], vec![]),
                item(2, &[&["ET", "ET02"]], vec![]),
                item(3, &[&["ET", "ET03", "ET0301"]], vec![]),
                // Two districts of one province: listed once.
                item(
                    4,
                    &[&["ET", "ET02", "ET0201"], &["ET", "ET02", "ET0202"]],
                    vec![],
                ),
            ],
            vec![need(&["ET", "ET02", "ET0201"]), need(&["ET", "ET03"])],
        );
        let province = index.slice(Some(&path(&["ET", "ET02"])), &year());
        assert_eq!(ids(&province), vec![1, 2, 4]);
        assert_eq!(province.needs.len(), 1);
        let district = index.slice(Some(&path(&["ET", "ET02", "ET0201"])), &year());
        assert_eq!(ids(&district), vec![1, 4]);
        assert_eq!(ids(&index.slice(None, &year())), vec![1, 2, 3, 4]);
        assert_eq!(index.slice(None, &year()).needs.len(), 2);
        // ET0202's prefix is not ET020: the keys end at the slash.
        assert!(
            index
                .slice(Some(&path(&["ET", "ET02", "ET0202"])), &year())
                .interventions
                .iter()
                .all(|i| i.id.0 == 4)
        );
    }

    #[test]
    fn an_upsert_moves_an_intervention_and_a_removal_forgets_it() {
        let mut index = CoverageIndex::new(vec![item(1, &[&["ET", "ET02"]], vec![])], vec![]);
        index.upsert(item(1, &[&["ET", "ET03"]], vec![]));
        assert!(ids(&index.slice(Some(&path(&["ET", "ET02"])), &year())).is_empty());
        assert_eq!(
            ids(&index.slice(Some(&path(&["ET", "ET03"])), &year())),
            vec![1]
        );
        index.remove(InterventionId(1));
        assert!(index.is_empty());
        assert!(ids(&index.slice(Some(&path(&["ET"])), &year())).is_empty());
    }

    #[test]
    fn reach_is_computed_for_the_period_asked_about() {
        let index = CoverageIndex::new(
            vec![item(
                1,
                &[&["ET", "ET02"]],
                vec![ReachFigure {
                    start: day(1, 1),
                    end: day(3, 31),
                    reached: 40,
                }],
            )],
            vec![],
        );
        let q1 = Period::new("p", day(1, 1), Some(day(3, 31))).unwrap();
        let q2 = Period::new("p", day(4, 1), Some(day(6, 30))).unwrap();
        assert_eq!(index.slice(None, &q1).interventions[0].reached, Some(40));
        assert_eq!(index.slice(None, &q2).interventions[0].reached, None);
    }
}
