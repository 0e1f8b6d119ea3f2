//! End-to-end tests: the real `concord` binary over HTTP, each test on its own fresh
//! database, on SQLite always and on PostgreSQL when `CONCORD_TEST_POSTGRES_URL` is set.

mod areas;
mod cli;
mod ethiopia;
mod gaps;
mod health;
mod identity;
mod interop;
mod interventions;
mod matrix;
mod needs;
mod operations;
mod organisations;
mod overlaps;
mod response_cache;
mod security;
mod support;

/// Runs a scenario `async fn name(app: TestApp)` once per backend.
#[macro_export]
macro_rules! on_both_backends {
    ($($scenario:ident),+ $(,)?) => {
        $(
            mod $scenario {
                use concord_e2e::{Backend, TestApp};

                async fn run(backend: Backend) {
                    let Some(app) = TestApp::spawn(backend).await else {
                        eprintln!("skipped on {backend:?}: CONCORD_TEST_POSTGRES_URL is not set");
                        return;
                    };
                    super::$scenario(&app).await;
                    app.stop().await;
                }

                #[tokio::test]
                async fn sqlite() {
                    run(Backend::Sqlite).await;
                }

                #[tokio::test]
                async fn postgres() {
                    run(Backend::Postgres).await;
                }
            }
        )+
    };
}
