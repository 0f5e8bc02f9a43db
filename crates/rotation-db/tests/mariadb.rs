//! Against the local MariaDB, where passwords are enforced for the users the tests create, so
//! "the new password logs in and the old one is refused" is tested directly.

mod common;

use coffer_rotation_db::{
    CloneUser, DatabaseClient, DatabaseSecret, Engine, RotationDbError, Timeouts, clone_user_name,
    ensure_clone_user, set_password, test_login,
};
use common::*;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder};

async fn connect(user: &str, password: &str) -> mysql_async::Result<Conn> {
    Conn::new(
        OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(MY_PORT)
            .user(Some(user))
            .pass(Some(password))
            .prefer_socket(false),
    )
    .await
}

async fn admin() -> Conn {
    connect("root", "").await.unwrap()
}

/// `user`@`%`, quoted as the server expects.
fn account(user: &str) -> String {
    format!("`{}`@`%`", user.replace('`', "``"))
}

/// A string literal for the test's own setup statements, under the default sql_mode.
fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
}

async fn run(conn: &mut Conn, sql: &str) {
    conn.query_drop(sql).await.unwrap();
}

async fn create_user(user: &str, password: &str) {
    run(
        &mut admin().await,
        &format!(
            "CREATE USER {} IDENTIFIED BY {}",
            account(user),
            literal(password)
        ),
    )
    .await;
}

async fn drop_users(users: &[&str]) {
    let mut admin = admin().await;
    for user in users {
        run(
            &mut admin,
            &format!("DROP USER IF EXISTS {}", account(user)),
        )
        .await;
    }
}

async fn drop_tables(tables: &[&str]) {
    let mut admin = admin().await;
    for table in tables {
        run(&mut admin, &format!("DROP TABLE IF EXISTS test.`{table}`")).await;
    }
}

fn master() -> DatabaseSecret {
    secret("mariadb", MY_PORT, "root", "")
}

async fn assert_refused(user: &str, password: &str) {
    let err = test_login(&secret("mariadb", MY_PORT, user, password))
        .await
        .unwrap_err();
    assert!(err.is_authentication_failure(), "{err:?}");
}

async fn grants_of(user: &str) -> Vec<String> {
    admin()
        .await
        .query(format!("SHOW GRANTS FOR {}", account(user)))
        .await
        .unwrap()
}

#[tokio::test]
async fn login_runs_select_1_for_both_engine_names() {
    test_login(&master()).await.unwrap();
    test_login(&secret("mysql", MY_PORT, "root", ""))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_are_authentication_failures() {
    let user = unique("coffer_rdb_auth");
    create_user(&user, "right").await;
    let u = user.clone();
    with_cleanup(
        async move {
            test_login(&secret("mariadb", MY_PORT, &u, "right"))
                .await
                .unwrap();
            let err = test_login(&secret("mariadb", MY_PORT, &u, "wrong"))
                .await
                .unwrap_err();
            let RotationDbError::AuthenticationFailed { detail, .. } = &err else {
                panic!("{err:?}");
            };
            assert!(!detail.contains("wrong"), "{detail}");
            assert_refused(&unique("coffer_rdb_nobody"), "pw").await;
        },
        drop_users(&[&user]),
    )
    .await;
}

#[tokio::test]
async fn an_expired_password_is_an_authentication_failure() {
    let user = unique("coffer_rdb_expired");
    create_user(&user, "pw").await;
    run(
        &mut admin().await,
        &format!("ALTER USER {} PASSWORD EXPIRE", account(&user)),
    )
    .await;
    let u = user.clone();
    with_cleanup(
        async move { assert_refused(&u, "pw").await },
        drop_users(&[&user]),
    )
    .await;
}

#[tokio::test]
async fn a_closed_port_is_unreachable() {
    let port = closed_port().await;
    let err = test_login(&secret("mariadb", port, "root", ""))
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
        .test_login(&secret("mysql", port, "root", ""))
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(started.elapsed() < SHORT * 4, "{:?}", started.elapsed());
    server.abort();
}

#[tokio::test]
async fn single_user_change_takes_the_new_password_and_refuses_the_old() {
    // Quotes of every kind, a backslash, a space, non-ASCII.
    let user = format!("Rdb 'q\"`\\ é {}", unique("u"));
    create_user(&user, "old password").await;
    let u = user.clone();
    with_cleanup(
        async move {
            let mut current = "old password".to_owned();
            for (engine, new) in ["mariadb", "mysql"].iter().zip(NASTY_PASSWORDS) {
                let login = secret(engine, MY_PORT, &u, &current);
                set_password(&login, &u, new).await.unwrap();
                test_login(&secret(engine, MY_PORT, &u, new)).await.unwrap();
                assert_refused(&u, &current).await;
                // What is stored is the server's own hash of the new password: the hash this
                // crate sent, computed client-side, is the one MariaDB would have made.
                let mut admin = admin().await;
                let (stored, expected, plugin): (String, String, String) = admin
                    .exec_first(
                        "SELECT authentication_string, PASSWORD(?), plugin
                         FROM mysql.user WHERE User = ? AND Host = '%'",
                        (*new, &u),
                    )
                    .await
                    .unwrap()
                    .unwrap();
                assert_eq!(stored, expected);
                assert_eq!(plugin, "mysql_native_password");
                current = new.to_string();
            }
        },
        drop_users(&[&user]),
    )
    .await;
}

#[tokio::test]
async fn master_changes_another_users_password() {
    let user = unique("coffer_rdb_target");
    create_user(&user, "before").await;
    let u = user.clone();
    with_cleanup(
        async move {
            set_password(&master(), &u, NASTY_PASSWORDS[1])
                .await
                .unwrap();
            test_login(&secret("mariadb", MY_PORT, &u, NASTY_PASSWORDS[1]))
                .await
                .unwrap();
            assert_refused(&u, "before").await;
        },
        drop_users(&[&user]),
    )
    .await;
}

#[tokio::test]
async fn changing_a_missing_users_password_is_user_not_found() {
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
    // Allowed to look users up but not to change another user's password.
    let weak = unique("coffer_rdb_weak");
    let other = unique("coffer_rdb_other");
    create_user(&weak, "weak-pw").await;
    create_user(&other, "other-pw").await;
    run(
        &mut admin().await,
        &format!("GRANT SELECT ON mysql.user TO {}", account(&weak)),
    )
    .await;
    let (w, o) = (weak.clone(), other.clone());
    with_cleanup(
        async move {
            let password = "s3cret-'\"-value";
            let err = set_password(&secret("mariadb", MY_PORT, &w, "weak-pw"), &o, password)
                .await
                .unwrap_err();
            assert!(
                matches!(err, RotationDbError::StatementFailed { .. }),
                "{err:?}"
            );
            let hash = admin()
                .await
                .exec_first::<String, _, _>("SELECT PASSWORD(?)", (password,))
                .await
                .unwrap()
                .unwrap();
            for shown in [err.to_string(), format!("{err:?}")] {
                assert!(!shown.contains("s3cret"), "{shown}");
                assert!(!shown.contains(&hash), "{shown}");
            }
            // And nothing changed.
            test_login(&secret("mariadb", MY_PORT, &o, "other-pw"))
                .await
                .unwrap();
        },
        drop_users(&[&weak, &other]),
    )
    .await;
}

#[tokio::test]
async fn alternating_users_create_the_clone_with_the_grants_then_only_change_its_password() {
    let original = format!("Rdb O'r\"ig {}", unique("o"));
    let clone = clone_user_name(Engine::MariaDb, &original).unwrap();
    let base = unique("coffer_rdb_t");
    let (granted, withheld, via_role) = (
        format!("{base}_g"),
        format!("{base}_w"),
        format!("{base}_r"),
    );
    let role = format!("{base}_role");
    {
        let mut admin = admin().await;
        for table in [&granted, &withheld, &via_role] {
            run(&mut admin, &format!("CREATE TABLE test.`{table}` (x int)")).await;
            run(
                &mut admin,
                &format!("INSERT INTO test.`{table}` VALUES (42)"),
            )
            .await;
        }
        create_user(&original, "orig").await;
        run(
            &mut admin,
            &format!(
                "GRANT SELECT, INSERT ON test.`{granted}` TO {}",
                account(&original)
            ),
        )
        .await;
        // A role with a default role: both lines of SHOW GRANTS have to be replayed.
        run(&mut admin, &format!("CREATE ROLE `{role}`")).await;
        run(
            &mut admin,
            &format!("GRANT SELECT ON test.`{via_role}` TO `{role}`"),
        )
        .await;
        run(
            &mut admin,
            &format!("GRANT `{role}` TO {}", account(&original)),
        )
        .await;
        run(
            &mut admin,
            &format!("SET DEFAULT ROLE `{role}` FOR {}", account(&original)),
        )
        .await;
    }
    let (o, c) = (original.clone(), clone.clone());
    let (g, w, r) = (granted.clone(), withheld.clone(), via_role.clone());
    with_cleanup(
        async move {
            let first = ensure_clone_user(&master(), &o, &c, NASTY_PASSWORDS[0])
                .await
                .unwrap();
            assert_eq!(first, CloneUser::Created);

            // The clone can do what the original can, and no more.
            let mut as_clone = connect(&c, NASTY_PASSWORDS[0]).await.unwrap();
            let x: Option<i32> = as_clone
                .query_first(format!("SELECT x FROM test.`{g}`"))
                .await
                .unwrap();
            assert_eq!(x, Some(42));
            as_clone
                .query_drop(format!("INSERT INTO test.`{g}` VALUES (7)"))
                .await
                .unwrap();
            let x: Option<i32> = as_clone
                .query_first(format!("SELECT x FROM test.`{r}`"))
                .await
                .unwrap();
            assert_eq!(x, Some(42));
            let denied = as_clone
                .query_drop(format!("SELECT x FROM test.`{w}`"))
                .await
                .unwrap_err();
            assert!(
                matches!(&denied, mysql_async::Error::Server(e) if e.code == 1142),
                "{denied:?}"
            );
            drop(as_clone);
            // The original's password hash was not copied along with its grants.
            assert!(connect(&c, "orig").await.is_err());

            // Grants added to the original later are not copied by a password change.
            run(
                &mut admin().await,
                &format!("GRANT UPDATE ON test.`{g}` TO {}", account(&o)),
            )
            .await;
            let grants_before = grants_of(&c).await;
            let second = ensure_clone_user(&master(), &o, &c, NASTY_PASSWORDS[1])
                .await
                .unwrap();
            assert_eq!(second, CloneUser::PasswordChanged);
            test_login(&secret("mariadb", MY_PORT, &c, NASTY_PASSWORDS[1]))
                .await
                .unwrap();
            assert_refused(&c, NASTY_PASSWORDS[0]).await;
            let grants_after = grants_of(&c).await;
            assert_eq!(grants_before.len(), grants_after.len());
            assert!(
                !grants_after.iter().any(|line| line.contains("UPDATE")),
                "{grants_after:?}"
            );

            // Rotating back: the original is the clone of the clone, and already exists.
            assert_eq!(clone_user_name(Engine::MariaDb, &c).unwrap(), o);
            let back = ensure_clone_user(&master(), &c, &o, "back again")
                .await
                .unwrap();
            assert_eq!(back, CloneUser::PasswordChanged);
            test_login(&secret("mariadb", MY_PORT, &o, "back again"))
                .await
                .unwrap();
        },
        async {
            drop_users(&[&clone, &original]).await;
            run(&mut admin().await, &format!("DROP ROLE IF EXISTS `{role}`")).await;
            drop_tables(&[&granted, &withheld, &via_role]).await;
        },
    )
    .await;
}

#[tokio::test]
async fn concurrent_clone_creation_creates_exactly_once() {
    let original = unique("coffer_rdb_race");
    let clone = format!("{original}_clone");
    create_user(&original, "orig").await;
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
            test_login(&secret("mariadb", MY_PORT, &c, "pw-1"))
                .await
                .unwrap();
        },
        drop_users(&[&clone, &original]),
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
    assert!(connect(&clone, "pw").await.is_err());
}
