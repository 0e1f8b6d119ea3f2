//! `GET /export/coverage.geojson`: coverage per area as a GeoJSON FeatureCollection, for map
//! front ends, with the same sign-in, filters and privacy rules as the `coverage` query.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use concord_domain::area::Pcode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;
use crate::resolvers::coverage::{coverage_arguments, coverage_rows};
use crate::scalars::Date;

#[derive(Debug, Deserialize)]
pub struct CoverageExport {
    /// The area: it and each area one level down become features.
    area: String,
    /// A sector code; intersectoral when absent.
    sector: Option<String>,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
}

fn error(status: StatusCode, error: ApiError) -> Response {
    let body = async_graphql::Response::from_errors(vec![
        async_graphql::ErrorExtensions::extend(&error)
            .into_server_error(async_graphql::Pos::default()),
    ]);
    (status, Json(body)).into_response()
}

pub async fn coverage_geojson(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<CoverageExport>,
) -> Response {
    match build(&state, &headers, query).await {
        Ok(collection) => (
            [(header::CONTENT_TYPE, "application/geo+json")],
            Json(collection),
        )
            .into_response(),
        Err(e @ ApiError::Unauthenticated) => error(StatusCode::UNAUTHORIZED, e),
        Err(e @ ApiError::Validation(_)) => error(StatusCode::BAD_REQUEST, e),
        Err(e @ ApiError::NotFound) => error(StatusCode::NOT_FOUND, e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn build(
    state: &AppState,
    headers: &HeaderMap,
    query: CoverageExport,
) -> Result<Value, ApiError> {
    let caller = state.authenticator.authenticate(headers).await?;
    if !caller.principal.is_signed_in() && !caller.public_read {
        return Err(ApiError::Unauthenticated);
    }
    let pcode = Pcode::parse(&query.area).map_err(|e| ApiError::invalid("area", &e.message))?;
    let area = state
        .store
        .area(&pcode)
        .await?
        .ok_or_else(|| ApiError::invalid("area", &format!("no area has the P-code {pcode}")))?;
    let (sector, period) =
        coverage_arguments(query.sector.as_deref(), Date(query.from), Date(query.to))?;
    let rows = coverage_rows(
        &state.store,
        &state.coverage,
        &caller.principal.read_scope(),
        &area,
        &sector,
        &period,
    )
    .await?;
    let mut features = Vec::new();
    for (area, cell) in rows {
        // Only areas that can be placed on a map.
        let Some(centroid) = area.centroid else {
            continue;
        };
        let names: Vec<String> = state
            .store
            .organisations_by_ids(&cell.organisations)
            .await?
            .into_iter()
            .map(|o| o.name)
            .collect();
        features.push(json!({
            "type": "Feature",
            "geometry": { "type": "Point", "coordinates": [centroid.lon(), centroid.lat()] },
            "properties": {
                "pcode": area.pcode.as_str(),
                "name": area.name,
                "adminLevel": area.admin_level.get(),
                "peopleInNeed": cell.cell.people_in_need,
                "severity": cell.cell.severity.map(|s| s.get()),
                "targeted": cell.cell.targeted,
                "reached": cell.cell.reached,
                "interventions": cell.cell.interventions,
                "organisations": names,
                "suppressed": cell.suppressed,
            },
        }));
    }
    Ok(json!({ "type": "FeatureCollection", "features": features }))
}
