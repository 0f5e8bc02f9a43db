//! Tag rules (spec §4.10): at most 50 per secret, keys unique and case-sensitive, the
//! `aws:` prefix reserved, AWS's tag character set.

use coffer_store::Tag;

use crate::error::{SecretsError, SecretsResult};

pub const MAX_TAGS_PER_SECRET: usize = 50;

/// A tag as the request carries it (both members optional in AWS's model).
#[derive(Clone, Debug, Default)]
pub struct TagInput {
    pub key: Option<String>,
    pub value: Option<String>,
}

fn allowed(text: &str) -> bool {
    text.chars()
        .all(|c| c.is_alphanumeric() || c.is_whitespace() || "+-=._:/@".contains(c))
}

/// Checks tags from a request: keys present, unique, not reserved, allowed characters.
pub fn parse_tags(inputs: Vec<TagInput>) -> SecretsResult<Vec<Tag>> {
    let mut tags: Vec<Tag> = Vec::with_capacity(inputs.len());
    for input in inputs {
        let key = input.key.ok_or(SecretsError::TagKeyMissing)?;
        let value = input.value.unwrap_or_default();
        check_key(&key)?;
        if !allowed(&value) {
            return Err(SecretsError::InvalidTagCharacters(value));
        }
        if tags.iter().any(|t| t.key == key) {
            return Err(SecretsError::DuplicateTagKey(key));
        }
        tags.push(Tag { key, value });
    }
    Ok(tags)
}

pub fn check_key(key: &str) -> SecretsResult<()> {
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err(SecretsError::ReservedTagKey(key.to_owned()));
    }
    if !allowed(key) {
        return Err(SecretsError::InvalidTagCharacters(key.to_owned()));
    }
    Ok(())
}

/// TagResource: new keys are appended, existing keys take the new value.
pub fn merge(existing: Option<&[Tag]>, new: Vec<Tag>) -> SecretsResult<Vec<Tag>> {
    let mut merged: Vec<Tag> = existing.map(<[Tag]>::to_vec).unwrap_or_default();
    for tag in new {
        match merged.iter_mut().find(|t| t.key == tag.key) {
            Some(existing) => existing.value = tag.value,
            None => merged.push(tag),
        }
    }
    check_count(&merged)?;
    Ok(merged)
}

pub fn check_count(tags: &[Tag]) -> SecretsResult<()> {
    if tags.len() > MAX_TAGS_PER_SECRET {
        return Err(SecretsError::TooManyTags);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(k: &str, v: &str) -> TagInput {
        TagInput {
            key: Some(k.into()),
            value: Some(v.into()),
        }
    }

    #[test]
    fn tags_are_checked() {
        assert!(
            parse_tags(vec![
                input("team", "core"),
                input("Team", "x"),
                input("a b:c/d@e", "ünï +-=._:/@")
            ])
            .is_ok()
        );
        assert_eq!(
            parse_tags(vec![TagInput {
                key: None,
                value: Some("v".into())
            }]),
            Err(SecretsError::TagKeyMissing)
        );
        assert_eq!(
            parse_tags(vec![input("aws:x", "v")]),
            Err(SecretsError::ReservedTagKey("aws:x".into()))
        );
        assert_eq!(
            parse_tags(vec![input("AWS:x", "v")]),
            Err(SecretsError::ReservedTagKey("AWS:x".into()))
        );
        assert_eq!(
            parse_tags(vec![input("k", "1"), input("k", "2")]),
            Err(SecretsError::DuplicateTagKey("k".into()))
        );
        assert_eq!(
            parse_tags(vec![input("k*", "1")]),
            Err(SecretsError::InvalidTagCharacters("k*".into()))
        );
    }

    #[test]
    fn merge_overwrites_and_appends_within_the_quota() {
        let existing = vec![Tag {
            key: "a".into(),
            value: "1".into(),
        }];
        let merged = merge(
            Some(&existing),
            parse_tags(vec![input("a", "2"), input("b", "3")]).unwrap(),
        )
        .unwrap();
        assert_eq!(
            merged,
            vec![
                Tag {
                    key: "a".into(),
                    value: "2".into()
                },
                Tag {
                    key: "b".into(),
                    value: "3".into()
                }
            ]
        );
        let many: Vec<Tag> = (0..51)
            .map(|i| Tag {
                key: format!("k{i}"),
                value: String::new(),
            })
            .collect();
        assert_eq!(merge(None, many), Err(SecretsError::TooManyTags));
    }
}
