//! The database side of managed rotation: log in with a database secret's credentials and
//! change passwords on PostgreSQL, MySQL and MariaDB. It knows nothing of Coffer's secrets,
//! versions or staging labels; the rotation steps call it.
//!
//! - [`DatabaseSecret`] reads and rewrites AWS's JSON structure for database secrets.
//! - [`test_login`] proves credentials work (`SELECT 1`).
//! - [`set_password`] changes a user's password, logged in as that user (single-user strategy)
//!   or as a master user.
//! - [`ensure_clone_user`] and [`clone_user_name`] implement the alternating-users strategy the
//!   way AWS's multi-user rotation templates do.
//!
//! [`DatabaseClient`] carries the timeouts; the free functions use the defaults. Every future is
//! `Send`, so the calls can sit behind an `async` trait for the rotation logic to mock.
//!
//! # Passwords
//!
//! Passwords are held in [`zeroize::Zeroizing`] buffers here, never appear in an error message
//! or `Debug` output, and are kept out of the SQL text where the engine allows it:
//!
//! - PostgreSQL gets a SCRAM-SHA-256 verifier computed client-side (`ALTER ROLE … PASSWORD
//!   'SCRAM-SHA-256$…'`), as `psql`'s `\password` does; the plaintext never reaches the server.
//! - MariaDB gets the `mysql_native_password` hash computed client-side (`SET PASSWORD FOR … =
//!   '*…'`, `CREATE USER … IDENTIFIED BY PASSWORD '*…'`). MariaDB 10.11 cannot bind a password
//!   as a statement parameter, and does not redact its general log. The account keeps (or, when
//!   created, gets) the `mysql_native_password` plugin, MariaDB's default and RDS's; an account
//!   on another plugin (ed25519, PARSEC) is not supported: `SET PASSWORD` hands the hash to
//!   that plugin, which should reject it (not tested here, where no such plugin is installed).
//! - MySQL gets the plaintext as an escaped string literal (`ALTER USER … IDENTIFIED BY '…'`,
//!   escaping chosen by the session's `sql_mode`); MySQL cannot bind it either, and rewrites such
//!   statements before they reach its general, slow and binary logs.
//!
//! The drivers keep their own, unzeroized copies of the login password (tokio-postgres's
//! `Config`, mysql_async's `Opts`) and of statement text in their buffers; that is outside this
//! crate's reach.
//!
//! # Time
//!
//! Connecting and logging in is bounded by [`Timeouts::connect`] (5 s by default), each
//! statement by [`Timeouts::statement`] (15 s), both on the client and, for statements, on the
//! server (`statement_timeout`/`lock_timeout`, `max_statement_time`/`lock_wait_timeout`), so an
//! abandoned statement does not keep running or waiting for a lock.
//!
//! # TLS
//!
//! Connections are not encrypted yet: tokio-postgres runs with `NoTls` and mysql_async is built
//! without a TLS backend. For PostgreSQL the login itself never sends the password when the
//! server uses SCRAM, but the new verifier travels in clear, as does the MySQL plaintext. TLS
//! would take `tokio-postgres-rustls` (or `postgres-native-tls`) with a root store, mysql_async's
//! `rustls-tls` feature with its `SslOpts`, and a policy for the secret's optional `ssl` member,
//! which AWS's templates read as "try TLS, fall back to plaintext" when absent and as a hard
//! choice when `true`/`false`.
//!
//! # Hosts
//!
//! The secret names the host to connect to; whoever may write a secret may point a rotation at
//! any address the server can reach. Restricting that is the caller's policy. Hosts starting
//! with `/` (Unix sockets, often trusted without a password) are refused here.

mod error;
mod mysql;
mod names;
mod postgres;
mod secret;

use std::time::Duration;

pub use error::RotationDbError;
pub use names::clone_user_name;
pub use secret::{DatabaseSecret, Engine};

/// How long a database may take before a call gives up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Connecting and logging in, together.
    pub connect: Duration,
    /// Each statement, after login.
    pub statement: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            statement: Duration::from_secs(15),
        }
    }
}

/// What [`ensure_clone_user`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloneUser {
    /// The clone did not exist; it was created with the password and the original's privileges.
    Created,
    /// The clone existed; only its password was changed.
    PasswordChanged,
}

/// The operations, with chosen timeouts. Cheap to copy; holds no connection (every call opens
/// and closes its own, since a rotation step runs rarely and should see the database as a new
/// client would).
#[derive(Debug, Clone, Copy, Default)]
pub struct DatabaseClient {
    timeouts: Timeouts,
}

impl DatabaseClient {
    pub fn new(timeouts: Timeouts) -> Self {
        DatabaseClient { timeouts }
    }

    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// Logs in with the secret's credentials and runs `SELECT 1`.
    pub async fn test_login(&self, secret: &DatabaseSecret) -> Result<(), RotationDbError> {
        match secret.engine() {
            Engine::Postgres => postgres::test_login(secret, self.timeouts).await,
            Engine::MySql | Engine::MariaDb => mysql::test_login(secret, self.timeouts).await,
        }
    }

    /// Logs in as `login` and sets `user`'s password to `new_password`. `login` is the user
    /// itself for the single-user strategy, the master for alternating users. On MySQL and
    /// MariaDB a user other than the login is looked up in `mysql.user` for its host part.
    pub async fn set_password(
        &self,
        login: &DatabaseSecret,
        user: &str,
        new_password: &str,
    ) -> Result<(), RotationDbError> {
        names::check_user_name(login.engine(), user)?;
        names::check_new_password(new_password)?;
        match login.engine() {
            Engine::Postgres => {
                postgres::set_password(login, user, new_password, self.timeouts).await
            }
            Engine::MySql | Engine::MariaDb => {
                mysql::set_password(login, user, new_password, self.timeouts).await
            }
        }
    }

    /// The alternating-users strategy's set step, as AWS's multi-user templates do it: logged
    /// in as `master`, create `clone_user` with `password` and the privileges of
    /// `original_user` if it does not exist, or else only set its password.
    ///
    /// PostgreSQL: `CREATE ROLE clone WITH LOGIN PASSWORD …` and `GRANT original TO clone`, in
    /// one transaction. MySQL/MariaDB: `CREATE USER` on the original's host part, then each line
    /// of `SHOW GRANTS` for the original replayed for the clone (without the original's
    /// password hash); if a grant cannot be copied the new clone is dropped again.
    ///
    /// Checking that `master` names the same database server as the user's secret is the
    /// caller's job. For PostgreSQL, AWS's template connects the master to the user secret's
    /// `dbname`.
    pub async fn ensure_clone_user(
        &self,
        master: &DatabaseSecret,
        original_user: &str,
        clone_user: &str,
        password: &str,
    ) -> Result<CloneUser, RotationDbError> {
        names::check_user_name(master.engine(), original_user)?;
        names::check_user_name(master.engine(), clone_user)?;
        names::check_new_password(password)?;
        if original_user == clone_user {
            return Err(RotationDbError::InvalidArgument(
                "the clone user must differ from the original user".to_owned(),
            ));
        }
        match master.engine() {
            Engine::Postgres => {
                postgres::ensure_clone_user(
                    master,
                    original_user,
                    clone_user,
                    password,
                    self.timeouts,
                )
                .await
            }
            Engine::MySql | Engine::MariaDb => {
                mysql::ensure_clone_user(master, original_user, clone_user, password, self.timeouts)
                    .await
            }
        }
    }
}

/// [`DatabaseClient::test_login`] with the default timeouts.
pub async fn test_login(secret: &DatabaseSecret) -> Result<(), RotationDbError> {
    DatabaseClient::default().test_login(secret).await
}

/// [`DatabaseClient::set_password`] with the default timeouts.
pub async fn set_password(
    login: &DatabaseSecret,
    user: &str,
    new_password: &str,
) -> Result<(), RotationDbError> {
    DatabaseClient::default()
        .set_password(login, user, new_password)
        .await
}

/// [`DatabaseClient::ensure_clone_user`] with the default timeouts.
pub async fn ensure_clone_user(
    master: &DatabaseSecret,
    original_user: &str,
    clone_user: &str,
    password: &str,
) -> Result<CloneUser, RotationDbError> {
    DatabaseClient::default()
        .ensure_clone_user(master, original_user, clone_user, password)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn futures_are_send() {
        // Needed to put the calls behind an async trait used from a multi-threaded runtime.
        let secret = DatabaseSecret::parse(
            r#"{"engine":"postgres","host":"h","username":"u","password":"p"}"#,
        )
        .unwrap();
        let client = DatabaseClient::default();
        assert_send(&client.test_login(&secret));
        assert_send(&client.set_password(&secret, "u", "n"));
        assert_send(&client.ensure_clone_user(&secret, "u", "u_clone", "n"));
    }
}
