//! The domain's fixed words through PostgreSQL: each value reads back as itself, and a
//! spelling the code does not know is an error that names it, never a default.

mod common;

use common::TestDb;
use phoneless::db::operations as ops;
use phoneless::domain::{
    ClearedBy, DefaultMethod, Dimension, PhoneReason, PolicyKind, RunPart, RunStatus, State,
    UserType, Word,
};
use sqlx::{Decode, Encode, PgPool, Postgres, Type};

async fn round_trip<W>(pool: &PgPool)
where
    W: Word + PartialEq + std::fmt::Debug + Send + Unpin,
    W: Type<Postgres> + for<'r> Decode<'r, Postgres> + for<'q> Encode<'q, Postgres>,
{
    for w in W::ALL {
        // Bound as the enum, stored as text, read back as the enum.
        let back: W = sqlx::query_scalar("SELECT $1::text")
            .bind(*w)
            .fetch_one(pool)
            .await
            .expect("reads back");
        assert_eq!(back, *w);
        let text: String = sqlx::query_scalar("SELECT $1::text")
            .bind(*w)
            .fetch_one(pool)
            .await
            .expect("text");
        assert_eq!(text, w.as_str());
    }
    let e = sqlx::query_scalar::<_, W>("SELECT 'made_up_value'::text")
        .fetch_one(pool)
        .await
        .expect_err("an unknown spelling is an error");
    let message = e.to_string();
    assert!(
        message.contains("made_up_value") && message.contains(W::WHAT),
        "{message}"
    );
}

#[tokio::test]
async fn every_word_round_trips_and_unknown_spellings_fail() {
    let db = TestDb::new().await;
    round_trip::<State>(&db.pool).await;
    round_trip::<UserType>(&db.pool).await;
    round_trip::<RunStatus>(&db.pool).await;
    round_trip::<RunPart>(&db.pool).await;
    round_trip::<PolicyKind>(&db.pool).await;
    round_trip::<Dimension>(&db.pool).await;
    round_trip::<PhoneReason>(&db.pool).await;
    round_trip::<ClearedBy>(&db.pool).await;

    // The effective default keeps a value outside the known set as sent.
    for d in [
        DefaultMethod::Sms,
        DefaultMethod::Voice,
        DefaultMethod::App,
        DefaultMethod::PhishingResistant,
        DefaultMethod::None,
        DefaultMethod::Other("qrCodePin".into()),
    ] {
        let back: DefaultMethod = sqlx::query_scalar("SELECT $1::text")
            .bind(d.clone())
            .fetch_one(&db.pool)
            .await
            .expect("reads back");
        assert_eq!(back, d);
    }
}

#[tokio::test]
async fn a_stored_status_this_version_does_not_know_is_an_error_not_a_default() {
    let db = TestDb::new().await;
    // As a newer version's database might hold: the check that keeps it out is dropped here.
    sqlx::query("ALTER TABLE sync_runs DROP CONSTRAINT sync_runs_status_check")
        .execute(&db.pool)
        .await
        .expect("drop check");
    sqlx::query("INSERT INTO sync_runs (started_at, status, runner) VALUES (now(), 'paused', 'x')")
        .execute(&db.pool)
        .await
        .expect("insert");
    let e = ops::recent_runs(&db.pool, 10)
        .await
        .expect_err("an unknown status fails the read");
    assert!(e.to_string().contains("\"paused\""), "{e}");
}
