//! Compiled glob patterns, policy-variable templates and ARN patterns.
//!
//! Everything here is built once, when a policy is parsed; matching borrows the request's strings and allocates only
//! when a pattern contains policy variables whose values must be rendered.

use std::borrow::Cow;

use super::context::{Env, Key};

/// One piece of a compiled pattern.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// Literal text. Variable escapes (`${*}`) land here too, so they are never wildcards.
    Lit(Box<str>),
    /// `*`: any run of characters, possibly empty.
    Star,
    /// `?`: exactly one character.
    One,
    /// `${key}` or `${key, 'default'}`; the substituted value is literal text.
    Var { key: Key, default: Option<Box<str>> },
}

/// A compiled string pattern, with the common shapes split out so that most matches are one comparison.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Glob {
    /// `*` alone.
    Any,
    /// No wildcards, no variables.
    Exact(Box<str>),
    /// Literal text followed by a single trailing `*` (`secretsmanager:*`, `.../secret:prod/*`).
    Prefix(Box<str>),
    /// Anything else: several wildcards, `?`, or variables.
    General(Box<[Tok]>),
}

/// How [`parse_template`] treats the special characters of a value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Syntax {
    /// `*` and `?` are wildcards (otherwise literal).
    pub wildcards: bool,
    /// `${...}` is a policy variable (policy version 2012-10-17 and a place where variables are allowed).
    pub variables: bool,
}

/// Splits `text` into tokens under `syntax`.
///
/// A `${` without a closing `}`, or whose inside is not a key (optionally followed by `, 'default'`), is kept as
/// literal text: AWS documents no error for it, and literal text is the reading that can never widen a match.
pub(crate) fn parse_template(text: &str, syntax: Syntax) -> Vec<Tok> {
    let mut toks: Vec<Tok> = Vec::new();
    let mut lit = String::new();
    let flush = |lit: &mut String, toks: &mut Vec<Tok>| {
        if !lit.is_empty() {
            toks.push(Tok::Lit(std::mem::take(lit).into_boxed_str()));
        }
    };
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if syntax.variables
            && rest.starts_with("${")
            && let Some(end) = rest.find('}')
        {
            let inner = &rest[2..end];
            let parsed = match inner {
                "*" | "?" | "$" => Some(None),
                _ => parse_variable(inner).map(Some),
            };
            if let Some(var) = parsed {
                match var {
                    None => lit.push_str(inner),
                    Some((key, default)) => {
                        flush(&mut lit, &mut toks);
                        toks.push(Tok::Var { key, default });
                    }
                }
                rest = &rest[end + 1..];
                continue;
            }
        }
        match c {
            '*' if syntax.wildcards => {
                flush(&mut lit, &mut toks);
                // Consecutive stars mean the same as one, and one keeps the backtracking matcher linear-ish.
                if toks.last() != Some(&Tok::Star) {
                    toks.push(Tok::Star);
                }
            }
            '?' if syntax.wildcards => {
                flush(&mut lit, &mut toks);
                toks.push(Tok::One);
            }
            _ => lit.push(c),
        }
        rest = &rest[c.len_utf8()..];
    }
    flush(&mut lit, &mut toks);
    toks
}

/// Parses the inside of `${...}`: `key` or `key, 'default'`.
fn parse_variable(inner: &str) -> Option<(Key, Option<Box<str>>)> {
    let (key, default) = match inner.split_once(',') {
        None => (inner.trim(), None),
        Some((key, default)) => {
            let default = default.trim();
            let default = default.strip_prefix('\'')?.strip_suffix('\'')?;
            (key.trim(), Some(default.into()))
        }
    };
    let valid = !key.is_empty()
        && key.contains(':')
        && key.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, ':' | '/' | '-' | '_' | '.' | '@' | '+' | '=')
        });
    valid.then(|| (Key::new(key), default))
}

impl Glob {
    /// Compiles `text`; `lowercase` pre-lowercases literal text for case-insensitive matching.
    pub(crate) fn compile(text: &str, syntax: Syntax, lowercase: bool) -> Glob {
        let mut toks = parse_template(text, syntax);
        if lowercase {
            for t in &mut toks {
                if let Tok::Lit(s) = t {
                    *s = s.to_lowercase().into_boxed_str();
                }
            }
        }
        match toks.as_slice() {
            [] => Glob::Exact("".into()),
            [Tok::Star] => Glob::Any,
            [Tok::Lit(s)] => Glob::Exact(s.clone()),
            [Tok::Lit(s), Tok::Star] => Glob::Prefix(s.clone()),
            _ => Glob::General(toks.into_boxed_slice()),
        }
    }

    /// Whether the pattern contains a policy variable.
    pub(crate) fn has_variable(&self) -> bool {
        matches!(self, Glob::General(toks) if toks.iter().any(|t| matches!(t, Tok::Var { .. })))
    }

    /// Matches `input`. `ci`: ASCII case-insensitive (the pattern's literals are then already lower-case). A
    /// variable whose key is missing (and has no default) makes the pattern match nothing.
    pub(crate) fn matches(&self, input: &str, ci: bool, env: &Env<'_>) -> bool {
        match self {
            Glob::Any => true,
            Glob::Exact(s) => {
                if ci {
                    eq_ci(s, input)
                } else {
                    **s == *input
                }
            }
            Glob::Prefix(p) => {
                input.len() >= p.len()
                    && input.is_char_boundary(p.len())
                    && bytes_eq(&input.as_bytes()[..p.len()], p.as_bytes(), ci)
            }
            Glob::General(toks) => {
                if toks.iter().any(|t| matches!(t, Tok::Var { .. })) {
                    let mut resolved: Vec<Cow<'_, str>> = Vec::new();
                    for t in toks.iter() {
                        if let Tok::Var { key, default } = t {
                            match env.variable(key) {
                                Some(v) => resolved.push(v),
                                None => match default {
                                    Some(d) => resolved.push(Cow::Borrowed(d)),
                                    None => return false,
                                },
                            }
                        }
                    }
                    glob_match(toks, &resolved, input.as_bytes(), ci)
                } else {
                    glob_match(toks, &[], input.as_bytes(), ci)
                }
            }
        }
    }
}

/// Case-insensitive equality: ASCII folding on the fast path, full Unicode lower-casing otherwise.
pub(crate) fn eq_ci(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.chars()
            .flat_map(char::to_lowercase)
            .eq(b.chars().flat_map(char::to_lowercase))
    }
}

fn bytes_eq(a: &[u8], b: &[u8], ci: bool) -> bool {
    if ci {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b
    }
}

/// Length of the UTF-8 sequence starting with `b` (input is valid UTF-8, so this lands on a char boundary).
fn utf8_len(b: u8) -> usize {
    match b {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

/// Wildcard matching with a single backtrack point (the last `*`), which is exact for `*`/`?` globs. `resolved`
/// holds the values of the `Var` tokens, in order.
fn glob_match(toks: &[Tok], resolved: &[Cow<'_, str>], input: &[u8], ci: bool) -> bool {
    // Maps token index -> index into `resolved` lazily: count variables before a token when needed.
    let var_index = |ti: usize| {
        toks[..ti]
            .iter()
            .filter(|t| matches!(t, Tok::Var { .. }))
            .count()
    };
    let mut ti = 0;
    let mut ii = 0;
    let mut star: Option<(usize, usize)> = None;
    loop {
        if let Some(tok) = toks.get(ti) {
            let advanced = match tok {
                Tok::Star => {
                    star = Some((ti + 1, ii));
                    ti += 1;
                    continue;
                }
                Tok::One => {
                    if ii < input.len() {
                        ii += utf8_len(input[ii]);
                        true
                    } else {
                        false
                    }
                }
                Tok::Lit(s) => advance_lit(s.as_bytes(), input, &mut ii, ci),
                Tok::Var { .. } => match resolved.get(var_index(ti)) {
                    Some(v) => advance_lit(v.as_bytes(), input, &mut ii, ci),
                    None => return false,
                },
            };
            if advanced {
                ti += 1;
                continue;
            }
        } else if ii == input.len() {
            return true;
        }
        match star {
            Some((st, si)) if si < input.len() => {
                let next = si + utf8_len(input[si]);
                star = Some((st, next));
                ti = st;
                ii = next;
            }
            _ => return false,
        }
    }
}

fn advance_lit(lit: &[u8], input: &[u8], ii: &mut usize, ci: bool) -> bool {
    match input.get(*ii..*ii + lit.len()) {
        Some(window) if bytes_eq(window, lit, ci) => {
            *ii += lit.len();
            true
        }
        _ => false,
    }
}

/// Splits an ARN into its six parts; the last keeps any further colons. `None` when it has fewer than six.
pub(crate) fn split_arn(s: &str) -> Option<[&str; 6]> {
    let mut it = s.splitn(6, ':');
    let parts = [
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
    ];
    Some(parts)
}

/// A compiled ARN pattern (Resource element, `Arn*` condition values).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ArnPattern {
    /// `*`: everything, ARN or not.
    Any,
    /// Six part patterns, matched part by part so wildcards never span a colon between parts.
    Parts(Box<[Glob; 6]>),
    /// Not ARN-shaped (fewer than six parts): matched as one glob over the whole value. Only reachable from
    /// condition values; the Resource element rejects such patterns at parse time.
    Whole(Glob),
}

impl ArnPattern {
    /// Compiles `text`. Variables are honoured only in the resource (sixth) part, as AWS documents; the service part
    /// never takes wildcards (spec §8.3), so `*` there is literal and matches no real ARN.
    pub(crate) fn compile(text: &str, variables: bool) -> ArnPattern {
        if text == "*" {
            return ArnPattern::Any;
        }
        let Some(parts) = split_arn(text) else {
            return ArnPattern::Whole(Glob::compile(
                text,
                Syntax {
                    wildcards: true,
                    variables,
                },
                false,
            ));
        };
        let plain = Syntax {
            wildcards: true,
            variables: false,
        };
        let compiled = [
            Glob::compile(parts[0], plain, false),
            Glob::compile(parts[1], plain, false),
            Glob::compile(
                parts[2],
                Syntax {
                    wildcards: false,
                    variables: false,
                },
                false,
            ),
            Glob::compile(parts[3], plain, false),
            Glob::compile(parts[4], plain, false),
            Glob::compile(
                parts[5],
                Syntax {
                    wildcards: true,
                    variables,
                },
                false,
            ),
        ];
        ArnPattern::Parts(Box::new(compiled))
    }

    /// Matches a value already split with [`split_arn`] (`split` is `None` when the value is not ARN-shaped).
    pub(crate) fn matches(&self, whole: &str, split: Option<&[&str; 6]>, env: &Env<'_>) -> bool {
        match self {
            ArnPattern::Any => true,
            ArnPattern::Whole(g) => g.matches(whole, false, env),
            ArnPattern::Parts(globs) => match split {
                Some(parts) => globs
                    .iter()
                    .zip(parts.iter())
                    .all(|(g, p)| g.matches(p, false, env)),
                None => false,
            },
        }
    }

    /// Matches an unsplit value.
    pub(crate) fn matches_str(&self, value: &str, env: &Env<'_>) -> bool {
        match self {
            ArnPattern::Parts(_) => self.matches(value, split_arn(value).as_ref(), env),
            _ => self.matches(value, None, env),
        }
    }

    /// The account part, when the pattern is ARN-shaped.
    pub(crate) fn account_part(&self) -> Option<&Glob> {
        match self {
            ArnPattern::Parts(p) => Some(&p[4]),
            _ => None,
        }
    }

    /// Whether the pattern contains a policy variable.
    pub(crate) fn has_variable(&self) -> bool {
        match self {
            ArnPattern::Any => false,
            ArnPattern::Whole(g) => g.has_variable(),
            ArnPattern::Parts(p) => p.iter().any(Glob::has_variable),
        }
    }
}
