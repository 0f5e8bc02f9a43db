//! PostgreSQL: passwords are sent as SCRAM-SHA-256 verifiers computed here, so the plaintext
//! never reaches the server, its logs or `pg_stat_activity`.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};
use zeroize::Zeroizing;

use crate::error::{Carried, Site};
use crate::names::{pg_ident, pg_literal};
use crate::{CloneUser, DatabaseSecret, RotationDbError, Timeouts};

pub(crate) async fn test_login(
    secret: &DatabaseSecret,
    timeouts: Timeouts,
) -> Result<(), RotationDbError> {
    let session = Session::connect(secret, timeouts).await?;
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
    let verifier = verifier(new_password);
    let sql = Zeroizing::new(format!(
        "ALTER ROLE {} PASSWORD {}",
        pg_ident(user),
        pg_literal(&verifier)
    ));
    let session = Session::connect(login, timeouts).await?;
    let result = session
        .execute(&sql, "ALTER ROLE", Carried::Secret(&[&verifier]))
        .await
        .map_err(|e| session.not_found_as(e, user));
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
    let verifier = verifier(password);
    let carried = Carried::Secret(&[&verifier]);
    let alter = Zeroizing::new(format!(
        "ALTER ROLE {} PASSWORD {}",
        pg_ident(clone_user),
        pg_literal(&verifier)
    ));
    // One transaction, so a clone never exists without its membership in the original: a
    // half-made clone would later only get its password changed and never the grant.
    let create = Zeroizing::new(format!(
        "BEGIN; CREATE ROLE {clone} WITH LOGIN PASSWORD {verifier}; GRANT {original} TO {clone}; COMMIT",
        clone = pg_ident(clone_user),
        original = pg_ident(original_user),
        verifier = pg_literal(&verifier),
    ));

    let session = Session::connect(master, timeouts).await?;
    let result = async {
        if !session.role_exists(original_user).await? {
            return Err(session.site.user_not_found(original_user));
        }
        if session.role_exists(clone_user).await? {
            session.execute(&alter, "ALTER ROLE", carried).await?;
            return Ok(CloneUser::PasswordChanged);
        }
        match session.execute(&create, "CREATE ROLE", carried).await {
            Ok(()) => Ok(CloneUser::Created),
            // Another rotation created it between the check and the CREATE (duplicate_object when
            // it had committed, unique_violation when it committed while this one waited); its
            // transaction made it whole, so only the password is left to set.
            Err(RotationDbError::StatementFailed {
                code: Some(code), ..
            }) if code == SqlState::DUPLICATE_OBJECT.code()
                || code == SqlState::UNIQUE_VIOLATION.code() =>
            {
                session
                    .execute("ROLLBACK", "ROLLBACK", Carried::Nothing)
                    .await?;
                session.execute(&alter, "ALTER ROLE", carried).await?;
                Ok(CloneUser::PasswordChanged)
            }
            Err(e) => Err(e),
        }
    }
    .await;
    session.close().await;
    result
}

/// The SCRAM-SHA-256 verifier PostgreSQL would store for `password` (random salt, 4096
/// iterations, SASLprep as the server applies it). It is password-equivalent for offline
/// guessing, so it is zeroized too.
fn verifier(password: &str) -> Zeroizing<String> {
    Zeroizing::new(postgres_protocol::password::scram_sha_256(
        password.as_bytes(),
    ))
}

struct Session {
    client: Option<Client>,
    connection: JoinHandle<()>,
    site: Site,
    timeouts: Timeouts,
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
        let mut config = tokio_postgres::Config::new();
        config
            .host(secret.host())
            .port(secret.port())
            .user(secret.username())
            .password(secret.password().as_bytes())
            .dbname(secret.database().unwrap_or("postgres"))
            .application_name("coffer-rotation")
            // Bounds only the TCP connect; the timeout around the whole call also bounds a
            // server that accepts the connection and then says nothing.
            .connect_timeout(timeouts.connect)
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30));
        // No TLS: see the crate documentation for what TLS support would take.
        let (client, connection) =
            match tokio::time::timeout(timeouts.connect, config.connect(NoTls)).await {
                Err(_) => {
                    return Err(site
                        .unreachable(format!("no completed login within {:?}", timeouts.connect)));
                }
                Ok(Err(e)) => return Err(connect_error(&site, secret.username(), &e)),
                Ok(Ok(pair)) => pair,
            };
        let connection = tokio::spawn(async move {
            // Errors here surface on the client's next request, where they are mapped.
            let _ = connection.await;
        });
        let session = Session {
            client: Some(client),
            connection,
            site,
            timeouts,
        };
        // Server-side bounds as well, so an abandoned statement does not keep running (or keep
        // waiting for a lock) after the client gave up. standard_conforming_strings makes
        // backslashes in literals ordinary characters, which pg_literal relies on.
        let setup = format!(
            "SET statement_timeout = {}; SET lock_timeout = {}; SET standard_conforming_strings = on",
            timeouts.statement.as_millis().max(1),
            timeouts.statement.as_millis().max(1),
        );
        session
            .execute(&setup, "session setup", Carried::Nothing)
            .await?;
        Ok(session)
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("the client lives until close")
    }

    /// Runs `sql` with the simple query protocol: the DDL here takes no parameters, and one
    /// round trip carries a whole transaction.
    async fn execute(
        &self,
        sql: &str,
        operation: &'static str,
        carried: Carried<'_>,
    ) -> Result<(), RotationDbError> {
        match tokio::time::timeout(self.timeouts.statement, self.client().batch_execute(sql)).await
        {
            Err(_) => Err(self.site.timeout(operation, self.timeouts.statement)),
            Ok(Err(e)) => Err(self.statement_error(operation, &e, carried)),
            Ok(Ok(())) => Ok(()),
        }
    }

    async fn role_exists(&self, role: &str) -> Result<bool, RotationDbError> {
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&role];
        let query = self.client().query_opt(
            "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1",
            &params,
        );
        match tokio::time::timeout(self.timeouts.statement, query).await {
            Err(_) => Err(self.site.timeout("role lookup", self.timeouts.statement)),
            Ok(Err(e)) => Err(self.statement_error("role lookup", &e, Carried::Nothing)),
            Ok(Ok(row)) => Ok(row.is_some()),
        }
    }

    fn statement_error(
        &self,
        operation: &'static str,
        e: &tokio_postgres::Error,
        carried: Carried<'_>,
    ) -> RotationDbError {
        let Some(db) = e.as_db_error() else {
            return transport_error(&self.site, e);
        };
        let code = db.code();
        if *code == SqlState::QUERY_CANCELED || *code == SqlState::LOCK_NOT_AVAILABLE {
            return self.site.timeout(operation, self.timeouts.statement);
        }
        if code.code().starts_with("08")
            || *code == SqlState::ADMIN_SHUTDOWN
            || *code == SqlState::CRASH_SHUTDOWN
        {
            return self.site.unreachable(db.message());
        }
        self.site.statement(
            operation,
            Some(code.code().to_owned()),
            carried.redact(db.message(), *code == SqlState::SYNTAX_ERROR),
        )
    }

    /// `ALTER ROLE` on a missing role fails with undefined_object; that is the caller's user
    /// not existing, which gets its own variant.
    fn not_found_as(&self, e: RotationDbError, user: &str) -> RotationDbError {
        match &e {
            RotationDbError::StatementFailed {
                code: Some(code), ..
            } if code == SqlState::UNDEFINED_OBJECT.code() => self.site.user_not_found(user),
            _ => e,
        }
    }

    /// Ends the session politely (a Terminate message rather than a dropped socket), within a
    /// bound.
    async fn close(mut self) {
        drop(self.client.take());
        let _ = tokio::time::timeout(Duration::from_secs(1), &mut self.connection).await;
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // On an early return the connection task would otherwise outlive the call, holding a
        // socket to a server that may never answer.
        self.connection.abort();
    }
}

fn connect_error(site: &Site, username: &str, e: &tokio_postgres::Error) -> RotationDbError {
    let Some(db) = e.as_db_error() else {
        return transport_error(site, e);
    };
    let code = db.code();
    if *code == SqlState::INVALID_PASSWORD || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
    {
        // The server's message names the user, the client address and the database (and for
        // pg_hba rejections whether TLS was used), never the password.
        return site.auth_failed(username, db.message());
    }
    if code.code().starts_with("08")
        || *code == SqlState::TOO_MANY_CONNECTIONS
        || *code == SqlState::CANNOT_CONNECT_NOW
        || *code == SqlState::ADMIN_SHUTDOWN
        || *code == SqlState::CRASH_SHUTDOWN
    {
        return site.unreachable(db.message());
    }
    site.statement("login", Some(code.code().to_owned()), db.message())
}

/// An error that is not a server's error response: the socket, a timeout, or the protocol.
fn transport_error(site: &Site, e: &tokio_postgres::Error) -> RotationDbError {
    use std::error::Error as _;
    let io = e
        .source()
        .is_some_and(|source| source.downcast_ref::<std::io::Error>().is_some());
    // tokio-postgres keeps its error kinds private; its messages for these are stable and carry
    // no credentials.
    let message = e.to_string();
    if io
        || e.is_closed()
        || message.starts_with("timeout")
        || message.starts_with("error connecting")
    {
        site.unreachable(message)
    } else {
        site.protocol(message)
    }
}
