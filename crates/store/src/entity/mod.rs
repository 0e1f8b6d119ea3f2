//! sea-orm entities, one per table. Written by hand to match the migrations (never generated
//! from live tables); they are storage rows, not domain types.

pub mod api_key;
pub mod app_user;
pub mod area;
pub mod audit_event;
pub mod coordinator_area;
pub mod coordinator_sector;
pub mod idempotency_key;
pub mod intervention;
pub mod intervention_location;
pub mod intervention_participant;
pub mod intervention_sector;
pub mod intervention_source;
pub mod need;
pub mod organisation;
pub mod overlap_finding;
pub mod overlap_review;
pub mod progress_report;
pub mod refresh_token;
pub mod user_organisation;
