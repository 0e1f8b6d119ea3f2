//! Who may read and change what (DESIGN.md section 5), as pure rules. The API decides who is
//! calling and asks here; the store turns a `ReadScope` into SQL with the same meaning as
//! `ReadScope::allows`, so a rule holds on every database and in every code path.
//!
//! - ADMIN: everything.
//! - COORDINATOR: reads everything PUBLIC and PARTNERS, and RESTRICTED records inside the
//!   areas and sectors it coordinates; states needs there; registers organisations.
//! - EDITOR: reads like any signed-in user plus its own organisations' RESTRICTED records;
//!   writes only interventions (and their progress) whose reporting organisation is its own.
//! - VIEWER: reads like an editor, writes nothing.
//! - API key: acts for one organisation, read-only or read-write.
//! - Anonymous: PUBLIC records only, when the deployment allows public reading.

use serde::{Deserialize, Serialize};

use crate::area::AreaPath;
use crate::organisation::OrganisationId;
use crate::reference::SectorVocabulary;
use crate::values::{Visibility, code_enum};

code_enum!(
    /// A user's role on the platform.
    Role { Admin = "ADMIN", Coordinator = "COORDINATOR", Editor = "EDITOR", Viewer = "VIEWER" }
);

code_enum!(
    /// What an API key may do for its organisation.
    KeyScope { Read = "READ", ReadWrite = "READ_WRITE" }
);

#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct UserId(pub i64);

#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct ApiKeyId(pub i64);

/// The areas and sectors a coordination body coordinates. A record is in scope when it is
/// located in (or below) one of the areas, if any are named, and works in one of the
/// sectors, if any are named. A scope naming neither covers nothing: coordinators are given
/// their responsibility explicitly.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CoordinatorScope {
    pub areas: Vec<AreaPath>,
    /// Already expanded through the crosswalk (a cluster brings its DAC codes).
    pub sectors: Vec<(SectorVocabulary, String)>,
}

impl CoordinatorScope {
    pub fn is_empty(&self) -> bool {
        self.areas.is_empty() && self.sectors.is_empty()
    }

    /// Whether a place lies in the coordinated areas (any place, when no area is named).
    pub fn covers_area(&self, path: &AreaPath) -> bool {
        self.areas.is_empty() || self.areas.iter().any(|a| a.is_ancestor_or_self_of(path))
    }

    /// Whether a sector is coordinated (any sector, when no sector is named).
    pub fn covers_sector(&self, sector: &(SectorVocabulary, String)) -> bool {
        self.sectors.is_empty() || self.sectors.contains(sector)
    }

    pub fn covers(&self, locations: &[AreaPath], sectors: &[(SectorVocabulary, String)]) -> bool {
        !self.is_empty()
            && locations.iter().any(|l| self.covers_area(l))
            && sectors.iter().any(|s| self.covers_sector(s))
    }
}

/// Who is calling.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Principal {
    #[default]
    Anonymous,
    User {
        id: UserId,
        role: Role,
        organisations: Vec<OrganisationId>,
        scope: CoordinatorScope,
    },
    ApiKey {
        id: ApiKeyId,
        organisation: OrganisationId,
        scope: KeyScope,
    },
}

/// What a caller may read. The store filters every list, count and lookup through it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadScope {
    /// Administrators read everything.
    pub everything: bool,
    /// Any signed-in caller reads PARTNERS records.
    pub partners: bool,
    /// RESTRICTED records these organisations report.
    pub own_organisations: Vec<OrganisationId>,
    /// RESTRICTED records inside a coordinated scope.
    pub coordinated: Option<CoordinatorScope>,
}

/// The facts about one record that decide who may read it.
#[derive(Clone, Copy, Debug)]
pub struct RecordAccess<'a> {
    pub visibility: Visibility,
    pub reporting_organisation: OrganisationId,
    pub locations: &'a [AreaPath],
    pub sectors: &'a [(SectorVocabulary, String)],
}

impl ReadScope {
    /// The scope of an anonymous caller on a deployment that allows public reading.
    pub fn public() -> Self {
        Self::default()
    }

    pub fn allows(&self, record: &RecordAccess<'_>) -> bool {
        if self.everything {
            return true;
        }
        match record.visibility {
            Visibility::Public => true,
            Visibility::Partners => self.partners,
            Visibility::Restricted => {
                self.own_organisations
                    .contains(&record.reporting_organisation)
                    || self
                        .coordinated
                        .as_ref()
                        .is_some_and(|s| s.covers(record.locations, record.sectors))
            }
        }
    }
}

impl Principal {
    pub fn is_signed_in(&self) -> bool {
        !matches!(self, Principal::Anonymous)
    }

    pub fn role(&self) -> Option<Role> {
        match self {
            Principal::User { role, .. } => Some(*role),
            _ => None,
        }
    }

    /// An operator at the command line: the machine's owner, who may do anything an
    /// administrator may.
    pub fn operator() -> Self {
        Principal::User {
            id: UserId(0),
            role: Role::Admin,
            organisations: Vec::new(),
            scope: CoordinatorScope::default(),
        }
    }

    pub fn is_admin(&self) -> bool {
        self.role() == Some(Role::Admin)
    }

    /// The organisations the caller acts for.
    pub fn organisations(&self) -> Vec<OrganisationId> {
        match self {
            Principal::Anonymous => Vec::new(),
            Principal::User { organisations, .. } => organisations.clone(),
            Principal::ApiKey { organisation, .. } => vec![*organisation],
        }
    }

    pub fn read_scope(&self) -> ReadScope {
        match self {
            Principal::Anonymous => ReadScope::public(),
            Principal::User {
                role: Role::Admin, ..
            } => ReadScope {
                everything: true,
                partners: true,
                ..Default::default()
            },
            Principal::User {
                role,
                organisations,
                scope,
                ..
            } => ReadScope {
                everything: false,
                partners: true,
                own_organisations: organisations.clone(),
                coordinated: (*role == Role::Coordinator).then(|| scope.clone()),
            },
            Principal::ApiKey { organisation, .. } => ReadScope {
                everything: false,
                partners: true,
                own_organisations: vec![*organisation],
                coordinated: None,
            },
        }
    }

    /// Whether the caller may write records reported by `organisation`: an administrator,
    /// an editor of that organisation, or a read-write key of it.
    pub fn may_write_for(&self, organisation: OrganisationId) -> bool {
        match self {
            Principal::Anonymous => false,
            Principal::User {
                role: Role::Admin, ..
            } => true,
            Principal::User {
                role: Role::Editor,
                organisations,
                ..
            } => organisations.contains(&organisation),
            Principal::User { .. } => false,
            Principal::ApiKey {
                organisation: own,
                scope,
                ..
            } => *scope == KeyScope::ReadWrite && *own == organisation,
        }
    }

    /// Whether the caller may state people in need for a place and sector (None: the
    /// intersectoral figure, which only a coordinator of every sector there may state).
    pub fn may_state_need(
        &self,
        area: &AreaPath,
        sector: Option<&(SectorVocabulary, String)>,
    ) -> bool {
        match self {
            Principal::User {
                role: Role::Admin, ..
            } => true,
            Principal::User {
                role: Role::Coordinator,
                scope,
                ..
            } => {
                !scope.is_empty()
                    && scope.covers_area(area)
                    && match sector {
                        Some(s) => scope.covers_sector(s),
                        None => scope.sectors.is_empty(),
                    }
            }
            _ => false,
        }
    }

    /// Registering organisations is for the platform and the coordination bodies.
    pub fn may_register_organisations(&self) -> bool {
        matches!(self.role(), Some(Role::Admin | Role::Coordinator))
    }

    /// Keys are issued by an administrator or an editor of the organisation they act for.
    pub fn may_manage_keys_of(&self, organisation: OrganisationId) -> bool {
        match self {
            Principal::User {
                role: Role::Admin, ..
            } => true,
            Principal::User {
                role: Role::Editor,
                organisations,
                ..
            } => organisations.contains(&organisation),
            _ => false,
        }
    }

    /// The audit trail is for administrators and coordinators.
    pub fn may_read_audit(&self) -> bool {
        matches!(self.role(), Some(Role::Admin | Role::Coordinator))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::area::Pcode;

    fn path(codes: &[&str]) -> AreaPath {
        let mut p = AreaPath::root(&Pcode::parse(codes[0]).unwrap());
        for c in &codes[1..] {
            p = p.child(&Pcode::parse(c).unwrap());
        }
        p
    }

    fn wash() -> (SectorVocabulary, String) {
        (SectorVocabulary::Cluster, "11".into())
    }

    fn food() -> (SectorVocabulary, String) {
        (SectorVocabulary::Cluster, "6".into())
    }

    fn user(role: Role, orgs: &[i64], scope: CoordinatorScope) -> Principal {
        Principal::User {
            id: UserId(1),
            role,
            organisations: orgs.iter().map(|o| OrganisationId(*o)).collect(),
            scope,
        }
    }

    fn record<'a>(
        visibility: Visibility,
        org: i64,
        locations: &'a [AreaPath],
        sectors: &'a [(SectorVocabulary, String)],
    ) -> RecordAccess<'a> {
        RecordAccess {
            visibility,
            reporting_organisation: OrganisationId(org),
            locations,
            sectors,
        }
    }

    #[test]
    fn visibility_by_principal() {
        let here = [path(&["ET", "ET02", "ET0201"])];
        let sectors = [wash()];
        let restricted = record(Visibility::Restricted, 1, &here, &sectors);
        let partners = record(Visibility::Partners, 1, &here, &sectors);
        let public = record(Visibility::Public, 1, &here, &sectors);

        let anonymous = Principal::Anonymous.read_scope();
        assert!(anonymous.allows(&public));
        assert!(!anonymous.allows(&partners));
        assert!(!anonymous.allows(&restricted));

        let viewer_a = user(Role::Viewer, &[1], CoordinatorScope::default()).read_scope();
        assert!(
            viewer_a.allows(&restricted),
            "members read their organisation's restricted work"
        );
        let editor_b = user(Role::Editor, &[2], CoordinatorScope::default()).read_scope();
        assert!(editor_b.allows(&partners));
        assert!(!editor_b.allows(&restricted));

        let afar_wash = CoordinatorScope {
            areas: vec![path(&["ET", "ET02"])],
            sectors: vec![wash()],
        };
        assert!(
            user(Role::Coordinator, &[], afar_wash.clone())
                .read_scope()
                .allows(&restricted)
        );
        let afar_food = CoordinatorScope {
            sectors: vec![food()],
            ..afar_wash.clone()
        };
        assert!(
            !user(Role::Coordinator, &[], afar_food)
                .read_scope()
                .allows(&restricted)
        );
        let oromia = CoordinatorScope {
            areas: vec![path(&["ET", "ET04"])],
            sectors: vec![],
        };
        assert!(
            !user(Role::Coordinator, &[], oromia)
                .read_scope()
                .allows(&restricted)
        );
        assert!(
            !user(Role::Coordinator, &[], CoordinatorScope::default())
                .read_scope()
                .allows(&restricted),
            "an empty scope covers nothing"
        );
        assert!(
            user(Role::Admin, &[], CoordinatorScope::default())
                .read_scope()
                .allows(&restricted)
        );

        let key = Principal::ApiKey {
            id: ApiKeyId(1),
            organisation: OrganisationId(1),
            scope: KeyScope::Read,
        };
        assert!(key.read_scope().allows(&restricted));
    }

    #[test]
    fn writing_is_for_the_reporting_organisation() {
        let a = OrganisationId(1);
        assert!(user(Role::Editor, &[1], CoordinatorScope::default()).may_write_for(a));
        assert!(!user(Role::Editor, &[2], CoordinatorScope::default()).may_write_for(a));
        assert!(!user(Role::Viewer, &[1], CoordinatorScope::default()).may_write_for(a));
        assert!(!user(Role::Coordinator, &[1], CoordinatorScope::default()).may_write_for(a));
        assert!(user(Role::Admin, &[], CoordinatorScope::default()).may_write_for(a));
        let read_key = Principal::ApiKey {
            id: ApiKeyId(1),
            organisation: a,
            scope: KeyScope::Read,
        };
        let write_key = Principal::ApiKey {
            id: ApiKeyId(2),
            organisation: a,
            scope: KeyScope::ReadWrite,
        };
        assert!(!read_key.may_write_for(a));
        assert!(write_key.may_write_for(a));
        assert!(!write_key.may_write_for(OrganisationId(2)));
        assert!(!Principal::Anonymous.may_write_for(a));
    }

    #[test]
    fn needs_are_stated_by_coordinators_in_scope() {
        let zone = path(&["ET", "ET02", "ET0201"]);
        let coordinator = user(
            Role::Coordinator,
            &[],
            CoordinatorScope {
                areas: vec![path(&["ET", "ET02"])],
                sectors: vec![wash()],
            },
        );
        assert!(coordinator.may_state_need(&zone, Some(&wash())));
        assert!(!coordinator.may_state_need(&zone, Some(&food())));
        assert!(
            !coordinator.may_state_need(&zone, None),
            "intersectoral needs every sector"
        );
        assert!(!coordinator.may_state_need(&path(&["ET", "ET04"]), Some(&wash())));
        let area_coordinator = user(
            Role::Coordinator,
            &[],
            CoordinatorScope {
                areas: vec![path(&["ET", "ET02"])],
                sectors: vec![],
            },
        );
        assert!(area_coordinator.may_state_need(&zone, None));
        assert!(!user(Role::Editor, &[1], CoordinatorScope::default()).may_state_need(&zone, None));
    }
}
