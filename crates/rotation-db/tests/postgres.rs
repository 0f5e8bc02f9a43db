//! Against the local PostgreSQL. Its pg_hba.conf trusts every login over 127.0.0.1 (and the
//! Unix socket), so a wrong password still logs in; these tests prove a password change by
//! checking the stored SCRAM verifier against the new and the old password instead.

mod common;

use coffer_rotation_db::{
    CloneUser, DatabaseClient, RotationDbError, Timeouts, clone_user_name, ensure_clone_user,
    set_password, test_login,
};
use common::*;
use tokio_postgres::{Client, NoTls};

async fn admin() -> Client {
    connect_as("postgres").await
}

async fn connect_as(user: &str) -> Client {
    let mut config = tokio_postgres::Config::new();
    config
        .host("127.0.0.1")
        .port(PG_PORT)
        .user(user)
        .dbname("postgres");
    let (client, connection) = config.connect(NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

async fn stored_verifier(role: &str) -> String {
    admin()
        .await
        .query_one(
            "SELECT rolpassword FROM pg_authid WHERE rolname = $1",
            &[&role],
        )
        .await
        .unwrap()
        .get(0)
}

async fn drop_roles(roles: &[&str]) {
    let admin = admin().await;
    for role in roles {
        admin
            .batch_execute(&format!("DROP ROLE IF EXISTS {}", ident(role)))
            .await
            .unwrap();
    }
}

fn master() -> coffer_rotation_db::DatabaseSecret {
    // Trusted over 127.0.0.1: the password is never asked for.
    secret("postgres", PG_PORT, "postgres", "unused")
}

#[tokio::test]
async fn login_runs_select_1() {
    test_login(&master()).await.unwrap();
}

#[tokio::test]
async fn an_unknown_role_is_an_authentication_failure() {
    let err = test_login(&secret("postgres", PG_PORT, &unique("rdb_nobody"), "pw"))
        .await
        .unwrap_err();
    assert!(err.is_authentication_failure(), "{err:?}");
}

#[tokio::test]
async fn a_role_without_login_is_an_authentication_failure() {
    let role = unique("coffer_rdb_nologin");
    admin()
        .await
        .batch_execute(&format!("CREATE ROLE {} NOLOGIN", ident(&role)))
        .await
        .unwrap();
    let probe = role.clone();
    with_cleanup(
        async move {
            let err = test_login(&secret("postgres", PG_PORT, &probe, "pw"))
                .await
                .unwrap_err();
            assert!(err.is_authentication_failure(), "{err:?}");
        },
        drop_roles(&[&role]),
    )
    .await;
}

#[tokio::test]
async fn a_closed_port_is_unreachable() {
    let port = closed_port().await;
    let err = test_login(&secret("postgres", port, "postgres", "pw"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, RotationDbError::Unreachable { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let (port, server) = silent_server().await;
    let client = DatabaseClient::new(Timeouts {
        connect: SHORT,
        statement: SHORT,
    });
    let started = std::time::Instant::now();
    let err = client
        .test_login(&secret("postgres", port, "postgres", "pw"))
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(started.elapsed() < SHORT * 4, "{:?}", started.elapsed());
    server.abort();
}

#[tokio::test]
async fn single_user_change_stores_a_verifier_for_the_new_password_only() {
    // A name needing quotes: double and single quotes, a space, upper case, non-ASCII.
    let role = format!("Rdb \"q\" 'x' é {}", unique("u"));
    let old = "old password";
    admin()
        .await
        .batch_execute(&format!(
            "CREATE ROLE {} LOGIN PASSWORD 'old password'",
            ident(&role)
        ))
        .await
        .unwrap();
    let user = role.clone();
    with_cleanup(
        async move {
            for new in NASTY_PASSWORDS {
                let login = secret("postgres", PG_PORT, &user, old);
                set_password(&login, &user, new).await.unwrap();
                let verifier = stored_verifier(&user).await;
                assert!(scram_verifies(&verifier, new), "new password must verify");
                assert!(!scram_verifies(&verifier, old), "old password must not");
                assert!(!verifier.contains(new));
                test_login(&secret("postgres", PG_PORT, &user, new))
                    .await
                    .unwrap();
            }
        },
        drop_roles(&[&role]),
    )
    .await;
}

#[tokio::test]
async fn master_changes_another_roles_password() {
    let role = unique("coffer_rdb_target");
    admin()
        .await
        .batch_execute(&format!("CREATE ROLE {} LOGIN PASSWORD 'a'", ident(&role)))
        .await
        .unwrap();
    let user = role.clone();
    with_cleanup(
        async move {
            let before = stored_verifier(&user).await;
            set_password(&master(), &user, NASTY_PASSWORDS[0])
                .await
                .unwrap();
            let after = stored_verifier(&user).await;
            assert_ne!(before, after);
            assert!(scram_verifies(&after, NASTY_PASSWORDS[0]));
            assert!(!scram_verifies(&after, "a"));
        },
        drop_roles(&[&role]),
    )
    .await;
}

#[tokio::test]
async fn changing_a_missing_roles_password_is_user_not_found() {
    let err = set_password(&master(), &unique("coffer_rdb_missing"), "pw")
        .await
        .unwrap_err();
    assert!(
        matches!(err, RotationDbError::UserNotFound { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_refused_change_reports_no_secret() {
    // An unprivileged role may change its own password but not another's.
    let weak = unique("coffer_rdb_weak");
    let other = unique("coffer_rdb_other");
    admin()
        .await
        .batch_execute(&format!(
            "CREATE ROLE {} LOGIN; CREATE ROLE {} LOGIN",
            ident(&weak),
            ident(&other)
        ))
        .await
        .unwrap();
    let (w, o) = (weak.clone(), other.clone());
    with_cleanup(
        async move {
            let password = "s3cret-'\"-value";
            let err = set_password(&secret("postgres", PG_PORT, &w, "pw"), &o, password)
                .await
                .unwrap_err();
            let RotationDbError::StatementFailed { code, .. } = &err else {
                panic!("{err:?}");
            };
            assert_eq!(code.as_deref(), Some("42501"));
            for shown in [err.to_string(), format!("{err:?}")] {
                assert!(!shown.contains("s3cret"), "{shown}");
                assert!(!shown.contains("SCRAM-SHA-256$"), "{shown}");
            }
        },
        drop_roles(&[&weak, &other]),
    )
    .await;
}

#[tokio::test]
async fn alternating_users_create_the_clone_once_then_change_its_password() {
    let original = format!("Rdb O'r\"ig {}", unique("o"));
    let clone = clone_user_name(coffer_rotation_db::Engine::Postgres, &original).unwrap();
    let schema = unique("coffer_rdb_schema");
    admin()
        .await
        .batch_execute(&format!(
            "CREATE ROLE {o} LOGIN PASSWORD 'orig';
             CREATE SCHEMA {s};
             CREATE TABLE {s}.t (x int);
             INSERT INTO {s}.t VALUES (42);
             GRANT USAGE ON SCHEMA {s} TO {o};
             GRANT SELECT ON {s}.t TO {o};",
            o = ident(&original),
            s = ident(&schema)
        ))
        .await
        .unwrap();
    let (o, c, s) = (original.clone(), clone.clone(), schema.clone());
    with_cleanup(
        async move {
            let first = ensure_clone_user(&master(), &o, &c, NASTY_PASSWORDS[0])
                .await
                .unwrap();
            assert_eq!(first, CloneUser::Created);
            assert!(scram_verifies(
                &stored_verifier(&c).await,
                NASTY_PASSWORDS[0]
            ));

            // The clone logs in and has the original's privileges through membership.
            test_login(&secret("postgres", PG_PORT, &c, NASTY_PASSWORDS[0]))
                .await
                .unwrap();
            let x: i32 = connect_as(&c)
                .await
                .query_one(&format!("SELECT x FROM {}.t", ident(&s)), &[])
                .await
                .unwrap()
                .get(0);
            assert_eq!(x, 42);

            let second = ensure_clone_user(&master(), &o, &c, NASTY_PASSWORDS[1])
                .await
                .unwrap();
            assert_eq!(second, CloneUser::PasswordChanged);
            let verifier = stored_verifier(&c).await;
            assert!(scram_verifies(&verifier, NASTY_PASSWORDS[1]));
            assert!(!scram_verifies(&verifier, NASTY_PASSWORDS[0]));
            let memberships: i64 = admin()
                .await
                .query_one(
                    "SELECT count(*) FROM pg_auth_members m
                     JOIN pg_roles r ON r.oid = m.roleid
                     JOIN pg_roles u ON u.oid = m.member
                     WHERE r.rolname = $1 AND u.rolname = $2",
                    &[&o, &c],
                )
                .await
                .unwrap()
                .get(0);
            assert_eq!(memberships, 1);
        },
        async {
            admin()
                .await
                .batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", ident(&schema)))
                .await
                .unwrap();
            drop_roles(&[&clone, &original]).await;
        },
    )
    .await;
}

#[tokio::test]
async fn concurrent_clone_creation_creates_exactly_once() {
    let original = unique("coffer_rdb_race");
    let clone = format!("{original}_clone");
    admin()
        .await
        .batch_execute(&format!("CREATE ROLE {} LOGIN", ident(&original)))
        .await
        .unwrap();
    let (o, c) = (original.clone(), clone.clone());
    with_cleanup(
        async move {
            let master = master();
            let (a, b) = tokio::join!(
                ensure_clone_user(&master, &o, &c, "pw-1"),
                ensure_clone_user(&master, &o, &c, "pw-1"),
            );
            let outcomes = [a.unwrap(), b.unwrap()];
            assert_eq!(
                outcomes
                    .iter()
                    .filter(|o| **o == CloneUser::Created)
                    .count(),
                1,
                "{outcomes:?}"
            );
            assert!(scram_verifies(&stored_verifier(&c).await, "pw-1"));
        },
        drop_roles(&[&clone, &original]),
    )
    .await;
}

#[tokio::test]
async fn a_missing_original_is_user_not_found() {
    let original = unique("coffer_rdb_gone");
    let clone = format!("{original}_clone");
    let err = ensure_clone_user(&master(), &original, &clone, "pw")
        .await
        .unwrap_err();
    assert!(
        matches!(err, RotationDbError::UserNotFound { .. }),
        "{err:?}"
    );
    // Nothing was created.
    let count: i64 = admin()
        .await
        .query_one(
            "SELECT count(*) FROM pg_roles WHERE rolname = $1",
            &[&clone],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 0);
}
