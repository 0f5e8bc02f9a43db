//! MySQL and MariaDB. Which statements are sent depends on the server actually answering (its
//! `VERSION()`), not on the secret's `engine`, since `mysql` secrets often point at MariaDB.
//!
//! MariaDB gets the `mysql_native_password` hash computed here, so the plaintext never reaches
//! the server: MariaDB 10.11 cannot take a password as a bound parameter (`ALTER USER ...
//! IDENTIFIED BY ?`, `SET PASSWORD ... = PASSWORD(?)` and `CREATE USER ... IDENTIFIED BY ?` are
//! all syntax errors when prepared), and it writes statements to its general log unredacted.
//! MySQL gets the plaintext as an escaped literal: it cannot take it as a parameter either, its
//! default plugin (`caching_sha2_password`) has no hash a client can sensibly precompute, and
//! MySQL rewrites password-bearing statements before they reach its logs.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder};
use sha1::{Digest, Sha1};
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Carried, Site};
use crate::names::{my_account, my_literal};
use crate::{CloneUser, DatabaseSecret, RotationDbError, Timeouts};

pub(crate) async fn test_login(
    secret: &DatabaseSecret,
    timeouts: Timeouts,
) -> Result<(), RotationDbError> {
    let mut session = Session::connect(secret, timeouts).await?;
    let result = session
        .execute("SELECT 1", "SELECT 1", Carried::Nothing)
        .await;
    session.close().await;
    result
}

pub(crate) async fn set_password(
    login: &DatabaseSecret,
    user: &str,
    new_password: &str,
    timeouts: Timeouts,
) -> Result<(), RotationDbError> {
    let mut session = Session::connect(login, timeouts).await?;
    let result = async {
        let secret = session.password_form(new_password);
        let sql = if user == login.username() {
            // The account this session is logged in as, whatever its host part: no lookup, and
            // no privilege needed beyond logging in.
            session.set_own_password(&secret)
        } else {
            let host = session.account_host(user).await?;
            session.set_password_for(&my_account(user, &host), &secret)
        };
        session
            .execute(&sql, "password change", Carried::Secret(&secret.forms()))
            .await
    }
    .await;
    session.close().await;
    result
}

pub(crate) async fn ensure_clone_user(
    master: &DatabaseSecret,
    original_user: &str,
    clone_user: &str,
    password: &str,
    timeouts: Timeouts,
) -> Result<CloneUser, RotationDbError> {
    let mut session = Session::connect(master, timeouts).await?;
    let result = async {
        let secret = session.password_form(password);
        let forms = secret.forms();
        let carried = Carried::Secret(&forms);
        let original_host = session.account_host(original_user).await?;
        let clone_host = match session.account_host(clone_user).await {
            Ok(host) => Some(host),
            Err(RotationDbError::UserNotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        if let Some(host) = clone_host {
            let sql = session.set_password_for(&my_account(clone_user, &host), &secret);
            session.execute(&sql, "password change", carried).await?;
            return Ok(CloneUser::PasswordChanged);
        }

        // The clone takes the original's host part, so it can log in from where the original can.
        let clone = my_account(clone_user, &original_host);
        let create = session.create_user(&clone, &secret);
        match session.execute(&create, "CREATE USER", carried).await {
            Ok(()) => {}
            // ER_CANNOT_USER: another rotation created it after the lookup; it is that
            // rotation's to finish, so only the password is set here.
            Err(RotationDbError::StatementFailed {
                code: Some(code), ..
            }) if code == "1396" => {
                let sql = session.set_password_for(&clone, &secret);
                session.execute(&sql, "password change", carried).await?;
                return Ok(CloneUser::PasswordChanged);
            }
            Err(e) => return Err(e),
        }
        // MySQL cannot create a user and grant in one transaction, so a clone whose grants could
        // not all be copied is dropped again: left in place, the next rotation would find it and
        // only change its password, and the application would lose privileges on the switch.
        if let Err(e) = session
            .copy_grants(original_user, &original_host, &clone)
            .await
        {
            let drop = format!("DROP USER IF EXISTS {clone}");
            let _ = session.execute(&drop, "DROP USER", Carried::Nothing).await;
            return Err(e);
        }
        Ok(CloneUser::Created)
    }
    .await;
    session.close().await;
    result
}

/// The password as the statements carry it: a `mysql_native_password` hash for MariaDB, the
/// escaped plaintext for MySQL.
enum PasswordForm {
    NativeHash(Zeroizing<String>),
    Plain(Zeroizing<String>),
}

impl PasswordForm {
    /// What a server message must not repeat.
    fn forms(&self) -> [&str; 1] {
        match self {
            PasswordForm::NativeHash(hash) => [hash.as_str()],
            PasswordForm::Plain(literal) => [literal.as_str()],
        }
    }
}

/// `*` and the upper-case hex of SHA1(SHA1(password)): what MariaDB's `PASSWORD()` computes and
/// `mysql.user` stores for `mysql_native_password`.
fn native_password_hash(password: &str) -> Zeroizing<String> {
    // SHA1(password) is what the client proves knowledge of at login, so it is a password
    // equivalent and is wiped.
    let mut stage1: [u8; 20] = Sha1::digest(password.as_bytes()).into();
    let stage2: [u8; 20] = Sha1::digest(stage1).into();
    stage1.zeroize();
    let mut hash = Zeroizing::new(String::with_capacity(41));
    hash.push('*');
    for byte in stage2 {
        hash.push(char::from(b"0123456789ABCDEF"[usize::from(byte >> 4)]));
        hash.push(char::from(b"0123456789ABCDEF"[usize::from(byte & 0xf)]));
    }
    hash
}

struct Session {
    conn: Option<Conn>,
    site: Site,
    timeouts: Timeouts,
    mariadb: bool,
    no_backslash_escapes: bool,
}

impl Session {
    async fn connect(
        secret: &DatabaseSecret,
        timeouts: Timeouts,
    ) -> Result<Session, RotationDbError> {
        let site = Site {
            engine: secret.engine(),
            endpoint: secret.endpoint(),
        };
        let opts = OptsBuilder::default()
            .ip_or_hostname(secret.host())
            .tcp_port(secret.port())
            .user(Some(secret.username()))
            .pass(Some(secret.password()))
            .db_name(secret.database())
            // mysql_async would otherwise switch a loopback connection to the server's Unix
            // socket, which logs in as a different account ('user'@'localhost').
            .prefer_socket(false)
            // The default, stated: a server (or anyone in between, without TLS) asking for
            // mysql_clear_password must not get the plaintext.
            .enable_cleartext_plugin(false)
            .tcp_keepalive(Some(Duration::from_secs(30)))
            .stmt_cache_size(0);
        // No TLS: see the crate documentation for what TLS support would take.
        let conn = match tokio::time::timeout(timeouts.connect, Conn::new(opts)).await {
            Err(_) => {
                return Err(
                    site.unreachable(format!("no completed login within {:?}", timeouts.connect))
                );
            }
            Ok(Err(e)) => return Err(connect_error(&site, secret.username(), e)),
            Ok(Ok(conn)) => conn,
        };
        let mut session = Session {
            conn: Some(conn),
            site,
            timeouts,
            mariadb: false,
            no_backslash_escapes: false,
        };
        let (version, sql_mode): (String, String) = session
            .query_first("SELECT VERSION(), @@SESSION.sql_mode", "session setup")
            .await
            .map_err(|e| session.expired_as_auth(e, secret.username()))?
            .ok_or_else(|| session.site.protocol("SELECT VERSION() returned no row"))?;
        session.mariadb = version.to_ascii_lowercase().contains("mariadb");
        session.no_backslash_escapes = sql_mode
            .split(',')
            .any(|mode| mode.eq_ignore_ascii_case("NO_BACKSLASH_ESCAPES"));
        // Server-side bounds too, so statements abandoned by the client timeout do not run on.
        let seconds = session.timeouts.statement.as_secs().max(1);
        let setup = if session.mariadb {
            format!(
                "SET SESSION lock_wait_timeout = {seconds}, SESSION max_statement_time = {seconds}"
            )
        } else {
            format!("SET SESSION lock_wait_timeout = {seconds}")
        };
        session
            .execute(&setup, "session setup", Carried::Nothing)
            .await?;
        Ok(session)
    }

    fn conn(&mut self) -> &mut Conn {
        self.conn
            .as_mut()
            .expect("the connection lives until close")
    }

    fn password_form(&self, password: &str) -> PasswordForm {
        if self.mariadb {
            PasswordForm::NativeHash(native_password_hash(password))
        } else {
            PasswordForm::Plain(Zeroizing::new(my_literal(
                password,
                self.no_backslash_escapes,
            )))
        }
    }

    fn hash_literal(&self, hash: &str) -> String {
        my_literal(hash, self.no_backslash_escapes)
    }

    fn set_own_password(&self, secret: &PasswordForm) -> Zeroizing<String> {
        Zeroizing::new(match secret {
            PasswordForm::NativeHash(hash) => {
                format!("SET PASSWORD = {}", self.hash_literal(hash))
            }
            PasswordForm::Plain(literal) => {
                format!(
                    "ALTER USER CURRENT_USER() IDENTIFIED BY {}",
                    literal.as_str()
                )
            }
        })
    }

    fn set_password_for(&self, account: &str, secret: &PasswordForm) -> Zeroizing<String> {
        Zeroizing::new(match secret {
            // SET PASSWORD rather than ALTER USER: it keeps the account's other properties and
            // needs no more than the privilege to change other users' passwords.
            PasswordForm::NativeHash(hash) => {
                format!("SET PASSWORD FOR {account} = {}", self.hash_literal(hash))
            }
            PasswordForm::Plain(literal) => {
                format!("ALTER USER {account} IDENTIFIED BY {}", literal.as_str())
            }
        })
    }

    fn create_user(&self, account: &str, secret: &PasswordForm) -> Zeroizing<String> {
        Zeroizing::new(match secret {
            PasswordForm::NativeHash(hash) => format!(
                "CREATE USER {account} IDENTIFIED BY PASSWORD {}",
                self.hash_literal(hash)
            ),
            PasswordForm::Plain(literal) => {
                format!("CREATE USER {account} IDENTIFIED BY {}", literal.as_str())
            }
        })
    }

    /// The host part of `user`'s account: the only one, or `%` when there are several (AWS's
    /// templates always use `%`). Needs read access to `mysql.user`, as AWS's templates do.
    async fn account_host(&mut self, user: &str) -> Result<String, RotationDbError> {
        let hosts: Vec<String> = self
            .exec(
                "SELECT Host FROM mysql.user WHERE User = ?",
                user,
                "user lookup",
            )
            .await?;
        match hosts.as_slice() {
            [] => Err(self.site.user_not_found(user)),
            [host] => Ok(host.clone()),
            _ if hosts.iter().any(|h| h == "%") => Ok("%".to_owned()),
            _ => Err(self.site.statement(
                "user lookup",
                None,
                format!(
                    "user {user:?} has accounts for several hosts and none for '%'; \
                     which one to rotate is ambiguous"
                ),
            )),
        }
    }

    /// Replays `SHOW GRANTS` for the original account with the clone as grantee.
    async fn copy_grants(
        &mut self,
        original_user: &str,
        original_host: &str,
        clone: &str,
    ) -> Result<(), RotationDbError> {
        let show = format!(
            "SHOW GRANTS FOR {}",
            my_account(original_user, original_host)
        );
        let lines: Vec<String> = self.query(&show, "SHOW GRANTS").await?;
        let grantees = grantee_renderings(original_user, original_host);
        for line in lines {
            let statement =
                Zeroizing::new(rewrite_grant(&line, &grantees, clone).ok_or_else(|| {
                    // The line is not echoed: it may carry the original's password hash.
                    self.site.statement(
                        "grant copy",
                        None,
                        "SHOW GRANTS returned a line this client cannot replay",
                    )
                })?);
            // A replayed line is derived from one that may have held the original's hash.
            self.execute(&statement, "grant copy", Carried::Secret(&[]))
                .await?;
        }
        Ok(())
    }

    async fn execute(
        &mut self,
        sql: &str,
        operation: &'static str,
        carried: Carried<'_>,
    ) -> Result<(), RotationDbError> {
        let limit = self.timeouts.statement;
        match tokio::time::timeout(limit, self.conn().query_drop(sql)).await {
            Err(_) => Err(self.site.timeout(operation, limit)),
            Ok(Err(e)) => Err(self.statement_error(operation, e, carried)),
            Ok(Ok(())) => Ok(()),
        }
    }

    async fn query(
        &mut self,
        sql: &str,
        operation: &'static str,
    ) -> Result<Vec<String>, RotationDbError> {
        let limit = self.timeouts.statement;
        match tokio::time::timeout(limit, self.conn().query(sql)).await {
            Err(_) => Err(self.site.timeout(operation, limit)),
            Ok(Err(e)) => Err(self.statement_error(operation, e, Carried::Nothing)),
            Ok(Ok(rows)) => Ok(rows),
        }
    }

    async fn query_first(
        &mut self,
        sql: &str,
        operation: &'static str,
    ) -> Result<Option<(String, String)>, RotationDbError> {
        let limit = self.timeouts.statement;
        match tokio::time::timeout(limit, self.conn().query_first(sql)).await {
            Err(_) => Err(self.site.timeout(operation, limit)),
            Ok(Err(e)) => Err(self.statement_error(operation, e, Carried::Nothing)),
            Ok(Ok(row)) => Ok(row),
        }
    }

    /// A prepared statement with one bound parameter, for lookups by a caller-supplied name.
    async fn exec(
        &mut self,
        sql: &str,
        param: &str,
        operation: &'static str,
    ) -> Result<Vec<String>, RotationDbError> {
        let limit = self.timeouts.statement;
        match tokio::time::timeout(limit, self.conn().exec(sql, (param,))).await {
            Err(_) => Err(self.site.timeout(operation, limit)),
            Ok(Err(e)) => Err(self.statement_error(operation, e, Carried::Nothing)),
            Ok(Ok(rows)) => Ok(rows),
        }
    }

    fn statement_error(
        &self,
        operation: &'static str,
        e: mysql_async::Error,
        carried: Carried<'_>,
    ) -> RotationDbError {
        let server = match e {
            mysql_async::Error::Server(server) => server,
            other => return transport_error(&self.site, other),
        };
        match server.code {
            // ER_LOCK_WAIT_TIMEOUT, MariaDB's ER_STATEMENT_TIMEOUT, MySQL's
            // ER_QUERY_TIMEOUT (max_execution_time).
            1205 | 1969 | 3024 => self.site.timeout(operation, self.timeouts.statement),
            code => self.site.statement(
                operation,
                Some(code.to_string()),
                // ER_PARSE_ERROR, ER_SYNTAX_ERROR
                carried.redact(&server.message, code == 1064 || code == 1149),
            ),
        }
    }

    /// A login whose password has expired succeeds, but every statement then fails with
    /// ER_MUST_CHANGE_PASSWORD (the server's "sandbox mode"): those credentials do not work.
    fn expired_as_auth(&self, e: RotationDbError, username: &str) -> RotationDbError {
        match &e {
            RotationDbError::StatementFailed {
                code: Some(code),
                detail,
                ..
            } if code == "1820" => self.site.auth_failed(username, detail.clone()),
            _ => e,
        }
    }

    async fn close(mut self) {
        if let Some(conn) = self.conn.take() {
            let _ = tokio::time::timeout(Duration::from_secs(1), conn.disconnect()).await;
        }
    }
}

fn connect_error(site: &Site, username: &str, e: mysql_async::Error) -> RotationDbError {
    let server = match e {
        mysql_async::Error::Server(server) => server,
        other => return transport_error(site, other),
    };
    match server.code {
        // ER_DBACCESS_DENIED_ERROR, ER_ACCESS_DENIED_ERROR, ER_HOST_NOT_PRIVILEGED,
        // ER_ACCESS_DENIED_NO_PASSWORD_ERROR, ER_MUST_CHANGE_PASSWORD_LOGIN, MySQL's and
        // MariaDB's ER_ACCOUNT_HAS_BEEN_LOCKED, and ER_MUST_CHANGE_PASSWORD: an expired password
        // logs in to a sandbox where the driver's own first query already fails. The messages
        // name the user and the client host, and say "using password: YES", never the password.
        1044 | 1045 | 1130 | 1698 | 1820 | 1862 | 3118 | 4151 => {
            site.auth_failed(username, server.message)
        }
        // ER_CON_COUNT_ERROR, ER_HOST_IS_BLOCKED, ER_TOO_MANY_USER_CONNECTIONS,
        // ER_USER_LIMIT_REACHED, ER_SERVER_SHUTDOWN: the credentials may well be fine.
        1040 | 1129 | 1203 | 1226 | 1053 => site.unreachable(server.message),
        code => site.statement("login", Some(code.to_string()), server.message),
    }
}

fn transport_error(site: &Site, e: mysql_async::Error) -> RotationDbError {
    match e {
        mysql_async::Error::Io(io) => site.unreachable(io.to_string()),
        mysql_async::Error::Driver(mysql_async::DriverError::ConnectionClosed) => {
            site.unreachable("the server closed the connection")
        }
        // Display only: the Debug forms of some driver errors carry row values or packets.
        other => site.protocol(other.to_string()),
    }
}

/// How `SHOW GRANTS` may spell the account: MariaDB and MySQL 8 quote with backticks, MySQL
/// 5.7 with single quotes.
fn grantee_renderings(user: &str, host: &str) -> Vec<String> {
    let single = |s: &str, quote: &str| s.replace('\'', quote);
    vec![
        my_account(user, host),
        format!("'{}'@'{}'", single(user, "''"), single(host, "''")),
        format!("'{}'@'{}'", single(user, "\\'"), single(host, "\\'")),
    ]
}

/// One `SHOW GRANTS` line with `clone` as the grantee, or `None` for a form this does not know.
///
/// `GRANT <what> TO <grantee> [IDENTIFIED ...] [REQUIRE ...] [WITH ...]` keeps what is granted,
/// the TLS requirement, the resource limits and the grant/admin option, and loses the
/// IDENTIFIED clause (MariaDB lists the original's password hash there). MariaDB's
/// `SET DEFAULT ROLE <role> FOR <grantee>` is replayed for the clone too.
fn rewrite_grant(line: &str, grantees: &[String], clone: &str) -> Option<String> {
    if line.starts_with("GRANT ") {
        // The last occurrence: the privilege part could, in a quoted name, contain the text.
        let (at, grantee) = grantees
            .iter()
            .filter_map(|g| line.rfind(&format!(" TO {g}")).map(|at| (at, g)))
            .max_by_key(|(at, _)| *at)?;
        let head = &line[..at];
        let rest = &line[at + " TO ".len() + grantee.len()..];
        if !(rest.is_empty() || rest.starts_with(' ')) {
            return None;
        }
        let rest = strip_identified(rest);
        Some(format!("{head} TO {clone}{rest}"))
    } else if line.starts_with("SET DEFAULT ROLE ") {
        let grantee = grantees
            .iter()
            .find(|g| line.ends_with(&format!(" FOR {g}")))?;
        let head = &line[..line.len() - " FOR ".len() - grantee.len()];
        Some(format!("{head} FOR {clone}"))
    } else {
        None
    }
}

/// Removes a leading ` IDENTIFIED ...` clause, up to the next ` REQUIRE ` or ` WITH ` outside
/// quotes.
fn strip_identified(rest: &str) -> String {
    if !rest.starts_with(" IDENTIFIED ") {
        return rest.to_owned();
    }
    let bytes = rest.as_bytes();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) if b == b'\\' && q == b'\'' => i += 1,
            Some(q) if b == q => {
                // A doubled quote stays inside the string.
                if bytes.get(i + 1) == Some(&q) {
                    i += 1;
                } else {
                    quote = None;
                }
            }
            Some(_) => {}
            None if b == b'\'' || b == b'`' || b == b'"' => quote = Some(b),
            None => {
                let tail = &rest[i..];
                if tail.starts_with(" REQUIRE ") || tail.starts_with(" WITH ") {
                    return tail.to_owned();
                }
            }
        }
        i += 1;
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_hash_matches_mariadb_password_function() {
        // SELECT PASSWORD('pw1') on MariaDB 10.11.
        assert_eq!(
            native_password_hash("pw1").as_str(),
            "*2B602296A79E0A8784ACC5C88D92E46588CCA3C3"
        );
    }

    #[test]
    fn grants_are_rewritten_for_the_clone() {
        let grantees = grantee_renderings("we'ir`d\"x", "%");
        let clone = my_account("we'ir`d\"x_clone", "%");
        let cases = [
            (
                "GRANT USAGE ON *.* TO `we'ir``d\"x`@`%` IDENTIFIED BY PASSWORD '*2B602296A79E0A8784ACC5C88D92E46588CCA3C3' REQUIRE SSL WITH MAX_QUERIES_PER_HOUR 5",
                "GRANT USAGE ON *.* TO `we'ir``d\"x_clone`@`%` REQUIRE SSL WITH MAX_QUERIES_PER_HOUR 5",
            ),
            (
                "GRANT USAGE ON *.* TO `we'ir``d\"x`@`%` IDENTIFIED BY PASSWORD '*2B602296A79E0A8784ACC5C88D92E46588CCA3C3'",
                "GRANT USAGE ON *.* TO `we'ir``d\"x_clone`@`%`",
            ),
            (
                "GRANT USAGE ON *.* TO `we'ir``d\"x`@`%` IDENTIFIED VIA pam USING 'a '' WITH b' WITH GRANT OPTION",
                "GRANT USAGE ON *.* TO `we'ir``d\"x_clone`@`%` WITH GRANT OPTION",
            ),
            (
                "GRANT SELECT ON `test`.* TO `we'ir``d\"x`@`%` WITH GRANT OPTION",
                "GRANT SELECT ON `test`.* TO `we'ir``d\"x_clone`@`%` WITH GRANT OPTION",
            ),
            (
                "GRANT INSERT (`a`) ON `test`.`exp_t` TO `we'ir``d\"x`@`%`",
                "GRANT INSERT (`a`) ON `test`.`exp_t` TO `we'ir``d\"x_clone`@`%`",
            ),
            (
                "GRANT `exp_role` TO `we'ir``d\"x`@`%`",
                "GRANT `exp_role` TO `we'ir``d\"x_clone`@`%`",
            ),
            (
                "SET DEFAULT ROLE `exp_role` FOR `we'ir``d\"x`@`%`",
                "SET DEFAULT ROLE `exp_role` FOR `we'ir``d\"x_clone`@`%`",
            ),
            // MySQL 5.7 quoting.
            (
                "GRANT SELECT ON `test`.* TO 'we''ir`d\"x'@'%'",
                "GRANT SELECT ON `test`.* TO `we'ir``d\"x_clone`@`%`",
            ),
        ];
        for (line, expected) in cases {
            assert_eq!(
                rewrite_grant(line, &grantees, &clone).as_deref(),
                Some(expected),
                "{line}"
            );
        }
        // A database whose name contains the grantee text: the last occurrence is the grantee.
        assert_eq!(
            rewrite_grant(
                "GRANT SELECT ON `db TO 'app'@'%'`.* TO 'app'@'%'",
                &grantee_renderings("app", "%"),
                "`app_clone`@`%`"
            )
            .as_deref(),
            Some("GRANT SELECT ON `db TO 'app'@'%'`.* TO `app_clone`@`%`")
        );
        assert_eq!(
            rewrite_grant("REVOKE ALL ON *.* FROM `x`@`%`", &grantees, &clone),
            None
        );
        assert_eq!(
            rewrite_grant("GRANT SELECT ON *.* TO `other`@`%`", &grantees, &clone),
            None
        );
    }

    #[test]
    fn password_statements_carry_no_plaintext_for_mariadb() {
        let session = Session {
            conn: None,
            site: Site {
                engine: crate::Engine::MariaDb,
                endpoint: "db:3306".to_owned(),
            },
            timeouts: Timeouts::default(),
            mariadb: true,
            no_backslash_escapes: false,
        };
        let password = "pw1";
        let form = session.password_form(password);
        for sql in [
            session.set_own_password(&form),
            session.set_password_for("`u`@`%`", &form),
            session.create_user("`u`@`%`", &form),
        ] {
            assert!(!sql.contains(password), "{}", sql.as_str());
            assert!(sql.contains("*2B602296A79E0A8784ACC5C88D92E46588CCA3C3"));
        }
    }

    #[test]
    fn password_literals_for_mysql_follow_the_sql_mode() {
        let mut session = Session {
            conn: None,
            site: Site {
                engine: crate::Engine::MySql,
                endpoint: "db:3306".to_owned(),
            },
            timeouts: Timeouts::default(),
            mariadb: false,
            no_backslash_escapes: false,
        };
        let password = r"a'b\c";
        let form = session.password_form(password);
        assert_eq!(
            session.set_password_for("`u`@`%`", &form).as_str(),
            r"ALTER USER `u`@`%` IDENTIFIED BY 'a''b\\c'"
        );
        session.no_backslash_escapes = true;
        let form = session.password_form(password);
        assert_eq!(
            session.set_own_password(&form).as_str(),
            r"ALTER USER CURRENT_USER() IDENTIFIED BY 'a''b\c'"
        );
    }
}
