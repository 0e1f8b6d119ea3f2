//! Imports and bulk writes of interventions from the systems that already hold them (IATI
//! publishers, 3W spreadsheets, an agency's own database through the bulk API): upserts by
//! reporting organisation and external id, in one transaction per call, each record checked
//! for overlaps as it is written, with the source document kept beside the record.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use concord_domain::area::{AdminLevel, AreaId, NewArea, Pcode};
use concord_domain::intervention::{Intervention, InterventionId, NewIntervention};
use concord_domain::organisation::{NewOrganisation, Organisation};
use concord_domain::reference;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QuerySelect,
};
use serde::{Deserialize, Serialize};

use crate::areas::import_areas_in;
use crate::audit::{self, Actor, AuditAction};
use crate::changes::RegistryChange;
use crate::entity::{area, idempotency_key, intervention, intervention_source};
use crate::interventions::{
    area_ids_in, assemble, assemble_one, delete_children, insert_children, insert_interventions,
    resolve_references, row_values,
};
use crate::organisations::insert_organisation;
use crate::overlaps::CandidateCache;
use crate::{Store, StoreError, StoreResult, json_text};

/// The document an intervention was imported from, kept so an export in the same format
/// gives back what Concord does not model (other-language narratives, transactions...).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourceDocument {
    /// `iati` or `hxl`.
    pub format: String,
    /// The publisher's own last-updated time, when the format has one.
    pub updated_at: Option<DateTime<Utc>>,
    /// The document as JSON text, written to the database as it is.
    pub document: String,
}

/// One record to import.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportRecord {
    pub record: NewIntervention,
    pub source: Option<SourceDocument>,
}

/// What an import did with one record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ImportOutcome {
    Created(InterventionId),
    Updated(InterventionId),
    /// Already stored as given, or the stored copy is newer than the one given.
    Unchanged(InterventionId),
}

impl ImportOutcome {
    pub fn id(&self) -> InterventionId {
        match self {
            ImportOutcome::Created(id)
            | ImportOutcome::Updated(id)
            | ImportOutcome::Unchanged(id) => *id,
        }
    }
}

/// A stored answer to a bulk write, replayed when the same key comes again.
#[derive(Clone, Debug, PartialEq)]
pub struct IdempotentResponse {
    pub request_hash: String,
    pub response: serde_json::Value,
}

/// Whether a stored record should give way to an incoming one: a newer publisher time
/// wins; without times on both sides, any difference does.
fn supersedes(
    incoming: &ImportRecord,
    stored: &Intervention,
    stored_source: Option<&intervention_source::Model>,
) -> bool {
    let stored_time = stored_source.and_then(|s| s.source_updated_at);
    let incoming_time = incoming.source.as_ref().and_then(|s| s.updated_at);
    match (incoming_time, stored_time) {
        (Some(new), Some(old)) => new > old,
        _ => {
            // Compared as values: key order and spacing are not a difference.
            let incoming_document = incoming
                .source
                .as_ref()
                .map(|s| serde_json::from_str::<serde_json::Value>(&s.document).ok());
            incoming.record != stored.record
                || incoming_document != stored_source.map(|s| Some(s.document.clone()))
        }
    }
}

impl Store {
    /// Begins an import: what it writes is seen by nobody else until it commits, and is
    /// gone if it is dropped without committing.
    pub async fn begin_import(&self) -> StoreResult<Import<'_>> {
        Ok(Import {
            store: self,
            txn: self.begin_write().await?,
            candidates: CandidateCache::default(),
            written: Vec::new(),
            areas_created: false,
        })
    }

    /// Writes every record or none, in one transaction of its own (see [`Import::write`]).
    pub async fn import_interventions(
        &self,
        records: &[ImportRecord],
        actor: &Actor,
    ) -> StoreResult<Vec<ImportOutcome>> {
        self.retrying(|| async {
            let mut import = self.begin_import().await?;
            let outcomes = import.write(records, actor).await?;
            import.commit().await?;
            Ok(outcomes)
        })
        .await
    }

    /// The source documents of some interventions, in `format`.
    pub async fn intervention_sources(
        &self,
        ids: &[InterventionId],
        format: &str,
    ) -> StoreResult<HashMap<InterventionId, (i64, SourceDocument)>> {
        let mut out = HashMap::new();
        for chunk in ids.chunks(1000) {
            for s in intervention_source::Entity::find()
                .filter(
                    intervention_source::Column::InterventionId.is_in(chunk.iter().map(|i| i.0)),
                )
                .filter(intervention_source::Column::Format.eq(format))
                .all(&self.db)
                .await?
            {
                out.insert(
                    InterventionId(s.intervention_id),
                    (
                        i64::from(s.intervention_version),
                        SourceDocument {
                            format: s.format,
                            updated_at: s.source_updated_at,
                            document: s.document.to_string(),
                        },
                    ),
                );
            }
        }
        Ok(out)
    }

    /// The answer given to an earlier bulk write with this key by this principal.
    pub async fn idempotent_response(
        &self,
        principal: &str,
        key: &str,
    ) -> StoreResult<Option<IdempotentResponse>> {
        Ok(
            idempotency_key::Entity::find_by_id((principal.to_owned(), key.to_owned()))
                .one(&self.db)
                .await?
                .map(|row| IdempotentResponse {
                    request_hash: row.request_hash,
                    response: row.response,
                }),
        )
    }

    /// Remembers the answer to a bulk write; the first answer stored for a key stays.
    pub async fn save_idempotent_response(
        &self,
        principal: &str,
        key: &str,
        response: &IdempotentResponse,
    ) -> StoreResult<()> {
        idempotency_key::Entity::insert(idempotency_key::ActiveModel {
            principal: Set(principal.to_owned()),
            key: Set(key.to_owned()),
            request_hash: Set(response.request_hash.clone()),
            response: Set(response.response.clone()),
            created_at: Set(Utc::now()),
        })
        .on_conflict_do_nothing_on([
            idempotency_key::Column::Principal,
            idempotency_key::Column::Key,
        ])
        .exec(&self.db)
        .await?;
        self.checkpoint_soon();
        Ok(())
    }
}

/// An import in progress: its batches, and the organisations and countries it creates,
/// commit together or not at all, so a file is never left half written whatever fails
/// (a refused record, a lost connection, a full disk). On SQLite it holds the write lock
/// until it ends; on PostgreSQL, the locks of the countries it has written in.
pub struct Import<'s> {
    store: &'s Store,
    txn: DatabaseTransaction,
    /// The overlap candidates read by earlier batches, so each record is read about once
    /// per import rather than once per batch.
    candidates: CandidateCache,
    written: Vec<InterventionId>,
    areas_created: bool,
}

impl Import<'_> {
    /// Writes a batch: new records are created, stored ones updated when the incoming copy
    /// supersedes them, the rest left as they are, each checked for overlaps against what
    /// is stored and what this import wrote before. Two records with the same organisation
    /// and external id in one batch are a validation error.
    pub async fn write(
        &mut self,
        records: &[ImportRecord],
        actor: &Actor,
    ) -> StoreResult<Vec<ImportOutcome>> {
        let mut seen = HashSet::new();
        for (n, r) in records.iter().enumerate() {
            if !seen.insert((
                r.record.reporting_organisation,
                r.record.external_id.as_str(),
            )) {
                return Err(StoreError::invalid(
                    format!("[{n}].externalId"),
                    format!("{} appears twice in this import", r.record.external_id),
                ));
            }
        }
        let txn = &self.txn;
        let refs: Vec<&NewIntervention> = records.iter().map(|r| &r.record).collect();
        let areas = resolve_references(txn, &refs).await?;

        let mut existing: HashMap<(i64, String), intervention::Model> = HashMap::new();
        for chunk in records.chunks(500) {
            let rows = intervention::Entity::find()
                .filter(
                    intervention::Column::ReportingOrganisationId
                        .is_in(chunk.iter().map(|r| r.record.reporting_organisation.0)),
                )
                .filter(
                    intervention::Column::ExternalId
                        .is_in(chunk.iter().map(|r| r.record.external_id.clone())),
                )
                .all(txn)
                .await?;
            existing.extend(rows.into_iter().map(|row| {
                (
                    (row.reporting_organisation_id, row.external_id.clone()),
                    row,
                )
            }));
        }
        let existing_ids: Vec<i64> = existing.values().map(|r| r.id).collect();
        let mut sources: HashMap<i64, intervention_source::Model> = HashMap::new();
        for chunk in existing_ids.chunks(1000) {
            sources.extend(
                intervention_source::Entity::find()
                    .filter(
                        intervention_source::Column::InterventionId.is_in(chunk.iter().copied()),
                    )
                    .all(txn)
                    .await?
                    .into_iter()
                    .map(|s| (s.intervention_id, s)),
            );
        }
        let stored: HashMap<i64, Intervention> =
            assemble(txn, existing.values().cloned().collect())
                .await?
                .into_iter()
                .map(|i| (i.id.0, i))
                .collect();

        // Outcomes in input order; new records are written together after the loop.
        let mut outcomes: Vec<Option<ImportOutcome>> = vec![None; records.len()];
        let mut written = Vec::new();
        let mut fresh: Vec<usize> = Vec::new();
        for (n, r) in records.iter().enumerate() {
            let key = (
                r.record.reporting_organisation.0,
                r.record.external_id.clone(),
            );
            let Some(current) = existing.get(&key) else {
                fresh.push(n);
                continue;
            };
            let before = &stored[&current.id];
            if !supersedes(r, before, sources.get(&current.id)) {
                outcomes[n] = Some(ImportOutcome::Unchanged(before.id));
                continue;
            }
            let mut values = row_values(&r.record);
            values.id = Set(current.id);
            values.version = Set(current.version + 1);
            values.created_at = Set(current.created_at);
            intervention::Entity::update(values).exec(txn).await?;
            delete_children(txn, current.id).await?;
            insert_children(txn, &[(current.id, &r.record)], &areas).await?;
            let row = intervention::Entity::find_by_id(current.id)
                .one(txn)
                .await?
                .ok_or(StoreError::NotFound)?;
            let updated = assemble_one(txn, row).await?;
            audit::record(
                txn,
                actor,
                AuditAction::Update,
                "intervention",
                Some(current.id),
                Some(before),
                Some(&updated),
            )
            .await?;
            save_source(txn, &updated, r.source.as_ref()).await?;
            outcomes[n] = Some(ImportOutcome::Updated(updated.id));
            written.push(updated);
        }
        let created = create_all(txn, records, &fresh, &areas, actor).await?;
        let created_ids: HashSet<InterventionId> = created.iter().map(|i| i.id).collect();
        for (n, intervention) in fresh.into_iter().zip(created) {
            outcomes[n] = Some(ImportOutcome::Created(intervention.id));
            written.push(intervention);
        }
        let outcomes: Vec<ImportOutcome> = outcomes.into_iter().flatten().collect();
        Store::check_overlaps_in(
            txn,
            &written,
            &created_ids,
            self.store.overlap_min_score,
            &mut self.candidates,
        )
        .await?;
        self.written.extend(written.iter().map(|w| w.id));
        Ok(outcomes)
    }

    /// Creates an organisation the imported file names.
    pub async fn create_organisation(
        &mut self,
        org: &NewOrganisation,
        actor: &Actor,
    ) -> StoreResult<Organisation> {
        insert_organisation(&self.txn, org, actor).await
    }

    /// Creates the level-0 area of each country (ISO alpha-2, from the shipped list) that
    /// has none yet, so work reported only at country level can be placed. Unknown codes
    /// are returned, not created.
    pub async fn ensure_countries(
        &mut self,
        codes: &[String],
        actor: &Actor,
    ) -> StoreResult<Vec<String>> {
        let wanted: HashSet<&str> = codes.iter().map(String::as_str).collect();
        let present: HashSet<String> = area::Entity::find()
            .select_only()
            .column(area::Column::Pcode)
            .filter(area::Column::Pcode.is_in(wanted.iter().copied()))
            .into_tuple::<String>()
            .all(&self.txn)
            .await?
            .into_iter()
            .collect();
        let mut unknown = Vec::new();
        let mut missing = Vec::new();
        for code in wanted {
            if present.contains(code) {
                continue;
            }
            let country = reference::country_by_alpha2(code);
            match (country, Pcode::parse(code)) {
                (Some(country), Ok(pcode)) => missing.push(
                    NewArea::new(pcode, &country.name, AdminLevel::COUNTRY, None, code, None)
                        .map_err(StoreError::Invalid)?,
                ),
                _ => unknown.push(code.to_owned()),
            }
        }
        if !missing.is_empty() {
            import_areas_in(&self.txn, &missing, actor).await?;
            self.areas_created = true;
        }
        unknown.sort();
        Ok(unknown)
    }

    /// The area ids of P-codes, countries this import created included.
    pub async fn area_ids(&self, pcodes: &[Pcode]) -> StoreResult<HashMap<Pcode, AreaId>> {
        area_ids_in(&self.txn, pcodes).await
    }

    /// Makes everything this import wrote visible, and announces it.
    pub async fn commit(self) -> StoreResult<()> {
        let change = if self.areas_created {
            RegistryChange::Everything
        } else {
            RegistryChange::Interventions(self.written)
        };
        self.store.commit_write(self.txn, change).await
    }
}

/// Writes the new records of an import in a few statements per 500 records: rows, then
/// children, audit events and source documents, each in bulk.
async fn create_all<C: ConnectionTrait>(
    txn: &C,
    records: &[ImportRecord],
    fresh: &[usize],
    areas: &HashMap<String, i64>,
    actor: &Actor,
) -> StoreResult<Vec<Intervention>> {
    let mut created = Vec::with_capacity(fresh.len());
    for chunk in fresh.chunks(500) {
        let rows = insert_interventions(txn, chunk.iter().map(|&n| &records[n].record)).await?;
        let mut batch = Vec::with_capacity(chunk.len());
        for &n in chunk {
            let record = &records[n].record;
            let row = rows
                .get(&(record.reporting_organisation.0, record.external_id.clone()))
                .ok_or(StoreError::NotFound)?;
            batch.push(Intervention {
                id: InterventionId(row.id),
                version: row.version,
                created_at: row.created_at,
                updated_at: row.updated_at,
                record: record.clone(),
            });
        }
        let children: Vec<(i64, &NewIntervention)> =
            batch.iter().map(|i| (i.id.0, &i.record)).collect();
        insert_children(txn, &children, areas).await?;
        let audited: Vec<(i64, &Intervention)> = batch.iter().map(|i| (i.id.0, i)).collect();
        audit::record_created(txn, actor, "intervention", &audited).await?;
        insert_sources(
            txn,
            chunk
                .iter()
                .zip(&batch)
                .filter_map(|(&n, i)| records[n].source.as_ref().map(|s| (i, s)))
                .collect(),
        )
        .await?;
        created.extend(batch);
    }
    Ok(created)
}

/// Writes source documents, their JSON text bound as it is, up to 500 per statement.
async fn insert_sources<'a, C: ConnectionTrait>(
    txn: &C,
    sources: Vec<(&'a Intervention, &'a SourceDocument)>,
) -> StoreResult<()> {
    use intervention_source::Column as C;
    let backend = txn.get_database_backend();
    let mut sources = sources.into_iter().peekable();
    while sources.peek().is_some() {
        let mut insert = Query::insert();
        insert.into_table(intervention_source::Entity).columns([
            C::InterventionId,
            C::Format,
            C::SourceUpdatedAt,
            C::InterventionVersion,
            C::Document,
        ]);
        for (written, source) in sources.by_ref().take(500) {
            insert.values_panic([
                Expr::val(written.id.0),
                Expr::val(source.format.as_str()),
                Expr::val(source.updated_at),
                Expr::val(i32::try_from(written.version).unwrap_or(i32::MAX)),
                json_text(backend, Some(source.document.clone())),
            ]);
        }
        txn.execute(&insert).await?;
    }
    Ok(())
}

async fn save_source<C: ConnectionTrait>(
    txn: &C,
    written: &Intervention,
    source: Option<&SourceDocument>,
) -> StoreResult<()> {
    intervention_source::Entity::delete_many()
        .filter(intervention_source::Column::InterventionId.eq(written.id.0))
        .exec(txn)
        .await?;
    insert_sources(txn, source.map(|s| (written, s)).into_iter().collect()).await
}
