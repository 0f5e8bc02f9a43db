//! `coffer operator …`: initialise a data directory sealed with Shamir shares (offline), and
//! unseal, seal or ask the state of a running server over its operator endpoints.
//!
//! The endpoints live beside the AWS APIs: `GET /coffer/operator/status`,
//! `POST /coffer/operator/unseal` (unauthenticated, as in Vault: the shares are the
//! credential) and `POST /coffer/operator/seal` (SigV4-signed by a principal allowed
//! `coffer:Seal`). This client speaks plain HTTP/1.1; run it on the server's host or
//! through the TLS-terminating proxy in front of it.

use std::io::{BufRead, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use zeroize::Zeroizing;

use crate::cli::{OperatorArgs, OperatorCommand, SealArgs, UnsealArgs};
use crate::store::StoreChoice;

const TIMEOUT: Duration = Duration::from_secs(30);

pub fn run(args: &OperatorArgs, runtime: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    match &args.command {
        OperatorCommand::Init(init) => {
            let data_dir = &init.data_dir;
            let choice = StoreChoice::parse(init.store.as_deref())?;
            let report = runtime.block_on(crate::setup::initialise_sealed(
                data_dir,
                init.key_shares,
                init.key_threshold,
                &choice,
            ))?;
            print!("{}", report.as_str());
            Ok(())
        }
        OperatorCommand::RotateRootKey(rotate) => {
            let choice = StoreChoice::parse(rotate.store.as_deref())?;
            let options = store_options(&choice, rotate.store_schema.as_deref())?;
            let path = runtime.block_on(crate::setup::rotate_root_key_file(
                &rotate.data_dir,
                rotate.root_key_file.as_deref(),
                &choice,
                &options,
            ))?;
            println!(
                "Root key rotated: the new key is in {}. Back it up now: the old key no longer opens this data.",
                path.display()
            );
            Ok(())
        }
        OperatorCommand::Unseal(unseal) => run_unseal(unseal),
        OperatorCommand::Seal(seal) => run_seal(seal),
        OperatorCommand::Status(status) => {
            let (code, body) = request(
                &status.endpoint_url,
                "GET",
                "/coffer/operator/status",
                &[],
                b"",
            )?;
            print_answer(code, &body)
        }
    }
}

/// The store options of an offline command: the defaults, and the schema if one is given
/// (which only a PostgreSQL store has).
pub fn store_options(
    choice: &StoreChoice,
    schema: Option<&str>,
) -> anyhow::Result<coffer_store_postgres::PgOptions> {
    if schema.is_some() && !choice.is_postgres() {
        bail!("--store-schema applies to a PostgreSQL store only (give --store postgres://...)");
    }
    Ok(coffer_store_postgres::PgOptions {
        schema: schema.map(str::to_owned),
        ..Default::default()
    })
}

fn run_unseal(args: &UnsealArgs) -> anyhow::Result<()> {
    let share: Zeroizing<String> = match &args.share {
        Some(share) => Zeroizing::new(share.clone()),
        None if args.reset => Zeroizing::new(String::new()),
        None => {
            eprintln!("Unseal share (the text `coffer operator init` printed), then Enter:");
            let mut line = Zeroizing::new(String::new());
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("could not read the share from standard input")?;
            line
        }
    };
    let body = Zeroizing::new(
        serde_json::json!({ "share": share.trim(), "reset": args.reset }).to_string(),
    );
    let (code, answer) = request(
        &args.endpoint_url,
        "POST",
        "/coffer/operator/unseal",
        &[("content-type", "application/json")],
        body.as_bytes(),
    )?;
    print_answer(code, &answer)
}

fn run_seal(args: &SealArgs) -> anyhow::Result<()> {
    let (access_key_id, secret) = credentials(args.credentials_file.as_deref())?;
    let url = parse_url(&args.endpoint_url)?;
    let headers = sign_seal(&url.host_header, &access_key_id, &secret, &args.region)?;
    let header_refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (code, answer) = request(
        &args.endpoint_url,
        "POST",
        "/coffer/operator/seal",
        &header_refs,
        b"",
    )?;
    print_answer(code, &answer)
}

fn print_answer(code: u16, body: &str) -> anyhow::Result<()> {
    let text = serde_json::from_str::<serde_json::Value>(body)
        .map(|v| serde_json::to_string_pretty(&v).unwrap_or_else(|_| body.to_owned()))
        .unwrap_or_else(|_| body.to_owned());
    if (200..300).contains(&code) {
        println!("{text}");
        Ok(())
    } else {
        bail!("the server answered HTTP {code}: {text}")
    }
}

/// The caller's keys: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, or the `[default]` profile
/// of a shared-credentials file such as `<data-dir>/admin-credentials`.
fn credentials(file: Option<&Path>) -> anyhow::Result<(String, Zeroizing<String>)> {
    if let Some(path) = file {
        return crate::profile::read_credentials_file(path);
    }
    let id = std::env::var("AWS_ACCESS_KEY_ID").ok();
    let secret = std::env::var("AWS_SECRET_ACCESS_KEY")
        .ok()
        .map(Zeroizing::new);
    match (id, secret) {
        (Some(id), Some(secret)) => Ok((id, secret)),
        _ => bail!(
            "sealing needs credentials allowed coffer:Seal: set AWS_ACCESS_KEY_ID and \
             AWS_SECRET_ACCESS_KEY, or pass --credentials-file <data-dir>/admin-credentials"
        ),
    }
}

/// SigV4 headers for `POST /coffer/operator/seal` (service `coffer`, empty body).
fn sign_seal(
    host: &str,
    access_key_id: &str,
    secret: &str,
    region: &str,
) -> anyhow::Result<Vec<(String, String)>> {
    use aws_credential_types::Credentials;
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    use aws_sigv4::sign::v4;
    use aws_smithy_runtime_api::client::identity::Identity;

    let identity: Identity =
        Credentials::new(access_key_id, secret, None, None, "coffer-operator").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("coffer")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()?
        .into();
    let signable = SignableRequest::new(
        "POST",
        "/coffer/operator/seal",
        [("host", host)].into_iter(),
        SignableBody::Bytes(b""),
    )?;
    let (instructions, _) = sign(signable, &params)?.into_parts();
    let mut signed = http::Request::new(());
    instructions.apply_to_request_http1x(&mut signed);
    Ok(signed
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
        .collect())
}

struct Url {
    authority: String,
    host_header: String,
}

fn parse_url(endpoint: &str) -> anyhow::Result<Url> {
    let Some(rest) = endpoint.strip_prefix("http://") else {
        bail!(
            "the operator commands speak plain HTTP: give --endpoint-url as http://host:port \
             (run them on the server's host, or against a plain-HTTP listener behind your proxy)"
        );
    };
    let authority = rest.trim_end_matches('/').to_owned();
    if authority.is_empty() || authority.contains('/') {
        bail!("--endpoint-url must be http://host:port, without a path");
    }
    Ok(Url {
        host_header: authority.clone(),
        authority: if authority.contains(':') {
            authority
        } else {
            format!("{authority}:80")
        },
    })
}

/// One HTTP/1.1 request with `Connection: close`; returns the status and the body.
fn request(
    endpoint: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> anyhow::Result<(u16, String)> {
    let url = parse_url(endpoint)?;
    let address = url
        .authority
        .to_socket_addrs()
        .with_context(|| format!("could not resolve {}", url.authority))?
        .next()
        .with_context(|| format!("{} resolves to no address", url.authority))?;
    let mut stream = TcpStream::connect_timeout(&address, TIMEOUT)
        .with_context(|| format!("could not connect to {endpoint}: is the server running?"))?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\ncontent-length: {}\r\n",
        url.host_header,
        body.len()
    );
    for (name, value) in headers {
        if !name.eq_ignore_ascii_case("host") {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str("\r\n");
    let mut message = Zeroizing::new(head.into_bytes());
    message.extend_from_slice(body);
    stream
        .write_all(&message)
        .with_context(|| format!("could not send the request to {endpoint}"))?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .with_context(|| format!("could not read the answer of {endpoint}"))?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .with_context(|| format!("{endpoint} did not answer with HTTP"))?;
    Ok((code, body.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_be_plain_http_without_a_path() {
        assert_eq!(
            parse_url("http://127.0.0.1:8484").unwrap().authority,
            "127.0.0.1:8484"
        );
        assert_eq!(parse_url("http://coffer/").unwrap().authority, "coffer:80");
        assert!(parse_url("https://coffer").is_err());
        assert!(parse_url("http://coffer/api").is_err());
    }

    #[test]
    fn credentials_come_from_a_shared_credentials_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("admin-credentials");
        std::fs::write(
            &path,
            "# comment\n[default]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = s3cr3t/+x\n",
        )
        .unwrap();
        let (id, secret) = credentials(Some(&path)).unwrap();
        assert_eq!((id.as_str(), secret.as_str()), ("AKIAEXAMPLE", "s3cr3t/+x"));
    }

    #[test]
    fn seal_requests_are_signed_for_the_coffer_service() {
        let headers = sign_seal("127.0.0.1:8484", "AKIAEXAMPLE", "secret", "us-east-1").unwrap();
        let authorization = headers
            .iter()
            .find(|(k, _)| k == "authorization")
            .map(|(_, v)| v.as_str())
            .unwrap();
        assert!(authorization.contains("/us-east-1/coffer/aws4_request"));
    }
}
