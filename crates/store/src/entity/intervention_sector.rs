use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "intervention_sector")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub intervention_id: i64,
    pub vocabulary: String,
    pub code: String,
    pub percentage: Option<f64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
