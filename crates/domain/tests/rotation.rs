//! The rotation engine through the domain, on the real embedded store, with a manual clock
//! and an in-process rotation function that behaves like AWS's templates (it calls back into
//! the service as the templates call the API).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use coffer_crypto::{RootKey, TokenSigner};
use coffer_domain::clock::{DAY, ManualClock};
use coffer_domain::rotation::{
    InvokeError, RotationEvent, RotationInvoker, RotationRules, RotationSettings, Step,
};
use coffer_domain::secrets::*;
use coffer_domain::{Randomness, SecretValue, SecretsError};
use coffer_store_embedded::EmbeddedStore;
use zeroize::Zeroizing;

const T0: i64 = 1_735_732_800_123; // 2025-01-01T12:00:00.123Z
const FUNCTION: &str = "arn:aws:lambda:us-east-1:111122223333:function:template";

type Service = SecretsService<EmbeddedStore>;

/// A template-style function: createSecret puts a new value under the token, finishSecret
/// moves AWSCURRENT; `fail` makes the named step fail that many more times.
struct Template {
    service: OnceLock<Weak<Service>>,
    calls: Mutex<Vec<Step>>,
    fail: Mutex<Vec<Step>>,
}

fn system() -> Caller {
    Caller {
        account_id: "111122223333".into(),
        region: "us-east-1".into(),
        actor: Actor::System,
    }
}

impl Template {
    async fn run(&self, event: &RotationEvent) -> Result<(), InvokeError> {
        self.calls.lock().unwrap().push(event.step);
        {
            let mut fail = self.fail.lock().unwrap();
            if let Some(i) = fail.iter().position(|s| *s == event.step) {
                fail.remove(i);
                return Err(InvokeError::Function {
                    error_type: "InjectedFailure".into(),
                    message: "injected".into(),
                });
            }
        }
        let service = self.service.get().unwrap().upgrade().unwrap();
        let caller = system();
        let error = |e: SecretsError| InvokeError::Function {
            error_type: "Error".into(),
            message: e.to_string(),
        };
        match event.step {
            Step::CreateSecret => {
                let pending = service
                    .get_secret_value(
                        &caller,
                        GetSecretValueInput {
                            secret_id: event.secret_id.clone(),
                            version_id: Some(event.client_request_token.clone()),
                            version_stage: Some("AWSPENDING".into()),
                        },
                    )
                    .await;
                if pending.is_ok() {
                    return Ok(());
                }
                service
                    .put_secret_value(
                        &caller,
                        PutSecretValueInput {
                            secret_id: event.secret_id.clone(),
                            client_request_token: Some(event.client_request_token.clone()),
                            secret_string: Some(Zeroizing::new(format!(
                                "rotated-{}",
                                event.client_request_token
                            ))),
                            version_stages: Some(vec!["AWSPENDING".into()]),
                            ..Default::default()
                        },
                    )
                    .await
                    .map_err(error)?;
            }
            Step::SetSecret | Step::TestSecret => {}
            Step::FinishSecret => {
                let described = service
                    .describe_secret(&caller, &event.secret_id)
                    .await
                    .map_err(error)?;
                let current = described
                    .versions_to_stages
                    .unwrap_or_default()
                    .into_iter()
                    .find(|(_, s)| s.iter().any(|l| l == "AWSCURRENT"))
                    .map(|(v, _)| v);
                if current.as_deref() == Some(event.client_request_token.as_str()) {
                    return Ok(());
                }
                service
                    .update_secret_version_stage(
                        &caller,
                        UpdateSecretVersionStageInput {
                            secret_id: event.secret_id.clone(),
                            version_stage: "AWSCURRENT".into(),
                            remove_from_version_id: current,
                            move_to_version_id: Some(event.client_request_token.clone()),
                        },
                    )
                    .await
                    .map_err(error)?;
            }
        }
        Ok(())
    }
}

impl RotationInvoker for Template {
    fn knows(&self, function_arn: &str) -> bool {
        function_arn == FUNCTION
    }

    fn invoke<'a>(
        &'a self,
        _function_arn: &'a str,
        event: &'a RotationEvent,
    ) -> Pin<Box<dyn Future<Output = Result<(), InvokeError>> + Send + 'a>> {
        Box::pin(self.run(event))
    }
}

struct Harness {
    service: Arc<Service>,
    clock: Arc<ManualClock>,
    template: Arc<Template>,
    _dir: tempfile::TempDir,
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(EmbeddedStore::open(dir.path().join("coffer.db")).unwrap());
    let root = RootKey::generate().unwrap();
    let keyring = coffer_domain::keyring::open_keyring(store.as_ref(), &root, T0)
        .await
        .unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let template = Arc::new(Template {
        service: OnceLock::new(),
        calls: Mutex::new(Vec::new()),
        fail: Mutex::new(Vec::new()),
    });
    let service = Arc::new(
        SecretsService::new(
            store,
            keyring,
            TokenSigner::derive(&root, "pagination"),
            clock.clone(),
            Randomness::seeded(7),
            ServiceConfig::default(),
        )
        .with_rotation(
            template.clone(),
            RotationSettings {
                retry_delay_ms: 1_000,
                ..RotationSettings::default()
            },
            "node-a".into(),
            None,
            None,
        ),
    );
    let _ = template.service.set(Arc::downgrade(&service));
    Harness {
        service,
        clock,
        template,
        _dir: dir,
    }
}

fn token(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

async fn create(h: &Harness, name: &str) -> String {
    h.service
        .create_secret(
            &system(),
            CreateSecretInput {
                name: name.into(),
                client_request_token: Some(token(1)),
                secret_string: Some(Zeroizing::new("first".into())),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .arn
}

fn rotate(arn: &str, n: u32, rules: Option<RotationRules>) -> RotateSecretInput {
    RotateSecretInput {
        secret_id: arn.into(),
        client_request_token: Some(token(n)),
        rotation_lambda_arn: Some(FUNCTION.into()),
        rotation_rules: rules,
        rotate_immediately: None,
    }
}

async fn labels(h: &Harness, arn: &str) -> Vec<(String, Vec<String>)> {
    h.service
        .describe_secret(&system(), arn)
        .await
        .unwrap()
        .versions_to_stages
        .unwrap_or_default()
        .into_iter()
        .collect()
}

async fn current_value(h: &Harness, arn: &str) -> String {
    let out = h
        .service
        .get_secret_value(
            &system(),
            GetSecretValueInput {
                secret_id: arn.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    match out.value {
        SecretValue::String(s) => s.to_string(),
        SecretValue::Binary(_) => panic!("binary"),
    }
}

#[tokio::test]
async fn an_immediate_rotation_runs_four_steps_and_leaves_labels_as_aws_does() {
    let h = harness().await;
    let arn = create(&h, "rot/immediate").await;
    let out = h
        .service
        .rotate_secret(
            &system(),
            rotate(
                &arn,
                2,
                Some(RotationRules {
                    automatically_after_days: Some(30),
                    ..Default::default()
                }),
            ),
        )
        .await
        .unwrap();
    assert_eq!(out.version_id.as_deref(), Some(token(2).as_str()));
    // The placeholder carries AWSPENDING and no value until createSecret fills it.
    assert_eq!(
        labels(&h, &arn).await,
        [
            (token(1), vec!["AWSCURRENT".to_owned()]),
            (token(2), vec!["AWSPENDING".to_owned()])
        ]
    );
    assert_eq!(h.service.run_due_rotations(10).await.unwrap(), 1);
    assert_eq!(
        *h.template.calls.lock().unwrap(),
        [
            Step::CreateSecret,
            Step::SetSecret,
            Step::TestSecret,
            Step::FinishSecret
        ]
    );
    assert_eq!(
        labels(&h, &arn).await,
        [
            (token(1), vec!["AWSPREVIOUS".to_owned()]),
            (token(2), vec!["AWSCURRENT".to_owned()])
        ]
    );
    assert_eq!(
        current_value(&h, &arn).await,
        format!("rotated-{}", token(2))
    );
    let described = h.service.describe_secret(&system(), &arn).await.unwrap();
    assert_eq!(described.rotation_enabled, Some(true));
    assert_eq!(described.last_rotated_date, Some(T0));
    let next = described.next_rotation_date.unwrap();
    assert!(next > T0 + 29 * DAY && next <= T0 + 31 * DAY, "{next}");
    // Nothing is due until the window.
    assert_eq!(h.service.run_due_rotations(10).await.unwrap(), 0);
}

#[tokio::test]
async fn a_failed_step_is_retried_from_that_step_after_the_backoff() {
    let h = harness().await;
    let arn = create(&h, "rot/retry").await;
    h.template.fail.lock().unwrap().push(Step::SetSecret);
    h.service
        .rotate_secret(&system(), rotate(&arn, 2, None))
        .await
        .unwrap();
    h.service.run_due_rotations(10).await.unwrap();
    assert_eq!(
        labels(&h, &arn).await,
        [
            (token(1), vec!["AWSCURRENT".to_owned()]),
            (token(2), vec!["AWSPENDING".to_owned()])
        ]
    );
    // Another token is refused while it is unfinished.
    let refused = h
        .service
        .rotate_secret(&system(), rotate(&arn, 3, None))
        .await
        .unwrap_err();
    assert_eq!(refused, SecretsError::RotationInProgress);
    // Not due before the backoff.
    assert_eq!(h.service.run_due_rotations(10).await.unwrap(), 0);
    h.clock.advance(1_001);
    assert_eq!(h.service.run_due_rotations(10).await.unwrap(), 1);
    assert_eq!(
        *h.template.calls.lock().unwrap(),
        [
            Step::CreateSecret,
            Step::SetSecret,
            Step::SetSecret,
            Step::TestSecret,
            Step::FinishSecret
        ]
    );
    assert_eq!(labels(&h, &arn).await[1].1, ["AWSCURRENT"]);
}

#[tokio::test]
async fn a_scheduled_rotation_starts_in_its_window_and_cancel_stops_the_schedule() {
    let h = harness().await;
    let arn = create(&h, "rot/scheduled").await;
    let mut input = rotate(
        &arn,
        2,
        Some(RotationRules {
            schedule_expression: Some("rate(1 day)".into()),
            ..Default::default()
        }),
    );
    input.rotate_immediately = Some(false);
    h.service.rotate_secret(&system(), input).await.unwrap();
    // RotateImmediately=false: testSecret alone, on a temporary pending version.
    assert_eq!(h.service.run_due_rotations(10).await.unwrap(), 1);
    assert_eq!(*h.template.calls.lock().unwrap(), [Step::TestSecret]);
    assert_eq!(labels(&h, &arn).await.len(), 1);
    let next = h
        .service
        .describe_secret(&system(), &arn)
        .await
        .unwrap()
        .next_rotation_date
        .unwrap();
    h.clock.advance(next - T0);
    assert_eq!(h.service.run_due_rotations(10).await.unwrap(), 1);
    assert_eq!(h.template.calls.lock().unwrap().len(), 5);
    assert_eq!(labels(&h, &arn).await.len(), 2);

    let cancelled = h
        .service
        .cancel_rotate_secret(&system(), &arn)
        .await
        .unwrap();
    assert_eq!(cancelled.version_id, None);
    let described = h.service.describe_secret(&system(), &arn).await.unwrap();
    assert_eq!(described.rotation_enabled, Some(false));
    assert_eq!(described.next_rotation_date, None);
    h.clock.advance(10 * DAY);
    assert_eq!(h.service.run_due_rotations(10).await.unwrap(), 0);
}

#[tokio::test]
async fn unknown_functions_and_bad_rules_change_nothing() {
    let h = harness().await;
    let arn = create(&h, "rot/refused").await;
    let mut input = rotate(&arn, 2, None);
    input.rotation_lambda_arn = Some("arn:aws:lambda:us-east-1:111122223333:function:other".into());
    assert_eq!(
        h.service.rotate_secret(&system(), input).await.unwrap_err(),
        SecretsError::CannotInvokeRotationFunction
    );
    let mut input = rotate(&arn, 2, None);
    input.rotation_lambda_arn = None;
    assert_eq!(
        h.service.rotate_secret(&system(), input).await.unwrap_err(),
        SecretsError::NoRotationFunction
    );
    let bad = rotate(
        &arn,
        2,
        Some(RotationRules {
            schedule_expression: Some("rate(1 hour)".into()),
            ..Default::default()
        }),
    );
    assert!(matches!(
        h.service.rotate_secret(&system(), bad).await.unwrap_err(),
        SecretsError::InvalidRotationRules(_)
    ));
    let described = h.service.describe_secret(&system(), &arn).await.unwrap();
    assert_eq!(described.rotation_enabled, None);
    assert_eq!(labels(&h, &arn).await.len(), 1);
}
