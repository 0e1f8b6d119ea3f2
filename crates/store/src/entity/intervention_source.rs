use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "intervention_source")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub intervention_id: i64,
    pub format: String,
    pub source_updated_at: Option<DateTimeUtc>,
    pub intervention_version: i32,
    pub document: Json,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
