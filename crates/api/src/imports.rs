//! Imports of the formats the field already uses (IATI 2.03 activity XML, HXL 3W/5W
//! tables) and their exports: the one implementation behind the CLI commands and the
//! GraphQL upload mutations.
//!
//! A file is read once, in batches of [`BATCH`]: each record is checked (reported with its
//! line and reason when it cannot be imported) and the others written, all in one import
//! transaction that commits at the end of the file. When a record is refused without
//! `partial`, or anything fails, the transaction is rolled back and nothing of the file
//! is written. Memory stays bounded by one batch whatever the size of the file.
//! Organisations a file names are matched to known ones (IATI identifier, then acronym,
//! then normalised name) and created when unknown; names that probably mean one
//! organisation are reported as suggestions, never merged.

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, Read, Write};

use async_graphql::SimpleObject;
use concord_domain::access::{Principal, ReadScope};
use concord_domain::area::Pcode;
use concord_domain::intervention::{Intervention, InterventionInput, NewIntervention};
use concord_domain::organisation::{NewOrganisation, Organisation, OrganisationId};
use concord_domain::organisation_matching::{
    KnownOrganisation, OrganisationMatch, OrganisationMatcher, OrganisationMention,
    suggest_duplicates,
};
use concord_interop::iati::{self, ActivityVerdict, IatiActivity, IatiReader};
use concord_interop::interventions::{self as mapping, OrganisationKey, OrganisationNeed};
use concord_interop::who_what_where::{self as www, ActivityRow, WhoWhatWhereOptions};
use concord_store::{
    Actor, Import, ImportOutcome, ImportRecord, InterventionFilter, PageRequest, SourceDocument,
    Store,
};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult};

/// Records checked and written together; a file's batches share one transaction.
pub const BATCH: usize = 1_000;

/// How a file is imported.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// Write the records that can be imported even when others cannot.
    pub partial: bool,
    /// The country of a 3W table that does not say (ISO alpha-2).
    pub country: Option<String>,
}

/// A record that was not imported, and why.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, SimpleObject)]
pub struct ImportProblem {
    /// The line of the file where the record starts.
    pub line: u64,
    /// The record's identifier, when it has one.
    pub identifier: Option<String>,
    /// The element, column or field at fault.
    pub element: Option<String>,
    pub reason: String,
}

/// What an import read, wrote and refused.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, SimpleObject)]
pub struct ImportReport {
    pub read: u64,
    pub created: u64,
    pub updated: u64,
    /// Already stored as given, or stored in a newer version.
    pub unchanged: u64,
    pub rejected: Vec<ImportProblem>,
    /// Parts of accepted records left out (an unknown sector vocabulary, say).
    pub warnings: u64,
    /// Organisations the file named that were not known, created by this import.
    pub organisations_created: Vec<String>,
    /// Names that probably mean one organisation, for someone to look at.
    pub duplicate_organisations: Vec<String>,
    /// False when records were refused and nothing was written (no `partial`).
    pub applied: bool,
}

impl ImportReport {
    /// What the report says when the import was rolled back: nothing written or created.
    fn not_applied(mut self) -> Self {
        self.created = 0;
        self.updated = 0;
        self.unchanged = 0;
        self.organisations_created = Vec::new();
        self.applied = false;
        self
    }

    fn count(&mut self, outcomes: &[ImportOutcome]) {
        for o in outcomes {
            match o {
                ImportOutcome::Created(_) => self.created += 1,
                ImportOutcome::Updated(_) => self.updated += 1,
                ImportOutcome::Unchanged(_) => self.unchanged += 1,
            }
        }
    }
}

/// Known organisations, matched by the rules of `organisation_matching`, and those this
/// import resolved or created.
struct Directory {
    known: Vec<KnownOrganisation>,
    matcher: OrganisationMatcher,
    resolved: HashMap<OrganisationKey, OrganisationId>,
    created: Vec<String>,
}

impl Directory {
    async fn load(store: &Store) -> ApiResult<Self> {
        let mut known = Vec::new();
        let mut after = None;
        loop {
            let page = store
                .organisations(PageRequest {
                    after,
                    first: concord_store::MAX_PAGE_SIZE,
                })
                .await?;
            after = page.items.last().map(|o| o.id.0);
            known.extend(page.items.iter().map(KnownOrganisation::from));
            if !page.has_next_page {
                break;
            }
        }
        Ok(Directory {
            matcher: OrganisationMatcher::new(&known),
            known,
            resolved: HashMap::new(),
            created: Vec::new(),
        })
    }

    fn find(&self, key: &OrganisationKey) -> Option<OrganisationId> {
        if let Some(id) = self.resolved.get(key) {
            return Some(*id);
        }
        let mention = match key {
            OrganisationKey::Iati(identifier) => OrganisationMention {
                name: None,
                acronym: None,
                identifier: Some(identifier),
            },
            OrganisationKey::Name(name) => OrganisationMention {
                name: Some(name),
                acronym: None,
                identifier: None,
            },
        };
        match self.matcher.find(&mention) {
            OrganisationMatch::Matched(id, _) => Some(id),
            // Several candidates: the first (oldest) one, as a person would pick the
            // established record; the ambiguity is reported as a duplicate suggestion.
            OrganisationMatch::Ambiguous(ids, _) => ids.first().copied(),
            OrganisationMatch::Unmatched => None,
        }
    }

    /// Resolves every organisation named, creating the unknown ones.
    async fn resolve_all(
        &mut self,
        import: &mut Import<'_>,
        needs: &[OrganisationNeed],
        actor: &Actor,
    ) -> ApiResult<()> {
        for need in needs {
            if let Some(id) = self.find(&need.key) {
                self.resolved.insert(need.key.clone(), id);
                continue;
            }
            let record = NewOrganisation::parse(&need.input)?;
            let created = import.create_organisation(&record, actor).await?;
            self.created.push(created.name.clone());
            self.resolved.insert(need.key.clone(), created.id);
            // Later names are matched against it as a re-import would: an import run twice
            // resolves every name the same way.
            self.known.push(KnownOrganisation::from(&created));
            self.matcher = OrganisationMatcher::new(&self.known);
        }
        Ok(())
    }
}

fn problem(line: u64, identifier: Option<String>, element: &str, reason: String) -> ImportProblem {
    ImportProblem {
        line,
        identifier,
        element: Some(element.to_owned()),
        reason,
    }
}

/// Which of `codes` are P-codes of known areas, those the import created included.
async fn known_pcodes(import: &Import<'_>, codes: BTreeSet<String>) -> ApiResult<BTreeSet<String>> {
    let parsed: Vec<Pcode> = codes.iter().filter_map(|c| Pcode::parse(c).ok()).collect();
    let mut known = BTreeSet::new();
    for chunk in parsed.chunks(500) {
        known.extend(
            import
                .area_ids(chunk)
                .await?
                .into_keys()
                .map(|p| p.as_str().to_owned()),
        );
    }
    Ok(known)
}

/// A record validated as far as it can be without writing: `None` for the organisation
/// resolver means "any organisation is fine" (the first pass), so only the file's own
/// faults and the caller's rights are found.
fn checked(
    input: Result<InterventionInput, ImportProblem>,
    principal: &Principal,
    line: u64,
) -> Result<NewIntervention, ImportProblem> {
    let input = input?;
    let record = NewIntervention::parse(&input).map_err(|e| ImportProblem {
        line,
        identifier: Some(input.external_id.clone()),
        element: e.0.first().map(|f| f.field.clone()),
        reason: e.to_string(),
    })?;
    if !principal.may_write_for(record.reporting_organisation) {
        return Err(problem(
            line,
            Some(record.external_id.clone()),
            "reporting-org",
            "you may not write for this reporting organisation".to_owned(),
        ));
    }
    Ok(record)
}

// ---------------------------------------------------------------------------------------
// IATI
// ---------------------------------------------------------------------------------------

fn iati_problem(entry: &iati::ReportEntry) -> ImportProblem {
    ImportProblem {
        line: entry.line,
        identifier: entry.identifier.clone(),
        element: Some(entry.element.clone()),
        reason: entry.reason.clone(),
    }
}

/// A refusal of the mapping, which knows no lines: placed at its activity.
fn iati_problem_at(entry: &iati::ReportEntry, activity_line: u64) -> ImportProblem {
    ImportProblem {
        line: if entry.line == 0 {
            activity_line
        } else {
            entry.line
        },
        ..iati_problem(entry)
    }
}

fn document_error(e: &iati::DocumentError) -> ApiError {
    ApiError::invalid("file", &format!("not an IATI 2.0x activity file: {e}"))
}

/// Imports an IATI activity file.
pub async fn import_iati<R: BufRead + Send + 'static>(
    store: &Store,
    principal: &Principal,
    actor: &Actor,
    file: R,
    options: &ImportOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> ApiResult<ImportReport> {
    let mut report = ImportReport::default();
    let mut directory = Directory::load(store).await?;
    let mut names = Vec::new();
    let reader = IatiReader::new(file).map_err(|e| document_error(&e))?;
    // The source document is built on the reading thread too.
    let mut activities = ReadAhead::new(reader, |verdict| match verdict {
        ActivityVerdict::Accepted(accepted) => {
            let document = serde_json::to_string(&accepted.activity);
            IatiRead::Activity(Box::new(ReadActivity {
                activity: accepted.activity,
                line: accepted.line,
                warnings: accepted.warnings.len() as u64,
                document,
            }))
        }
        ActivityVerdict::Rejected(rejected) => {
            IatiRead::Rejected(rejected.reason().map(iati_problem))
        }
    });
    let mut import = store.begin_import().await?;
    let mut batch = Vec::new();
    let mut batches = IatiBatches {
        principal,
        actor,
        partial: options.partial,
        directory: &mut directory,
        names: &mut names,
    };
    while let Some(read) = activities.next().await {
        report.read += 1;
        match read.map_err(|e| document_error(&e))? {
            IatiRead::Activity(activity) => {
                report.warnings += activity.warnings;
                batch.push(*activity);
            }
            IatiRead::Rejected(problem) => report.rejected.extend(problem),
        }
        if batch.len() == BATCH {
            batches.import(&mut import, &mut batch, &mut report).await?;
            progress(report.created + report.updated + report.unchanged);
        }
    }
    batches.import(&mut import, &mut batch, &mut report).await?;
    progress(report.created + report.updated + report.unchanged);
    report.duplicate_organisations = duplicate_sentences(&names);
    if !report.rejected.is_empty() && !options.partial {
        // Dropped, the import is rolled back.
        return Ok(report.not_applied());
    }
    import.commit().await?;
    report.organisations_created = std::mem::take(&mut directory.created);
    report.applied = true;
    Ok(report)
}

/// What the reading thread hands over: an activity the XML reader accepted, or the reason
/// it refused one.
enum IatiRead {
    Activity(Box<ReadActivity>),
    Rejected(Option<ImportProblem>),
}

struct ReadActivity {
    activity: IatiActivity,
    line: u64,
    warnings: u64,
    document: serde_json::Result<String>,
}

/// The state an IATI import carries from batch to batch.
struct IatiBatches<'a> {
    principal: &'a Principal,
    actor: &'a Actor,
    partial: bool,
    directory: &'a mut Directory,
    /// Every organisation name the file gives, for duplicate suggestions.
    names: &'a mut Vec<String>,
}

impl IatiBatches<'_> {
    /// Checks a batch and writes what passes, unless a refusal already dooms the import.
    /// The check comes first so that a refused activity creates no organisation or country.
    async fn import(
        &mut self,
        import: &mut Import<'_>,
        batch: &mut Vec<ReadActivity>,
        report: &mut ImportReport,
    ) -> ApiResult<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut known = iati_places(import, batch.iter().map(|a| &a.activity)).await?;
        let any_org = self.principal.is_admin();
        let mut passed = Vec::with_capacity(batch.len());
        for read in batch.drain(..) {
            self.names.extend(
                mapping::iati_organisations(&read.activity)
                    .into_iter()
                    .map(|need| need.input.name),
            );
            // Nothing is created yet: an unknown organisation is a placeholder for an
            // administrator (who may write for any, and whose import creates it), and a
            // fault for anyone else.
            let resolve = |key: &OrganisationKey| {
                self.directory
                    .find(key)
                    .or(any_org.then_some(OrganisationId(i64::MAX)))
            };
            let countries_ok = |code: &str| {
                known.contains(code) || concord_domain::reference::country_by_alpha2(code).is_some()
            };
            let input = mapping::iati_to_input(&read.activity, &resolve, &countries_ok)
                .map_err(|e| iati_problem_at(&e, read.line));
            match checked(input, self.principal, read.line) {
                Ok(_) => passed.push(read),
                Err(p) => report.rejected.push(p),
            }
        }
        if !self.partial && !report.rejected.is_empty() {
            return Ok(());
        }
        let countries: Vec<String> = passed
            .iter()
            .flat_map(|a| mapping::iati_countries(&a.activity))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        // The countries created now join the places the check found.
        let unknown = import.ensure_countries(&countries, self.actor).await?;
        known.extend(countries.into_iter().filter(|c| !unknown.contains(c)));
        let needs: Vec<OrganisationNeed> = passed
            .iter()
            .flat_map(|a| mapping::iati_organisations(&a.activity))
            .collect();
        self.directory
            .resolve_all(import, &needs, self.actor)
            .await?;
        let mut records = Vec::with_capacity(passed.len());
        for read in passed {
            let resolve = |key: &OrganisationKey| self.directory.find(key);
            let input =
                mapping::iati_to_input(&read.activity, &resolve, &|c: &str| known.contains(c))
                    .map_err(|e| iati_problem_at(&e, read.line));
            let record = match checked(input, self.principal, read.line) {
                Ok(record) => record,
                // Not expected once the check passed; reported all the same.
                Err(p) => {
                    report.rejected.push(p);
                    continue;
                }
            };
            let document = read
                .document
                .map_err(|e| ApiError::Internal(format!("IATI source document: {e}")))?;
            records.push(ImportRecord {
                record,
                source: Some(SourceDocument {
                    format: "iati".into(),
                    updated_at: read.activity.last_updated_datetime.map(|t| t.to_utc()),
                    document,
                }),
            });
        }
        let outcomes = import.write(&records, self.actor).await?;
        report.count(&outcomes);
        Ok(())
    }
}

/// Items of a file read on a blocking thread, a few chunks ahead of their consumer and
/// mapped there: while the database writes one batch, the other core parses the next.
/// Reading stops after the first error (passed on) or when this is dropped.
struct ReadAhead<T, E> {
    chunks: tokio::sync::mpsc::Receiver<Vec<Result<T, E>>>,
    current: std::vec::IntoIter<Result<T, E>>,
}

/// Items handed over at once: enough to make the hand-over cheap, few enough that the
/// reader is never far ahead of the writer.
const READ_AHEAD_CHUNK: usize = 64;

impl<T: Send + 'static, E: Send + 'static> ReadAhead<T, E> {
    fn new<V, I>(items: I, map: impl Fn(V) -> T + Send + 'static) -> Self
    where
        I: Iterator<Item = Result<V, E>> + Send + 'static,
    {
        let (send, chunks) = tokio::sync::mpsc::channel(BATCH / READ_AHEAD_CHUNK);
        tokio::task::spawn_blocking(move || {
            let mut chunk = Vec::with_capacity(READ_AHEAD_CHUNK);
            for item in items {
                let failed = item.is_err();
                chunk.push(item.map(&map));
                if failed || chunk.len() == READ_AHEAD_CHUNK {
                    let full = std::mem::replace(&mut chunk, Vec::with_capacity(READ_AHEAD_CHUNK));
                    if send.blocking_send(full).is_err() || failed {
                        return;
                    }
                }
            }
            if !chunk.is_empty() {
                // A consumer that has gone no longer wants it.
                let _ = send.blocking_send(chunk);
            }
        });
        ReadAhead {
            chunks,
            current: Vec::new().into_iter(),
        }
    }

    async fn next(&mut self) -> Option<Result<T, E>> {
        loop {
            if let Some(item) = self.current.next() {
                return Some(item);
            }
            self.current = self.chunks.recv().await?.into_iter();
        }
    }
}

/// Places of a batch: the level-0 areas of its countries exist from the shipped country
/// list; its administrative codes are P-codes only when an area has them.
async fn iati_places<'a>(
    import: &Import<'_>,
    activities: impl Iterator<Item = &'a IatiActivity> + Clone,
) -> ApiResult<BTreeSet<String>> {
    let codes: BTreeSet<String> = activities
        .clone()
        .flat_map(|a| a.location_administrative.iter().map(|l| l.code.clone()))
        .chain(activities.flat_map(mapping::iati_countries))
        .collect();
    known_pcodes(import, codes).await
}

fn duplicate_sentences(names: &[String]) -> Vec<String> {
    suggest_duplicates(names)
        .into_iter()
        .map(|s| {
            format!(
                "{} ({})",
                s.names.join(" / "),
                s.reasons
                    .iter()
                    .map(|r| format!("{r:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect()
}

/// The interventions an export covers, a page at a time, with the organisations they name
/// and the documents they were imported from in the export's format: what both exports
/// read before each writes its own format.
struct ExportPages<'a> {
    store: &'a Store,
    filter: InterventionFilter,
    format: &'static str,
    after: Option<i64>,
    done: bool,
    organisations: HashMap<OrganisationId, Organisation>,
}

impl<'a> ExportPages<'a> {
    fn new(
        store: &'a Store,
        scope: &ReadScope,
        organisation: Option<OrganisationId>,
        format: &'static str,
    ) -> Self {
        ExportPages {
            store,
            filter: InterventionFilter {
                scope: scope.clone(),
                organisation,
                ..Default::default()
            },
            format,
            after: None,
            done: false,
            organisations: HashMap::new(),
        }
    }

    async fn next<T: serde::de::DeserializeOwned>(
        &mut self,
    ) -> ApiResult<Option<Vec<(Intervention, Option<T>)>>> {
        if self.done {
            return Ok(None);
        }
        let page = self
            .store
            .interventions(
                &self.filter,
                PageRequest {
                    after: self.after,
                    first: concord_store::MAX_PAGE_SIZE,
                },
            )
            .await?;
        self.after = page.items.last().map(|i| i.id.0);
        self.done = !page.has_next_page;
        let ids: Vec<_> = page.items.iter().map(|i| i.id).collect();
        let sources = self.store.intervention_sources(&ids, self.format).await?;
        let wanted: Vec<OrganisationId> = page
            .items
            .iter()
            .flat_map(|i| i.record.organisations())
            .filter(|o| !self.organisations.contains_key(o))
            .collect();
        for o in self.store.organisations_by_ids(&wanted).await? {
            self.organisations.insert(o.id, o);
        }
        Ok(Some(
            page.items
                .into_iter()
                .map(|i| {
                    let stored = sources
                        .get(&i.id)
                        .and_then(|(_, s)| serde_json::from_str(&s.document).ok());
                    (i, stored)
                })
                .collect(),
        ))
    }
}

/// Writes the interventions `scope` may read (of one organisation, when given) as an IATI
/// 2.03 activity file. Returns how many were written.
pub async fn export_iati<W: Write>(
    store: &Store,
    scope: &ReadScope,
    organisation: Option<OrganisationId>,
    out: W,
) -> ApiResult<u64> {
    let mut activities = Vec::new();
    let mut pages = ExportPages::new(store, scope, organisation, "iati");
    while let Some(page) = pages.next::<IatiActivity>().await? {
        // An organisation's IATI file holds the activities it reports, not those it joins.
        let reported = page
            .iter()
            .filter(|(i, _)| organisation.is_none_or(|o| i.record.reporting_organisation == o));
        for (intervention, stored) in reported {
            let activity = mapping::iati_from_intervention(
                intervention,
                &pages.organisations,
                stored.as_ref(),
            )
            .map_err(|reason| {
                ApiError::invalid(
                    "organisation",
                    &format!("{}: {reason}", intervention.record.external_id),
                )
            })?;
            activities.push(activity);
        }
    }
    iati::write_activities(out, chrono::Utc::now(), &activities)
        .map_err(|e| ApiError::Internal(format!("writing IATI XML: {e}")))?;
    Ok(activities.len() as u64)
}

// ---------------------------------------------------------------------------------------
// HXL 3W / 5W
// ---------------------------------------------------------------------------------------

fn row_problem(issue: &www::RowIssue) -> ImportProblem {
    ImportProblem {
        line: issue.line,
        identifier: None,
        element: issue.column.clone(),
        reason: issue.reason.clone(),
    }
}

/// Imports a 3W/4W/5W table. Tables are read whole (a 3W table is thousands of rows, not
/// millions), then written in batches of one import transaction.
pub async fn import_who_what_where<R: Read>(
    store: &Store,
    principal: &Principal,
    actor: &Actor,
    reader: R,
    options: &ImportOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> ApiResult<ImportReport> {
    let table = www::read_who_what_where(
        reader,
        &WhoWhatWhereOptions {
            country: options.country.clone(),
            ..Default::default()
        },
    )
    .map_err(|e| ApiError::invalid("file", &format!("not a 3W table: {e}")))?;
    let mut report = ImportReport {
        read: table.data_rows as u64,
        warnings: table.warnings.len() as u64,
        ..Default::default()
    };
    report.rejected.extend(table.errors.iter().map(row_problem));
    let mut directory = Directory::load(store).await?;
    let names: Vec<String> = table
        .rows
        .iter()
        .flat_map(mapping::who_what_where_organisations)
        .map(|n| n.input.name)
        .collect();
    report.duplicate_organisations = duplicate_sentences(&names);
    let codes: BTreeSet<String> = table
        .rows
        .iter()
        .map(|r| r.location.pcode.clone())
        .collect();
    let mut import = store.begin_import().await?;
    let known = known_pcodes(&import, codes).await?;
    let any_org = principal.is_admin();
    for row in &table.rows {
        let resolve = |key: &OrganisationKey| {
            directory
                .find(key)
                .or(any_org.then_some(OrganisationId(i64::MAX)))
        };
        let input = mapping::who_what_where_to_input(row, &resolve, &|c: &str| known.contains(c))
            .map_err(|e| row_problem(&e));
        if let Err(p) = checked(input, principal, row.line) {
            report.rejected.push(p);
        }
    }
    report.rejected.sort_by_key(|p| p.line);
    if !report.rejected.is_empty() && !options.partial {
        return Ok(report.not_applied());
    }
    let rejected_lines: BTreeSet<u64> = report.rejected.iter().map(|p| p.line).collect();
    let rows: Vec<&ActivityRow> = table
        .rows
        .iter()
        .filter(|r| !rejected_lines.contains(&r.line))
        .collect();
    let mut written = 0;
    for chunk in rows.chunks(BATCH) {
        let needs: Vec<OrganisationNeed> = chunk
            .iter()
            .flat_map(|r| mapping::who_what_where_organisations(r))
            .collect();
        directory.resolve_all(&mut import, &needs, actor).await?;
        let mut records = Vec::with_capacity(chunk.len());
        for row in chunk {
            let resolve = |key: &OrganisationKey| directory.find(key);
            let input =
                mapping::who_what_where_to_input(row, &resolve, &|c: &str| known.contains(c))
                    .map_err(|e| row_problem(&e));
            let Ok(record) = checked(input, principal, row.line) else {
                continue;
            };
            let document = serde_json::to_string(row)
                .map_err(|e| ApiError::Internal(format!("3W source row: {e}")))?;
            records.push(ImportRecord {
                record,
                source: Some(SourceDocument {
                    format: "hxl".into(),
                    updated_at: None,
                    document,
                }),
            });
        }
        let outcomes = import.write(&records, actor).await?;
        report.count(&outcomes);
        written += outcomes.len() as u64;
        progress(written);
    }
    import.commit().await?;
    report.organisations_created = std::mem::take(&mut directory.created);
    report.applied = true;
    Ok(report)
}

/// Writes the interventions `scope` may read as a 5W table with its HXL hashtag row.
pub async fn export_who_what_where<W: Write>(
    store: &Store,
    scope: &ReadScope,
    organisation: Option<OrganisationId>,
    out: W,
) -> ApiResult<u64> {
    let mut rows = Vec::new();
    let mut levels: HashMap<String, u8> = HashMap::new();
    let mut pages = ExportPages::new(store, scope, organisation, "hxl");
    while let Some(page) = pages.next::<ActivityRow>().await? {
        let pcodes: Vec<Pcode> = page
            .iter()
            .flat_map(|(i, _)| i.record.locations.iter().map(|l| l.pcode.clone()))
            .filter(|p| !levels.contains_key(p.as_str()))
            .collect();
        for area in store.areas_by_pcodes(&pcodes).await? {
            levels.insert(area.pcode.as_str().to_owned(), area.admin_level.get());
        }
        for (intervention, stored) in &page {
            rows.push(mapping::who_what_where_from_intervention(
                intervention,
                &pages.organisations,
                &|p: &str| levels.get(p).copied(),
                stored.as_ref(),
            ));
        }
    }
    www::write_who_what_where(out, &rows)
        .map_err(|e| ApiError::Internal(format!("writing the 5W table: {e}")))?;
    Ok(rows.len() as u64)
}
