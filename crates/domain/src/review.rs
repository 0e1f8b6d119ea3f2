//! Reviewing overlap findings: the workflow's statuses, who may review, who may see a
//! finding, and how a stored intervention becomes an overlap candidate.
//!
//! A finding is shown only to callers who may read both of its interventions. A RESTRICTED
//! record (a GBV safe space, say) must not be revealed by its neighbours: telling the other
//! organisation "something restricted overlaps your work here" already says that a
//! protection service operates in that place. Coordinators in scope and administrators see
//! both sides, and they are the ones who reconcile such work.

use std::collections::HashMap;

use crate::access::{Principal, ReadScope, RecordAccess, Role};
use crate::area::{AreaPath, Pcode};
use crate::intervention::{Intervention, InterventionId};
use crate::organisation::OrganisationId;
use crate::overlap::OverlapCandidate;
use crate::population::Population;
use crate::reference::SectorVocabulary;
use crate::values::{ActivityStatus, Period, code_enum};

code_enum!(
    /// Where a finding stands: OPEN until someone who may review says what it is.
    ReviewStatus {
        Open = "OPEN",
        ConfirmedDuplicate = "CONFIRMED_DUPLICATE",
        Complementary = "COMPLEMENTARY",
        Resolved = "RESOLVED",
    }
);

/// Whether the caller may see a finding: only when it may read both interventions.
pub fn may_see(scope: &ReadScope, a: &RecordAccess<'_>, b: &RecordAccess<'_>) -> bool {
    scope.allows(a) && scope.allows(b)
}

/// Reviewers: administrators, coordinators whose scope covers either intervention, and the
/// two organisations involved (their editors and read-write keys); always among those who
/// may see the finding.
pub fn may_review(principal: &Principal, a: &RecordAccess<'_>, b: &RecordAccess<'_>) -> bool {
    if !may_see(&principal.read_scope(), a, b) {
        return false;
    }
    match principal {
        Principal::User {
            role: Role::Coordinator,
            scope,
            ..
        } => [a, b].iter().any(|r| scope.covers(r.locations, r.sectors)),
        _ => {
            principal.may_write_for(a.reporting_organisation)
                || principal.may_write_for(b.reporting_organisation)
        }
    }
}

/// The engine's view of a stored intervention. `paths` holds the materialised path of
/// every P-code the intervention is located in.
pub fn candidate_of(
    intervention: &Intervention,
    paths: &HashMap<Pcode, AreaPath>,
) -> Option<OverlapCandidate> {
    let record = &intervention.record;
    Some(candidate_from(CandidateParts {
        id: intervention.id,
        organisation: record.reporting_organisation,
        status: record.status,
        period: record.effective_period()?,
        sectors: record
            .sectors
            .iter()
            .map(|s| (s.vocabulary, s.code.clone()))
            .collect(),
        locations: record
            .locations
            .iter()
            .filter_map(|l| paths.get(&l.pcode).map(|p| (p.clone(), l.site.clone())))
            .collect(),
        target: record.target.clone(),
        title: record.title.clone(),
        external_id: record.external_id.clone(),
        linked_ids: record.linked_ids(),
    }))
}

/// What the overlap rule reads of a stored record, for a store that reads only that.
pub struct CandidateParts {
    pub id: InterventionId,
    pub organisation: OrganisationId,
    pub status: ActivityStatus,
    /// The effective period (see `NewIntervention::effective_period`).
    pub period: Period,
    pub sectors: Vec<(SectorVocabulary, String)>,
    /// Each location's area path and named site, in the record's order.
    pub locations: Vec<(AreaPath, Option<String>)>,
    pub target: Option<Population>,
    pub title: String,
    pub external_id: String,
    /// As `NewIntervention::linked_ids` gives them.
    pub linked_ids: Vec<String>,
}

/// The engine's view of a record from its parts: the one place a record becomes a
/// candidate, whether it was read whole ([`candidate_of`]) or in parts.
pub fn candidate_from(parts: CandidateParts) -> OverlapCandidate {
    let (locations, sites): (Vec<AreaPath>, Vec<Option<String>>) =
        parts.locations.into_iter().unzip();
    OverlapCandidate {
        id: parts.id,
        organisation: parts.organisation,
        status: parts.status,
        period: parts.period,
        sectors: parts.sectors,
        locations,
        groups: parts
            .target
            .as_ref()
            .map(|t| t.groups.clone())
            .unwrap_or_default(),
        target: parts.target.as_ref().map(|t| t.total.get()),
        title: parts.title,
        sites: sites.into_iter().flatten().collect(),
        own_ids: vec![parts.external_id],
        linked_ids: parts.linked_ids,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::{CoordinatorScope, UserId};
    use crate::organisation::OrganisationId;
    use crate::reference::SectorVocabulary;
    use crate::values::Visibility;

    fn path(codes: &[&str]) -> AreaPath {
        let mut p = AreaPath::root(&Pcode::parse(codes[0]).unwrap());
        for c in &codes[1..] {
            p = p.child(&Pcode::parse(c).unwrap());
        }
        p
    }

    #[test]
    fn restricted_sides_hide_the_finding_and_reviewers_are_the_parties() {
        let here = [path(&["ET", "ET02", "ET0201"])];
        let wash = [(SectorVocabulary::Cluster, "11".to_owned())];
        let public_a = RecordAccess {
            visibility: Visibility::Public,
            reporting_organisation: OrganisationId(1),
            locations: &here,
            sectors: &wash,
        };
        let restricted_b = RecordAccess {
            visibility: Visibility::Restricted,
            reporting_organisation: OrganisationId(2),
            ..public_a
        };
        let editor = |org: i64| Principal::User {
            id: UserId(1),
            role: Role::Editor,
            organisations: vec![OrganisationId(org)],
            scope: CoordinatorScope::default(),
        };
        assert!(!may_see(&editor(1).read_scope(), &public_a, &restricted_b));
        assert!(may_see(&editor(2).read_scope(), &public_a, &restricted_b));
        assert!(may_review(&editor(2), &public_a, &restricted_b));
        let public_b = RecordAccess {
            visibility: Visibility::Public,
            ..restricted_b
        };
        assert!(may_review(&editor(1), &public_a, &public_b));
        assert!(
            !may_review(&editor(3), &public_a, &public_b),
            "a third organisation"
        );
        let coordinator = Principal::User {
            id: UserId(2),
            role: Role::Coordinator,
            organisations: vec![],
            scope: CoordinatorScope {
                areas: vec![path(&["ET", "ET02"])],
                sectors: vec![],
            },
        };
        assert!(may_review(&coordinator, &public_a, &restricted_b));
        let viewer = Principal::User {
            id: UserId(3),
            role: Role::Viewer,
            organisations: vec![OrganisationId(1)],
            scope: CoordinatorScope::default(),
        };
        assert!(!may_review(&viewer, &public_a, &public_b));
    }
}
