//! Concord's schema migrations: one file per migration, each with up and down, never edited
//! once landed. The same migrations run on SQLite (embedded default) and PostgreSQL.

pub use sea_orm_migration::prelude::*;

mod m20261128_000001_registry;
mod m20261128_000002_identity;
mod m20261128_000003_overlaps;
mod m20261128_000004_area_centroids;
mod m20261128_000005_registry_changes;
mod m20261128_000006_interop;
mod m20261205_000007_location_sites;

pub struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_registry::Migration),
            Box::new(m20261128_000002_identity::Migration),
            Box::new(m20261128_000003_overlaps::Migration),
            Box::new(m20261128_000004_area_centroids::Migration),
            Box::new(m20261128_000005_registry_changes::Migration),
            Box::new(m20261128_000006_interop::Migration),
            Box::new(m20261205_000007_location_sites::Migration),
        ]
    }
}
