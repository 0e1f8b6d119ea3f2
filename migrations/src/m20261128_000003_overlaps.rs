//! Overlap findings and their review history.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn fk(from: &'static str, column: &'static str, to: &'static str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{from}_{column}"))
        .from(from, column)
        .to(to, "id")
        .on_delete(ForeignKeyAction::Cascade)
        .take()
}

fn index(table: &'static str, columns: &[&'static str], unique: bool) -> IndexCreateStatement {
    let mut idx = Index::create();
    idx.name(format!("idx_{table}_{}", columns.join("_")))
        .table(table);
    for c in columns {
        idx.col(*c);
    }
    if unique {
        idx.unique();
    }
    idx.take()
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("overlap_finding")
                    .col(big_pk_auto("id"))
                    // The smaller intervention id first, so a pair has one row per kind.
                    .col(big_integer("intervention_a"))
                    .col(big_integer("intervention_b"))
                    .col(string_len("kind", 32))
                    .col(double("score"))
                    .col(json("reasons"))
                    .col(string_len("status", 24))
                    .col(string_len_null("review_note", 2000))
                    .col(big_integer_null("reviewed_by"))
                    .col(timestamp_with_time_zone_null("reviewed_at"))
                    .col(timestamp_with_time_zone("detected_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk("overlap_finding", "intervention_a", "intervention"))
                    .foreign_key(&mut fk("overlap_finding", "intervention_b", "intervention"))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "overlap_finding",
                &["intervention_a", "intervention_b", "kind"],
                true,
            ))
            .await?;
        manager
            .create_index(index("overlap_finding", &["intervention_b"], false))
            .await?;
        manager
            .create_index(index("overlap_finding", &["status", "score"], false))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("overlap_review")
                    .col(big_pk_auto("id"))
                    .col(big_integer("finding_id"))
                    .col(string_len("status", 24))
                    .col(string_len_null("note", 2000))
                    .col(big_integer_null("reviewer_user_id"))
                    .col(string_len("reviewer", 320))
                    .col(timestamp_with_time_zone("at"))
                    .foreign_key(&mut fk("overlap_review", "finding_id", "overlap_finding"))
                    .take(),
            )
            .await?;
        manager
            .create_index(index("overlap_review", &["finding_id"], false))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["overlap_review", "overlap_finding"] {
            manager
                .drop_table(Table::drop().table(table).take())
                .await?;
        }
        Ok(())
    }
}
