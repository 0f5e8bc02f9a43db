//! Rotation (spec §3.12, §3.13, §4.11): RotateSecret and CancelRotateSecret, and the engine
//! that runs a rotation's four steps through a rotation function.
//!
//! State lives in the secret's record (its `rotation` document and `next_rotation_at`), so a
//! rotation survives restarts and any node can carry it on: a rotation runs only on the node
//! holding the secret's lease (`rotation:<arn>`), so one secret never rotates twice at once.
//! Progress is saved after each step; a failed attempt is retried with backoff from the step
//! that failed, and after the last attempt the pending version is left as the function left
//! it, so a later RotateSecret with its token (or the next scheduled run) resumes it.

use std::sync::Arc;

use coffer_store::{SecretAggregate, SecretChange, SecretRecord, Store, VersionMeta, VersionWrite};
use serde_json::json;

use super::{Access, SecretsService, contention, extra_keys};
use crate::audit::{AuditEvent, AuditIdentity, AuditLog, AuditResource};
use crate::clock::Millis;
use crate::error::{SecretsError, SecretsResult};
use crate::rotation::schedule::{self, rotation_time_in};
use crate::rotation::{
    InvokeError, RotationEvent, RotationInvoker, RotationObserver, RotationSettings, RotationState,
    RunningRotation, Step,
};
use crate::secrets::Caller;
use crate::secrets::labels::{self, AWSCURRENT, AWSPENDING};
use crate::secrets::model::{RotateSecretInput, RotationOutput};

/// How long the scheduler pushes back a due rotation of a secret scheduled for deletion.
const DELETED_RECHECK_MS: i64 = 3_600_000;

pub(crate) struct RotationEngine {
    invoker: Arc<dyn RotationInvoker>,
    settings: RotationSettings,
    node_id: String,
    audit: Option<Arc<AuditLog>>,
    observer: Option<Arc<dyn RotationObserver>>,
    /// Woken when a rotation is due now (RotateSecret), so the scheduler need not wait for
    /// its next round.
    due_now: Arc<tokio::sync::Notify>,
}

impl RotationEngine {
    pub(crate) fn new(
        invoker: Arc<dyn RotationInvoker>,
        settings: RotationSettings,
        node_id: String,
        audit: Option<Arc<AuditLog>>,
        observer: Option<Arc<dyn RotationObserver>>,
    ) -> RotationEngine {
        RotationEngine {
            invoker,
            settings,
            node_id,
            audit,
            observer,
            due_now: Arc::new(tokio::sync::Notify::new()),
        }
    }
}

/// How a rotation attempt ended.
enum Outcome {
    Completed,
    Failed {
        step: Step,
        reason: String,
    },
    /// The secret went away, or rotation was cancelled or abandoned meanwhile.
    Stopped,
}

/// The version that holds `AWSPENDING` without `AWSCURRENT`: an unfinished rotation.
fn pending_version(secret: &SecretRecord) -> Option<&str> {
    let pending = secret.stages.get(AWSPENDING)?;
    (secret.stages.get(AWSCURRENT) != Some(pending)).then_some(pending.as_str())
}

fn rotation_of(secret: &SecretRecord) -> RotationState {
    RotationState::decode(secret.rotation.as_deref()).unwrap_or_default()
}

/// The version a rotation fills: no value yet (it is labelled `AWSPENDING` beside it).
fn placeholder(secret: &SecretRecord, token: &str, now: Millis) -> VersionWrite {
    VersionWrite {
        meta: VersionMeta {
            version_id: token.to_owned(),
            created_at: now,
            last_accessed_day: None,
            kms_key_id: secret.kms_key_id.clone(),
            has_value: false,
        },
        ciphertext: None,
    }
}

/// A test-only run's pending version goes again: its `AWSPENDING` label, and the version
/// itself (returned) if it is still empty and holds no other label.
fn remove_temporary_version(
    current: &SecretAggregate,
    next: &mut SecretRecord,
    token: &str,
) -> Option<String> {
    if next.stages.get(AWSPENDING).map(String::as_str) == Some(token) {
        next.stages.remove(AWSPENDING);
    }
    let empty = current
        .versions
        .iter()
        .any(|v| v.version_id == token && !v.has_value);
    (empty && labels::labels_of(&next.stages, token).is_empty()).then(|| token.to_owned())
}

/// The secret with `state` written into it (and its due date for the scheduler).
fn with_state(secret: &SecretRecord, state: &RotationState, due: Option<Millis>) -> SecretRecord {
    let mut next = secret.clone();
    next.rotation = Some(state.encode());
    next.next_rotation_at = due;
    next
}

/// A change that leaves LastChangedDate alone: rotation bookkeeping is not a change of the
/// secret a user made.
fn bookkeeping(current: &SecretAggregate, mut next: SecretRecord) -> SecretChange {
    next.revision = current.secret.revision + 1;
    SecretChange {
        secret: next,
        expected_revision: current.secret.revision,
        put_versions: vec![],
        delete_versions: vec![],
    }
}

impl<S: Store> SecretsService<S> {
    fn engine(&self, operation: &'static str) -> SecretsResult<&RotationEngine> {
        self.rotation
            .as_ref()
            .ok_or(SecretsError::NotSupported(operation))
    }

    /// Woken whenever a rotation became due at once; the scheduler waits on it between rounds.
    pub fn rotation_due_now(&self) -> Option<Arc<tokio::sync::Notify>> {
        self.rotation.as_ref().map(|e| e.due_now.clone())
    }

    /// The next rotation of a secret under `state`: when the scheduler starts it (a random
    /// time inside the next window) and `NextRotationDate` (the window's end). `None` when
    /// rotation is off or has no schedule (then it runs only on demand).
    fn next_rotation(
        &self,
        secret: &SecretRecord,
        state: &RotationState,
        now: Millis,
    ) -> (Option<Millis>, Option<Millis>) {
        let (true, Some(rules)) = (state.enabled, &state.rules) else {
            return (None, None);
        };
        let Ok(schedule) = schedule::validate(rules) else {
            return (None, None);
        };
        let at = |ms: Millis| jiff::Timestamp::from_millisecond(ms).ok();
        let counted_from = match (state.last_rotated, state.counted_from) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let (Some(after), Some(created)) = (at(now), at(secret.created_at)) else {
            return (None, None);
        };
        let Some(window) = schedule.next_window(after, counted_from.and_then(at), created) else {
            return (None, None);
        };
        let start = rotation_time_in(window, &mut self.randomness.rng());
        (
            Some(start.as_millisecond()),
            Some(window.end.as_millisecond()),
        )
    }

    /// RotateSecret (spec §3.12).
    pub async fn rotate_secret(
        &self,
        caller: &Caller,
        input: RotateSecretInput,
    ) -> SecretsResult<RotationOutput> {
        let engine = self.engine("RotateSecret")?;
        let token = input
            .client_request_token
            .clone()
            .ok_or(SecretsError::MissingClientRequestTokenParameter)?;
        if let Some(rules) = &input.rotation_rules {
            schedule::validate(rules)
                .map_err(|e| SecretsError::InvalidRotationRules(e.to_string()))?;
        }
        let immediately = input.rotate_immediately.unwrap_or(true);
        let lambda = input.rotation_lambda_arn.clone().unwrap_or_default();
        let modifies_rules = input.rotation_rules.is_some();
        let keys = extra_keys(move |mut context| {
            if !lambda.is_empty() {
                context = context.with_string("secretsmanager:RotationLambdaARN", lambda.clone());
            }
            context
                .with_bool("secretsmanager:ModifyRotationRules", modifies_rules)
                .with_bool("secretsmanager:RotateImmediately", immediately)
        });
        let access = Access::with("secretsmanager:RotateSecret", &keys);
        for _ in 0..super::MAX_WRITE_ATTEMPTS {
            let current = self
                .resolve(caller, &input.secret_id, true, &access)
                .await?;
            let secret = &current.secret;
            if secret.deletion_date.is_some() {
                return Err(SecretsError::MarkedForDeletion);
            }
            let mut state = rotation_of(secret);
            let function = input
                .rotation_lambda_arn
                .clone()
                .filter(|arn| !arn.is_empty())
                .or_else(|| state.lambda_arn.clone())
                .ok_or(SecretsError::NoRotationFunction)?;
            // Nothing is saved when the function cannot be invoked.
            if !engine.invoker.knows(&function) {
                return Err(SecretsError::CannotInvokeRotationFunction);
            }
            // An unfinished rotation may only be resumed, with its own token.
            let unfinished = state
                .running
                .as_ref()
                .map(|r| r.token.as_str())
                .or_else(|| pending_version(secret));
            if immediately && state.running.as_ref().is_some_and(|r| r.test_only) {
                return Err(SecretsError::RotationInProgress);
            }
            let resuming = match unfinished {
                Some(pending) if pending == token => true,
                Some(_) => return Err(SecretsError::RotationInProgress),
                None => false,
            };
            if !resuming && current.versions.iter().any(|v| v.version_id == token) {
                return Err(SecretsError::ClientRequestTokenInUse {
                    token: token.clone(),
                    arn: secret.arn.clone(),
                });
            }
            let now = self.clock.now();
            let first_configuration = state.lambda_arn.is_none();
            state.enabled = true;
            state.lambda_arn = Some(function);
            if let Some(rules) = &input.rotation_rules {
                if state.rules.as_ref() != Some(rules) {
                    state.counted_from = Some(now);
                }
                state.rules = Some(rules.clone());
            } else if first_configuration {
                state.counted_from = Some(now);
            }
            let mut change = self.change(&current, secret.clone(), now);
            let (scheduled, next_date) = self.next_rotation(secret, &state, now);
            state.next_rotation_date = next_date;
            // A rotation waiting for its retry keeps its due time.
            let mut due = match &state.running {
                Some(_) => secret.next_rotation_at,
                None => scheduled,
            };
            if immediately || !resuming {
                if !resuming {
                    // The version the function fills: no value yet, labelled AWSPENDING.
                    change.put_versions.push(placeholder(secret, &token, now));
                    change
                        .secret
                        .stages
                        .insert(AWSPENDING.to_owned(), token.clone());
                }
                let mut running = state.running.clone().unwrap_or_else(|| RunningRotation {
                    token: token.clone(),
                    rotation_token: uuid::Uuid::new_v4().to_string(),
                    ..RunningRotation::default()
                });
                running.test_only = !immediately && !resuming;
                running.attempts = 0;
                state.running = Some(running);
                due = Some(now);
            }
            change.secret.rotation = Some(state.encode());
            change.secret.next_rotation_at = due;
            let output = RotationOutput {
                arn: secret.arn.clone(),
                name: secret.name.clone(),
                version_id: Some(token.clone()),
            };
            if self.try_commit(change).await? {
                engine.due_now.notify_one();
                return Ok(output);
            }
        }
        Err(contention())
    }

    /// CancelRotateSecret (spec §3.13).
    pub async fn cancel_rotate_secret(
        &self,
        caller: &Caller,
        secret_id: &str,
    ) -> SecretsResult<RotationOutput> {
        let access = Access::to("secretsmanager:CancelRotateSecret");
        self.modify(caller, secret_id, &access, |current, now| {
            let secret = &current.secret;
            if secret.deletion_date.is_some() {
                return Err(SecretsError::MarkedForDeletion);
            }
            let mut state = rotation_of(secret);
            if state.lambda_arn.is_none() {
                return Err(SecretsError::RotationNotConfigured);
            }
            let version_id = state
                .running
                .as_ref()
                .map(|r| r.token.clone())
                .or_else(|| pending_version(secret).map(str::to_owned));
            state.enabled = false;
            state.running = None;
            state.next_rotation_date = None;
            let change = self.change(current, with_state(secret, &state, None), now);
            Ok(super::Plan::Commit(
                Box::new(change),
                RotationOutput {
                    arn: secret.arn.clone(),
                    name: secret.name.clone(),
                    version_id,
                },
            ))
        })
        .await
    }

    /// A manual change of the value (AWSCURRENT moved to `token` by PutSecretValue or
    /// UpdateSecret): it counts as a rotation for the schedule, and it abandons a rotation in
    /// progress, whose pending label is removed (spec §4.11). The caller reports the
    /// abandonment once the change is committed ([`Self::report_abandoned`]).
    pub(super) fn note_manual_change(&self, change: &mut SecretChange, token: &str, now: Millis) {
        let Some(mut state) = RotationState::decode(change.secret.rotation.as_deref()) else {
            return;
        };
        if change.secret.stages.get(AWSCURRENT).map(String::as_str) != Some(token) {
            return;
        }
        if let Some(running) = &state.running
            && running.token != token
        {
            if change.secret.stages.get(AWSPENDING) == Some(&running.token) {
                change.secret.stages.remove(AWSPENDING);
            }
            state.running = None;
        }
        if state.running.is_some() {
            return;
        }
        state.counted_from = Some(now);
        let (due, date) = self.next_rotation(&change.secret, &state, now);
        state.next_rotation_date = date;
        change.secret.rotation = Some(state.encode());
        change.secret.next_rotation_at = due;
    }

    /// After a committed manual change: records `RotationAbandoned` if it ended a rotation.
    pub(super) fn report_abandoned(&self, before: &SecretRecord, after: &SecretRecord) {
        let running = |secret: &SecretRecord| {
            RotationState::decode(secret.rotation.as_deref()).and_then(|state| state.running)
        };
        if running(before).is_some() && running(after).is_none() {
            self.rotation_event(after, "RotationAbandoned", None);
        }
    }

    /// Runs the rotations that are due; returns how many ran. Called by the scheduler on
    /// every node: each secret's lease makes sure only one node runs it.
    pub async fn run_due_rotations(&self, limit: usize) -> SecretsResult<usize> {
        if self.rotation.is_none() {
            return Ok(0);
        }
        let now = self.clock.now();
        let due = self.store.secrets_due_for_rotation(now, limit).await?;
        let mut ran = 0;
        for arn in due {
            match self.run_rotation(&arn).await {
                Ok(true) => ran += 1,
                Ok(false) => {}
                Err(error) => tracing::error!(arn, %error, "rotation could not be run"),
            }
        }
        Ok(ran)
    }

    /// Runs (or resumes) the rotation of one secret if this node can take its lease.
    async fn run_rotation(&self, arn: &str) -> SecretsResult<bool> {
        let engine = self.engine("RotateSecret")?;
        let lease = format!("rotation:{arn}");
        let now = self.clock.now();
        if !self
            .store
            .acquire_lease(&lease, &engine.node_id, now, engine.settings.lease_ms)
            .await?
        {
            return Ok(false);
        }
        let result = self.rotate_under_lease(engine, arn, &lease).await;
        if let Err(error) = self.store.release_lease(&lease, &engine.node_id).await {
            tracing::warn!(arn, %error, "a rotation lease could not be released; it expires");
        }
        result.map(|()| true)
    }

    async fn rotate_under_lease(
        &self,
        engine: &RotationEngine,
        arn: &str,
        lease: &str,
    ) -> SecretsResult<()> {
        let Some((current, running, function)) = self.start_or_resume(arn).await? else {
            return Ok(());
        };
        let outcome = self
            .run_steps(engine, &current.secret, &running, &function, lease)
            .await;
        self.conclude(arn, &running, &function, outcome).await
    }

    /// Loads a due secret and returns the rotation to run: the one in progress, or a new one
    /// (creating its pending version; an unfinished pending version is resumed instead).
    async fn start_or_resume(
        &self,
        arn: &str,
    ) -> SecretsResult<Option<(Arc<SecretAggregate>, RunningRotation, String)>> {
        for _ in 0..super::MAX_WRITE_ATTEMPTS {
            let Some(current) = self.load_by_arn(arn, true).await? else {
                return Ok(None);
            };
            let secret = &current.secret;
            let now = self.clock.now();
            if secret.next_rotation_at.is_none_or(|due| due > now) {
                return Ok(None);
            }
            let mut state = rotation_of(secret);
            let runnable = state.enabled || state.running.is_some();
            let (Some(function), true) = (state.lambda_arn.clone(), runnable) else {
                let change = bookkeeping(&current, with_state(secret, &state, None));
                if !self.try_commit(change).await? {
                    continue;
                }
                return Ok(None);
            };
            if secret.deletion_date.is_some() {
                // Deleted secrets do not rotate; a restored one picks its schedule up again.
                let change = bookkeeping(
                    &current,
                    with_state(secret, &state, Some(now + DELETED_RECHECK_MS)),
                );
                if !self.try_commit(change).await? {
                    continue;
                }
                return Ok(None);
            }
            if let Some(running) = state.running.clone() {
                return Ok(Some((current, running, function)));
            }
            // A scheduled start.
            let mut next = secret.clone();
            let running = RunningRotation {
                token: pending_version(secret)
                    .map(str::to_owned)
                    .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                rotation_token: uuid::Uuid::new_v4().to_string(),
                ..RunningRotation::default()
            };
            let mut change_versions = Vec::new();
            if pending_version(secret).is_none() {
                change_versions.push(placeholder(secret, &running.token, now));
                next.stages
                    .insert(AWSPENDING.to_owned(), running.token.clone());
            }
            state.running = Some(running.clone());
            let mut change = bookkeeping(&current, with_state(&next, &state, Some(now)));
            change.put_versions = change_versions;
            if self.try_commit(change).await? {
                let reloaded = self
                    .load_by_arn(arn, true)
                    .await?
                    .ok_or(SecretsError::SecretNotFound)?;
                return Ok(Some((reloaded, running, function)));
            }
        }
        Err(contention())
    }

    async fn run_steps(
        &self,
        engine: &RotationEngine,
        secret: &SecretRecord,
        running: &RunningRotation,
        function: &str,
        lease: &str,
    ) -> Outcome {
        let steps: &[Step] = if running.test_only {
            &[Step::TestSecret]
        } else {
            &Step::ALL[usize::from(running.steps_done).min(4)..]
        };
        if running.steps_done == 0 && !running.test_only {
            self.rotation_event(secret, "RotationStarted", None);
        }
        for &step in steps {
            let position = Step::ALL.iter().position(|s| *s == step).unwrap_or(0) as u8;
            let now = self.clock.now();
            match self
                .store
                .acquire_lease(lease, &engine.node_id, now, engine.settings.lease_ms)
                .await
            {
                Ok(true) => {}
                Ok(false) => return Outcome::Stopped,
                Err(error) => {
                    return Outcome::Failed {
                        step,
                        reason: format!("the store could not be reached: {error}"),
                    };
                }
            }
            let event = RotationEvent {
                step,
                secret_id: secret.arn.clone(),
                client_request_token: running.token.clone(),
                rotation_token: running.rotation_token.clone(),
            };
            if let Err(reason) = self.invoke_with_retries(engine, function, &event).await {
                return Outcome::Failed { step, reason };
            }
            match self.step_done(&secret.arn, running, position + 1).await {
                Ok(true) => {}
                Ok(false) => return Outcome::Stopped,
                Err(error) => {
                    return Outcome::Failed {
                        step,
                        reason: format!("progress could not be saved: {error}"),
                    };
                }
            }
        }
        Outcome::Completed
    }

    /// Invokes one step, retrying (with backoff) only when the function could not be reached.
    async fn invoke_with_retries(
        &self,
        engine: &RotationEngine,
        function: &str,
        event: &RotationEvent,
    ) -> Result<(), String> {
        let mut delay = std::time::Duration::from_millis(200);
        for attempt in 1..=engine.settings.step_tries.max(1) {
            match engine.invoker.invoke(function, event).await {
                Ok(()) => return Ok(()),
                Err(InvokeError::Unreachable(why)) if attempt < engine.settings.step_tries => {
                    tracing::warn!(
                        arn = event.secret_id,
                        step = event.step.name(),
                        attempt,
                        why,
                        "the rotation function could not be reached; retrying"
                    );
                    tokio::time::sleep(delay).await;
                    delay = delay.saturating_mul(4);
                }
                // A function's own error message is not recorded: it is the function's text
                // and could quote anything, secret values included.
                Err(InvokeError::Function { error_type, .. }) => {
                    return Err(format!("the function reported {error_type}"));
                }
                Err(other) => return Err(other.to_string()),
            }
        }
        Err("the function could not be reached".into())
    }

    /// Saves that one more step completed; `false` when the rotation is no longer this one.
    /// `done` is the number of steps complete after this one (its position in the four),
    /// so a step finished twice (a lease taken over mid-step) is not counted twice.
    async fn step_done(
        &self,
        arn: &str,
        running: &RunningRotation,
        done: u8,
    ) -> SecretsResult<bool> {
        for _ in 0..super::MAX_WRITE_ATTEMPTS {
            let Some(current) = self.load_by_arn(arn, true).await? else {
                return Ok(false);
            };
            let mut state = rotation_of(&current.secret);
            let Some(saved) = state.running.as_mut().filter(|r| r.token == running.token) else {
                return Ok(false);
            };
            saved.steps_done = saved.steps_done.max(done);
            let change = bookkeeping(
                &current,
                with_state(&current.secret, &state, current.secret.next_rotation_at),
            );
            if self.try_commit(change).await? {
                return Ok(true);
            }
        }
        Err(contention())
    }

    /// Records how the attempt ended and what happens next.
    async fn conclude(
        &self,
        arn: &str,
        running: &RunningRotation,
        function: &str,
        outcome: Outcome,
    ) -> SecretsResult<()> {
        let engine = self.engine("RotateSecret")?;
        for _ in 0..super::MAX_WRITE_ATTEMPTS {
            let Some(current) = self.load_by_arn(arn, true).await? else {
                return Ok(());
            };
            let secret = &current.secret;
            let mut state = rotation_of(secret);
            if state.running.as_ref().map(|r| &r.token) != Some(&running.token) {
                return Ok(());
            }
            let now = self.clock.now();
            let mut next = secret.clone();
            let mut delete_versions = Vec::new();
            let (event, failure) = match &outcome {
                Outcome::Stopped => return Ok(()),
                Outcome::Completed if running.test_only => {
                    // The temporary pending version goes again.
                    delete_versions.extend(remove_temporary_version(
                        &current,
                        &mut next,
                        &running.token,
                    ));
                    state.running = None;
                    ("TestRotationSucceeded", None)
                }
                Outcome::Completed => {
                    if next.stages.get(AWSCURRENT) != Some(&running.token) {
                        // The retry must run finishSecret again.
                        if let Some(saved) = state.running.as_mut() {
                            saved.steps_done = saved.steps_done.min(3);
                        }
                        let reason = format!(
                            "finishSecret did not move AWSCURRENT to version {}",
                            running.token
                        );
                        (
                            "RotationFailed",
                            Some(self.failure_message(function, Step::FinishSecret, &reason)),
                        )
                    } else {
                        if next.stages.get(AWSPENDING) == Some(&running.token) {
                            next.stages.remove(AWSPENDING);
                        }
                        state.running = None;
                        state.last_rotated = Some(now);
                        ("RotationSucceeded", None)
                    }
                }
                Outcome::Failed { step, reason } => (
                    if running.test_only {
                        "TestRotationFailed"
                    } else {
                        "RotationFailed"
                    },
                    Some(self.failure_message(function, *step, reason)),
                ),
            };
            let due = if failure.is_some() {
                let attempts = state.running.as_ref().map_or(0, |r| r.attempts) + 1;
                if attempts < engine.settings.max_attempts && !running.test_only {
                    let saved = state.running.as_mut().expect("a running rotation");
                    saved.attempts = attempts;
                    let backoff = engine
                        .settings
                        .retry_delay_ms
                        .saturating_mul(1i64 << (attempts - 1).min(16));
                    Some(now + backoff)
                } else {
                    // Given up: the pending version stays as the function left it, and the
                    // schedule (if any) resumes it in the next window.
                    if running.test_only {
                        delete_versions.extend(remove_temporary_version(
                            &current,
                            &mut next,
                            &running.token,
                        ));
                    }
                    state.running = None;
                    let (due, date) = self.next_rotation(secret, &state, now);
                    state.next_rotation_date = date;
                    due
                }
            } else {
                let (due, date) = self.next_rotation(secret, &state, now);
                state.next_rotation_date = date;
                due
            };
            let mut change = bookkeeping(&current, with_state(&next, &state, due));
            change.delete_versions = delete_versions;
            if self.try_commit(change).await? {
                self.rotation_event(secret, event, failure.as_deref());
                match &failure {
                    Some(message) => tracing::warn!(arn, event, message, "rotation failed"),
                    None => tracing::info!(arn, event, "rotation finished"),
                }
                return Ok(());
            }
        }
        Err(contention())
    }

    fn failure_message(&self, function: &str, step: Step, reason: &str) -> String {
        format!(
            "Error when executing lambda {function} during {} step: {reason}",
            step.name()
        )
    }

    /// A rotation's service event in the audit trail (`AwsServiceEvent`, invoked by
    /// secretsmanager.amazonaws.com).
    fn rotation_event(&self, secret: &SecretRecord, name: &str, failure: Option<&str>) {
        if let Some(observer) = self.rotation.as_ref().and_then(|e| e.observer.as_ref()) {
            observer.rotation_event(name);
        }
        let Some(audit) = self.rotation.as_ref().and_then(|e| e.audit.as_ref()) else {
            return;
        };
        let event = AuditEvent {
            event_time: self.clock.now(),
            event_source: "secretsmanager.amazonaws.com".into(),
            event_name: name.into(),
            aws_region: secret.region.clone(),
            source_ip_address: "secretsmanager.amazonaws.com".into(),
            user_agent: "secretsmanager.amazonaws.com".into(),
            identity: AuditIdentity::Service {
                account_id: secret.account_id.clone(),
            },
            request_parameters: serde_json::Value::Null,
            response_elements: serde_json::Value::Null,
            failure: failure.map(|message| crate::audit::AuditFailure {
                code: name.into(),
                message: message.into(),
            }),
            request_id: uuid::Uuid::new_v4().to_string(),
            event_id: uuid::Uuid::new_v4().to_string(),
            read_only: false,
            resources: vec![AuditResource {
                account_id: secret.account_id.clone(),
                resource_type: "AWS::SecretsManager::Secret".into(),
                arn: secret.arn.clone(),
            }],
            recipient_account_id: secret.account_id.clone(),
            additional_event_data: Some(json!({ "SecretId": secret.arn })),
        };
        if audit.record(event).is_err() {
            tracing::error!(
                arn = secret.arn,
                name,
                "a rotation event could not be recorded"
            );
        }
    }
}
