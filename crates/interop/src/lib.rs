//! Concord's interoperability: streaming readers (and later writers) of the formats the
//! field already uses, into and out of domain types. No database: the binary hands what
//! is read to the store.

pub mod hxl;
pub mod iati;
pub mod interventions;
pub mod needs;
pub mod who_what_where;
