//! Concord's domain: the validated types of the registry (organisations, areas, sectors,
//! interventions, needs, progress reports), the reference code lists it ships, and the rules
//! that hold whatever the storage. Pure by design: no async, no database, no HTTP, so every
//! rule is unit-tested here and the store and API only translate.

pub mod access;
pub mod area;
pub mod coverage;
pub mod coverage_index;
pub mod demo;
pub mod demo_bench;
pub mod error;
mod fast_map;
pub mod intervention;
pub mod need;
pub mod organisation;
pub mod organisation_matching;
pub mod overlap;
pub mod population;
pub mod reference;
pub mod review;
pub mod values;

pub use error::{ValidationError, ValidationErrors};
