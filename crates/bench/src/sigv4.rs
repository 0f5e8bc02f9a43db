//! A lean SigV4 signer for the load generator.
//!
//! The client shares the machine's cores with the server, so every microsecond the load generator
//! spends signing is a microsecond the server does not get. This signer computes the same
//! signature as `aws-sigv4` for the one request shape the benchmark sends (POST / with
//! `content-type`, `host`, `x-amz-date`, `x-amz-target`), afresh for every request, but derives
//! the signing key once per UTC date (as AWS's Java SDK does) instead of four HMACs per request.
//! [`Signer::check_against_aws_sigv4`] proves the equivalence at start-up and in a test.

use std::sync::Mutex;
use std::time::SystemTime;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
const SIGNED_HEADERS: &str = "content-type;host;x-amz-date;x-amz-target";

pub struct Signer {
    access_key_id: String,
    secret_access_key: String,
    region: String,
    service: String,
    /// `(YYYYMMDD, kSigning)` for the last date signed.
    signing_key: Mutex<Option<(String, [u8; 32])>>,
}

/// What a signed request adds: the `x-amz-date` and `authorization` header values.
pub struct Signature {
    pub amz_date: String,
    pub authorization: String,
}

impl Signer {
    pub fn new(access_key_id: &str, secret_access_key: &str, region: &str, service: &str) -> Self {
        Self {
            access_key_id: access_key_id.to_owned(),
            secret_access_key: secret_access_key.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
            signing_key: Mutex::new(None),
        }
    }

    /// Signs `POST /` with the given `content-type`, `host`, `x-amz-target` and body at `time`.
    pub fn sign_json_post(
        &self,
        time: SystemTime,
        host: &str,
        content_type: &str,
        target: &str,
        body: &[u8],
    ) -> Signature {
        let amz_date = amz_date(time);
        let date = &amz_date[..8];
        let payload_hash = hex::encode(Sha256::digest(body));
        let canonical_request = format!(
            "POST\n/\n\ncontent-type:{content_type}\nhost:{host}\nx-amz-date:{amz_date}\n\
             x-amz-target:{target}\n\n{SIGNED_HEADERS}\n{payload_hash}"
        );
        let scope = format!("{date}/{}/{}/aws4_request", self.region, self.service);
        let string_to_sign = format!(
            "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
            hex::encode(Sha256::digest(canonical_request.as_bytes()))
        );
        let key = self.signing_key_for(date);
        let signature = hex::encode(hmac(&key, string_to_sign.as_bytes()));
        Signature {
            authorization: format!(
                "{ALGORITHM} Credential={}/{scope}, SignedHeaders={SIGNED_HEADERS}, Signature={signature}",
                self.access_key_id
            ),
            amz_date,
        }
    }

    fn signing_key_for(&self, date: &str) -> [u8; 32] {
        let mut cached = self.signing_key.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((cached_date, key)) = cached.as_ref()
            && cached_date == date
        {
            return *key;
        }
        let k_date = hmac(
            format!("AWS4{}", self.secret_access_key).as_bytes(),
            date.as_bytes(),
        );
        let k_region = hmac(&k_date, self.region.as_bytes());
        let k_service = hmac(&k_region, self.service.as_bytes());
        let key = hmac(&k_service, b"aws4_request");
        *cached = Some((date.to_owned(), key));
        key
    }

    /// Signs one request with this signer and with `aws-sigv4` at the same instant and fails
    /// unless both produce the same headers.
    pub fn check_against_aws_sigv4(&self, host: &str) -> anyhow::Result<()> {
        use aws_credential_types::Credentials;
        use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
        use aws_sigv4::sign::v4;
        use aws_smithy_runtime_api::client::identity::Identity;

        let time = SystemTime::now();
        let (content_type, target, body) = (
            "application/x-amz-json-1.1",
            "secretsmanager.GetSecretValue",
            br#"{"SecretId":"bench/check"}"#.as_slice(),
        );
        let identity: Identity = Credentials::new(
            &self.access_key_id,
            &self.secret_access_key,
            None,
            None,
            "coffer-bench",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(&self.service)
            .time(time)
            .settings(SigningSettings::default())
            .build()?
            .into();
        let headers = [
            ("host", host),
            ("content-type", content_type),
            ("x-amz-target", target),
        ];
        let signable =
            SignableRequest::new("POST", "/", headers.into_iter(), SignableBody::Bytes(body))?;
        let (instructions, _) = sign(signable, &params)?.into_parts();
        let mut reference = http::Request::new(());
        instructions.apply_to_request_http1x(&mut reference);
        let ours = self.sign_json_post(time, host, content_type, target, body);
        let header = |name: &str| {
            reference
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        anyhow::ensure!(
            header("x-amz-date") == ours.amz_date && header("authorization") == ours.authorization,
            "the benchmark's signer disagrees with aws-sigv4:\n  aws-sigv4: {}\n  ours:      {}",
            header("authorization"),
            ours.authorization
        );
        Ok(())
    }
}

/// Signs a form-encoded Query-protocol POST (IAM, STS) with `aws-sigv4`: used only to set up
/// principals, so speed does not matter. Returns the headers to add.
pub fn sign_query_post(
    access_key_id: &str,
    secret_access_key: &str,
    region: &str,
    service: &str,
    host: &str,
    content_type: &str,
    body: &[u8],
) -> anyhow::Result<Vec<(String, String)>> {
    use aws_credential_types::Credentials;
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    use aws_sigv4::sign::v4;
    use aws_smithy_runtime_api::client::identity::Identity;

    let identity: Identity =
        Credentials::new(access_key_id, secret_access_key, None, None, "coffer-bench").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()?
        .into();
    let headers = [("host", host), ("content-type", content_type)];
    let signable =
        SignableRequest::new("POST", "/", headers.into_iter(), SignableBody::Bytes(body))?;
    let (instructions, _) = sign(signable, &params)?.into_parts();
    let mut signed = http::Request::new(());
    instructions.apply_to_request_http1x(&mut signed);
    Ok(signed
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
        .collect())
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// `YYYYMMDD'T'HHMMSS'Z'` in UTC.
fn amz_date(time: SystemTime) -> String {
    let timestamp = jiff::Timestamp::try_from(time).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    timestamp.strftime("%Y%m%dT%H%M%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_aws_sigv4() {
        let signer = Signer::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "us-east-1",
            "secretsmanager",
        );
        signer.check_against_aws_sigv4("127.0.0.1:8484").unwrap();
        // Second call hits the cached signing key.
        signer.check_against_aws_sigv4("localhost:1").unwrap();
    }
}
