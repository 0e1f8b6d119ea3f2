//! Administrative areas and their P-code hierarchy.

use std::collections::HashMap;

use concord_domain::area::{AdminLevel, Area, AreaId, AreaPath, Centroid, NewArea, Pcode};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use crate::audit::{self, Actor, AuditAction};
use crate::changes::RegistryChange;
use crate::entity::area;
use crate::organisations::corrupt;
use crate::{Page, PageRequest, Store, StoreResult};

/// Which areas a list returns.
#[derive(Clone, Debug, Default)]
pub struct AreaFilter {
    pub admin_level: Option<AdminLevel>,
    pub parent: Option<Pcode>,
    /// ISO alpha-2.
    pub country: Option<String>,
    /// Case-insensitive substring of the name.
    pub name: Option<String>,
}

/// What an import of areas did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AreaImport {
    pub inserted: u64,
    pub updated: u64,
    /// Areas already stored under another parent: moving a subtree is a boundary change,
    /// which needs a new COD version rather than an in-place edit.
    pub refused: Vec<(Pcode, String)>,
}

pub(crate) fn to_domain(row: area::Model) -> StoreResult<Area> {
    Ok(Area {
        id: AreaId(row.id),
        pcode: Pcode::parse(&row.pcode).map_err(|_| corrupt("area.pcode"))?,
        name: row.name,
        admin_level: AdminLevel::new(i64::from(row.admin_level))
            .map_err(|_| corrupt("area.admin_level"))?,
        parent: row.parent_id.map(AreaId),
        path: AreaPath::parse(&row.path).map_err(|_| corrupt("area.path"))?,
        country: row.country,
        cod_version: row.cod_version,
        valid_from: row.valid_from,
        centroid: match (row.centroid_lat, row.centroid_lon) {
            (Some(lat), Some(lon)) => {
                Some(Centroid::parse(lat, lon).map_err(|_| corrupt("area.centroid"))?)
            }
            _ => None,
        },
    })
}

/// Escapes LIKE wildcards in user text and wraps it for a substring match.
pub(crate) fn contains_pattern(text: &str) -> LikeExpr {
    let escaped = text
        .trim()
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    LikeExpr::new(format!("%{escaped}%")).escape('\\')
}

/// The P-codes of areas by id, in one statement.
pub(crate) async fn pcodes_by_area_id<C: sea_orm::ConnectionTrait>(
    db: &C,
    ids: impl IntoIterator<Item = i64>,
) -> StoreResult<HashMap<i64, String>> {
    let ids: Vec<i64> = ids.into_iter().collect();
    // An empty `IN` list still costs a round trip (every signed-in request asks for the
    // areas a user coordinates, mostly none).
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(area::Entity::find()
        .select_only()
        .column(area::Column::Id)
        .column(area::Column::Pcode)
        .filter(area::Column::Id.is_in(ids))
        .into_tuple::<(i64, String)>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

impl Store {
    /// Every stored P-code with its level, so a table can hang under areas loaded earlier.
    pub async fn known_pcodes(&self) -> StoreResult<HashMap<Pcode, AdminLevel>> {
        let rows: Vec<(String, i16)> = area::Entity::find()
            .select_only()
            .column(area::Column::Pcode)
            .column(area::Column::AdminLevel)
            .into_tuple()
            .all(&self.db)
            .await?;
        rows.into_iter()
            .map(|(pcode, level)| {
                Ok((
                    Pcode::parse(&pcode).map_err(|_| corrupt("area.pcode"))?,
                    AdminLevel::new(i64::from(level)).map_err(|_| corrupt("area.admin_level"))?,
                ))
            })
            .collect()
    }

    /// Inserts or renames areas, parents before children, in one transaction.
    pub async fn import_areas(&self, areas: &[NewArea], actor: &Actor) -> StoreResult<AreaImport> {
        let txn = self.begin_write().await?;
        let report = import_areas_in(&txn, areas, actor).await?;
        // Paths may have moved under interventions and needs: nothing cached still holds.
        self.commit_write(txn, RegistryChange::Everything).await?;
        Ok(report)
    }

    pub async fn area(&self, pcode: &Pcode) -> StoreResult<Option<Area>> {
        area::Entity::find()
            .filter(area::Column::Pcode.eq(pcode.as_str()))
            .one(&self.db)
            .await?
            .map(to_domain)
            .transpose()
    }

    /// Loads many areas in one statement (the API's loader calls this).
    pub async fn areas_by_ids(&self, ids: &[AreaId]) -> StoreResult<Vec<Area>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        area::Entity::find()
            .filter(area::Column::Id.is_in(ids.iter().map(|i| i.0)))
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_domain)
            .collect()
    }

    /// The ancestors of an area, from the country down.
    pub async fn ancestors(&self, area: &Area) -> StoreResult<Vec<Area>> {
        let pcodes: Vec<String> = area
            .path
            .ancestors()
            .iter()
            .map(|p| p.as_str().to_owned())
            .collect();
        if pcodes.is_empty() {
            return Ok(Vec::new());
        }
        area::Entity::find()
            .filter(area::Column::Pcode.is_in(pcodes))
            .order_by_asc(area::Column::AdminLevel)
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_domain)
            .collect()
    }

    fn area_condition(filter: &AreaFilter) -> Condition {
        let mut cond = Condition::all();
        if let Some(level) = filter.admin_level {
            cond = cond.add(area::Column::AdminLevel.eq(i16::from(level.get())));
        }
        if let Some(country) = &filter.country {
            cond = cond.add(area::Column::Country.eq(country.to_ascii_uppercase()));
        }
        if let Some(parent) = &filter.parent {
            cond = cond.add(
                area::Column::ParentId.in_subquery(
                    sea_orm::sea_query::Query::select()
                        .column(area::Column::Id)
                        .from(area::Entity)
                        .and_where(area::Column::Pcode.eq(parent.as_str()))
                        .to_owned(),
                ),
            );
        }
        if let Some(name) = filter.name.as_deref().filter(|n| !n.trim().is_empty()) {
            cond = cond.add(
                Expr::expr(Func::lower(Expr::col((area::Entity, area::Column::Name))))
                    .like(contains_pattern(name)),
            );
        }
        cond
    }

    pub async fn areas(&self, filter: &AreaFilter, page: PageRequest) -> StoreResult<Page<Area>> {
        let mut query = area::Entity::find()
            .filter(Self::area_condition(filter))
            .order_by_asc(area::Column::Id);
        if let Some(after) = page.after {
            query = query.filter(area::Column::Id.gt(after));
        }
        let rows = query.limit(page.first + 1).all(&self.db).await?;
        let items = rows
            .into_iter()
            .map(to_domain)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, page.first))
    }

    pub async fn count_areas(&self, filter: &AreaFilter) -> StoreResult<u64> {
        Ok(area::Entity::find()
            .filter(Self::area_condition(filter))
            .count(&self.db)
            .await?)
    }
}

impl Store {
    /// Loads many areas by P-code in one statement (the API's loader calls this).
    pub async fn areas_by_pcodes(&self, pcodes: &[Pcode]) -> StoreResult<Vec<Area>> {
        if pcodes.is_empty() {
            return Ok(Vec::new());
        }
        area::Entity::find()
            .filter(area::Column::Pcode.is_in(pcodes.iter().map(|p| p.as_str().to_owned())))
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_domain)
            .collect()
    }
}

/// Inserts or renames areas, parents before children, inside the caller's transaction.
pub(crate) async fn import_areas_in<C: ConnectionTrait>(
    txn: &C,
    areas: &[NewArea],
    actor: &Actor,
) -> StoreResult<AreaImport> {
    let existing: Vec<area::Model> = area::Entity::find().all(txn).await?;
    // pcode -> (id, path, parent id)
    let mut known: HashMap<String, (i64, String, Option<i64>)> = existing
        .into_iter()
        .map(|a| (a.pcode, (a.id, a.path, a.parent_id)))
        .collect();
    let mut report = AreaImport::default();

    let mut by_level: Vec<Vec<&NewArea>> = Vec::new();
    for area in areas {
        let level = area.admin_level.get() as usize;
        if by_level.len() <= level {
            by_level.resize_with(level + 1, Vec::new);
        }
        by_level[level].push(area);
    }
    for level in by_level {
        let mut inserts = Vec::new();
        // The P-code of each insert, in step with `inserts`, to read their rows back.
        let mut new_pcodes: Vec<String> = Vec::new();
        for area in level {
            let parent = match &area.parent {
                Some(p) => match known.get(p.as_str()) {
                    Some((id, path, _)) => Some((*id, path.clone())),
                    None => {
                        report
                            .refused
                            .push((area.pcode.clone(), format!("parent {p} is not stored")));
                        continue;
                    }
                },
                None => None,
            };
            if let Some((id, _, stored_parent)) = known.get(area.pcode.as_str()) {
                if *stored_parent != parent.as_ref().map(|(id, _)| *id) {
                    report.refused.push((
                        area.pcode.clone(),
                        "already stored under another parent".into(),
                    ));
                    continue;
                }
                area::Entity::update_many()
                    .col_expr(area::Column::Name, Expr::value(area.name.clone()))
                    .col_expr(area::Column::ValidFrom, Expr::value(area.valid_from))
                    .col_expr(
                        area::Column::CodVersion,
                        Expr::value(area.cod_version.clone()),
                    )
                    // A table without centroids keeps those imported before.
                    .col_expr(
                        area::Column::CentroidLat,
                        match area.centroid {
                            Some(c) => Expr::value(c.lat()),
                            None => Expr::col(area::Column::CentroidLat),
                        },
                    )
                    .col_expr(
                        area::Column::CentroidLon,
                        match area.centroid {
                            Some(c) => Expr::value(c.lon()),
                            None => Expr::col(area::Column::CentroidLon),
                        },
                    )
                    .filter(area::Column::Id.eq(*id))
                    .exec(txn)
                    .await?;
                report.updated += 1;
                continue;
            }
            let path = match &parent {
                Some((_, parent_path)) => AreaPath::parse(parent_path)
                    .map_err(|_| corrupt("area.path"))?
                    .child(&area.pcode),
                None => AreaPath::root(&area.pcode),
            };
            new_pcodes.push(area.pcode.as_str().to_owned());
            inserts.push(area::ActiveModel {
                pcode: Set(area.pcode.as_str().to_owned()),
                name: Set(area.name.clone()),
                admin_level: Set(i16::from(area.admin_level.get())),
                parent_id: Set(parent.map(|(id, _)| id)),
                path: Set(path.as_str().to_owned()),
                country: Set(area.country.clone()),
                cod_version: Set(area.cod_version.clone()),
                valid_from: Set(area.valid_from),
                centroid_lat: Set(area.centroid.map(|c| c.lat())),
                centroid_lon: Set(area.centroid.map(|c| c.lon())),
                ..Default::default()
            });
        }
        for (chunk, pcodes) in inserts.chunks(1000).zip(new_pcodes.chunks(1000)) {
            area::Entity::insert_many(chunk.to_vec()).exec(txn).await?;
            report.inserted += chunk.len() as u64;
            let rows = area::Entity::find()
                .filter(area::Column::Pcode.is_in(pcodes.iter().cloned()))
                .all(txn)
                .await?;
            for row in rows {
                known.insert(row.pcode, (row.id, row.path, row.parent_id));
            }
        }
    }
    // One event for the whole table: areas are reference data, imported in bulk.
    audit::record(
        txn,
        actor,
        AuditAction::Create,
        "area",
        None,
        None::<&()>,
        Some(&serde_json::json!({ "inserted": report.inserted, "updated": report.updated })),
    )
    .await?;
    Ok(report)
}
