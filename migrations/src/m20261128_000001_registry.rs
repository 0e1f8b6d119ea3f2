//! The registry's first tables: organisations, areas, interventions with their sectors,
//! locations and participants, needs, and progress reports.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn fk(
    from: &'static str,
    column: &'static str,
    to: &'static str,
    cascade: bool,
) -> ForeignKeyCreateStatement {
    let mut fk = ForeignKey::create();
    fk.name(format!("fk_{from}_{column}"))
        .from(from, column)
        .to(to, "id");
    if cascade {
        fk.on_delete(ForeignKeyAction::Cascade);
    } else {
        fk.on_delete(ForeignKeyAction::Restrict);
    }
    fk.take()
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
        // Path ranges compare bytes ('/' sorts before '0'); PostgreSQL's default collation
        // would compare by locale and ignore the separators. SQLite compares bytes already.
        let mut path = string_len("path", 200);
        if manager.get_database_backend() == sea_orm_migration::sea_orm::DatabaseBackend::Postgres {
            path.extra("COLLATE \"C\"");
        }
        manager
            .create_table(
                Table::create()
                    .table("organisation")
                    .col(big_pk_auto("id"))
                    .col(string_len("name", 300))
                    .col(string_len_null("acronym", 40))
                    .col(string_len_null("iati_identifier", 100))
                    .col(string_len("organisation_type", 4))
                    .col(string_len("level", 16))
                    .col(string_len_null("country", 2))
                    .col(timestamp_with_time_zone("created_at"))
                    .take(),
            )
            .await?;
        manager
            .create_index(index("organisation", &["iati_identifier"], true))
            .await?;
        manager
            .create_index(index("organisation", &["name"], false))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("area")
                    .col(big_pk_auto("id"))
                    .col(string_len("pcode", 20))
                    .col(string_len("name", 200))
                    .col(small_integer("admin_level"))
                    .col(big_integer_null("parent_id"))
                    // Materialised path "/AF/AF01/AF0101/": ancestors and descendants are
                    // B-tree range scans on it, on every database.
                    .col(path)
                    .col(string_len("country", 2))
                    .col(string_len_null("cod_version", 40))
                    .col(date_null("valid_from"))
                    .foreign_key(&mut fk("area", "parent_id", "area", false))
                    .take(),
            )
            .await?;
        manager
            .create_index(index("area", &["pcode"], true))
            .await?;
        manager.create_index(index("area", &["path"], true)).await?;
        manager
            .create_index(index("area", &["parent_id"], false))
            .await?;
        manager
            .create_index(index("area", &["country", "admin_level"], false))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("intervention")
                    .col(big_pk_auto("id"))
                    .col(string_len("external_id", 200))
                    .col(big_integer("reporting_organisation_id"))
                    .col(string_len("title", 500))
                    .col(text_null("description"))
                    .col(string_len("status", 2))
                    .col(string_len("kind", 16))
                    .col(string_len("approach", 16))
                    .col(date_null("planned_start"))
                    .col(date_null("planned_end"))
                    .col(date_null("actual_start"))
                    .col(date_null("actual_end"))
                    // Actual dates where known, else planned: what every period filter uses.
                    .col(date("effective_start"))
                    .col(date_null("effective_end"))
                    .col(big_integer_null("target_total"))
                    .col(json_null("target"))
                    .col(double_null("budget_amount"))
                    .col(string_len_null("budget_currency", 3))
                    .col(string_len("visibility", 16))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk(
                        "intervention",
                        "reporting_organisation_id",
                        "organisation",
                        false,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "intervention",
                &["reporting_organisation_id", "external_id"],
                true,
            ))
            .await?;
        manager
            .create_index(index(
                "intervention",
                &["effective_start", "effective_end"],
                false,
            ))
            .await?;
        manager
            .create_index(index("intervention", &["effective_end"], false))
            .await?;
        manager
            .create_index(index("intervention", &["status"], false))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("intervention_participant")
                    .col(big_pk_auto("id"))
                    .col(big_integer("intervention_id"))
                    .col(big_integer("organisation_id"))
                    .col(string_len("role", 2))
                    .col(string_len_null("activity_id", 200))
                    .foreign_key(&mut fk(
                        "intervention_participant",
                        "intervention_id",
                        "intervention",
                        true,
                    ))
                    .foreign_key(&mut fk(
                        "intervention_participant",
                        "organisation_id",
                        "organisation",
                        false,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "intervention_participant",
                &["intervention_id"],
                false,
            ))
            .await?;
        manager
            .create_index(index(
                "intervention_participant",
                &["organisation_id"],
                false,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("intervention_sector")
                    .col(big_pk_auto("id"))
                    .col(big_integer("intervention_id"))
                    .col(string_len("vocabulary", 4))
                    .col(string_len("code", 20))
                    .col(double_null("percentage"))
                    .foreign_key(&mut fk(
                        "intervention_sector",
                        "intervention_id",
                        "intervention",
                        true,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(index("intervention_sector", &["intervention_id"], false))
            .await?;
        manager
            .create_index(index("intervention_sector", &["vocabulary", "code"], false))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("intervention_location")
                    .col(big_pk_auto("id"))
                    .col(big_integer("intervention_id"))
                    .col(big_integer("area_id"))
                    .col(big_integer_null("target"))
                    .foreign_key(&mut fk(
                        "intervention_location",
                        "intervention_id",
                        "intervention",
                        true,
                    ))
                    .foreign_key(&mut fk("intervention_location", "area_id", "area", false))
                    .take(),
            )
            .await?;
        manager
            .create_index(index("intervention_location", &["intervention_id"], false))
            .await?;
        manager
            .create_index(index("intervention_location", &["area_id"], false))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("need")
                    .col(big_pk_auto("id"))
                    .col(big_integer("area_id"))
                    // "*" for the intersectoral figure, else "vocabulary:code".
                    .col(string_len("sector_key", 24))
                    .col(date("period_start"))
                    .col(date("period_end"))
                    .col(big_integer("people_in_need"))
                    .col(json("population"))
                    .col(small_integer_null("severity"))
                    .col(string_len_null("source", 500))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk("need", "area_id", "area", false))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "need",
                &["area_id", "sector_key", "period_start", "period_end"],
                true,
            ))
            .await?;
        manager
            .create_index(index("need", &["sector_key"], false))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("progress_report")
                    .col(big_pk_auto("id"))
                    .col(big_integer("intervention_id"))
                    .col(date("period_start"))
                    .col(date("period_end"))
                    .col(big_integer("reached_total"))
                    .col(json("reached"))
                    .col(string_len_null("note", 2000))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk(
                        "progress_report",
                        "intervention_id",
                        "intervention",
                        true,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "progress_report",
                &["intervention_id", "period_start", "period_end"],
                true,
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "progress_report",
            "need",
            "intervention_location",
            "intervention_sector",
            "intervention_participant",
            "intervention",
            "area",
            "organisation",
        ] {
            manager
                .drop_table(Table::drop().table(table).take())
                .await?;
        }
        Ok(())
    }
}
