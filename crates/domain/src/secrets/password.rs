//! GetRandomPassword (spec §4.14): unbiased choices from a CSPRNG, one character of each
//! required type placed at a random position.

use rand::seq::{IndexedRandom, SliceRandom};
use zeroize::Zeroizing;

use crate::error::{SecretsError, SecretsResult};
use crate::random::Randomness;

pub const DEFAULT_LENGTH: i64 = 32;
const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS: &str = "0123456789";
const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

#[derive(Clone, Debug, Default)]
pub struct PasswordRules {
    /// 1..=4096; the wire layer has enforced the range.
    pub length: Option<i64>,
    pub exclude_characters: Option<String>,
    pub exclude_numbers: bool,
    pub exclude_punctuation: bool,
    pub exclude_uppercase: bool,
    pub exclude_lowercase: bool,
    pub include_space: bool,
    /// AWS's default is true.
    pub require_each_included_type: Option<bool>,
}

pub fn generate(
    rules: &PasswordRules,
    randomness: &Randomness,
) -> SecretsResult<Zeroizing<String>> {
    let excluded = rules.exclude_characters.as_deref().unwrap_or("");
    let keep =
        |set: &str| -> Vec<char> { set.chars().filter(|c| !excluded.contains(*c)).collect() };
    let classes: Vec<Vec<char>> = [
        (!rules.exclude_lowercase).then(|| keep(LOWER)),
        (!rules.exclude_uppercase).then(|| keep(UPPER)),
        (!rules.exclude_numbers).then(|| keep(DIGITS)),
        (!rules.exclude_punctuation).then(|| keep(PUNCTUATION)),
    ]
    .into_iter()
    .flatten()
    .filter(|class| !class.is_empty())
    .collect();
    let mut pool: Vec<char> = classes.iter().flatten().copied().collect();
    // Space widens the pool but is not a type that must appear.
    if rules.include_space && !excluded.contains(' ') {
        pool.push(' ');
    }
    if pool.is_empty() {
        return Err(SecretsError::PasswordCharactersExhausted);
    }
    let length = usize::try_from(rules.length.unwrap_or(DEFAULT_LENGTH).max(1)).unwrap_or(1);
    let required: &[Vec<char>] = if rules.require_each_included_type.unwrap_or(true) {
        &classes
    } else {
        &[]
    };
    if length < required.len() {
        return Err(SecretsError::PasswordTooShort);
    }

    let mut rng = randomness.rng();
    let mut chars: Zeroizing<Vec<char>> = Zeroizing::new(Vec::with_capacity(length));
    for class in required {
        chars.push(*class.choose(&mut rng).expect("classes are non-empty"));
    }
    while chars.len() < length {
        chars.push(*pool.choose(&mut rng).expect("pool is non-empty"));
    }
    chars.shuffle(&mut rng);
    let mut password = Zeroizing::new(String::with_capacity(length * 4));
    password.extend(chars.iter());
    Ok(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> PasswordRules {
        PasswordRules::default()
    }

    #[test]
    fn defaults_give_32_characters_of_every_type() {
        let r = Randomness::System;
        for _ in 0..50 {
            let p = generate(&rules(), &r).unwrap();
            assert_eq!(p.chars().count(), 32);
            assert!(p.chars().any(|c| c.is_ascii_lowercase()));
            assert!(p.chars().any(|c| c.is_ascii_uppercase()));
            assert!(p.chars().any(|c| c.is_ascii_digit()));
            assert!(p.chars().any(|c| PUNCTUATION.contains(c)));
            assert!(!p.contains(' '));
        }
    }

    #[test]
    fn exclusions_are_honoured_at_any_length() {
        let r = Randomness::seeded(1);
        let rules = PasswordRules {
            length: Some(120),
            exclude_characters: Some("abcXYZ012!@#".into()),
            include_space: true,
            ..rules()
        };
        let p = generate(&rules, &r).unwrap();
        assert_eq!(p.chars().count(), 120);
        assert!(!p.chars().any(|c| "abcXYZ012!@#".contains(c)));
    }

    #[test]
    fn class_switches_work() {
        let r = Randomness::seeded(2);
        let p = generate(
            &PasswordRules {
                exclude_punctuation: true,
                exclude_uppercase: true,
                exclude_lowercase: true,
                length: Some(64),
                ..rules()
            },
            &r,
        )
        .unwrap();
        assert!(p.chars().all(|c| c.is_ascii_digit()));
    }

    #[test]
    fn too_short_for_the_required_types() {
        let r = Randomness::seeded(3);
        assert_eq!(
            generate(
                &PasswordRules {
                    length: Some(3),
                    ..rules()
                },
                &r
            ),
            Err(SecretsError::PasswordTooShort)
        );
        assert_eq!(
            generate(
                &PasswordRules {
                    length: Some(3),
                    require_each_included_type: Some(false),
                    ..rules()
                },
                &r
            )
            .unwrap()
            .len(),
            3
        );
        assert_eq!(
            generate(
                &PasswordRules {
                    length: Some(1),
                    exclude_punctuation: true,
                    exclude_uppercase: true,
                    exclude_lowercase: true,
                    ..rules()
                },
                &r
            )
            .unwrap()
            .len(),
            1
        );
    }

    #[test]
    fn nothing_left_to_choose_from() {
        let r = Randomness::seeded(4);
        let all_excluded = PasswordRules {
            exclude_numbers: true,
            exclude_punctuation: true,
            exclude_uppercase: true,
            exclude_lowercase: true,
            ..rules()
        };
        assert_eq!(
            generate(&all_excluded, &r),
            Err(SecretsError::PasswordCharactersExhausted)
        );
        let only_space = PasswordRules {
            include_space: true,
            length: Some(4),
            ..all_excluded
        };
        assert_eq!(generate(&only_space, &r).unwrap().as_str(), "    ");
    }

    #[test]
    fn characters_are_spread_evenly() {
        // Chi-square-free sanity check of unbiased sampling over the 10 digits.
        let r = Randomness::seeded(5);
        let p = generate(
            &PasswordRules {
                exclude_punctuation: true,
                exclude_uppercase: true,
                exclude_lowercase: true,
                length: Some(4096),
                ..rules()
            },
            &r,
        )
        .unwrap();
        for d in DIGITS.chars() {
            let n = p.chars().filter(|c| *c == d).count();
            assert!((300..520).contains(&n), "{d}: {n}");
        }
    }
}
