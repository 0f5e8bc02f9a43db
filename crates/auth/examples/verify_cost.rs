//! What one SigV4 verification costs, with a warm signing-key cache.
//!
//! ```text
//! cargo run --release -p coffer-auth --example verify_cost
//! ```
//!
//! Signs a thousand varied requests with the real AWS signer (`aws-sigv4`) up front — Secrets Manager JSON POSTs of
//! several body sizes, STS form POSTs, presigned GETs, long-term and temporary credentials, two regions, encoded
//! paths — then verifies all of them over and over and prints the median and p90 time of a single verification,
//! overall and per kind of request. Only the public API of `coffer-auth` is used, so the same program measures any
//! implementation behind it (it measured the previous, scratchstack-based one too). The credential lookup is an
//! in-memory map, so the figures are the verifier's own cost plus one `Credential` clone. This is a measurement to
//! read, not a timed test: nothing here fails on a slow machine.

use std::{
    collections::HashMap,
    future::Future,
    hint::black_box,
    pin::pin,
    sync::LazyLock,
    task::{Context, Poll, Waker},
    time::{Duration, Instant, SystemTime},
};

use aws_credential_types::Credentials;
use aws_sigv4::{
    http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign},
    sign::v4,
};
use coffer_auth::{
    Credential, CredentialLookup, LookupError, SecretAccessKey, SigV4Verifier, VerifyOptions,
};
use http::{Request, Uri, request::Parts};
use jiff::Timestamp;

const HOST: &str = "coffer.example.com";
const REQUESTS: usize = 1_000;
const ROUNDS: usize = 30;

/// (access key id, secret, session token)
const KEYS: &[(&str, &str, Option<&str>)] = &[
    (
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        None,
    ),
    (
        "AKIAI44QH8DHBEXAMPLE",
        "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
        None,
    ),
    (
        "ASIAIOSFODNN7EXAMPLE",
        "Xk2mBnGY5kHVf9dJ1OqzSRwY+pLw7TqEXAMPLEKE",
        Some("IQoJb3JpZ2luX2VjEKz//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+session/token+with+plus=="),
    ),
];

static REGIONS: LazyLock<Vec<String>> =
    LazyLock::new(|| vec!["us-east-1".to_owned(), "eu-west-1".to_owned()]);

fn now() -> Timestamp {
    "2025-11-06T13:26:08Z".parse().unwrap()
}

struct Keys(HashMap<&'static str, Credential<&'static str>>);

impl CredentialLookup for Keys {
    type Principal = &'static str;

    async fn lookup(
        &self,
        access_key_id: &str,
        _session_token: Option<&[u8]>,
    ) -> Result<Option<Credential<&'static str>>, LookupError> {
        Ok(self.0.get(access_key_id).cloned())
    }
}

/// One signed request as the server sees it, with the options of its service.
struct Case {
    kind: &'static str,
    parts: Parts,
    body: Vec<u8>,
    service: &'static str,
}

fn sign_request(
    mut request: Request<Vec<u8>>,
    key: (&str, &str, Option<&str>),
    region: &str,
    service: &'static str,
    time: Timestamp,
    presign: bool,
) -> Case {
    let identity = Credentials::new(key.0, key.1, key.2.map(str::to_owned), None, "bench").into();
    let mut settings = SigningSettings::default();
    if presign {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(900));
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(SystemTime::from(time))
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect();
    let signable = SignableRequest::new(
        request.method().as_str(),
        request.uri().to_string(),
        headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        SignableBody::Bytes(request.body()),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    instructions.apply_to_request_http1x(&mut request);
    let (mut parts, body) = request.into_parts();
    // What the server sees: an origin-form URI.
    let origin = parts
        .uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    parts.uri = origin.parse::<Uri>().unwrap();
    Case {
        kind: "",
        parts,
        body,
        service,
    }
}

/// A small deterministic generator, so every run measures the same requests.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next()).unwrap() % n
    }
}

fn cases() -> Vec<Case> {
    const TARGETS: &[&str] = &[
        "secretsmanager.GetSecretValue",
        "secretsmanager.DescribeSecret",
        "secretsmanager.ListSecrets",
        "secretsmanager.PutSecretValue",
    ];
    const SIZES: &[usize] = &[24, 60, 200, 1_024, 4_096];
    let mut rng = Lcg(0x5eed);
    let mut cases = Vec::with_capacity(REQUESTS);
    for i in 0..REQUESTS {
        let key = KEYS[rng.below(KEYS.len())];
        let region = if rng.below(4) == 0 {
            "eu-west-1"
        } else {
            "us-east-1"
        };
        let time = now() - Duration::from_secs(u64::try_from(rng.below(240)).unwrap());
        let case = match rng.below(10) {
            // Most traffic: the Secrets Manager JSON protocol.
            0..=6 => {
                let size = SIZES[rng.below(SIZES.len())];
                let mut body = format!(r#"{{"SecretId":"prod/app-{i}/db","SecretString":""#);
                while body.len() + 2 < size {
                    body.push(char::from(b'a' + u8::try_from(rng.below(26)).unwrap()));
                }
                body.push_str("\"}");
                let path = if rng.below(8) == 0 { "/a%20b/c~d" } else { "/" };
                let request = Request::builder()
                    .method("POST")
                    .uri(format!("https://{HOST}{path}"))
                    .header("host", HOST)
                    .header("content-type", "application/x-amz-json-1.1")
                    .header("x-amz-target", TARGETS[rng.below(TARGETS.len())])
                    .header("user-agent", "aws-sdk-rust/1.3.9 os/linux lang/rust/1.95.0")
                    .body(body.into_bytes())
                    .unwrap();
                Case {
                    kind: if size <= 200 {
                        "JSON POST, body <= 200 B"
                    } else {
                        "JSON POST, body 1-4 KiB"
                    },
                    ..sign_request(request, key, region, "secretsmanager", time, false)
                }
            }
            // STS query protocol over a form body.
            7 | 8 => {
                let request = Request::builder()
                    .method("POST")
                    .uri(format!("https://{HOST}/"))
                    .header("host", HOST)
                    .header(
                        "content-type",
                        "application/x-www-form-urlencoded; charset=utf-8",
                    )
                    .body(b"Action=GetCallerIdentity&Version=2011-06-15".to_vec())
                    .unwrap();
                Case {
                    kind: "STS form POST",
                    ..sign_request(request, key, region, "sts", time, false)
                }
            }
            // Presigned GetCallerIdentity (the Vault / EKS pattern).
            _ => {
                let request = Request::builder()
                    .method("GET")
                    .uri(format!(
                        "https://{HOST}/?Action=GetCallerIdentity&Version=2011-06-15"
                    ))
                    .header("host", HOST)
                    .body(Vec::new())
                    .unwrap();
                Case {
                    kind: "presigned GET",
                    ..sign_request(request, key, region, "sts", time, true)
                }
            }
        };
        cases.push(case);
    }
    cases
}

/// The lookup here never suspends, so one poll completes a verification; no runtime is needed (and none is timed).
fn run_ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("verification suspended"),
    }
}

fn main() {
    let keys = Keys(
        KEYS.iter()
            .map(|&(akid, secret, token)| {
                (
                    akid,
                    Credential {
                        principal: akid,
                        secret_access_key: SecretAccessKey::new(secret),
                        session_token: token.map(str::to_owned),
                        expires_at: None,
                    },
                )
            })
            .collect(),
    );
    let started = Instant::now();
    let cases = cases();
    println!(
        "signed {} requests with aws-sigv4 in {:.1?}",
        cases.len(),
        started.elapsed()
    );

    let options = |service: &'static str| VerifyOptions {
        service,
        regions: &REGIONS,
        allowed_skew: Duration::from_secs(if service == "sts" { 900 } else { 300 }),
        required_signed_headers: if service == "sts" {
            &["host"]
        } else {
            &["host", "x-amz-target"]
        },
        now: now(),
    };
    let verifier = SigV4Verifier::new(1_024);
    // Warm-up round: fills the signing-key cache and checks that everything verifies.
    for case in &cases {
        let verified =
            run_ready(verifier.verify(&case.parts, &case.body, &options(case.service), &keys));
        assert!(verified.is_ok(), "{verified:?}");
    }

    let mut samples: Vec<(&str, u128)> = Vec::with_capacity(cases.len() * ROUNDS);
    for _ in 0..ROUNDS {
        for case in &cases {
            let options = options(case.service);
            let start = Instant::now();
            let verified = run_ready(verifier.verify(
                black_box(&case.parts),
                black_box(&case.body),
                &options,
                &keys,
            ));
            let elapsed = start.elapsed();
            black_box(verified).unwrap();
            samples.push((case.kind, elapsed.as_nanos()));
        }
    }
    report("all requests", samples.iter().map(|&(_, ns)| ns).collect());
    let mut kinds: Vec<&str> = cases.iter().map(|case| case.kind).collect();
    kinds.sort_unstable();
    kinds.dedup();
    for kind in kinds {
        report(
            kind,
            samples
                .iter()
                .filter(|&&(k, _)| k == kind)
                .map(|&(_, ns)| ns)
                .collect(),
        );
    }
}

fn report(label: &str, mut samples: Vec<u128>) {
    samples.sort_unstable();
    let at = |percent: usize| samples[(samples.len() - 1) * percent / 100];
    println!(
        "verify, warm cache, {label:<26} {:>6} runs: median {:>6} ns, p90 {:>6} ns",
        samples.len(),
        at(50),
        at(90),
    );
}
