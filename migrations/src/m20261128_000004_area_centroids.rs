//! A point inside each area, for maps and the GeoJSON export.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one column at a time.
        for column in ["centroid_lat", "centroid_lon"] {
            manager
                .alter_table(
                    Table::alter()
                        .table("area")
                        .add_column(double_null(column))
                        .take(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in ["centroid_lat", "centroid_lon"] {
            manager
                .alter_table(Table::alter().table("area").drop_column(column).take())
                .await?;
        }
        Ok(())
    }
}
