//! Secret names, ARNs, and how a `SecretId` names a secret (spec §4.1–4.3).

use rand::seq::IndexedRandom;

use crate::error::{SecretsError, SecretsResult};
use crate::random::Randomness;

const SUFFIX_LEN: usize = 6;
const SUFFIX_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Characters AWS allows in a secret name: ASCII letters, digits and `/_+=.@-`.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'+' | b'=' | b'.' | b'@' | b'-')
        })
}

pub fn check_name(name: &str) -> SecretsResult<()> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(SecretsError::InvalidName)
    }
}

/// `arn:{partition}:secretsmanager:{region}:{account}:secret:{name}-{suffix}`.
pub fn secret_arn(
    partition: &str,
    region: &str,
    account_id: &str,
    name: &str,
    suffix: &str,
) -> String {
    format!("arn:{partition}:secretsmanager:{region}:{account_id}:secret:{name}-{suffix}")
}

/// Six random alphanumerics, drawn without modulo bias. A new one at every CreateSecret,
/// so a deleted and re-created name never gets the old ARN (and old grants).
pub fn random_suffix(randomness: &Randomness) -> String {
    let mut rng = randomness.rng();
    (0..SUFFIX_LEN)
        .map(|_| {
            char::from(
                *SUFFIX_ALPHABET
                    .choose(&mut rng)
                    .expect("alphabet is not empty"),
            )
        })
        .collect()
}

/// What a `SecretId` refers to, before looking anything up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef<'a> {
    /// A bare name: always in the caller's account and region.
    Name(&'a str),
    /// A full ARN (with the random suffix) or a partial one (ending in the name).
    Arn {
        arn: &'a str,
        partition: &'a str,
        region: &'a str,
        account_id: &'a str,
        /// Everything after `secret:`.
        rest: &'a str,
        /// `rest` ends in `-XXXXXX`: if no secret has exactly this ARN, AWS does not fall
        /// back to reading it as a partial ARN.
        looks_complete: bool,
    },
    /// An ARN that cannot name any secret (wrong service, malformed).
    Unresolvable,
}

pub fn parse_secret_id(secret_id: &str) -> SecretsResult<SecretRef<'_>> {
    if !secret_id.starts_with("arn:") {
        check_name(secret_id)?;
        return Ok(SecretRef::Name(secret_id));
    }
    let mut fields = secret_id.splitn(6, ':');
    let (Some(_), Some(partition), Some(service), Some(region), Some(account_id), Some(resource)) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) else {
        return Ok(SecretRef::Unresolvable);
    };
    let Some(rest) = resource.strip_prefix("secret:") else {
        return Ok(SecretRef::Unresolvable);
    };
    if service != "secretsmanager" || rest.is_empty() {
        return Ok(SecretRef::Unresolvable);
    }
    Ok(SecretRef::Arn {
        arn: secret_id,
        partition,
        region,
        account_id,
        rest,
        looks_complete: ends_in_suffix(rest),
    })
}

fn ends_in_suffix(rest: &str) -> bool {
    let bytes = rest.as_bytes();
    bytes.len() > SUFFIX_LEN
        && bytes[bytes.len() - SUFFIX_LEN - 1] == b'-'
        && bytes[bytes.len() - SUFFIX_LEN..]
            .iter()
            .all(u8::is_ascii_alphanumeric)
}

/// The secret name inside a full ARN (`...:secret:{name}-{suffix}`).
pub fn name_of_full_arn(arn: &str) -> Option<&str> {
    let rest = arn.split_once(":secret:")?.1;
    ends_in_suffix(rest).then(|| &rest[..rest.len() - SUFFIX_LEN - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_allow_exactly_the_documented_characters() {
        for ok in [
            "a",
            "prod/db",
            "/testing2/two",
            "Valid/_+=.@-Name",
            "a-b_c+d=e.f@g",
        ] {
            assert!(is_valid_name(ok), "{ok}");
        }
        for bad in [
            "",
            "with space",
            "star*",
            "q?",
            "bang!",
            "br]",
            "back\\",
            "colon:",
            "ünï",
        ] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn secret_ids_are_classified_as_aws_resolves_them() {
        assert_eq!(parse_secret_id("prod/db"), Ok(SecretRef::Name("prod/db")));
        assert_eq!(parse_secret_id("bad name"), Err(SecretsError::InvalidName));
        let full = "arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/db-Ab12Cd";
        assert!(matches!(
            parse_secret_id(full),
            Ok(SecretRef::Arn {
                rest: "prod/db-Ab12Cd",
                looks_complete: true,
                ..
            })
        ));
        // The partial ARNs the spec records as resolvable...
        for partial in [
            "s-c64bdc03",
            "Valid/_+=.@-Name",
            "Valid/_+=.@-Name-a1b2",
            "Valid/_+=.@-Name-a1b2c3-",
        ] {
            let arn = format!("arn:aws:secretsmanager:us-east-1:111122223333:secret:{partial}");
            assert!(
                matches!(
                    parse_secret_id(&arn),
                    Ok(SecretRef::Arn {
                        looks_complete: false,
                        ..
                    })
                ),
                "{partial}"
            );
        }
        // ...and the one that is not: it looks like a full ARN.
        let arn = "arn:aws:secretsmanager:us-east-1:111122223333:secret:Invalid/_+=.@-Name-a1b2c3";
        assert!(matches!(
            parse_secret_id(arn),
            Ok(SecretRef::Arn {
                looks_complete: true,
                ..
            })
        ));
        for foreign in [
            "arn:aws:kms:us-east-1:111122223333:key/abc",
            "arn:aws:secretsmanager:us-east-1:111122223333:secret:",
            "arn:aws:secretsmanager:us-east-1",
        ] {
            assert_eq!(
                parse_secret_id(foreign),
                Ok(SecretRef::Unresolvable),
                "{foreign}"
            );
        }
    }

    #[test]
    fn suffixes_are_six_alphanumerics() {
        let randomness = Randomness::seeded(7);
        let a = random_suffix(&randomness);
        let b = random_suffix(&randomness);
        assert_eq!(a.len(), 6);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
        let arn = secret_arn("aws", "us-east-1", "111122223333", "a/b", &a);
        assert_eq!(name_of_full_arn(&arn), Some("a/b"));
    }
}
