//! Bulk writes for systems that log activities (`upsertInterventions`, idempotent by
//! external id and by the `Idempotency-Key` header), and uploads of IATI and 3W files
//! (GraphQL multipart request spec).

use std::io::Cursor;

use async_graphql::{ComplexObject, Context, Enum, Object, SimpleObject, Upload};
use concord_domain::access::Principal;
use concord_domain::area::Pcode;
use concord_domain::intervention::{InterventionId, NewIntervention};
use concord_domain::organisation::OrganisationId;
use concord_store::{IdempotentResponse, ImportOutcome, ImportRecord};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::access;
use crate::error::{ApiError, ApiResult};
use crate::imports::{self, ImportOptions, ImportReport};
use crate::inputs::InterventionInput;
use crate::types::{Intervention, store};

/// Items one `upsertInterventions` call may carry.
pub const MAX_BULK_ITEMS: usize = 1_000;

/// The request's `Idempotency-Key` header, put into the request data by the HTTP layer.
#[derive(Clone, Debug)]
pub struct IdempotencyKey(pub String);

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UpsertStatus {
    Created,
    Updated,
    /// Stored already exactly as sent.
    Unchanged,
    /// Not written; see `errors`.
    Rejected,
}

/// Why one item was not written.
#[derive(SimpleObject, Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ItemError {
    /// The same codes as `extensions.code` (VALIDATION, FORBIDDEN...).
    pub code: String,
    /// The field at fault, relative to the item.
    pub field: Option<String>,
    pub message: String,
}

#[derive(SimpleObject, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[graphql(complex)]
pub struct UpsertResult {
    /// The item's position in `items`.
    pub index: i32,
    pub external_id: String,
    pub status: UpsertStatus,
    #[graphql(skip)]
    pub intervention_id: Option<i64>,
    pub errors: Vec<ItemError>,
}

#[ComplexObject]
impl UpsertResult {
    /// The stored intervention, as the caller may see it now.
    async fn intervention(&self, ctx: &Context<'_>) -> ApiResult<Option<Intervention>> {
        let Some(id) = self.intervention_id else {
            return Ok(None);
        };
        let scope = access::read_scope(ctx)?;
        Ok(store(ctx)
            .intervention(InterventionId(id), &scope)
            .await?
            .map(Intervention))
    }
}

#[derive(SimpleObject, Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UpsertInterventionsPayload {
    /// One per item, in the order sent.
    pub results: Vec<UpsertResult>,
    pub created: i32,
    pub updated: i32,
    pub unchanged: i32,
    pub rejected: i32,
    /// True when this is the stored answer to an earlier request with the same
    /// `Idempotency-Key`: nothing was applied again.
    pub replayed: bool,
}

fn item_error(error: &ApiError) -> Vec<ItemError> {
    match error {
        ApiError::Validation(errors) => errors
            .0
            .iter()
            .map(|e| ItemError {
                code: "VALIDATION".into(),
                field: Some(e.field.clone()),
                message: e.message.clone(),
            })
            .collect(),
        other => vec![ItemError {
            code: other.code().into(),
            field: None,
            message: other.message(),
        }],
    }
}

fn principal_key(principal: &Principal) -> Option<String> {
    match principal {
        Principal::User { id, .. } => Some(format!("user:{}", id.0)),
        Principal::ApiKey { id, .. } => Some(format!("key:{}", id.0)),
        Principal::Anonymous => None,
    }
}

fn rejected(index: usize, external_id: String, error: &ApiError) -> UpsertResult {
    UpsertResult {
        index: index as i32,
        external_id,
        status: UpsertStatus::Rejected,
        intervention_id: None,
        errors: item_error(error),
    }
}

#[derive(Default)]
pub struct ImportMutation;

#[Object]
impl ImportMutation {
    /// Creates or updates up to 1,000 interventions by reporting organisation and external
    /// id, with a result per item: valid items are written together (one transaction), the
    /// others are reported. Send an `Idempotency-Key` header to make a retry safe: the same
    /// key with the same items returns the first answer without applying anything again;
    /// with different items it is a CONFLICT.
    async fn upsert_interventions(
        &self,
        ctx: &Context<'_>,
        items: Vec<InterventionInput>,
    ) -> ApiResult<UpsertInterventionsPayload> {
        let principal = access::signed_in(ctx)?;
        if items.len() > MAX_BULK_ITEMS {
            return Err(ApiError::invalid(
                "items",
                &format!("at most {MAX_BULK_ITEMS} items per call"),
            ));
        }
        let mut inputs = Vec::with_capacity(items.len());
        let mut results: Vec<Option<UpsertResult>> = vec![None; items.len()];
        for (i, item) in items.into_iter().enumerate() {
            let external_id = item.external_id.clone();
            match item.into_domain() {
                Ok(input) => inputs.push((i, input)),
                Err(e) => results[i] = Some(rejected(i, external_id, &e.into())),
            }
        }
        let key = ctx.data_opt::<IdempotencyKey>().cloned();
        let request_hash = {
            let encoded = serde_json::to_vec(&inputs)
                .map_err(|e| ApiError::Internal(format!("hashing the request: {e}")))?;
            Sha256::digest(&encoded)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        let replay_key = key
            .as_ref()
            .zip(principal_key(principal))
            .map(|(k, p)| (p, k.0.clone()));
        if let Some((who, key)) = &replay_key
            && let Some(stored) = store(ctx).idempotent_response(who, key).await?
        {
            if stored.request_hash != request_hash {
                return Err(ApiError::Conflict(
                    "this Idempotency-Key was used for a different request".into(),
                ));
            }
            let mut payload: UpsertInterventionsPayload =
                serde_json::from_value(stored.response)
                    .map_err(|e| ApiError::Internal(format!("stored response: {e}")))?;
            payload.replayed = true;
            return Ok(payload);
        }

        // Checked before writing, so one bad item does not sink the others.
        let mut candidates = Vec::new();
        let pcodes: Vec<Pcode> = inputs
            .iter()
            .flat_map(|(_, input)| input.locations.iter())
            .filter_map(|l| Pcode::parse(&l.pcode).ok())
            .collect();
        let known_areas = store(ctx).area_ids(&pcodes).await?;
        let org_ids: Vec<OrganisationId> = inputs
            .iter()
            .flat_map(|(_, input)| {
                std::iter::once(input.reporting_organisation)
                    .chain(input.participants.iter().map(|p| p.organisation))
            })
            .collect();
        let known_orgs: Vec<OrganisationId> = store(ctx)
            .organisations_by_ids(&org_ids)
            .await?
            .into_iter()
            .map(|o| o.id)
            .collect();
        for (i, input) in inputs {
            let external_id = input.external_id.clone();
            let record = match NewIntervention::parse(&input) {
                Ok(record) => record,
                Err(e) => {
                    results[i] = Some(rejected(i, external_id, &e.into()));
                    continue;
                }
            };
            let mut errors = concord_domain::ValidationErrors::default();
            for org in record.organisations() {
                if !known_orgs.contains(&org) {
                    errors.push(concord_domain::ValidationError::new(
                        "organisationId",
                        format!("no organisation has the id {}", org.0),
                    ));
                }
            }
            for (n, l) in record.locations.iter().enumerate() {
                if !known_areas.contains_key(&l.pcode) {
                    errors.push(concord_domain::ValidationError::new(
                        format!("locations[{n}].pcode"),
                        format!("no area has the P-code {}", l.pcode),
                    ));
                }
            }
            if !errors.is_empty() {
                results[i] = Some(rejected(i, external_id, &errors.into()));
                continue;
            }
            if !principal.may_write_for(record.reporting_organisation) {
                results[i] = Some(rejected(i, external_id, &ApiError::Forbidden));
                continue;
            }
            candidates.push((i, record));
        }
        let records: Vec<ImportRecord> = candidates
            .iter()
            .map(|(_, record)| ImportRecord {
                record: record.clone(),
                source: None,
            })
            .collect();
        let outcomes = store(ctx)
            .import_interventions(&records, access::actor(ctx))
            .await?;
        for ((i, record), outcome) in candidates.into_iter().zip(outcomes) {
            let status = match outcome {
                ImportOutcome::Created(_) => UpsertStatus::Created,
                ImportOutcome::Updated(_) => UpsertStatus::Updated,
                ImportOutcome::Unchanged(_) => UpsertStatus::Unchanged,
            };
            results[i] = Some(UpsertResult {
                index: i as i32,
                external_id: record.external_id,
                status,
                intervention_id: Some(outcome.id().0),
                errors: Vec::new(),
            });
        }
        let results: Vec<UpsertResult> = results.into_iter().flatten().collect();
        let count = |s: UpsertStatus| results.iter().filter(|r| r.status == s).count() as i32;
        let payload = UpsertInterventionsPayload {
            created: count(UpsertStatus::Created),
            updated: count(UpsertStatus::Updated),
            unchanged: count(UpsertStatus::Unchanged),
            rejected: count(UpsertStatus::Rejected),
            results,
            replayed: false,
        };
        if let Some((who, key)) = &replay_key {
            let response = serde_json::to_value(&payload)
                .map_err(|e| ApiError::Internal(format!("storing the response: {e}")))?;
            store(ctx)
                .save_idempotent_response(
                    who,
                    key,
                    &IdempotentResponse {
                        request_hash,
                        response,
                    },
                )
                .await?;
        }
        Ok(payload)
    }

    /// Imports an IATI 2.03 activity file (multipart upload). Nothing is written when an
    /// activity cannot be imported, unless `partial`; every refusal is reported.
    async fn import_iati(
        &self,
        ctx: &Context<'_>,
        file: Upload,
        #[graphql(default)] partial: bool,
    ) -> ApiResult<ImportReport> {
        let principal = access::signed_in(ctx)?;
        let options = ImportOptions {
            partial,
            country: None,
        };
        import_upload(ctx, file, |reader| {
            imports::import_iati(
                store(ctx),
                principal,
                access::actor(ctx),
                reader,
                &options,
                &|_| {},
            )
        })
        .await
    }

    /// Imports an HXL-tagged 3W/4W/5W CSV table (multipart upload); `country` (ISO
    /// alpha-2) for tables that do not say.
    async fn import_hxl(
        &self,
        ctx: &Context<'_>,
        file: Upload,
        #[graphql(default)] partial: bool,
        country: Option<String>,
    ) -> ApiResult<ImportReport> {
        let principal = access::signed_in(ctx)?;
        let options = ImportOptions { partial, country };
        import_upload(ctx, file, |reader| {
            imports::import_who_what_where(
                store(ctx),
                principal,
                access::actor(ctx),
                reader,
                &options,
                &|_| {},
            )
        })
        .await
    }
}

/// Runs an import of an upload. The upload is in memory, so an import PostgreSQL rolls back
/// to break a deadlock is run again on it from the start.
async fn import_upload<F, Fut>(
    ctx: &Context<'_>,
    file: Upload,
    import: F,
) -> ApiResult<ImportReport>
where
    F: Fn(Cursor<axum::body::Bytes>) -> Fut,
    Fut: std::future::Future<Output = ApiResult<ImportReport>>,
{
    let upload = file
        .value(ctx)
        .map_err(|e| ApiError::invalid("file", &e.to_string()))?;
    store(ctx)
        .retrying(|| import(Cursor::new(upload.content.clone())))
        .await
}
