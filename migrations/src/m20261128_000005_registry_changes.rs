//! A journal of committed registry writes, so that a process keeping registry data in
//! memory hears of writes made by other processes on the same SQLite file (PostgreSQL
//! carries them with LISTEN/NOTIFY instead). SQLite has one writer at a time, so ids
//! commit in order and a reader's last seen id is an exact watermark.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("registry_change")
                    .if_not_exists()
                    .col(big_pk_auto("id"))
                    .col(text("change"))
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("registry_change").take())
            .await
    }
}
