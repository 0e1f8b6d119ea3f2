//! Identity and access: users with their organisations and coordination scopes, refresh
//! tokens, API keys, and the append-only audit trail.

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
                    .table("app_user")
                    .col(big_pk_auto("id"))
                    .col(string_len("email", 320))
                    // argon2id PHC string; absent for people who sign in through an external issuer.
                    .col(string_len_null("password_hash", 200))
                    .col(string_len("role", 16))
                    .col(boolean("active"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .take(),
            )
            .await?;
        manager
            .create_index(index("app_user", &["email"], true))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("user_organisation")
                    .col(big_pk_auto("id"))
                    .col(big_integer("user_id"))
                    .col(big_integer("organisation_id"))
                    .foreign_key(&mut fk("user_organisation", "user_id", "app_user"))
                    .foreign_key(&mut fk(
                        "user_organisation",
                        "organisation_id",
                        "organisation",
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "user_organisation",
                &["user_id", "organisation_id"],
                true,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("coordinator_area")
                    .col(big_pk_auto("id"))
                    .col(big_integer("user_id"))
                    .col(big_integer("area_id"))
                    .foreign_key(&mut fk("coordinator_area", "user_id", "app_user"))
                    .foreign_key(&mut fk("coordinator_area", "area_id", "area"))
                    .take(),
            )
            .await?;
        manager
            .create_index(index("coordinator_area", &["user_id"], false))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("coordinator_sector")
                    .col(big_pk_auto("id"))
                    .col(big_integer("user_id"))
                    .col(string_len("vocabulary", 4))
                    .col(string_len("code", 20))
                    .foreign_key(&mut fk("coordinator_sector", "user_id", "app_user"))
                    .take(),
            )
            .await?;
        manager
            .create_index(index("coordinator_sector", &["user_id"], false))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("refresh_token")
                    .col(big_pk_auto("id"))
                    .col(big_integer("user_id"))
                    // Every token issued from one login shares a family; reuse of a rotated
                    // token revokes the whole family.
                    .col(string_len("family", 64))
                    .col(string_len("token_hash", 64))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("used_at"))
                    .col(timestamp_with_time_zone_null("revoked_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut fk("refresh_token", "user_id", "app_user"))
                    .take(),
            )
            .await?;
        manager
            .create_index(index("refresh_token", &["token_hash"], true))
            .await?;
        manager
            .create_index(index("refresh_token", &["family"], false))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("api_key")
                    .col(big_pk_auto("id"))
                    .col(big_integer("organisation_id"))
                    .col(string_len("name", 200))
                    // The first characters, so a key can be recognised in a list without
                    // storing it.
                    .col(string_len("prefix", 16))
                    .col(string_len("token_hash", 64))
                    .col(string_len("scope", 16))
                    .col(timestamp_with_time_zone_null("expires_at"))
                    .col(timestamp_with_time_zone_null("revoked_at"))
                    .col(timestamp_with_time_zone_null("last_used_at"))
                    .col(big_integer_null("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut fk("api_key", "organisation_id", "organisation"))
                    .take(),
            )
            .await?;
        manager
            .create_index(index("api_key", &["token_hash"], true))
            .await?;
        manager
            .create_index(index("api_key", &["organisation_id"], false))
            .await?;

        // Append-only: no foreign keys, so the trail outlives what it describes.
        manager
            .create_table(
                Table::create()
                    .table("audit_event")
                    .col(big_pk_auto("id"))
                    .col(timestamp_with_time_zone("at"))
                    .col(big_integer_null("actor_user_id"))
                    .col(big_integer_null("actor_api_key_id"))
                    .col(string_len("actor", 320))
                    .col(string_len_null("client", 200))
                    .col(string_len("action", 16))
                    .col(string_len("entity", 32))
                    .col(big_integer_null("entity_id"))
                    .col(json_null("before"))
                    .col(json_null("after"))
                    .take(),
            )
            .await?;
        manager
            .create_index(index("audit_event", &["entity", "entity_id"], false))
            .await?;
        manager
            .create_index(index("audit_event", &["at"], false))
            .await?;
        manager
            .create_index(index("audit_event", &["actor_user_id"], false))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "audit_event",
            "api_key",
            "refresh_token",
            "coordinator_sector",
            "coordinator_area",
            "user_organisation",
            "app_user",
        ] {
            manager
                .drop_table(Table::drop().table(table).take())
                .await?;
        }
        Ok(())
    }
}
