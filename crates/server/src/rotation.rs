//! The edge of rotation: how Coffer calls rotation functions.
//!
//! - Registered functions are called over the AWS Lambda Invoke protocol
//!   (`POST <base>/2015-03-31/functions/<name>/invocations`, the event as the JSON body, a
//!   `RequestResponse` invocation; `X-Amz-Function-Error` marks a failed run). Only the
//!   endpoints an operator registered (`--rotation-function NAME=URL`) are ever called: the
//!   function name in a `RotationLambdaARN` selects one of them and never becomes an address,
//!   so a request cannot make Coffer call an arbitrary host.
//! - Two built-in functions rotate database credentials with no function to deploy
//!   ([`MANAGED_SINGLE_USER`], [`MANAGED_ALTERNATING_USERS`]), for secrets holding AWS's
//!   database JSON (`engine`, `host`, `port`, `username`, `password`, `dbname`,
//!   `masterarn`), on PostgreSQL and MySQL/MariaDB. They follow AWS's rotation templates step
//!   by step, acting as the service itself.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use bytes::Bytes;
use coffer_domain::SecretValue;
use coffer_domain::rotation::{
    InvokeError, MANAGED_ALTERNATING_USERS, MANAGED_SINGLE_USER, RotationEvent, RotationInvoker,
    Step, function_name,
};
use coffer_domain::secrets::password::PasswordRules;
use coffer_domain::secrets::{
    Actor, Caller, GetSecretValueInput, PutSecretValueInput, SecretsService,
    UpdateSecretVersionStageInput,
};
use coffer_domain::{SecretsError, SecretsResult};
use coffer_rotation_db::{DatabaseClient, DatabaseSecret};
use coffer_store::Store;
use http_body_util::{BodyExt, Full, Limited};
use zeroize::Zeroizing;

/// How long one invocation may take before it counts as unreachable.
const INVOKE_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest function response read (Lambda's synchronous payload limit).
const MAX_RESPONSE: usize = 6 << 20;
/// What generated database passwords leave out: the characters AWS's templates exclude
/// (they break connection strings and shell quoting).
const EXCLUDE_CHARACTERS: &str = "/@\"'\\";

/// Where registered functions live: function name → base URL (`http://host:port`).
#[derive(Clone, Debug, Default)]
pub struct FunctionRegistry {
    endpoints: BTreeMap<String, String>,
}

impl FunctionRegistry {
    /// From `NAME=URL` entries; only `http://` URLs are accepted (no TLS client yet).
    pub fn parse(entries: &[String]) -> anyhow::Result<FunctionRegistry> {
        let mut endpoints = BTreeMap::new();
        for entry in entries {
            let (name, url) = entry.split_once('=').ok_or_else(|| {
                anyhow::anyhow!("--rotation-function {entry:?}: expected NAME=URL")
            })?;
            let url = url.trim_end_matches('/');
            // Lambda's rule for function names.
            if name.is_empty()
                || name.len() > 64
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                anyhow::bail!(
                    "--rotation-function {entry:?}: NAME must be 1-64 letters, digits, - or _"
                );
            }
            if name == MANAGED_SINGLE_USER || name == MANAGED_ALTERNATING_USERS {
                anyhow::bail!("--rotation-function {entry:?}: {name} is Coffer's own function");
            }
            let Some(authority) = url.strip_prefix("http://") else {
                anyhow::bail!("--rotation-function {entry:?}: URL must start with http://");
            };
            if authority.is_empty() || authority.contains('/') {
                anyhow::bail!("--rotation-function {entry:?}: URL must be http://host:port");
            }
            endpoints.insert(name.to_owned(), authority.to_owned());
        }
        Ok(FunctionRegistry { endpoints })
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.endpoints.keys().map(String::as_str)
    }
}

/// `coffer rotation-function add|remove|list --config FILE`: edits `rotation_functions` in the
/// server's TOML file, keeping every other setting (but not comments or layout). Running
/// servers read it again on SIGHUP.
pub fn edit_config(args: &crate::cli::RotationFunctionArgs) -> anyhow::Result<()> {
    use crate::cli::RotationFunctionCommand;
    use anyhow::Context;
    let path = &args.config;
    let mut table: toml::Table = match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text)
            .with_context(|| format!("the config file {} is not valid", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => toml::Table::new(),
        Err(e) => {
            return Err(e).with_context(|| format!("could not read {}", path.display()));
        }
    };
    let mut entries: Vec<String> = match table.get("rotation_functions") {
        None => Vec::new(),
        Some(value) => value
            .as_array()
            .and_then(|items| {
                items
                    .iter()
                    .map(|i| i.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
            })
            .with_context(|| {
                format!(
                    "rotation_functions in {} must be a list of \"NAME=URL\" strings",
                    path.display()
                )
            })?,
    };
    let name_of = |entry: &str| entry.split_once('=').map(|(n, _)| n.to_owned());
    match &args.command {
        RotationFunctionCommand::List => {
            let registry = FunctionRegistry::parse(&entries)?;
            if registry.endpoints.is_empty() {
                println!("no rotation functions registered in {}", path.display());
            }
            for (name, authority) in &registry.endpoints {
                println!("{name}\thttp://{authority}");
            }
            return Ok(());
        }
        RotationFunctionCommand::Add { function } => {
            FunctionRegistry::parse(std::slice::from_ref(function))?;
            let name = name_of(function);
            entries.retain(|e| name_of(e) != name);
            entries.push(function.clone());
        }
        RotationFunctionCommand::Remove { name } => {
            let before = entries.len();
            entries.retain(|e| name_of(e).as_deref() != Some(name.as_str()));
            if entries.len() == before {
                anyhow::bail!(
                    "no rotation function {name} is registered in {}",
                    path.display()
                );
            }
        }
    }
    table.insert(
        "rotation_functions".into(),
        toml::Value::Array(entries.into_iter().map(toml::Value::String).collect()),
    );
    let text = toml::to_string(&table).context("could not write the configuration")?;
    // The file may hold the root key or credentials: the new one is private (0600) like
    // the files Coffer writes, and a stale or planted temporary file is never followed.
    let temporary = path.with_extension("toml.tmp");
    let _ = std::fs::remove_file(&temporary);
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temporary)
            .with_context(|| format!("could not create {}", temporary.display()))?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .with_context(|| format!("could not write {}", temporary.display()))?;
    }
    std::fs::rename(&temporary, path)
        .with_context(|| format!("could not replace {}", path.display()))?;
    println!(
        "updated {}; running servers pick it up on SIGHUP (e.g. `kill -HUP <pid>`)",
        path.display()
    );
    Ok(())
}

/// Calls registered functions and runs the managed ones.
pub struct Invoker<S: Store> {
    /// Replaced on SIGHUP ([`Invoker::replace_functions`]).
    registry: std::sync::RwLock<FunctionRegistry>,
    /// Set once the service exists (the service holds this invoker: a weak link avoids a
    /// cycle).
    service: OnceLock<Weak<SecretsService<S>>>,
    database: DatabaseClient,
}

impl<S: Store> Invoker<S> {
    pub fn new(registry: FunctionRegistry) -> Arc<Invoker<S>> {
        Arc::new(Invoker {
            registry: std::sync::RwLock::new(registry),
            service: OnceLock::new(),
            database: DatabaseClient::default(),
        })
    }

    /// Swaps in another set of registered functions (a reload); rotations already running
    /// keep the endpoint they resolved.
    pub fn replace_functions(&self, registry: FunctionRegistry) {
        *self.registry.write().unwrap_or_else(|p| p.into_inner()) = registry;
    }

    fn endpoint(&self, name: &str) -> Option<String> {
        self.registry
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .endpoints
            .get(name)
            .cloned()
    }

    pub fn attach(&self, service: &Arc<SecretsService<S>>) {
        let _ = self.service.set(Arc::downgrade(service));
    }

    async fn invoke_lambda(
        &self,
        authority: &str,
        name: &str,
        event: &RotationEvent,
    ) -> Result<(), InvokeError> {
        let call = async {
            let stream = tokio::net::TcpStream::connect(authority)
                .await
                .map_err(|e| InvokeError::Unreachable(e.to_string()))?;
            let io = hyper_util::rt::TokioIo::new(stream);
            let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
                .await
                .map_err(|e| InvokeError::Unreachable(e.to_string()))?;
            // Aborted when this call ends (answered or timed out), so a hung function leaves
            // no task or socket behind.
            let connection = AbortOnDrop(tokio::spawn(connection));
            let body = serde_json::to_vec(event).expect("events serialise");
            let request = http::Request::post(format!("/2015-03-31/functions/{name}/invocations"))
                .header(http::header::HOST, authority)
                .header(http::header::CONTENT_TYPE, "application/json")
                .header("X-Amz-Invocation-Type", "RequestResponse")
                .body(Full::new(Bytes::from(body)))
                .map_err(|e| InvokeError::Unreachable(e.to_string()))?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| InvokeError::Unreachable(e.to_string()))?;
            let status = response.status();
            let function_error = response
                .headers()
                .get("x-amz-function-error")
                .map(|v| v.to_str().unwrap_or("Unhandled").to_owned());
            let body = Limited::new(response.into_body(), MAX_RESPONSE)
                .collect()
                .await
                .map_err(|e| InvokeError::Unreachable(e.to_string()))?
                .to_bytes();
            if status == http::StatusCode::NOT_FOUND {
                return Err(InvokeError::NotRegistered(name.to_owned()));
            }
            if !status.is_success() {
                return Err(InvokeError::Unreachable(format!(
                    "the function endpoint answered HTTP {status}"
                )));
            }
            if let Some(kind) = function_error {
                #[derive(serde::Deserialize)]
                struct LambdaError {
                    #[serde(rename = "errorType")]
                    error_type: Option<String>,
                    #[serde(rename = "errorMessage")]
                    error_message: Option<String>,
                }
                let parsed: Option<LambdaError> = serde_json::from_slice(&body).ok();
                let (error_type, message) = parsed
                    .map(|e| (e.error_type, e.error_message))
                    .unwrap_or_default();
                return Err(InvokeError::Function {
                    error_type: error_type.unwrap_or(kind),
                    message: message.unwrap_or_default(),
                });
            }
            drop(connection);
            Ok(())
        };
        tokio::time::timeout(INVOKE_TIMEOUT, call)
            .await
            .unwrap_or_else(|_| {
                Err(InvokeError::Unreachable(
                    "the function did not answer in time".into(),
                ))
            })
    }
}

impl<S: Store> RotationInvoker for Invoker<S> {
    fn knows(&self, function_arn: &str) -> bool {
        function_name(function_arn).is_some_and(|name| {
            name == MANAGED_SINGLE_USER
                || name == MANAGED_ALTERNATING_USERS
                || self.endpoint(name).is_some()
        })
    }

    fn invoke<'a>(
        &'a self,
        function_arn: &'a str,
        event: &'a RotationEvent,
    ) -> Pin<Box<dyn Future<Output = Result<(), InvokeError>> + Send + 'a>> {
        Box::pin(async move {
            let name = function_name(function_arn)
                .ok_or_else(|| InvokeError::NotRegistered(function_arn.to_owned()))?;
            let alternating = match name {
                MANAGED_SINGLE_USER => false,
                MANAGED_ALTERNATING_USERS => true,
                _ => {
                    let authority = self
                        .endpoint(name)
                        .ok_or_else(|| InvokeError::NotRegistered(name.to_owned()))?;
                    return self.invoke_lambda(&authority, name, event).await;
                }
            };
            let service = self
                .service
                .get()
                .and_then(Weak::upgrade)
                .ok_or_else(|| InvokeError::Unreachable("the server is stopping".into()))?;
            let managed = Managed {
                service: &service,
                database: &self.database,
                alternating,
            };
            match tokio::time::timeout(INVOKE_TIMEOUT, managed.run(event)).await {
                Ok(outcome) => outcome.map_err(|failure| InvokeError::Function {
                    error_type: failure.kind.into(),
                    message: failure.message,
                }),
                Err(_) => Err(InvokeError::Unreachable(
                    "the built-in rotation did not finish in time".into(),
                )),
            }
        })
    }
}

/// Aborts a spawned task when dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Why a managed step failed. Messages name users and versions, never a password.
struct Failure {
    kind: &'static str,
    message: String,
}

fn secrets_failure(error: SecretsError) -> Failure {
    Failure {
        kind: "SecretsManagerError",
        message: error.to_string(),
    }
}

fn database_failure(error: coffer_rotation_db::RotationDbError) -> Failure {
    Failure {
        kind: "DatabaseError",
        message: error.to_string(),
    }
}

/// Coffer's built-in rotation function for database secrets (AWS's single-user and
/// multi-user templates).
struct Managed<'a, S: Store> {
    service: &'a SecretsService<S>,
    database: &'a DatabaseClient,
    alternating: bool,
}

/// The caller the managed function acts as: the service itself, in the secret's account and
/// region.
fn service_caller(secret_arn: &str) -> Caller {
    let mut parts = secret_arn.split(':');
    let region = parts.nth(3).unwrap_or_default().to_owned();
    let account_id = parts.next().unwrap_or_default().to_owned();
    Caller {
        account_id,
        region,
        actor: Actor::System,
    }
}

impl<S: Store> Managed<'_, S> {
    async fn run(&self, event: &RotationEvent) -> Result<(), Failure> {
        let caller = service_caller(&event.secret_id);
        match event.step {
            Step::CreateSecret => self.create_secret(&caller, event).await,
            Step::SetSecret => self.set_secret(&caller, event).await,
            Step::TestSecret => {
                let pending = self.pending(&caller, event).await?;
                self.database
                    .test_login(&pending)
                    .await
                    .map_err(database_failure)
            }
            Step::FinishSecret => self.finish_secret(&caller, event).await,
        }
    }

    async fn value(
        &self,
        caller: &Caller,
        secret_id: &str,
        version_id: Option<&str>,
        stage: &str,
    ) -> SecretsResult<Option<Zeroizing<String>>> {
        let input = GetSecretValueInput {
            secret_id: secret_id.to_owned(),
            version_id: version_id.map(str::to_owned),
            version_stage: Some(stage.to_owned()),
        };
        match self.service.get_secret_value(caller, input).await {
            Ok(out) => match out.value {
                SecretValue::String(text) => Ok(Some(text)),
                SecretValue::Binary(_) => Ok(None),
            },
            Err(
                SecretsError::StagingLabelNotFound(_)
                | SecretsError::VersionNotFound(_)
                | SecretsError::StageNotOnVersion,
            ) => Ok(None),
            Err(other) => Err(other),
        }
    }

    async fn parsed(
        &self,
        caller: &Caller,
        secret_id: &str,
        version_id: Option<&str>,
        stage: &str,
    ) -> Result<Option<DatabaseSecret>, Failure> {
        let Some(text) = self
            .value(caller, secret_id, version_id, stage)
            .await
            .map_err(secrets_failure)?
        else {
            return Ok(None);
        };
        DatabaseSecret::parse(&text)
            .map(Some)
            .map_err(database_failure)
    }

    async fn current(&self, caller: &Caller, secret_id: &str) -> Result<DatabaseSecret, Failure> {
        self.parsed(caller, secret_id, None, "AWSCURRENT")
            .await?
            .ok_or_else(|| Failure {
                kind: "ValueError",
                message: format!(
                    "Secret {secret_id} has no AWSCURRENT value holding a database secret"
                ),
            })
    }

    async fn pending(
        &self,
        caller: &Caller,
        event: &RotationEvent,
    ) -> Result<DatabaseSecret, Failure> {
        self.parsed(
            caller,
            &event.secret_id,
            Some(&event.client_request_token),
            "AWSPENDING",
        )
        .await?
        .ok_or_else(|| Failure {
            kind: "ValueError",
            message: format!(
                "Version {} of secret {} holds no AWSPENDING database secret",
                event.client_request_token, event.secret_id
            ),
        })
    }

    async fn create_secret(&self, caller: &Caller, event: &RotationEvent) -> Result<(), Failure> {
        let current = self.current(caller, &event.secret_id).await?;
        if self
            .parsed(
                caller,
                &event.secret_id,
                Some(&event.client_request_token),
                "AWSPENDING",
            )
            .await?
            .is_some()
        {
            return Ok(());
        }
        let password = self
            .service
            .get_random_password(
                caller,
                &PasswordRules {
                    exclude_characters: Some(EXCLUDE_CHARACTERS.into()),
                    ..PasswordRules::default()
                },
            )
            .await
            .map_err(secrets_failure)?;
        let username = if self.alternating {
            coffer_rotation_db::clone_user_name(current.engine(), current.username())
                .map_err(database_failure)?
        } else {
            current.username().to_owned()
        };
        let text = current.with_credentials(&username, &password);
        self.service
            .put_secret_value(
                caller,
                PutSecretValueInput {
                    secret_id: event.secret_id.clone(),
                    client_request_token: Some(event.client_request_token.clone()),
                    secret_string: Some(Zeroizing::new(text.to_string())),
                    version_stages: Some(vec!["AWSPENDING".into()]),
                    ..PutSecretValueInput::default()
                },
            )
            .await
            .map_err(secrets_failure)?;
        Ok(())
    }

    async fn set_secret(&self, caller: &Caller, event: &RotationEvent) -> Result<(), Failure> {
        let pending = self.pending(caller, event).await?;
        let current = self.current(caller, &event.secret_id).await?;
        if pending.host() != current.host() || pending.port() != current.port() {
            return Err(Failure {
                kind: "ValueError",
                message: "the pending secret names another database server than the current one"
                    .into(),
            });
        }
        // The pending value is writable by whoever may PutSecretValue: the user it names must
        // be the one this strategy rotates (AWS's templates check the same), or a caller could
        // have Coffer change any role's password.
        let expected = if self.alternating {
            coffer_rotation_db::clone_user_name(current.engine(), current.username())
                .map_err(database_failure)?
        } else {
            current.username().to_owned()
        };
        if pending.username() != expected {
            return Err(Failure {
                kind: "ValueError",
                message: format!(
                    "the pending version of {} names user {}, not {expected}",
                    event.secret_id,
                    pending.username()
                ),
            });
        }
        if self.alternating {
            let master_arn = current.master_arn().ok_or_else(|| Failure {
                kind: "ValueError",
                message: format!(
                    "Secret {} has no masterarn naming the secret allowed to change its users",
                    event.secret_id
                ),
            })?;
            let master = self.current(caller, master_arn).await?;
            if [current.username(), pending.username()].contains(&master.username()) {
                return Err(Failure {
                    kind: "ValueError",
                    message: "the alternating users cannot be the master secret's user".into(),
                });
            }
            if master.host() != current.host() || master.port() != current.port() {
                return Err(Failure {
                    kind: "ValueError",
                    message: "the master secret names another database server".into(),
                });
            }
            self.database
                .ensure_clone_user(
                    &master,
                    current.username(),
                    pending.username(),
                    pending.password(),
                )
                .await
                .map(|_| ())
                .map_err(database_failure)
        } else {
            // Log in with the first credentials that work: the current ones, the pending ones
            // (a resumed rotation that already changed the password), or the previous ones (a
            // half-finished earlier rotation). The password is then set even if the pending
            // one logs in already: a server that does not check passwords (trust
            // authentication) would otherwise never receive it.
            let previous = self
                .parsed(caller, &event.secret_id, None, "AWSPREVIOUS")
                .await?;
            let mut login = None;
            for candidate in [Some(current), Some(pending.clone()), previous]
                .into_iter()
                .flatten()
            {
                if self.database.test_login(&candidate).await.is_ok() {
                    login = Some(candidate);
                    break;
                }
            }
            let login = login.ok_or_else(|| Failure {
                kind: "ValueError",
                message: format!(
                    "setSecret: none of the current, pending or previous credentials of {} log in",
                    event.secret_id
                ),
            })?;
            self.database
                .set_password(&login, pending.username(), pending.password())
                .await
                .map_err(database_failure)
        }
    }

    async fn finish_secret(&self, caller: &Caller, event: &RotationEvent) -> Result<(), Failure> {
        let description = self
            .service
            .describe_secret(caller, &event.secret_id)
            .await
            .map_err(secrets_failure)?;
        let current_version = description
            .versions_to_stages
            .unwrap_or_default()
            .into_iter()
            .find(|(_, stages)| stages.iter().any(|s| s == "AWSCURRENT"))
            .map(|(version, _)| version);
        if current_version.as_deref() == Some(event.client_request_token.as_str()) {
            return Ok(());
        }
        self.service
            .update_secret_version_stage(
                caller,
                UpdateSecretVersionStageInput {
                    secret_id: event.secret_id.clone(),
                    version_stage: "AWSCURRENT".into(),
                    remove_from_version_id: current_version,
                    move_to_version_id: Some(event.client_request_token.clone()),
                },
            )
            .await
            .map(|_| ())
            .map_err(secrets_failure)
    }
}
