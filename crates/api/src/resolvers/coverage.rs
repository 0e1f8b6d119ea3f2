//! Coverage, gaps and the 3W matrix: aggregates over every intervention, RESTRICTED work
//! included, with the privacy rule for callers who may not read it.
//!
//! Privacy in aggregates: a cell built with fewer than `PRIVACY_K` RESTRICTED
//! interventions the caller may not read shows no organisation names (beyond those of the
//! work the caller may read) and its counts rounded to two significant figures, so that
//! comparing two queries does not single such an intervention out.

use std::collections::{HashMap, HashSet};

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject};
use concord_domain::access::RecordAccess;
use concord_domain::area::{AdminLevel, AreaPath};
use concord_domain::coverage::{
    self, CoverageCell as Cell, CoverageIntervention, GapKind as DomainKind, GapSettings,
};
use concord_domain::coverage_index::CoverageSlice;
use concord_domain::intervention::InterventionId;
use concord_domain::need::NeedSector;
use concord_domain::organisation::OrganisationId;
use concord_domain::reference::{self, SectorVocabulary};
use concord_domain::values::{Period, Visibility};
use concord_store::{AreaFilter, PageRequest};

use super::area_path;
use crate::access::{self, read_scope};
use crate::coverage_cache::CoverageCache;
use crate::enums::Dimension;
use crate::error::{ApiError, ApiResult};
use crate::loaders::Organisations;
use crate::paging::{IdCursor, page_request};
use crate::scalars::Date;
use crate::types::{Organisation, Sector, store};

/// Cells with fewer RESTRICTED interventions than this, that the caller may not read, are
/// shown without names and with rounded counts.
pub const PRIVACY_K: u32 = 3;

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum GapKind {
    /// People in need (severity 3 or more) and nobody working there.
    Uncovered,
    /// Targeted below half the people in need.
    UnderCovered,
    /// Targeted above the people in need: duplication in aggregate.
    OverCovered,
    /// Coverage ends soon and nothing follows.
    Ending,
    /// Needs span several human security dimensions; coverage serves one.
    Narrow,
}

impl From<DomainKind> for GapKind {
    fn from(k: DomainKind) -> Self {
        match k {
            DomainKind::Uncovered => GapKind::Uncovered,
            DomainKind::UnderCovered => GapKind::UnderCovered,
            DomainKind::OverCovered => GapKind::OverCovered,
            DomainKind::Ending => GapKind::Ending,
            DomainKind::Narrow => GapKind::Narrow,
        }
    }
}

/// Two significant figures: enough to plan with, too coarse to subtract one record out.
fn rounded(n: u64) -> u64 {
    if n < 100 {
        return n.div_ceil(10) * 10;
    }
    let magnitude = 10u64.pow(n.ilog10() - 1);
    (n + magnitude / 2) / magnitude * magnitude
}

fn need_sector(code: Option<&str>) -> ApiResult<NeedSector> {
    match code.map(str::trim) {
        None | Some("") => Ok(NeedSector::Intersectoral),
        Some(c) if c.eq_ignore_ascii_case("intersectoral") => Ok(NeedSector::Intersectoral),
        Some(c) => reference::find_sector(c)
            .map(|s| NeedSector::Sector {
                vocabulary: s.vocabulary,
                code: s.code.clone(),
            })
            .ok_or_else(|| {
                ApiError::invalid("sector", &format!("`{c}` is not a known sector code"))
            }),
    }
}

fn period(from: Date, to: Date) -> ApiResult<Period> {
    Period::new("to", from.0, Some(to.0)).map_err(|e| ApiError::invalid(&e.field, &e.message))
}

fn coverage_cache<'a>(ctx: &'a Context<'_>) -> ApiResult<&'a CoverageCache> {
    ctx.data::<CoverageCache>()
        .map_err(|_| ApiError::Internal("the coverage cache is missing".into()))
}

/// Which interventions of the inputs the caller may not read.
fn unreadable(ctx: &Context<'_>, inputs: &CoverageSlice) -> ApiResult<HashSet<InterventionId>> {
    Ok(hidden_from(&read_scope(ctx)?, inputs))
}

fn hidden_from(
    scope: &concord_domain::access::ReadScope,
    inputs: &CoverageSlice,
) -> HashSet<InterventionId> {
    inputs
        .interventions
        .iter()
        .filter(|i| {
            let visibility = inputs
                .visibility
                .get(&i.id)
                .copied()
                .unwrap_or(Visibility::Restricted);
            // Only RESTRICTED work is judged by where it is: the rest needs no copy of its
            // locations, which matters when an area holds thousands of interventions.
            let locations: Vec<AreaPath> = if visibility == Visibility::Restricted {
                i.locations.iter().map(|(p, _)| p.clone()).collect()
            } else {
                Vec::new()
            };
            !scope.allows(&RecordAccess {
                visibility,
                reporting_organisation: i.organisation,
                locations: &locations,
                sectors: &i.sectors,
            })
        })
        .map(|i| i.id)
        .collect()
}

/// Coverage of an area and of each area one level down, as a caller with `scope` may see
/// it: the one computation behind the `coverage` query and the GeoJSON export.
pub(crate) async fn coverage_rows(
    store: &concord_store::Store,
    cache: &CoverageCache,
    scope: &concord_domain::access::ReadScope,
    area: &concord_domain::area::Area,
    sector: &NeedSector,
    period: &Period,
) -> ApiResult<Vec<(concord_domain::area::Area, CoverageCell)>> {
    let inputs = cache.slice(Some(&area.path), period).await?;
    let hidden = hidden_from(scope, &inputs);
    let children = store
        .areas(
            &AreaFilter {
                parent: Some(area.pcode.clone()),
                ..Default::default()
            },
            PageRequest {
                after: None,
                first: concord_store::MAX_PAGE_SIZE,
            },
        )
        .await?
        .items;
    let mut rows_areas = vec![area.clone()];
    rows_areas.extend(children);
    let paths: Vec<AreaPath> = rows_areas.iter().map(|a| a.path.clone()).collect();
    let (hidden_list, visible_list): (Vec<_>, Vec<_>) = inputs
        .interventions
        .iter()
        .cloned()
        .partition(|i| hidden.contains(&i.id));
    let started = std::time::Instant::now();
    let cells =
        coverage::coverage_by_child(&paths, sector, period, &inputs.interventions, &inputs.needs);
    metrics::histogram!(crate::metrics::COVERAGE_DURATION).record(started.elapsed());
    let cells = protect(
        cells,
        &hidden_list,
        &visible_list,
        &paths,
        sector,
        period,
        &inputs.needs,
    );
    Ok(rows_areas.into_iter().zip(cells).collect())
}

/// Parses the sector and period arguments the coverage query and export share.
pub(crate) fn coverage_arguments(
    sector: Option<&str>,
    from: Date,
    to: Date,
) -> ApiResult<(NeedSector, Period)> {
    Ok((need_sector(sector)?, period(from, to)?))
}

/// One cell of coverage as the caller may see it.
pub struct CoverageCell {
    pub(crate) cell: Cell,
    /// Organisations shown: all, or only those of readable work when suppressed.
    pub(crate) organisations: Vec<OrganisationId>,
    pub(crate) suppressed: bool,
}

/// Applies the privacy rule to cells computed over all interventions.
fn protect(
    cells: Vec<Cell>,
    hidden: &[CoverageIntervention],
    visible: &[CoverageIntervention],
    areas: &[AreaPath],
    sector: &NeedSector,
    period: &Period,
    needs: &[coverage::NeedFigure],
) -> Vec<CoverageCell> {
    if hidden.is_empty() {
        return cells
            .into_iter()
            .map(|cell| CoverageCell {
                organisations: cell.organisations.clone(),
                cell,
                suppressed: false,
            })
            .collect();
    }
    let hidden_cells = coverage::coverage_by_child(areas, sector, period, hidden, needs);
    let visible_cells = coverage::coverage_by_child(areas, sector, period, visible, needs);
    cells
        .into_iter()
        .zip(hidden_cells)
        .zip(visible_cells)
        .map(|((mut cell, hidden), visible)| {
            let suppressed = hidden.interventions > 0 && hidden.interventions < PRIVACY_K;
            if suppressed {
                cell.targeted = rounded(cell.targeted);
                cell.reached = rounded(cell.reached);
                cell.interventions = visible.interventions;
            }
            CoverageCell {
                organisations: if suppressed {
                    visible.organisations
                } else {
                    cell.organisations.clone()
                },
                cell,
                suppressed,
            }
        })
        .collect()
}

#[Object]
impl CoverageCell {
    async fn pcode(&self) -> String {
        self.cell
            .area
            .pcodes()
            .last()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default()
    }

    /// Absent for the intersectoral cell.
    async fn sector(&self) -> Option<Sector> {
        match &self.cell.sector {
            NeedSector::Intersectoral => None,
            NeedSector::Sector { vocabulary, code } => {
                reference::sector(*vocabulary, code).map(Sector)
            }
        }
    }

    async fn intersectoral(&self) -> bool {
        self.cell.sector == NeedSector::Intersectoral
    }

    /// The figure stated for this area and sector; never a sum across sectors.
    async fn people_in_need(&self) -> Option<u64> {
        self.cell.people_in_need
    }

    async fn severity(&self) -> Option<u8> {
        self.cell.severity.map(|s| s.get())
    }

    async fn targeted(&self) -> u64 {
        self.cell.targeted
    }

    /// From progress reports only: a target is never counted as reached.
    async fn reached(&self) -> u64 {
        self.cell.reached
    }

    /// The organisations present (see `suppressed`).
    async fn organisations(&self, ctx: &Context<'_>) -> ApiResult<Vec<Organisation>> {
        let loaded = ctx
            .data_unchecked::<Organisations>()
            .load_many(self.organisations.iter().copied())
            .await?;
        Ok(self
            .organisations
            .iter()
            .filter_map(|id| loaded.get(id).cloned().map(Organisation))
            .collect())
    }

    /// Interventions counted (of those the caller may read, when suppressed).
    async fn interventions(&self) -> u32 {
        self.cell.interventions
    }

    /// True when the cell includes RESTRICTED work the caller may not read: counts are
    /// rounded and its organisations are not named.
    async fn suppressed(&self) -> bool {
        self.suppressed
    }
}

/// Coverage of an area and of each area one level down.
#[derive(SimpleObject)]
pub struct Coverage {
    total: CoverageCell,
    children: Vec<CoverageCell>,
}

/// An organisation working next to a gap that could extend to it.
pub struct CandidateActor(coverage::CandidateActor);

#[Object]
impl CandidateActor {
    async fn organisation(&self, ctx: &Context<'_>) -> ApiResult<Option<Organisation>> {
        // Through the request's loader: a page of gaps names dozens of candidates, loaded
        // in one statement rather than one each.
        Ok(ctx
            .data_unchecked::<Organisations>()
            .load_one(self.0.organisation)
            .await?
            .map(Organisation))
    }

    /// People its live interventions target nearby, in the gap's sector.
    async fn caseload(&self) -> u64 {
        self.0.caseload
    }

    /// P-codes of the nearby areas where it works: the parent first, then siblings.
    async fn pcodes(&self) -> Vec<String> {
        self.0
            .areas
            .iter()
            .filter_map(|a| a.pcodes().last().map(|p| p.as_str().to_owned()))
            .collect()
    }
}

/// Where the response falls short, overshoots, is about to stop, or is too narrow.
pub struct Gap(coverage::Gap);

#[Object]
impl Gap {
    async fn kind(&self) -> GapKind {
        self.0.kind.into()
    }

    async fn pcode(&self) -> String {
        self.0
            .area
            .pcodes()
            .last()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default()
    }

    async fn sector(&self) -> Option<Sector> {
        match &self.0.sector {
            NeedSector::Intersectoral => None,
            NeedSector::Sector { vocabulary, code } => {
                reference::sector(*vocabulary, code).map(Sector)
            }
        }
    }

    async fn severity(&self) -> Option<u8> {
        self.0.severity.map(|s| s.get())
    }

    async fn people_in_need(&self) -> u64 {
        self.0.people_in_need
    }

    async fn people_uncovered(&self) -> u64 {
        self.0.people_uncovered
    }

    async fn targeted(&self) -> u64 {
        self.0.targeted
    }

    /// Higher first; see the README for the formula.
    async fn priority(&self) -> f64 {
        self.0.priority
    }

    /// ENDING: the last day of coverage.
    async fn ends_on(&self) -> Option<Date> {
        self.0.ends_on.map(Date)
    }

    /// NARROW: the dimensions needed there that nothing serves.
    async fn unserved_dimensions(&self) -> Vec<Dimension> {
        self.0.unserved.iter().map(|d| (*d).into()).collect()
    }

    async fn candidates(&self) -> Vec<CandidateActor> {
        self.0
            .candidates
            .iter()
            .cloned()
            .map(CandidateActor)
            .collect()
    }
}

#[derive(SimpleObject)]
pub struct GapCount {
    total_count: u64,
}

/// One cell of the 3W matrix: an area and a sector, who works there and how much.
#[derive(SimpleObject)]
pub struct WhoWhatWhereCell {
    pcode: String,
    area_name: String,
    sector: Sector,
    cell: CoverageCell,
}

#[derive(InputObject, Default)]
pub struct GapFilter {
    /// A P-code: gaps there or below.
    pub area: Option<String>,
    /// A sector code (cluster, HPC or DAC) or `intersectoral`.
    pub sector: Option<String>,
    /// The period looked at; defaults to the current year.
    pub from: Option<Date>,
    pub to: Option<Date>,
    pub kinds: Option<Vec<GapKind>>,
    pub min_severity: Option<i64>,
}

#[derive(Default)]
pub struct CoverageQuery;

#[Object]
impl CoverageQuery {
    /// Gaps, highest priority first.
    #[graphql(complexity = "crate::limits::page_cost(first, child_complexity)")]
    async fn gaps(
        &self,
        ctx: &Context<'_>,
        filter: Option<GapFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<IdCursor, Gap, GapCount, EmptyFields>> {
        let filter = filter.unwrap_or_default();
        let today = chrono::Utc::now().date_naive();
        let year = chrono::Datelike::year(&today);
        let from = filter.from.unwrap_or(Date(
            chrono::NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(today),
        ));
        let to = filter.to.unwrap_or(Date(
            chrono::NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or(today),
        ));
        let period = period(from, to)?;
        let area = match filter.area.as_deref() {
            Some(p) => Some(area_path(ctx, "filter.area", p).await?),
            None => None,
        };
        // Candidates come from the parent and siblings: load one level up.
        let within = area.as_ref().map(|a| {
            let mut up = a.pcodes();
            up.pop();
            match up.split_first() {
                Some((root, rest)) if !rest.is_empty() || a.depth() > 0 => {
                    rest.iter().fold(AreaPath::root(root), |p, c| p.child(c))
                }
                _ => a.clone(),
            }
        });
        let mut inputs = coverage_cache(ctx)?.slice(within.as_ref(), &period).await?;
        // Gaps are cells with a stated need: only the area's own cells are asked about, and
        // the work around it is there for the candidates.
        if let Some(area) = &area {
            inputs
                .needs
                .retain(|n| area.is_ancestor_or_self_of(&n.area));
        }
        let hidden = unreadable(ctx, &inputs)?;
        let sector = filter
            .sector
            .as_deref()
            .map(|s| need_sector(Some(s)))
            .transpose()?;
        let kinds: Option<Vec<DomainKind>> = filter.kinds.map(|k| {
            k.into_iter()
                .map(|k| match k {
                    GapKind::Uncovered => DomainKind::Uncovered,
                    GapKind::UnderCovered => DomainKind::UnderCovered,
                    GapKind::OverCovered => DomainKind::OverCovered,
                    GapKind::Ending => DomainKind::Ending,
                    GapKind::Narrow => DomainKind::Narrow,
                })
                .collect()
        });
        let visible_orgs: HashSet<OrganisationId> = inputs
            .interventions
            .iter()
            .filter(|i| !hidden.contains(&i.id))
            .map(|i| i.organisation)
            .collect();
        let started = std::time::Instant::now();
        let computed = coverage::gaps(
            &period,
            &inputs.interventions,
            &inputs.needs,
            &GapSettings::new(today),
        );
        metrics::histogram!(crate::metrics::GAPS_DURATION).record(started.elapsed());
        let mut gaps: Vec<coverage::Gap> = computed
            .into_iter()
            .filter(|g| {
                area.as_ref()
                    .is_none_or(|a| a.is_ancestor_or_self_of(&g.area))
            })
            .filter(|g| sector.as_ref().is_none_or(|s| &g.sector == s))
            .filter(|g| kinds.as_ref().is_none_or(|k| k.contains(&g.kind)))
            .filter(|g| {
                filter
                    .min_severity
                    .is_none_or(|m| g.severity.is_some_and(|s| i64::from(s.get()) >= m))
            })
            .collect();
        // Candidates known only through work the caller may not read are not named.
        for gap in &mut gaps {
            gap.candidates
                .retain(|c| visible_orgs.contains(&c.organisation));
        }
        let page: PageRequest = page_request(first, after)?;
        let start = page.after.map_or(0, |a| a + 1) as usize;
        let total = gaps.len() as u64;
        let has_next = gaps.len() > start + page.first as usize;
        let mut connection = Connection::with_additional_fields(
            page.after.is_some(),
            has_next,
            GapCount { total_count: total },
        );
        connection.edges = gaps
            .into_iter()
            .enumerate()
            .skip(start)
            .take(page.first as usize)
            .map(|(i, g)| Edge::new(IdCursor(i as i64), Gap(g)))
            .collect();
        Ok(connection)
    }

    /// Coverage of an area (with everything below it) for a sector, or intersectoral when
    /// no sector is given, in a period, with one row per child area for drill-down.
    async fn coverage(
        &self,
        ctx: &Context<'_>,
        area: String,
        sector: Option<String>,
        from: Date,
        to: Date,
    ) -> ApiResult<Coverage> {
        let path = area_path(ctx, "area", &area).await?;
        let (sector, period) = coverage_arguments(sector.as_deref(), from, to)?;
        let pcode = path.pcodes().pop().ok_or(ApiError::NotFound)?;
        let area = store(ctx).area(&pcode).await?.ok_or(ApiError::NotFound)?;
        let mut rows = coverage_rows(
            store(ctx),
            coverage_cache(ctx)?,
            &read_scope(ctx)?,
            &area,
            &sector,
            &period,
        )
        .await?
        .into_iter()
        .map(|(_, cell)| cell);
        let total = rows.next().ok_or(ApiError::NotFound)?;
        Ok(Coverage {
            total,
            children: rows.collect(),
        })
    }

    /// The 3W matrix: for every area at `level` below `area`, and every cluster with work
    /// there, who works there and how much.
    async fn who_what_where(
        &self,
        ctx: &Context<'_>,
        area: String,
        level: i64,
        from: Date,
        to: Date,
    ) -> ApiResult<Vec<WhoWhatWhereCell>> {
        let path = area_path(ctx, "area", &area).await?;
        let level = AdminLevel::new(level).map_err(|e| ApiError::invalid("level", &e.message))?;
        let period = period(from, to)?;
        let country = path
            .pcodes()
            .first()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default();
        let rows = store(ctx)
            .areas(
                &AreaFilter {
                    admin_level: Some(level),
                    country: Some(country),
                    ..Default::default()
                },
                PageRequest {
                    after: None,
                    first: concord_store::MAX_PAGE_SIZE,
                },
            )
            .await?
            .items
            .into_iter()
            .filter(|a| path.is_ancestor_or_self_of(&a.path))
            .collect::<Vec<_>>();
        let names: HashMap<String, String> = rows
            .iter()
            .map(|a| (a.path.as_str().to_owned(), a.name.clone()))
            .collect();
        let areas: Vec<AreaPath> = rows.into_iter().map(|a| a.path).collect();
        let inputs = coverage_cache(ctx)?.slice(Some(&path), &period).await?;
        let hidden = unreadable(ctx, &inputs)?;
        let (hidden_list, visible_list): (Vec<_>, Vec<_>) = inputs
            .interventions
            .iter()
            .cloned()
            .partition(|i| hidden.contains(&i.id));
        let mut out = Vec::new();
        for cluster in reference::sectors_of(SectorVocabulary::Cluster) {
            let sector = NeedSector::Sector {
                vocabulary: SectorVocabulary::Cluster,
                code: cluster.code.clone(),
            };
            let cells = coverage::coverage_by_child(
                &areas,
                &sector,
                &period,
                &inputs.interventions,
                &inputs.needs,
            );
            for (area, cell) in areas.iter().zip(protect(
                cells,
                &hidden_list,
                &visible_list,
                &areas,
                &sector,
                &period,
                &inputs.needs,
            )) {
                if cell.cell.interventions == 0 && cell.organisations.is_empty() && !cell.suppressed
                {
                    continue;
                }
                out.push(WhoWhatWhereCell {
                    pcode: area
                        .pcodes()
                        .last()
                        .map(|p| p.as_str().to_owned())
                        .unwrap_or_default(),
                    area_name: names.get(area.as_str()).cloned().unwrap_or_default(),
                    sector: Sector(cluster),
                    cell,
                });
            }
        }
        let _ = access::principal(ctx);
        Ok(out)
    }
}
