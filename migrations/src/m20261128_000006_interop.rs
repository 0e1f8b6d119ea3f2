//! What imports from IATI and HXL need: the links and humanitarian flag a record declares,
//! the source document an intervention was imported from (so an export gives back what
//! Concord does not model), and the idempotency keys of bulk writes.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one column at a time.
        manager
            .alter_table(
                Table::alter()
                    .table("intervention")
                    .add_column(json_null("linked_activities"))
                    .take(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("intervention")
                    .add_column(boolean_null("humanitarian"))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("intervention_source")
                    .if_not_exists()
                    .col(big_integer("intervention_id").primary_key())
                    .col(string_len("format", 16))
                    .col(timestamp_with_time_zone_null("source_updated_at"))
                    .col(integer("intervention_version"))
                    .col(json("document"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("intervention_source", "intervention_id")
                            .to("intervention", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("idempotency_key")
                    .if_not_exists()
                    .col(string_len("principal", 100))
                    .col(string_len("key", 200))
                    .col(string_len("request_hash", 64))
                    .col(json("response"))
                    .col(timestamp_with_time_zone("created_at"))
                    .primary_key(Index::create().col("principal").col("key"))
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("idempotency_key").take())
            .await?;
        manager
            .drop_table(Table::drop().table("intervention_source").take())
            .await?;
        for column in ["humanitarian", "linked_activities"] {
            manager
                .alter_table(
                    Table::alter()
                        .table("intervention")
                        .drop_column(column)
                        .take(),
                )
                .await?;
        }
        Ok(())
    }
}
