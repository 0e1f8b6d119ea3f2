//! Organisations.

use chrono::Utc;
use concord_domain::organisation::{
    IatiOrgIdentifier, NewOrganisation, Organisation, OrganisationId,
};
use concord_domain::values::ActorLevel;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use crate::audit::{self, Actor, AuditAction};
use crate::entity::organisation;
use crate::{Page, PageRequest, Store, StoreError, StoreResult};

pub(crate) fn to_domain(row: organisation::Model) -> StoreResult<Organisation> {
    Ok(Organisation {
        id: OrganisationId(row.id),
        name: row.name,
        acronym: row.acronym,
        iati_identifier: row.iati_identifier.map(IatiOrgIdentifier::from_stored),
        organisation_type: row.organisation_type,
        level: ActorLevel::from_code(&row.level).ok_or_else(|| corrupt("organisation.level"))?,
        country: row.country,
    })
}

/// A stored value no longer parses: a bug or a hand edit, never the client's fault.
pub(crate) fn corrupt(what: &str) -> StoreError {
    StoreError::Database {
        source: sea_orm::DbErr::Type(format!("unreadable stored value in {what}")),
        location: std::panic::Location::caller(),
    }
}

impl Store {
    pub async fn create_organisation(
        &self,
        org: &NewOrganisation,
        actor: &Actor,
    ) -> StoreResult<Organisation> {
        self.retrying(|| async {
            let txn = self.begin_write().await?;
            let created = insert_organisation(&txn, org, actor).await?;
            self.commit_write(txn, crate::RegistryChange::Other).await?;
            Ok(created)
        })
        .await
    }

    pub async fn organisation(&self, id: OrganisationId) -> StoreResult<Option<Organisation>> {
        organisation::Entity::find_by_id(id.0)
            .one(&self.db)
            .await?
            .map(to_domain)
            .transpose()
    }

    pub async fn organisation_by_iati_identifier(
        &self,
        id: &str,
    ) -> StoreResult<Option<Organisation>> {
        organisation::Entity::find()
            .filter(organisation::Column::IatiIdentifier.eq(id))
            .one(&self.db)
            .await?
            .map(to_domain)
            .transpose()
    }

    /// Loads many organisations in one statement (the API's loader calls this).
    pub async fn organisations_by_ids(
        &self,
        ids: &[OrganisationId],
    ) -> StoreResult<Vec<Organisation>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        organisation::Entity::find()
            .filter(organisation::Column::Id.is_in(ids.iter().map(|i| i.0)))
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_domain)
            .collect()
    }

    pub async fn organisations(&self, page: PageRequest) -> StoreResult<Page<Organisation>> {
        let mut query = organisation::Entity::find().order_by_asc(organisation::Column::Id);
        if let Some(after) = page.after {
            query = query.filter(organisation::Column::Id.gt(after));
        }
        let rows = query.limit(page.first + 1).all(&self.db).await?;
        let items = rows
            .into_iter()
            .map(to_domain)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, page.first))
    }

    pub async fn count_organisations(&self) -> StoreResult<u64> {
        Ok(organisation::Entity::find().count(&self.db).await?)
    }
}

/// Inserts an organisation and its audit event inside the caller's transaction.
pub(crate) async fn insert_organisation<C: ConnectionTrait>(
    txn: &C,
    org: &NewOrganisation,
    actor: &Actor,
) -> StoreResult<Organisation> {
    let row = organisation::ActiveModel {
        name: Set(org.name.clone()),
        acronym: Set(org.acronym.clone()),
        iati_identifier: Set(org.iati_identifier.as_ref().map(|i| i.as_str().to_owned())),
        organisation_type: Set(org.organisation_type.clone()),
        level: Set(org.level.code().to_owned()),
        country: Set(org.country.clone()),
        created_at: Set(Utc::now()),
        ..Default::default()
    };
    let row = organisation::Entity::insert(row)
        .exec_with_returning(txn)
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::Conflict(
                "an organisation with this IATI identifier already exists".into(),
            ),
            other => other,
        })?;
    let created = to_domain(row)?;
    audit::record(
        txn,
        actor,
        AuditAction::Create,
        "organisation",
        Some(created.id.0),
        None::<&()>,
        Some(&created),
    )
    .await?;
    Ok(created)
}
