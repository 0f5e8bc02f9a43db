//! Differential property: random requests signed by the real AWS signer (`aws-sigv4`) verify with Coffer's
//! canonicaliser *and* with `scratchstack-aws-signature` (the canonicaliser Coffer used before, driven as it was
//! then), and any single-byte corruption of a signed request is refused.
//!
//! Two independent implementations agreeing with the signer on thousands of random requests is the evidence that the
//! in-house canonicaliser is right; where scratchstack is known to depart from AWS (documented at each skip), only
//! the verdict of the AWS signer counts.

use std::{
    str::FromStr,
    sync::LazyLock,
    time::{Duration, SystemTime},
};

use aws_credential_types::Credentials;
use aws_sigv4::{
    http_request::{
        PayloadChecksumKind, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
        sign,
    },
    sign::v4,
};
use coffer_auth::{
    AuthError, Credential, CredentialLookup, LookupError, SecretAccessKey, SigV4Verifier,
    VerifyOptions,
};
use http::{HeaderValue, Request, Uri, request::Parts};
use jiff::Timestamp;
use proptest::prelude::*;
use scratchstack_aws_signature::{
    GetSigningKeyRequest, GetSigningKeyResponse, KSecretKey, NO_ADDITIONAL_SIGNED_HEADERS,
    SignatureOptions, canonical::CanonicalRequest, service_for_signing_key_fn,
};

const AKID: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const TEMP_AKID: &str = "ASIAIOSFODNN7EXAMPLE";
const TEMP_SECRET: &str = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY";
const TOKEN: &str =
    "IQoJb3JpZ2luX2VjEKz//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+session/token+with+plus==";
const HOST: &str = "coffer.example.com";
const SERVICE: &str = "secretsmanager";
const REGION: &str = "eu-west-1";
const MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your \
                        AWS Secret Access Key and signing method. Consult the service documentation for details.";

static REGIONS: LazyLock<Vec<String>> = LazyLock::new(|| vec![REGION.to_owned()]);

fn now() -> Timestamp {
    "2025-11-06T13:26:08Z".parse().unwrap()
}

fn options() -> VerifyOptions<'static> {
    VerifyOptions {
        service: SERVICE,
        regions: &REGIONS,
        allowed_skew: Duration::from_secs(300),
        required_signed_headers: &["host", "x-amz-target"],
        now: now(),
    }
}

fn mismatch() -> AuthError {
    AuthError::InvalidSignature(MISMATCH.to_owned())
}

struct Keys;

impl CredentialLookup for Keys {
    type Principal = ();

    async fn lookup(
        &self,
        access_key_id: &str,
        _session_token: Option<&[u8]>,
    ) -> Result<Option<Credential<()>>, LookupError> {
        let credential = |secret: &str, token: Option<&str>| Credential {
            principal: (),
            secret_access_key: SecretAccessKey::new(secret),
            session_token: token.map(str::to_owned),
            expires_at: None,
        };
        Ok(match access_key_id {
            AKID => Some(credential(SECRET, None)),
            TEMP_AKID => Some(credential(TEMP_SECRET, Some(TOKEN))),
            _ => None,
        })
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The oracle: scratchstack, driven exactly as the previous verifier drove it
// ---------------------------------------------------------------------------------------------------------------

fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"-._~".contains(&byte)
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let hex = |byte: u8| char::from(byte).to_digit(16).map(|d| d as u8);
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(high), Some(low)) => {
                out.push(high << 4 | low);
                i += 3;
            }
            (byte, _, _) => {
                out.push(if byte == b'+' { b' ' } else { byte });
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The request head the previous verifier handed to scratchstack: a `host` header from the URI authority when there
/// is none, and the path encoded once more (scratchstack only normalises the encoding; the SDKs double-encode).
fn scratchstack_parts(parts: &Parts) -> Parts {
    let (mut head, ()) = Request::new(()).into_parts();
    head.method = parts.method.clone();
    head.headers = parts.headers.clone();
    if !head.headers.contains_key("host")
        && let Some(authority) = parts.uri.authority()
    {
        head.headers
            .insert("host", HeaderValue::from_str(authority.as_str()).unwrap());
    }
    let mut encoded = String::new();
    for byte in parts.uri.path().bytes() {
        if is_unreserved(byte) || byte == b'/' {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    if let Some(query) = parts.uri.query() {
        encoded.push('?');
        encoded.push_str(query);
    }
    head.uri = Uri::builder().path_and_query(encoded).build().unwrap();
    head
}

/// Does scratchstack accept the request (with the previous verifier's corrections for presigned requests)?
async fn scratchstack_verifies(parts: &Parts, body: &[u8], secret: &str) -> bool {
    let Ok((canonical, _, _)) = CanonicalRequest::from_request_parts(
        scratchstack_parts(parts),
        bytes::Bytes::copy_from_slice(body),
        SignatureOptions::default(),
    ) else {
        return false;
    };
    let Ok(mut params) = canonical.get_auth_parameters(&NO_ADDITIONAL_SIGNED_HEADERS) else {
        return false;
    };
    if parts.headers.get("authorization").is_none() {
        // scratchstack keeps these two query values percent-encoded; AWS compares them decoded.
        let query = canonical.query_parameters();
        let first = |name: &str| query.get(name).and_then(|values| values.first());
        if let Some(credential) = first("X-Amz-Credential") {
            params.builder.credential(percent_decode(credential));
        }
        if let Some(token) = first("X-Amz-Security-Token") {
            params.builder.session_token(percent_decode(token));
        }
    }
    let Ok(authenticator) = canonical.get_authenticator_from_auth_parameters(params) else {
        return false;
    };
    let secret = secret.to_owned();
    // Bound before it is passed on: closures written in place would be inferred `FnOnce` from the helper's bound,
    // while the signature check needs a (tower) service, i.e. `FnMut`.
    let derive = move |request: GetSigningKeyRequest| {
        let key = KSecretKey::from_str(&secret).unwrap().to_ksigning(
            request.request_date(),
            request.region(),
            request.service(),
        );
        async move {
            GetSigningKeyResponse::builder()
                .signing_key(key)
                .build()
                .map_err(Into::into)
        }
    };
    let mut signing_key = service_for_signing_key_fn(derive);
    let now = chrono::DateTime::from_timestamp(now().as_second(), 0).unwrap();
    authenticator
        .validate_signature(
            REGION,
            SERVICE,
            now,
            chrono::TimeDelta::minutes(5),
            &mut signing_key,
        )
        .await
        .is_ok()
}

// ---------------------------------------------------------------------------------------------------------------
// Random requests
// ---------------------------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Segment {
    Name(String),
    Dot,
    DotDot,
    Empty,
}

#[derive(Debug, Clone)]
struct Spec {
    method: &'static str,
    segments: Vec<Segment>,
    query: Vec<(String, String)>,
    /// Encode spaces in the query as `+` and escapes in lower case (both decode to the same thing).
    loose_query_encoding: bool,
    target: String,
    extra_headers: Vec<(&'static str, Vec<String>)>,
    body: Vec<u8>,
    temporary: bool,
    presign: Option<u64>,
    content_sha256: bool,
    age_seconds: u64,
}

fn segment() -> impl Strategy<Value = Segment> {
    prop_oneof![
        6 => "[A-Za-z0-9._~ !@$&'()*+,;=:%-]{1,8}"
            .prop_filter("dot segments are generated separately", |s| s != "." && s != "..")
            .prop_map(Segment::Name),
        1 => Just(Segment::Dot),
        1 => Just(Segment::DotDot),
        1 => Just(Segment::Empty),
    ]
}

fn spec() -> impl Strategy<Value = Spec> {
    let names = prop::sample::select(vec![
        "a", "a-b", "a.b", "a_b", "ab", "A", "b", "x~y", "a%20b", "Action",
    ]);
    let header_names = prop::sample::select(vec![
        "x-amz-meta-note",
        "x-custom",
        "content-type",
        "accept",
        "user-agent",
    ]);
    (
        (
            prop::sample::select(vec!["GET", "POST", "PUT", "DELETE"]),
            prop::collection::vec(segment(), 0..5),
            prop::collection::vec((names, "[ -~]{0,10}"), 0..5),
            any::<bool>(),
            "[A-Za-z]{1,12}\\.[A-Za-z]{1,20}",
        ),
        (
            prop::collection::vec(
                (header_names, prop::collection::vec("[ -~]{0,30}", 1..3)),
                0..3,
            ),
            prop::collection::vec(any::<u8>(), 0..300),
            any::<bool>(),
            prop::option::of(60u64..900),
            any::<bool>(),
            0u64..240,
        ),
    )
        .prop_map(
            |(
                (method, segments, query, loose_query_encoding, target),
                (extra_headers, body, temporary, presign, content_sha256, age_seconds),
            )| Spec {
                method,
                segments,
                query: query.into_iter().map(|(n, v)| (n.to_owned(), v)).collect(),
                loose_query_encoding,
                target,
                extra_headers,
                body,
                temporary,
                presign,
                content_sha256,
                age_seconds,
            },
        )
}

fn encode(text: &str, loose: bool) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if is_unreserved(byte) {
            out.push(char::from(byte));
        } else if loose && byte == b' ' {
            out.push('+');
        } else if loose {
            out.push_str(&format!("%{byte:02x}"));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

impl Spec {
    fn path(&self) -> String {
        let mut path = String::new();
        for segment in &self.segments {
            path.push('/');
            match segment {
                Segment::Name(name) => path.push_str(&encode(name, false)),
                Segment::Dot => path.push('.'),
                Segment::DotDot => path.push_str(".."),
                Segment::Empty => {}
            }
        }
        if path.is_empty() {
            "/".to_owned()
        } else {
            path
        }
    }

    /// Whether a `..` climbs above the root (the request must then be refused with `InvalidURIPath`).
    fn above_root(&self) -> bool {
        let mut depth = 0_usize;
        for segment in &self.segments {
            match segment {
                Segment::Name(_) => depth += 1,
                Segment::DotDot if depth == 0 => return true,
                Segment::DotDot => depth -= 1,
                Segment::Dot | Segment::Empty => {}
            }
        }
        false
    }

    fn query_string(&self) -> String {
        self.query
            .iter()
            .map(|(name, value)| format!("{name}={}", encode(value, self.loose_query_encoding)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// scratchstack sorts the canonical query as `name=value` strings, not (name, value) pairs; the two orders
    /// differ when a name is a prefix of another followed by a byte below `=` (`a` and `a-b`).
    fn hits_query_sort_deviation(&self, signed: &Parts) -> bool {
        let Some(query) = signed.uri.query() else {
            return false;
        };
        let pairs: Vec<(String, String)> = query
            .split('&')
            .map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                (
                    encode(&percent_decode(name), false),
                    encode(&percent_decode(value), false),
                )
            })
            .filter(|(name, _)| name != "X-Amz-Signature")
            .collect();
        let mut by_pair = pairs.clone();
        by_pair.sort();
        let mut by_string: Vec<String> = pairs.iter().map(|(n, v)| format!("{n}={v}")).collect();
        by_string.sort();
        by_pair
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            != by_string
    }

    /// scratchstack drops the trailing `/` that a final `.` or `..` segment leaves when segments remain (`/a/.` is
    /// `/a/` for RFC 3986 and the SDKs, `/a` for scratchstack).
    fn hits_trailing_dot_deviation(&self) -> bool {
        let mut depth = 0_usize;
        for segment in &self.segments {
            match segment {
                Segment::Name(_) => depth += 1,
                Segment::DotDot => depth = depth.saturating_sub(1),
                Segment::Dot | Segment::Empty => {}
            }
        }
        depth > 0 && matches!(self.segments.last(), Some(Segment::Dot | Segment::DotDot))
    }

    fn secret(&self) -> &'static str {
        if self.temporary { TEMP_SECRET } else { SECRET }
    }

    fn sign(&self) -> (Parts, Vec<u8>) {
        let query = self.query_string();
        let uri = if query.is_empty() {
            format!("https://{HOST}{}", self.path())
        } else {
            format!("https://{HOST}{}?{query}", self.path())
        };
        let mut builder = Request::builder()
            .method(self.method)
            .uri(uri)
            .header("host", HOST)
            .header("x-amz-target", &self.target);
        for (name, values) in &self.extra_headers {
            for value in values {
                builder = builder.header(*name, HeaderValue::from_str(value).unwrap());
            }
        }
        let mut request = builder.body(self.body.clone()).unwrap();

        let (akid, token) = if self.temporary {
            (TEMP_AKID, Some(TOKEN.to_owned()))
        } else {
            (AKID, None)
        };
        let identity = Credentials::new(akid, self.secret(), token, None, "test").into();
        let mut settings = SigningSettings::default();
        if let Some(expires) = self.presign {
            settings.signature_location = SignatureLocation::QueryParams;
            settings.expires_in = Some(Duration::from_secs(expires));
        }
        if self.content_sha256 {
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        }
        let signed_at =
            now() - Duration::from_secs(self.age_seconds.min(self.presign.unwrap_or(u64::MAX)));
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(REGION)
            .name(SERVICE)
            .time(SystemTime::from(signed_at))
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
        parts.uri = origin.parse().unwrap();
        (parts, body)
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Corruptions
// ---------------------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Corruption {
    /// XOR a body byte with a non-zero mask.
    Body,
    /// Change one hex digit of the signature.
    Signature,
    /// Change one character of the (always signed) `X-Amz-Target` value.
    Target,
    /// Change the method.
    Method,
    /// Change one character of the path or query string (anything the canonical request covers).
    PathOrQuery,
    /// Change one character of the credential, signed headers or date (a different request or none at all).
    AuthParameter,
}

fn corruption() -> impl Strategy<Value = (Corruption, prop::sample::Index, u8)> {
    (
        prop::sample::select(vec![
            Corruption::Body,
            Corruption::Signature,
            Corruption::Target,
            Corruption::Method,
            Corruption::PathOrQuery,
            Corruption::AuthParameter,
        ]),
        any::<prop::sample::Index>(),
        1u8..=255,
    )
}

/// Replaces the alphanumeric character at (or after) `index` in `text` with a different alphanumeric character — not
/// merely the other case of the same letter, which inside a `%xx` escape would not change what the query means.
/// `None` when `text` has no alphanumeric character.
fn change_alphanumeric(text: &str, index: prop::sample::Index, salt: u8) -> Option<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let bytes = text.as_bytes();
    let positions: Vec<usize> = (0..bytes.len())
        .filter(|&i| bytes[i].is_ascii_alphanumeric())
        .collect();
    if positions.is_empty() {
        return None;
    }
    let at = positions[index.index(positions.len())];
    let candidates: Vec<u8> = ALPHABET
        .iter()
        .copied()
        .filter(|c| !c.eq_ignore_ascii_case(&bytes[at]))
        .collect();
    let mut changed = bytes.to_vec();
    changed[at] = candidates[usize::from(salt) % candidates.len()];
    Some(String::from_utf8(changed).unwrap())
}

/// Applies the corruption; `None` when it does not apply to this request (e.g. an empty body). The flag says
/// whether the refusal must be the signature mismatch itself (rather than any refusal).
fn corrupt(
    parts: &Parts,
    body: &[u8],
    (kind, index, salt): (Corruption, prop::sample::Index, u8),
) -> Option<(Parts, Vec<u8>, bool)> {
    let mut parts = parts.clone();
    let mut body = body.to_vec();
    let authorization = parts
        .headers
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_owned());
    match kind {
        Corruption::Body => {
            if body.is_empty() {
                return None;
            }
            let at = index.index(body.len());
            body[at] ^= salt;
            Some((parts, body, true))
        }
        Corruption::Signature => {
            let signature: String = match &authorization {
                Some(header) => header.split_once("Signature=").unwrap().1.to_owned(),
                None => parts
                    .uri
                    .query()
                    .unwrap()
                    .split_once("X-Amz-Signature=")
                    .unwrap()
                    .1
                    .chars()
                    .take(64)
                    .collect(),
            };
            let position = index.index(signature.len());
            let value = char::from(signature.as_bytes()[position])
                .to_digit(16)
                .unwrap();
            let replaced = char::from_digit((value + 1 + u32::from(salt) % 15) % 16, 16).unwrap();
            let mut changed = signature.clone();
            changed.replace_range(position..=position, &replaced.to_string());
            match &authorization {
                Some(header) => {
                    let header = header.replace(&signature, &changed);
                    parts
                        .headers
                        .insert("authorization", header.parse().unwrap());
                }
                None => {
                    let uri = parts.uri.to_string().replace(
                        &format!("X-Amz-Signature={signature}"),
                        &format!("X-Amz-Signature={changed}"),
                    );
                    parts.uri = uri.parse().unwrap();
                }
            }
            Some((parts, body, true))
        }
        Corruption::Target => {
            let target = parts.headers.get("x-amz-target").unwrap().to_str().unwrap();
            let changed = change_alphanumeric(target, index, salt)?;
            parts
                .headers
                .insert("x-amz-target", changed.parse().unwrap());
            Some((parts, body, true))
        }
        Corruption::Method => {
            let methods = ["GET", "POST", "PUT", "DELETE", "PATCH"];
            let others: Vec<&str> = methods
                .iter()
                .copied()
                .filter(|m| *m != parts.method.as_str())
                .collect();
            parts.method = others[index.index(others.len())].parse().unwrap();
            Some((parts, body, true))
        }
        Corruption::PathOrQuery => {
            let uri = parts.uri.to_string();
            // A segment that a later `..` removes is not covered by the signature (`/a/..` and `/b/..` are the same
            // path), so with dot segments only the query string is fair game.
            let has_dot_segments = parts.uri.path().split('/').any(|s| s == "." || s == "..");
            let changed = if has_dot_segments {
                let (path, query) = uri.split_once('?')?;
                format!("{path}?{}", change_alphanumeric(query, index, salt)?)
            } else {
                change_alphanumeric(&uri, index, salt)?
            };
            parts.uri = changed.parse().ok()?;
            // Refused either way: the canonical request changed, or (for a presigned request) a parameter the
            // verifier reads did.
            Some((parts, body, false))
        }
        Corruption::AuthParameter => {
            // Presigned requests carry these in the query string, which `PathOrQuery` covers.
            let header = authorization?;
            if salt % 2 == 0 {
                let (_algorithm, rest) = header.split_once(' ').unwrap();
                let (parameters, _signature) = rest.split_once(", Signature=").unwrap();
                let changed = change_alphanumeric(parameters, index, salt)?;
                let header = header.replacen(parameters, &changed, 1);
                parts
                    .headers
                    .insert("authorization", header.parse().unwrap());
            } else {
                let date = parts.headers.get("x-amz-date").unwrap().to_str().unwrap();
                let changed = change_alphanumeric(date, index, salt)?;
                parts.headers.insert("x-amz-date", changed.parse().unwrap());
            }
            Some((parts, body, false))
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The property
// ---------------------------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn signed_requests_verify_in_both_canonicalisers_and_corruptions_fail(
        spec in spec(),
        corruptions in prop::collection::vec(corruption(), 1..4),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (parts, body) = spec.sign();
        let verifier = SigV4Verifier::new(8);
        let verify = |parts: &Parts, body: &[u8]| {
            runtime.block_on(verifier.verify(parts, body, &options(), &Keys))
        };

        let verdict = verify(&parts, &body);
        if spec.above_root() {
            prop_assert!(matches!(verdict, Err(AuthError::InvalidUriPath(_))), "{verdict:?}");
            return Ok(());
        }
        prop_assert!(verdict.is_ok(), "{verdict:?} for {spec:?}");

        if !spec.hits_query_sort_deviation(&parts) && !spec.hits_trailing_dot_deviation() {
            prop_assert!(
                runtime.block_on(scratchstack_verifies(&parts, &body, spec.secret())),
                "scratchstack refuses what aws-sigv4 signed: {spec:?}"
            );
        }

        for corruption in corruptions {
            let Some((corrupted, corrupted_body, must_mismatch)) = corrupt(&parts, &body, corruption) else {
                continue;
            };
            let verdict = verify(&corrupted, &corrupted_body);
            if must_mismatch {
                prop_assert_eq!(&verdict, &Err(mismatch()), "{:?}", corruption);
            } else {
                prop_assert!(verdict.is_err(), "{:?} still verifies: {:?}", corruption, corrupted);
            }
        }
    }
}

#[test]
fn the_oracle_refuses_what_it_should() {
    // Guard against a vacuous oracle: a tampered body must fail in scratchstack too.
    let spec = Spec {
        method: "POST",
        segments: vec![Segment::Name("a b".to_owned())],
        query: vec![("Action".to_owned(), "x y".to_owned())],
        loose_query_encoding: false,
        target: "secretsmanager.GetSecretValue".to_owned(),
        extra_headers: vec![],
        body: b"{}".to_vec(),
        temporary: true,
        presign: None,
        content_sha256: false,
        age_seconds: 0,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (parts, body) = spec.sign();
    assert!(runtime.block_on(scratchstack_verifies(&parts, &body, TEMP_SECRET)));
    assert!(!runtime.block_on(scratchstack_verifies(&parts, b"{ }", TEMP_SECRET)));
    let presigned = Spec {
        presign: Some(300),
        ..spec
    };
    let (parts, body) = presigned.sign();
    assert!(runtime.block_on(scratchstack_verifies(&parts, &body, TEMP_SECRET)));
}
