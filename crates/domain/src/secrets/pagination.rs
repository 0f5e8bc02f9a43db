//! Opaque `NextToken`s: a keyset position, bound to the query it came from and MAC'ed, so
//! a client can neither forge a position nor reuse a token with other filters. A keyset
//! (sort value, ARN) rather than an offset means concurrent inserts and deletes never make
//! a page repeat or skip a secret.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use coffer_crypto::TokenSigner;
use serde::{Deserialize, Serialize};

use crate::error::{SecretsError, SecretsResult};

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// Which listing and query this token continues (a MAC of its parameters).
    pub query: String,
    /// Last sort value returned: a time or a name.
    pub time: Option<i64>,
    pub name: Option<String>,
    /// Last ARN (or version id) returned: the tie-breaker.
    pub after: String,
}

pub struct Paginator<'a> {
    pub signer: &'a TokenSigner,
}

impl Paginator<'_> {
    /// A short, stable identifier of a listing's parameters.
    pub fn query_id(&self, description: &str) -> String {
        hex_encode(&self.signer.tag(description.as_bytes())[..8])
    }

    pub fn encode(&self, position: &Position) -> String {
        let payload = serde_json::to_vec(position).expect("positions always serialise");
        let tag = self.signer.tag(&payload);
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// Decodes a token and checks it belongs to the listing `query_id` names.
    pub fn decode(&self, token: &str, query_id: &str) -> SecretsResult<Position> {
        let (payload, tag) = token
            .split_once('.')
            .ok_or(SecretsError::InvalidNextToken)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| SecretsError::InvalidNextToken)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| SecretsError::InvalidNextToken)?;
        if !self.signer.verify(&payload, &tag) {
            return Err(SecretsError::InvalidNextToken);
        }
        let position: Position =
            serde_json::from_slice(&payload).map_err(|_| SecretsError::InvalidNextToken)?;
        if position.query != query_id {
            return Err(SecretsError::InvalidNextToken);
        }
        Ok(position)
    }
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use coffer_crypto::RootKey;

    use super::*;

    #[test]
    fn tokens_round_trip_and_resist_tampering() {
        let root = RootKey::generate().unwrap();
        let signer = TokenSigner::derive(&root, "test");
        let p = Paginator { signer: &signer };
        let q = p.query_id("list name=prod");
        let position = Position {
            query: q.clone(),
            time: Some(5),
            name: None,
            after: "arn:x".into(),
        };
        let token = p.encode(&position);
        assert_eq!(p.decode(&token, &q).unwrap(), position);
        assert_eq!(
            p.decode(&token, &p.query_id("list name=dev")),
            Err(SecretsError::InvalidNextToken)
        );
        let mut forged = token.clone();
        forged.replace_range(0..1, if forged.starts_with('A') { "B" } else { "A" });
        assert_eq!(p.decode(&forged, &q), Err(SecretsError::InvalidNextToken));
        for garbage in ["", ".", "abc", "a.b", "!!!.???"] {
            assert_eq!(
                p.decode(garbage, &q),
                Err(SecretsError::InvalidNextToken),
                "{garbage}"
            );
        }
    }
}
