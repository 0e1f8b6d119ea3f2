use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "intervention_location")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub intervention_id: i64,
    pub area_id: i64,
    pub target: Option<i64>,
    pub site: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
