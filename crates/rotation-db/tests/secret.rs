//! The secret JSON: AWS's structure for database secrets, read and written back.

use coffer_rotation_db::{DatabaseSecret, Engine, RotationDbError, set_password};
use serde_json::{Value, json};

const PASSWORD: &str = "pa'ss\"wo\\rd %s $1 ünï";

fn parse(value: &Value) -> Result<DatabaseSecret, RotationDbError> {
    DatabaseSecret::parse(&value.to_string())
}

fn full() -> Value {
    json!({
        "engine": "postgres",
        "host": "db.example.internal",
        "username": "app",
        "password": PASSWORD,
        "dbname": "orders",
        "port": 6543,
        "masterarn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:master-AbCdEf",
    })
}

fn invalid_message(result: Result<DatabaseSecret, RotationDbError>) -> String {
    match result {
        Err(RotationDbError::InvalidSecret(message)) => message,
        other => panic!("expected InvalidSecret, got {other:?}"),
    }
}

#[test]
fn reads_the_documented_structure() {
    let secret = parse(&full()).unwrap();
    assert_eq!(secret.engine(), Engine::Postgres);
    assert_eq!(secret.host(), "db.example.internal");
    assert_eq!(secret.port(), 6543);
    assert_eq!(secret.username(), "app");
    assert_eq!(secret.password(), PASSWORD);
    assert_eq!(secret.dbname(), Some("orders"));
    assert_eq!(secret.database(), Some("orders"));
    assert_eq!(
        secret.master_arn(),
        Some("arn:aws:secretsmanager:eu-west-1:123456789012:secret:master-AbCdEf")
    );
    assert_eq!(secret.endpoint(), "db.example.internal:6543");
}

#[test]
fn port_may_be_a_number_or_a_string() {
    for port in [json!(3307), json!("3307"), json!(" 3307 ")] {
        let mut value = full();
        value["port"] = port;
        assert_eq!(parse(&value).unwrap().port(), 3307);
    }
}

#[test]
fn invalid_ports_are_refused_without_echoing_them() {
    for port in [
        json!("54x32"),
        json!(0),
        json!(70000),
        json!(-5432),
        json!(5432.5),
        json!(true),
        json!([5432]),
        json!(""),
    ] {
        let mut value = full();
        value["port"] = port.clone();
        let message = invalid_message(parse(&value));
        assert!(message.contains("`port`"), "{message}");
        assert!(!message.contains(&port.to_string()), "{message}");
    }
}

#[test]
fn defaults_depend_on_the_engine() {
    let minimal =
        |engine: &str| json!({"engine": engine, "host": "h", "username": "u", "password": "p"});
    let pg = parse(&minimal("postgres")).unwrap();
    assert_eq!(
        (pg.port(), pg.dbname(), pg.database()),
        (5432, None, Some("postgres"))
    );
    assert_eq!(pg.master_arn(), None);
    for (name, engine) in [("mysql", Engine::MySql), ("mariadb", Engine::MariaDb)] {
        let my = parse(&minimal(name)).unwrap();
        assert_eq!(my.engine(), engine);
        assert_eq!((my.port(), my.dbname(), my.database()), (3306, None, None));
    }
    // The spellings AWS's templates accept for Aurora.
    assert_eq!(
        parse(&minimal("aurora-postgresql")).unwrap().engine(),
        Engine::Postgres
    );
    assert_eq!(
        parse(&minimal("aurora-mysql")).unwrap().engine(),
        Engine::MySql
    );
    // null is absent.
    let mut value = minimal("postgres");
    value["port"] = Value::Null;
    value["dbname"] = Value::Null;
    let secret = parse(&value).unwrap();
    assert_eq!((secret.port(), secret.database()), (5432, Some("postgres")));
}

#[test]
fn missing_required_keys_are_named_and_no_value_is_echoed() {
    for key in ["engine", "host", "username", "password"] {
        let mut value = full();
        value.as_object_mut().unwrap().remove(key);
        let message = invalid_message(parse(&value));
        assert!(message.contains(&format!("`{key}`")), "{message}");
        assert!(message.contains("missing"), "{message}");
        assert!(!message.contains("pa'ss"), "{message}");
        assert!(!message.contains("db.example"), "{message}");
    }
}

#[test]
fn wrongly_typed_or_unsupported_values_are_named_and_not_echoed() {
    for (key, bad) in [
        ("password", json!(1234567890)),
        ("password", json!({"nested": "hunter2"})),
        ("username", json!(["hunter2"])),
        ("host", json!(1234567890)),
        ("engine", json!("hunter2")),
        ("dbname", json!(1234567890)),
        ("masterarn", json!(false)),
    ] {
        let mut value = full();
        value[key] = bad;
        let message = invalid_message(parse(&value));
        assert!(message.contains(&format!("`{key}`")), "{key}: {message}");
        assert!(!message.contains("hunter2"), "{message}");
        assert!(!message.contains("1234567890"), "{message}");
    }
}

#[test]
fn malformed_json_is_refused_without_echoing_it() {
    for text in [
        r#""hunter2""#,
        r#"["hunter2"]"#,
        r#"{"engine": "postgres", "password": "hunter2"#,
        r#"{"engine": "postgres", "password": hunter2}"#,
        "hunter2",
        "",
    ] {
        let message = invalid_message(DatabaseSecret::parse(text));
        assert!(!message.contains("hunter2"), "{message}");
    }
}

#[test]
fn duplicate_keys_are_refused() {
    let text = r#"{"engine":"postgres","host":"h","username":"u","password":"hunter2","password":"other"}"#;
    let message = invalid_message(DatabaseSecret::parse(text));
    assert!(message.contains("`password`"), "{message}");
    assert!(
        !message.contains("hunter2") && !message.contains("other"),
        "{message}"
    );
}

#[test]
fn hosts_must_be_network_names() {
    for host in ["", "/var/run/postgresql"] {
        let mut value = full();
        value["host"] = json!(host);
        assert!(invalid_message(parse(&value)).contains("`host`"));
    }
}

#[test]
fn with_credentials_keeps_every_other_member_as_written() {
    // Member order, a port written as a string, a number beyond f64 precision, nested
    // structures and an unknown secret-looking member all survive.
    let text = r#"{"masterarn":"arn:m","extra":{"nested":[1,2,{"k":"v"}]},"engine":"mysql","host":"h","port":"3307","username":"old","password":"old-pw","big":123456789012345678901234567890,"apikey":"do-not-lose"}"#;
    let secret = DatabaseSecret::parse(text).unwrap();
    let new_password = "n'e\"w\\ \u{1}\n ü 密码";
    let rewritten = secret.with_credentials("old_clone", new_password);
    assert_eq!(
        rewritten.as_str(),
        text.replace(r#""username":"old""#, r#""username":"old_clone""#)
            .replace(
                r#""password":"old-pw""#,
                &format!(
                    r#""password":{}"#,
                    serde_json::to_string(new_password).unwrap()
                )
            )
    );
    let reread = DatabaseSecret::parse(&rewritten).unwrap();
    assert_eq!(reread.username(), "old_clone");
    assert_eq!(reread.password(), new_password);
    assert_eq!(reread.port(), 3307);
    assert_eq!(reread.master_arn(), Some("arn:m"));
}

#[test]
fn login_as_keeps_the_endpoint_and_members() {
    let secret = parse(&full()).unwrap();
    let other = secret.login_as("app_clone", "new");
    assert_eq!(other.username(), "app_clone");
    assert_eq!(other.password(), "new");
    assert_eq!(other.host(), secret.host());
    assert_eq!(other.port(), secret.port());
    assert_eq!(other.database(), Some("orders"));
    let json: Value = serde_json::from_str(&other.with_credentials("x", "y")).unwrap();
    assert_eq!(json["masterarn"], full()["masterarn"]);
}

#[test]
fn debug_never_shows_the_password_or_unknown_values() {
    let mut value = full();
    value["apikey"] = json!("hunter2-api-key");
    let secret = parse(&value).unwrap();
    let shown = format!("{secret:?} {secret:#?}");
    assert!(!shown.contains("pa'ss"), "{shown}");
    assert!(!shown.contains(&format!("{PASSWORD:?}")), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("<redacted>"), "{shown}");
    assert!(shown.contains("apikey"), "{shown}");
    assert!(shown.contains("db.example.internal"), "{shown}");
}

#[tokio::test]
async fn argument_errors_never_show_the_password() {
    let secret = parse(&full()).unwrap();
    let err = set_password(&secret, "app", "bad\0hunter2")
        .await
        .unwrap_err();
    assert!(
        matches!(err, RotationDbError::InvalidArgument(_)),
        "{err:?}"
    );
    assert!(!format!("{err} {err:?}").contains("hunter2"));
    let err = set_password(&secret, "app", "").await.unwrap_err();
    assert!(
        matches!(err, RotationDbError::InvalidArgument(_)),
        "{err:?}"
    );
    // A user name PostgreSQL would silently truncate is refused before connecting.
    let err = set_password(&secret, &"x".repeat(64), "pw")
        .await
        .unwrap_err();
    assert!(
        matches!(err, RotationDbError::InvalidArgument(_)),
        "{err:?}"
    );
}
