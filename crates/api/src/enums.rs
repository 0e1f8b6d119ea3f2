//! GraphQL enums, each the mirror of a domain code list, so the schema is typed while the
//! domain keeps the codes.

use concord_domain::{reference, values};

macro_rules! mirror_enum {
    ($(#[$meta:meta])* $gql:ident => $domain:ty { $($(#[$vmeta:meta])* $gv:ident => $dv:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq)]
        pub enum $gql { $($(#[$vmeta])* $gv),+ }

        impl From<$domain> for $gql {
            fn from(v: $domain) -> Self {
                match v { $(<$domain>::$dv => $gql::$gv),+ }
            }
        }

        impl From<$gql> for $domain {
            fn from(v: $gql) -> Self {
                match v { $($gql::$gv => <$domain>::$dv),+ }
            }
        }
    };
}

mirror_enum!(
    /// Who may read a record: PUBLIC (anyone), PARTNERS (any signed-in user), RESTRICTED (the
    /// reporting organisation, coordinators in scope, admins).
    Visibility => values::Visibility { Public => Public, Partners => Partners, Restricted => Restricted }
);

mirror_enum!(
    /// The level an organisation works at.
    ActorLevel => values::ActorLevel { Local => Local, National => National, Regional => Regional, International => International }
);

mirror_enum!(
    /// IATI ActivityStatus: 1 pipeline, 2 implementation, 3 finalisation, 4 closed, 5 cancelled, 6 suspended.
    ActivityStatus => values::ActivityStatus {
        Pipeline => Pipeline,
        Implementation => Implementation,
        Finalisation => Finalisation,
        Closed => Closed,
        Cancelled => Cancelled,
        Suspended => Suspended,
    }
);

mirror_enum!(
    /// IATI OrganisationRole: 1 funding, 2 accountable, 3 extending, 4 implementing.
    OrganisationRole => values::OrganisationRole { Funding => Funding, Accountable => Accountable, Extending => Extending, Implementing => Implementing }
);

mirror_enum!(
    /// Where an intervention sits on the human security continuum.
    InterventionKind => values::InterventionKind { Prevention => Prevention, Response => Response, Recovery => Recovery }
);

mirror_enum!(
    /// Protection (top-down), empowerment (bottom-up), or both.
    Approach => values::Approach { Protection => Protection, Empowerment => Empowerment, Both => Both }
);

mirror_enum!(
    /// Sex of a population band; ALL when a band is split by age or group only.
    Sex => values::Sex { Female => Female, Male => Male, All => All }
);

mirror_enum!(
    /// HDX HAPI population groups (after UNHCR).
    PopulationGroup => values::PopulationGroup {
        /// Refugees
        Ref => Refugees,
        /// People in a refugee-like situation
        Roc => RefugeeLike,
        /// Asylum seekers
        Asy => AsylumSeekers,
        /// Other people in need of international protection
        Oip => OtherInternationalProtection,
        /// Internally displaced persons
        Idp => InternallyDisplaced,
        /// People in an IDP-like situation
        Ioc => IdpLike,
        /// Stateless people
        Sta => Stateless,
        /// Others of concern
        Ooc => OthersOfConcern,
        /// Host community
        Hst => HostCommunity,
        /// Returned refugees
        Ret => ReturnedRefugees,
        /// Resettled refugees
        Rst => Resettled,
        /// Naturalised refugees
        Nat => Naturalised,
        /// Returned IDPs
        Rdp => ReturnedIdps,
        /// Returnees
        Rri => Returnees,
        /// Everyone
        All => All,
    }
);

mirror_enum!(
    /// IATI SectorVocabulary the registry speaks: 1 (DAC 5-digit), 2 (DAC 3-digit), 10 (humanitarian global clusters).
    SectorVocabulary => reference::SectorVocabulary {
        #[graphql(name = "DAC5")]
        Dac5 => Dac5,
        #[graphql(name = "DAC3")]
        Dac3 => Dac3,
        Cluster => Cluster,
    }
);

mirror_enum!(
    /// The seven dimensions of human security.
    Dimension => reference::Dimension {
        Economic => Economic,
        Food => Food,
        Health => Health,
        Environmental => Environmental,
        Personal => Personal,
        Community => Community,
        Political => Political,
    }
);

mirror_enum!(
    /// The three freedoms of human security.
    Freedom => reference::Freedom { FromFear => FromFear, FromWant => FromWant, ToLiveInDignity => ToLiveInDignity }
);

mirror_enum!(
    /// A user's role: ADMIN (the platform), COORDINATOR (a coordination body, scoped to areas
    /// and sectors), EDITOR (writes its organisations' records), VIEWER (reads).
    Role => concord_domain::access::Role { Admin => Admin, Coordinator => Coordinator, Editor => Editor, Viewer => Viewer }
);

mirror_enum!(
    /// What an API key may do for its organisation.
    KeyScope => concord_domain::access::KeyScope { Read => Read, ReadWrite => ReadWrite }
);

mirror_enum!(
    /// Where an overlap finding stands.
    ReviewStatus => concord_domain::review::ReviewStatus {
        Open => Open,
        ConfirmedDuplicate => ConfirmedDuplicate,
        Complementary => Complementary,
        Resolved => Resolved,
    }
);

/// OVERLAP: two organisations doing the same work. PROBABLE_DUPLICATE_RECORD: one
/// organisation's work entered twice.
#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum FindingKind {
    Overlap,
    ProbableDuplicateRecord,
}
