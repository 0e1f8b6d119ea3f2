use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "overlap_finding")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub intervention_a: i64,
    pub intervention_b: i64,
    pub kind: String,
    pub score: f64,
    pub reasons: Json,
    pub status: String,
    pub review_note: Option<String>,
    pub reviewed_by: Option<i64>,
    pub reviewed_at: Option<DateTimeUtc>,
    pub detected_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
