//! ListSecrets / BatchGetSecretValue filters (spec §4.9): AND across filters, OR across the
//! values of one filter, `!` negates a value.
//!
//! `name`, `tag-key` and `tag-value` are case-sensitive prefix matches. `description` and
//! `all` break both the filter value and the attribute into words and require every filter
//! word to be a case-insensitive prefix of some attribute word; the word splitting below
//! reproduces AWS's recorded answers (including its quirk that a string mixing two kinds of
//! separators is one word).
//!
//! Coffer's choices where AWS is silent: a secret without the attribute (no description,
//! no tags, not replicated) never matches that filter, negated or not; a negated value
//! matches when no attribute value matches it.

use coffer_store::SecretRecord;

use crate::error::{SecretsError, SecretsResult};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FilterKey {
    Description,
    Name,
    TagKey,
    TagValue,
    PrimaryRegion,
    OwningService,
    All,
}

impl FilterKey {
    pub fn parse(key: &str) -> Option<FilterKey> {
        Some(match key {
            "description" => FilterKey::Description,
            "name" => FilterKey::Name,
            "tag-key" => FilterKey::TagKey,
            "tag-value" => FilterKey::TagValue,
            "primary-region" => FilterKey::PrimaryRegion,
            "owning-service" => FilterKey::OwningService,
            "all" => FilterKey::All,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FilterKey::Description => "description",
            FilterKey::Name => "name",
            FilterKey::TagKey => "tag-key",
            FilterKey::TagValue => "tag-value",
            FilterKey::PrimaryRegion => "primary-region",
            FilterKey::OwningService => "owning-service",
            FilterKey::All => "all",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Filter {
    pub key: FilterKey,
    pub values: Vec<String>,
}

/// A filter as the request carries it: both members are optional in AWS's model.
#[derive(Clone, Debug, Default)]
pub struct FilterInput {
    pub key: Option<String>,
    pub values: Option<Vec<String>>,
}

pub fn parse_filters(inputs: Vec<FilterInput>) -> SecretsResult<Vec<Filter>> {
    inputs
        .into_iter()
        .map(|input| {
            let key = input
                .key
                .as_deref()
                .and_then(FilterKey::parse)
                .ok_or(SecretsError::InvalidFilterKey)?;
            match input.values {
                Some(values) if !values.is_empty() => Ok(Filter { key, values }),
                _ => Err(SecretsError::InvalidFilterValues(key.as_str().to_owned())),
            }
        })
        .collect()
}

/// The one `name` prefix every match must start with, when the filters imply one; the
/// store can then read an index range instead of the whole account.
pub fn required_name_prefix(filters: &[Filter]) -> Option<&str> {
    filters
        .iter()
        .find_map(|f| match (f.key, f.values.as_slice()) {
            (FilterKey::Name, [value]) if !value.starts_with('!') => Some(value.as_str()),
            _ => None,
        })
}

pub fn matches_all(filters: &[Filter], secret: &SecretRecord) -> bool {
    filters.iter().all(|f| matches(f, secret))
}

fn matches(filter: &Filter, secret: &SecretRecord) -> bool {
    let tags = secret.tags.as_deref().unwrap_or_default();
    let attributes: Vec<&str> = match filter.key {
        FilterKey::Name => vec![secret.name.as_str()],
        FilterKey::Description => secret.description.as_deref().into_iter().collect(),
        FilterKey::TagKey => tags.iter().map(|t| t.key.as_str()).collect(),
        FilterKey::TagValue => tags.iter().map(|t| t.value.as_str()).collect(),
        // Coffer has neither replicas nor secrets owned by other services.
        FilterKey::PrimaryRegion | FilterKey::OwningService => vec![],
        FilterKey::All => std::iter::once(secret.name.as_str())
            .chain(secret.description.as_deref())
            .chain(tags.iter().map(|t| t.key.as_str()))
            .chain(tags.iter().map(|t| t.value.as_str()))
            .collect(),
    };
    if attributes.is_empty() {
        return false;
    }
    let word_match = matches!(filter.key, FilterKey::Description | FilterKey::All);
    let value_matches = |pattern: &str| {
        attributes.iter().any(|attribute| {
            if word_match {
                words_match(pattern, attribute)
            } else {
                attribute.starts_with(pattern)
            }
        })
    };
    filter
        .values
        .iter()
        .any(|value| match value.strip_prefix('!') {
            Some(negated) => !value_matches(negated),
            None => value_matches(value),
        })
}

/// Every word of `pattern` is a case-insensitive prefix of some word of `attribute`.
fn words_match(pattern: &str, attribute: &str) -> bool {
    let pattern_words = split_words(pattern);
    if pattern_words.is_empty() {
        return false;
    }
    let attribute_words: Vec<String> = split_words(attribute)
        .iter()
        .map(|w| w.to_lowercase())
        .collect();
    pattern_words
        .iter()
        .map(|w| w.to_lowercase())
        .all(|p| attribute_words.iter().any(|a| a.starts_with(&p)))
}

const SEPARATORS: [char; 7] = ['/', '-', '_', '+', '=', '.', '@'];

/// AWS's word splitting: on one kind of separator (a string with two kinds stays whole),
/// then on case changes and whitespace.
pub fn split_words(text: &str) -> Vec<String> {
    if text.len() == 1 && text.starts_with(SEPARATORS) {
        return Vec::new();
    }
    let present: Vec<char> = SEPARATORS
        .iter()
        .copied()
        .filter(|c| text.contains(*c))
        .collect();
    let pieces: Vec<&str> = match present.as_slice() {
        [] => vec![text],
        [one] => text.split(*one).collect(),
        _ => return vec![text.to_owned()],
    };
    pieces.into_iter().flat_map(split_camel_case).collect()
}

/// Splits before every non-lowercase character that starts a run of lowercase letters
/// (`SecretOne` → `Secret`, `One`; `COMPANYthings` → `COMPAN`, `Ythings`; `a secret` → `a`,
/// `secret`), trimming whitespace and dropping empty words.
fn split_camel_case(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut words = Vec::new();
    let mut current = String::new();
    let mut i = 0;
    while i < chars.len() {
        let starts_word = !chars[i].is_ascii_lowercase()
            && chars.get(i + 1).is_some_and(|c| c.is_ascii_lowercase());
        if starts_word {
            words.push(std::mem::take(&mut current));
            let mut word = String::from(chars[i]);
            i += 1;
            while i < chars.len() && chars[i].is_ascii_lowercase() {
                word.push(chars[i]);
                i += 1;
            }
            words.push(word);
        } else {
            current.push(chars[i]);
            i += 1;
        }
    }
    words.push(current);
    words
        .into_iter()
        .map(|w| w.trim().to_owned())
        .filter(|w| !w.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use coffer_store::Tag;

    use super::*;

    fn secret(name: &str, description: Option<&str>, tags: &[(&str, &str)]) -> SecretRecord {
        SecretRecord {
            arn: format!("arn:aws:secretsmanager:us-east-1:111122223333:secret:{name}-AbCdEf"),
            account_id: "111122223333".into(),
            region: "us-east-1".into(),
            name: name.into(),
            description: description.map(str::to_owned),
            kms_key_id: None,
            created_at: 0,
            last_changed_at: 0,
            last_accessed_day: None,
            deletion_date: None,
            resource_policy: None,
            rotation: None,
            next_rotation_at: None,
            tags: (!tags.is_empty()).then(|| {
                tags.iter()
                    .map(|(k, v)| Tag {
                        key: k.to_string(),
                        value: v.to_string(),
                    })
                    .collect()
            }),
            stages: BTreeMap::new(),
            revision: 1,
        }
    }

    fn filter(key: FilterKey, values: &[&str]) -> Filter {
        Filter {
            key,
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    fn m(key: FilterKey, values: &[&str], s: &SecretRecord) -> bool {
        matches_all(&[filter(key, values)], s)
    }

    #[test]
    fn words_split_as_aws_splits_them() {
        assert_eq!(split_words("SecretOne"), ["Secret", "One"]);
        assert_eq!(split_words("MyTestPhrase"), ["My", "Test", "Phrase"]);
        assert_eq!(split_words("COMPANYthings"), ["COMPAN", "Ythings"]);
        assert_eq!(split_words("prod/AppBeta/x"), ["prod", "App", "Beta", "x"]);
        assert_eq!(split_words("prod-AppBeta/xyz"), ["prod-AppBeta/xyz"]);
        assert_eq!(split_words("one and two"), ["one", "and", "two"]);
        assert_eq!(split_words("+"), Vec::<String>::new());
    }

    #[test]
    fn name_is_a_case_sensitive_prefix_without_tokenising() {
        let s = secret("testing1/one", None, &[]);
        assert!(m(FilterKey::Name, &["testing1"], &s));
        assert!(!m(FilterKey::Name, &["Testing1"], &s));
        assert!(!m(FilterKey::Name, &["testing1 one"], &s));
        assert!(!m(FilterKey::Name, &["one"], &s));
        assert!(m(
            FilterKey::Name,
            &["/"],
            &secret("/testing2/two", None, &[])
        ));
        assert!(m(FilterKey::Name, &["!/"], &s));
        assert!(!m(
            FilterKey::Name,
            &["!/"],
            &secret("/testing2/two", None, &[])
        ));
        assert!(m(FilterKey::Name, &["nope", "test"], &s), "values are ORed");
    }

    #[test]
    fn description_matches_word_prefixes() {
        for (description, yes) in [
            ("a secret", true),
            ("an secret", true),
            ("asecret", true),
            ("thesecret", false),
        ] {
            assert_eq!(
                m(
                    FilterKey::Description,
                    &["a"],
                    &secret("x", Some(description), &[])
                ),
                yes,
                "{description}"
            );
        }
        for (description, yes) in [("a secret", true), ("an secret", true), ("asecret", false)] {
            assert_eq!(
                m(
                    FilterKey::Description,
                    &["a secret"],
                    &secret("x", Some(description), &[])
                ),
                yes,
                "{description}"
            );
        }
        for description in ["one two", "one and two"] {
            let s = secret("x", Some(description), &[]);
            assert!(m(FilterKey::Description, &["one two"], &s));
            assert!(m(FilterKey::Description, &["o t"], &s));
        }
        assert!(!m(FilterKey::Description, &["a"], &secret("x", None, &[])));
        assert!(m(
            FilterKey::Description,
            &["SECRET"],
            &secret("x", Some("a secret"), &[])
        ));
    }

    #[test]
    fn filters_are_anded() {
        let s = secret("x", Some("one"), &[]);
        let both = [
            filter(FilterKey::Description, &["one"]),
            filter(FilterKey::Description, &["two"]),
        ];
        assert!(!matches_all(&both, &s));
        assert!(matches_all(&both, &secret("x", Some("one two"), &[])));
    }

    #[test]
    fn all_searches_every_attribute() {
        let one = secret("SecretOne-abc", None, &[]);
        let two = secret("SecretTwo", Some("DescTwo"), &[]);
        let third = secret("Thirdsecret", None, &[]);
        let tagged = secret("zzz", None, &[("SecretFTag", "foo")]);
        let tag_key = secret("yyy", None, &[("foo", "bar")]);
        for v in ["Secret", "secret", "sec"] {
            assert!(
                m(FilterKey::All, &[v], &one) && m(FilterKey::All, &[v], &two),
                "{v}"
            );
        }
        assert!(!m(FilterKey::All, &["ret"], &one));
        assert!(m(FilterKey::All, &["foo"], &tagged) && m(FilterKey::All, &["foo"], &tag_key));
        assert!(m(FilterKey::All, &["d t"], &two));
        assert!(
            m(FilterKey::All, &["t"], &two)
                && m(FilterKey::All, &["t"], &third)
                && m(FilterKey::All, &["t"], &tagged)
        );
        assert!(!m(FilterKey::All, &["t"], &one));
        for name in [
            "prod/AppBeta/x",
            "prod_AppBeta_x",
            "prod+AppBeta+x",
            "prod=AppBeta=x",
            "prod.AppBeta.x",
            "prod@AppBeta@x",
            "prod-AppBeta-x",
        ] {
            assert!(
                m(FilterKey::All, &["AppBeta"], &secret(name, None, &[])),
                "{name}"
            );
        }
        assert!(!m(
            FilterKey::All,
            &["AppBeta"],
            &secret("prod-AppBeta/xyz", None, &[])
        ));
        assert!(!m(FilterKey::All, &["+"], &one));
        assert!(!m(
            FilterKey::All,
            &["things"],
            &secret("COMPANYthings", None, &[])
        ));
        assert!(m(
            FilterKey::All,
            &["Ythings"],
            &secret("COMPANYthings", None, &[])
        ));
    }

    #[test]
    fn tags_match_case_sensitive_prefixes() {
        let s = secret("x", None, &[("Environment", "Production")]);
        assert!(m(FilterKey::TagKey, &["Env"], &s));
        assert!(!m(FilterKey::TagKey, &["env"], &s));
        assert!(m(FilterKey::TagValue, &["Prod"], &s));
        assert!(m(FilterKey::TagValue, &["!Dev"], &s));
        assert!(!m(FilterKey::TagKey, &["Env"], &secret("x", None, &[])));
        assert!(!m(FilterKey::PrimaryRegion, &["us"], &s));
    }

    #[test]
    fn malformed_filters_are_rejected() {
        assert_eq!(
            parse_filters(vec![FilterInput {
                key: None,
                values: Some(vec!["a".into()])
            }]),
            Err(SecretsError::InvalidFilterKey)
        );
        assert_eq!(
            parse_filters(vec![FilterInput {
                key: Some("name".into()),
                values: None
            }]),
            Err(SecretsError::InvalidFilterValues("name".into()))
        );
        let parsed = parse_filters(vec![FilterInput {
            key: Some("name".into()),
            values: Some(vec!["prod/".into()]),
        }])
        .unwrap();
        assert_eq!(required_name_prefix(&parsed), Some("prod/"));
    }
}
