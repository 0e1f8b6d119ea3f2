use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "area")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub pcode: String,
    pub name: String,
    pub admin_level: i16,
    pub parent_id: Option<i64>,
    pub path: String,
    pub country: String,
    pub cod_version: Option<String>,
    pub valid_from: Option<Date>,
    pub centroid_lat: Option<f64>,
    pub centroid_lon: Option<f64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
