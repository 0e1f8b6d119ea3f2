use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "intervention")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub external_id: String,
    pub reporting_organisation_id: i64,
    pub title: String,
    pub description: Option<String>,
    pub status: String,
    pub kind: String,
    pub approach: String,
    pub planned_start: Option<Date>,
    pub planned_end: Option<Date>,
    pub actual_start: Option<Date>,
    pub actual_end: Option<Date>,
    pub effective_start: Date,
    pub effective_end: Option<Date>,
    pub target_total: Option<i64>,
    pub target: Option<Json>,
    pub budget_amount: Option<f64>,
    pub budget_currency: Option<String>,
    pub visibility: String,
    pub linked_activities: Option<Json>,
    pub humanitarian: Option<bool>,
    pub version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
