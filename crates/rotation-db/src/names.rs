use crate::{Engine, RotationDbError};

const CLONE_SUFFIX: &str = "_clone";

/// The other user of the alternating-users strategy, by AWS's multi-user template rule: a name
/// ending in `_clone` loses the suffix, any other name gains it.
///
/// A name that would exceed the engine's limit ([`Engine::max_user_name_len`]) is refused, as
/// AWS's templates refuse it, rather than truncated: stripping `_clone` from a truncated clone
/// would give a third name instead of the original, and PostgreSQL silently truncates long
/// identifiers, so the clone could even collide with another role.
pub fn clone_user_name(engine: Engine, user: &str) -> Result<String, RotationDbError> {
    let alternate = match user.strip_suffix(CLONE_SUFFIX) {
        Some(original) => original.to_owned(),
        None => format!("{user}{CLONE_SUFFIX}"),
    };
    check_user_name(engine, &alternate)?;
    Ok(alternate)
}

/// Refuses names the engine would reject or, worse, silently change.
pub(crate) fn check_user_name(engine: Engine, name: &str) -> Result<(), RotationDbError> {
    if name.is_empty() {
        return Err(RotationDbError::InvalidArgument(
            "a user name must not be empty".to_owned(),
        ));
    }
    if name.contains('\0') {
        return Err(RotationDbError::InvalidArgument(
            "a user name must not contain NUL".to_owned(),
        ));
    }
    let limit = engine.max_user_name_len();
    if engine.user_name_len(name) > limit {
        let unit = match engine {
            Engine::Postgres => "bytes",
            Engine::MySql | Engine::MariaDb => "characters",
        };
        return Err(RotationDbError::InvalidArgument(format!(
            "user name {name:?} is longer than the {limit} {unit} {engine} allows"
        )));
    }
    Ok(())
}

pub(crate) fn check_new_password(password: &str) -> Result<(), RotationDbError> {
    // MySQL treats an empty password as "no password": the account would then log in with none.
    if password.is_empty() {
        return Err(RotationDbError::InvalidArgument(
            "the new password must not be empty".to_owned(),
        ));
    }
    // Neither engine can store NUL in a password, and C clients would cut it there.
    if password.contains('\0') {
        return Err(RotationDbError::InvalidArgument(
            "the new password must not contain NUL".to_owned(),
        ));
    }
    Ok(())
}

/// A PostgreSQL identifier: double quotes, inner double quotes doubled. Always quoted, so case
/// and reserved words survive.
pub(crate) fn pg_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A PostgreSQL string literal for a session with standard_conforming_strings on (the
/// connection sets it), where a backslash is an ordinary character.
pub(crate) fn pg_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// A MySQL/MariaDB identifier (also an account name part): backticks, inner backticks doubled.
/// Backtick quoting means the same under every sql_mode, unlike string literals.
pub(crate) fn my_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// A MySQL account name, `user`@`host`.
pub(crate) fn my_account(user: &str, host: &str) -> String {
    format!("{}@{}", my_ident(user), my_ident(host))
}

/// A MySQL/MariaDB string literal. Under NO_BACKSLASH_ESCAPES a backslash is literal and only
/// the quote needs doubling; otherwise backslash is the escape character and is escaped too.
pub(crate) fn my_literal(value: &str, no_backslash_escapes: bool) -> String {
    let mut out = String::with_capacity(2 * value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' if !no_backslash_escapes => out.push_str("\\\\"),
            _ => out.push(c),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clone_name_appends_and_strips_the_suffix() {
        assert_eq!(
            clone_user_name(Engine::Postgres, "app").unwrap(),
            "app_clone"
        );
        assert_eq!(
            clone_user_name(Engine::Postgres, "app_clone").unwrap(),
            "app"
        );
        assert_eq!(
            clone_user_name(Engine::MySql, "App User").unwrap(),
            "App User_clone"
        );
        // Only the suffix counts, not an inner "_clone".
        assert_eq!(
            clone_user_name(Engine::MariaDb, "a_clone_b").unwrap(),
            "a_clone_b_clone"
        );
    }

    #[test]
    fn clone_name_respects_each_engines_limit() {
        let fits = |engine: Engine| "u".repeat(engine.max_user_name_len() - CLONE_SUFFIX.len());
        for engine in [Engine::Postgres, Engine::MySql, Engine::MariaDb] {
            let base = fits(engine);
            assert_eq!(
                clone_user_name(engine, &base).unwrap().len(),
                engine.max_user_name_len()
            );
            let too_long = format!("{base}u");
            let err = clone_user_name(engine, &too_long).unwrap_err();
            assert!(matches!(err, RotationDbError::InvalidArgument(_)), "{err}");
        }
        // PostgreSQL counts bytes, MySQL and MariaDB characters.
        let accented = "é".repeat(30); // 60 bytes, 30 characters
        assert!(clone_user_name(Engine::Postgres, &accented).is_err());
        assert!(clone_user_name(Engine::MariaDb, &accented).is_ok());
        assert!(clone_user_name(Engine::MySql, &"é".repeat(26)).is_ok());
    }

    #[test]
    fn clone_name_refuses_an_empty_original() {
        assert!(clone_user_name(Engine::Postgres, "_clone").is_err());
    }

    #[test]
    fn identifiers_and_literals_are_quoted() {
        assert_eq!(pg_ident(r#"we"ird"#), r#""we""ird""#);
        assert_eq!(pg_literal("it's"), "'it''s'");
        assert_eq!(pg_literal(r"back\slash"), r"'back\slash'");
        assert_eq!(my_ident("we`ird"), "`we``ird`");
        assert_eq!(my_account("o'k", "%"), "`o'k`@`%`");
        assert_eq!(my_literal(r#"a'b\c"d"#, false), r#"'a''b\\c"d'"#);
        assert_eq!(my_literal(r#"a'b\c"d"#, true), r#"'a''b\c"d'"#);
    }

    #[test]
    fn new_passwords_must_be_usable() {
        assert!(check_new_password("").is_err());
        assert!(check_new_password("a\0b").is_err());
        assert!(check_new_password("fine ' \" \\ % $ é").is_ok());
    }
}
