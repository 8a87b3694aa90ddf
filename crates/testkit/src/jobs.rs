//! Waiting for the platform's job runner in tests that move the clock: a run in flight while the
//! clock moves ends after the move and so is not due again for a whole period, so a test waits
//! for a job to settle (finish its runs, hold no lease) before and after moving the clock.

use std::time::Duration;

use sea_orm::{ConnectionTrait as _, DatabaseConnection, Statement};

/// How many runs of `job` have finished.
pub async fn runs(db: &DatabaseConnection, job: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT COALESCE(sum(runs), 0)::bigint AS n FROM job_runs WHERE job = $1",
            [job.into()],
        ))
        .await
        .expect("read job_runs")
        .expect("one row");
    row.try_get("", "n").expect("a count")
}

/// Waits until `job` has finished at least `runs` runs and is not running (the runner polls
/// every 50 ms in tests; 30 s at most, for a loaded machine).
pub async fn settled(db: &DatabaseConnection, job: &str, runs: i64) {
    crate::eventually(
        &format!("job {job} to finish run {runs}"),
        Duration::from_secs(30),
        || async {
            let row = db
                .query_one_raw(Statement::from_sql_and_values(
                    db.get_database_backend(),
                    "SELECT count(*) AS n FROM job_runs \
                     WHERE job = $1 AND holder IS NULL AND runs >= $2",
                    [job.into(), runs.into()],
                ))
                .await
                .expect("read job_runs")
                .expect("one row");
            (row.try_get::<i64>("", "n").expect("a count") > 0).then_some(())
        },
    )
    .await;
}
