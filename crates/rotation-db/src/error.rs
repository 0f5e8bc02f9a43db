use std::time::Duration;

use crate::Engine;

/// Why a database operation failed.
///
/// The variants separate what a rotation has to tell apart: credentials the database refuses
/// ([`AuthenticationFailed`](Self::AuthenticationFailed)) from a database that cannot be reached
/// ([`Unreachable`](Self::Unreachable), [`Timeout`](Self::Timeout)) from a statement the database
/// rejected ([`StatementFailed`](Self::StatementFailed)).
///
/// No message carries a password, a password hash or a value from the secret JSON other than the
/// engine, host, port and user names: server messages about statements that carried a password
/// are redacted before they get here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RotationDbError {
    /// The secret string is not a usable database secret (not JSON, a required key missing, a
    /// value of the wrong type, an unsupported engine). The message names the key, never its value.
    #[error("invalid database secret: {0}")]
    InvalidSecret(String),

    /// An argument cannot be used as given (an empty password, a user name too long for the
    /// engine, a NUL character). The message never repeats a password.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// The database could not be reached: no connection within the connect timeout, a refused
    /// connection, a name that does not resolve, a connection lost midway, a server that is not
    /// accepting connections.
    #[error("cannot reach the {engine} database at {endpoint}: {detail}")]
    Unreachable {
        engine: Engine,
        endpoint: String,
        detail: String,
    },

    /// The database answered and refused to log these credentials in (wrong password, unknown
    /// user, no matching pg_hba.conf entry, locked or expired account). `detail` is the server's
    /// message, which names the user and client host but never the password.
    #[error("the {engine} database at {endpoint} refused the login of user {username:?}: {detail}")]
    AuthenticationFailed {
        engine: Engine,
        endpoint: String,
        username: String,
        detail: String,
    },

    /// The user whose password was to be changed, or whose privileges were to be copied, does not
    /// exist.
    #[error("the {engine} database at {endpoint} has no user {username:?}")]
    UserNotFound {
        engine: Engine,
        endpoint: String,
        username: String,
    },

    /// Logged in, but a statement failed (missing privilege, unsupported authentication plugin,
    /// a grant that cannot be replayed). `code` is the SQLSTATE (PostgreSQL) or the server error
    /// number (MySQL, MariaDB).
    #[error("{operation} failed on the {engine} database at {endpoint}: {detail}")]
    StatementFailed {
        engine: Engine,
        endpoint: String,
        operation: &'static str,
        code: Option<String>,
        detail: String,
    },

    /// Logged in, but a statement did not finish in time.
    #[error("{operation} on the {engine} database at {endpoint} did not finish within {after:?}")]
    Timeout {
        engine: Engine,
        endpoint: String,
        operation: &'static str,
        after: Duration,
    },

    /// The client and the server could not talk: an authentication method this client does not
    /// offer, an unexpected packet.
    #[error("cannot talk to the {engine} database at {endpoint}: {detail}")]
    Protocol {
        engine: Engine,
        endpoint: String,
        detail: String,
    },
}

impl RotationDbError {
    /// True when the database refused these credentials: the case where a rotation may go on to
    /// set the password with other credentials.
    pub fn is_authentication_failure(&self) -> bool {
        matches!(self, Self::AuthenticationFailed { .. })
    }

    /// True when the database could not be reached or did not answer in time: worth retrying
    /// later, and no evidence either way about the credentials.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unreachable { .. } | Self::Timeout { .. })
    }
}

/// Where an error happened, carried by the engine modules so every variant names it the same way.
#[derive(Clone)]
pub(crate) struct Site {
    pub(crate) engine: Engine,
    pub(crate) endpoint: String,
}

impl Site {
    pub(crate) fn unreachable(&self, detail: impl Into<String>) -> RotationDbError {
        RotationDbError::Unreachable {
            engine: self.engine,
            endpoint: self.endpoint.clone(),
            detail: detail.into(),
        }
    }

    pub(crate) fn auth_failed(&self, username: &str, detail: impl Into<String>) -> RotationDbError {
        RotationDbError::AuthenticationFailed {
            engine: self.engine,
            endpoint: self.endpoint.clone(),
            username: username.to_owned(),
            detail: detail.into(),
        }
    }

    pub(crate) fn user_not_found(&self, username: &str) -> RotationDbError {
        RotationDbError::UserNotFound {
            engine: self.engine,
            endpoint: self.endpoint.clone(),
            username: username.to_owned(),
        }
    }

    pub(crate) fn statement(
        &self,
        operation: &'static str,
        code: Option<String>,
        detail: impl Into<String>,
    ) -> RotationDbError {
        RotationDbError::StatementFailed {
            engine: self.engine,
            endpoint: self.endpoint.clone(),
            operation,
            code,
            detail: detail.into(),
        }
    }

    pub(crate) fn timeout(&self, operation: &'static str, after: Duration) -> RotationDbError {
        RotationDbError::Timeout {
            engine: self.engine,
            endpoint: self.endpoint.clone(),
            operation,
            after,
        }
    }

    pub(crate) fn protocol(&self, detail: impl Into<String>) -> RotationDbError {
        RotationDbError::Protocol {
            engine: self.engine,
            endpoint: self.endpoint.clone(),
            detail: detail.into(),
        }
    }
}

/// What a statement carried, so a server message about it can be reported without secrets.
#[derive(Clone, Copy)]
pub(crate) enum Carried<'a> {
    /// Nothing secret: the server's message goes out as it is.
    Nothing,
    /// Secret material, in the forms given (a hash, an escaped password), or only text derived
    /// from a secret (a replayed grant) when the list is empty.
    Secret(&'a [&'a str]),
}

impl Carried<'_> {
    /// The server's message, made safe to report. A syntax error quotes the statement text
    /// "near" the error, which may be a truncated piece of the secret that no substring search
    /// would catch, so such messages are withheld whole.
    pub(crate) fn redact(self, message: &str, syntax_error: bool) -> String {
        match self {
            Carried::Nothing => message.to_owned(),
            Carried::Secret(_) if syntax_error => "the server reported a syntax error; its \
                message is withheld because the statement carried secret material"
                .to_owned(),
            Carried::Secret(forms) => {
                let mut out = message.to_owned();
                for form in forms.iter().filter(|f| !f.is_empty()) {
                    out = out.replace(form, "<redacted>");
                }
                out
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_about_secret_statements_are_redacted() {
        let forms = ["'s3cr''et'", "s3cr'et"];
        let carried = Carried::Secret(&forms);
        assert_eq!(
            carried.redact("bad value 's3cr''et' for x", false),
            "bad value <redacted> for x"
        );
        let withheld = carried.redact("error near 's3cr''e' at line 1", true);
        assert!(!withheld.contains("s3cr"), "{withheld}");
        assert_eq!(Carried::Nothing.redact("near 'x'", true), "near 'x'");
    }

    #[test]
    fn error_kinds_are_told_apart() {
        let site = Site {
            engine: Engine::Postgres,
            endpoint: "db:5432".to_owned(),
        };
        assert!(site.auth_failed("u", "no").is_authentication_failure());
        assert!(!site.auth_failed("u", "no").is_unavailable());
        assert!(site.unreachable("refused").is_unavailable());
        assert!(
            site.timeout("SELECT 1", Duration::from_secs(1))
                .is_unavailable()
        );
        assert!(
            !site
                .statement("ALTER ROLE", None, "denied")
                .is_unavailable()
        );
    }
}
