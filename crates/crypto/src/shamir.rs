//! Splitting the root key into unseal shares (Shamir's secret sharing over GF(2^8), as Vault
//! does), so that no single operator can unseal alone.
//!
//! A share's text form is base64 of:
//!
//! ```text
//! u8  format = 1
//! u8  threshold: how many shares recombine the key
//! u8  share index (the x coordinate, 1..=255)
//! 32  share value (one GF(2^8) evaluation per key byte)
//! 4   checksum: the first 4 bytes of SHA-256 over the bytes above
//! ```
//!
//! The checksum catches a mistyped share, which would otherwise combine silently into a
//! wrong key; the threshold lets too few shares be refused by count. Shares that are each
//! well-formed but do not belong together (from two different splits, or a share whose
//! threshold was rewritten) still combine into a wrong key, which only
//! [`RootKey::check_value`] can reveal.

use std::convert::Infallible;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use vsss_rs::Gf256;
use zeroize::Zeroizing;

use crate::{CryptoError, CryptoResult, KEY_LEN, RootKey};

const FORMAT_V1: u8 = 1;
const CHECKSUM_LEN: usize = 4;
/// Index and value, the form vsss-rs splits into and combines from.
const POINT_LEN: usize = 1 + KEY_LEN;
const TEXT_BYTES_LEN: usize = 2 + POINT_LEN + CHECKSUM_LEN;

/// One unseal share of the root key. Wiped on drop; `Debug` shows only its index and
/// threshold.
pub struct UnsealShare {
    threshold: u8,
    /// The share index followed by the share value.
    point: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for UnsealShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnsealShare")
            .field("index", &self.index())
            .field("threshold", &self.threshold)
            .field("value", &"[REDACTED]")
            .finish()
    }
}

impl UnsealShare {
    /// The text to hand to the share's holder.
    pub fn to_text(&self) -> Zeroizing<String> {
        let mut bytes = Zeroizing::new(Vec::with_capacity(TEXT_BYTES_LEN));
        bytes.extend_from_slice(&[FORMAT_V1, self.threshold]);
        bytes.extend_from_slice(&self.point);
        let sum = checksum(&bytes);
        bytes.extend_from_slice(&sum);
        Zeroizing::new(STANDARD.encode(&*bytes))
    }

    /// Reads a share's text, refusing one that was mistyped or altered. Surrounding white
    /// space is ignored. Error messages never repeat the text.
    pub fn from_text(text: &str) -> CryptoResult<UnsealShare> {
        let bytes = Zeroizing::new(
            STANDARD
                .decode(text.trim())
                .map_err(|_| CryptoError::InvalidShare("not valid base64".into()))?,
        );
        if bytes.len() != TEXT_BYTES_LEN {
            return Err(CryptoError::InvalidShare(
                "wrong length: the share was mistyped or cut short".into(),
            ));
        }
        let (body, sum) = bytes.split_at(TEXT_BYTES_LEN - CHECKSUM_LEN);
        if !crate::constant_time_eq(&checksum(body), sum) {
            return Err(CryptoError::InvalidShare(
                "checksum mismatch: the share was mistyped or altered".into(),
            ));
        }
        let (format, threshold, point) = (body[0], body[1], &body[2..]);
        if format != FORMAT_V1 {
            return Err(CryptoError::InvalidShare(format!(
                "unsupported share format {format}"
            )));
        }
        if threshold == 0 || point[0] == 0 {
            return Err(CryptoError::InvalidShare(
                "zero threshold or share index".into(),
            ));
        }
        Ok(UnsealShare {
            threshold,
            point: Zeroizing::new(point.to_vec()),
        })
    }

    /// The share's index (1 to 255): distinct for every share of one split.
    pub fn index(&self) -> u8 {
        self.point[0]
    }

    /// How many shares of its split recombine the root key.
    pub fn threshold(&self) -> u8 {
        self.threshold
    }
}

fn checksum(bytes: &[u8]) -> [u8; CHECKSUM_LEN] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    let mut sum = [0u8; CHECKSUM_LEN];
    sum.copy_from_slice(&digest.as_ref()[..CHECKSUM_LEN]);
    sum
}

/// Splits `root` into `shares` unseal shares of which any `threshold` recombine it. As in
/// Vault: 1 ≤ `threshold` ≤ `shares`, and a threshold of 1 only for a single share (with
/// several shares it would make each one a copy of the key).
pub fn split_root_key(root: &RootKey, shares: u8, threshold: u8) -> CryptoResult<Vec<UnsealShare>> {
    if shares == 0 || threshold == 0 || threshold > shares {
        return Err(CryptoError::InvalidInput(
            "the threshold must be between 1 and the number of shares".into(),
        ));
    }
    if threshold == 1 {
        if shares != 1 {
            return Err(CryptoError::InvalidInput(
                "the threshold must be at least 2 when there are several shares".into(),
            ));
        }
        // A polynomial of degree 0 is the key itself at every point; vsss-rs refuses it.
        let mut point = Zeroizing::new(Vec::with_capacity(POINT_LEN));
        point.push(1);
        point.extend_from_slice(root.bytes());
        return Ok(vec![UnsealShare {
            threshold: 1,
            point,
        }]);
    }
    let mut rng = SystemRandom { failed: false };
    let points: Vec<Zeroizing<Vec<u8>>> = Gf256::split_bytes(
        usize::from(threshold),
        usize::from(shares),
        root.bytes(),
        &mut rng,
    )
    .map_err(|_| CryptoError::Unspecified)?
    .into_iter()
    .map(Zeroizing::new)
    .collect();
    if rng.failed || points.len() != usize::from(shares) {
        return Err(CryptoError::Unspecified);
    }
    points
        .into_iter()
        .map(|point| {
            if point.len() != POINT_LEN || point[0] == 0 {
                return Err(CryptoError::Unspecified);
            }
            Ok(UnsealShare { threshold, point })
        })
        .collect()
}

/// Recombines unseal shares into the root key. Shares must come from one split, each at most
/// once, and number at least its threshold; more than the threshold are all used.
///
/// Shares that do not belong together combine into a wrong key without error: check the
/// result with [`RootKey::matches_check_value`] before using it.
pub fn combine_shares(shares: &[UnsealShare]) -> CryptoResult<RootKey> {
    let first = shares
        .first()
        .ok_or_else(|| CryptoError::InvalidInput("no unseal shares were given".into()))?;
    let threshold = first.threshold;
    if shares.iter().any(|s| s.threshold != threshold) {
        return Err(CryptoError::InvalidShare(
            "the shares come from splits with different thresholds".into(),
        ));
    }
    let mut seen = [false; 256];
    for share in shares {
        let index = usize::from(share.index());
        if std::mem::replace(&mut seen[index], true) {
            return Err(CryptoError::InvalidShare(format!(
                "two shares have index {index}: one was given twice, or splits were mixed"
            )));
        }
    }
    if shares.len() < usize::from(threshold) {
        return Err(CryptoError::NotEnoughShares {
            given: shares.len(),
            threshold,
        });
    }
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    if threshold == 1 {
        key.copy_from_slice(&first.point[1..]);
        return Ok(RootKey::from_bytes(key));
    }
    let points: Zeroizing<Vec<Vec<u8>>> =
        Zeroizing::new(shares.iter().map(|s| s.point.to_vec()).collect());
    let combined = Zeroizing::new(
        Gf256::combine_bytes(&*points)
            .map_err(|_| CryptoError::InvalidShare("the shares could not be combined".into()))?,
    );
    if combined.len() != KEY_LEN {
        return Err(CryptoError::Unspecified);
    }
    key.copy_from_slice(&combined);
    Ok(RootKey::from_bytes(key))
}

/// The system generator behind the `rand` traits vsss-rs draws coefficients from. Those
/// traits cannot fail, so a failure is remembered and reported once splitting returns.
struct SystemRandom {
    failed: bool,
}

impl SystemRandom {
    fn fill(&mut self, dst: &mut [u8]) {
        if aws_lc_rs::rand::fill(dst).is_err() {
            self.failed = true;
        }
    }
}

impl rand::TryRng for SystemRandom {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut bytes = [0u8; 4];
        self.fill(&mut bytes);
        Ok(u32::from_le_bytes(bytes))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut bytes = [0u8; 8];
        self.fill(&mut bytes);
        Ok(u64::from_le_bytes(bytes))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.fill(dst);
        Ok(())
    }
}

impl rand::TryCryptoRng for SystemRandom {}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn same_key(a: &RootKey, b: &RootKey) -> bool {
        a.bytes() == b.bytes()
    }

    /// Every subset of `items` with `k` elements.
    fn subsets<T: Copy>(items: &[T], k: usize) -> Vec<Vec<T>> {
        if k == 0 {
            return vec![vec![]];
        }
        let mut out = Vec::new();
        for (i, &first) in items.iter().enumerate() {
            for mut rest in subsets(&items[i + 1..], k - 1) {
                rest.insert(0, first);
                out.push(rest);
            }
        }
        out
    }

    fn pick(shares: &[UnsealShare], indices: &[usize]) -> Vec<UnsealShare> {
        indices
            .iter()
            .map(|&i| UnsealShare::from_text(&shares[i].to_text()).unwrap())
            .collect()
    }

    #[test]
    fn any_three_of_five_recombine_the_key() {
        let root = RootKey::generate().unwrap();
        let check = root.check_value();
        let shares = split_root_key(&root, 5, 3).unwrap();
        assert_eq!(shares.len(), 5);
        let mut indices: Vec<u8> = shares.iter().map(UnsealShare::index).collect();
        indices.sort_unstable();
        indices.dedup();
        assert_eq!(indices.len(), 5, "indices must be distinct");
        assert!(shares.iter().all(|s| s.threshold() == 3));

        let all: Vec<usize> = (0..5).collect();
        for k in 3..=5 {
            let chosen = subsets(&all, k);
            assert_eq!(chosen.len(), [10, 5, 1][k - 3]);
            for subset in chosen {
                let combined = combine_shares(&pick(&shares, &subset)).unwrap();
                assert!(same_key(&combined, &root), "{subset:?}");
                assert!(combined.matches_check_value(&check), "{subset:?}");
            }
        }
    }

    #[test]
    fn fewer_than_the_threshold_are_refused_by_count() {
        let root = RootKey::generate().unwrap();
        let shares = split_root_key(&root, 5, 3).unwrap();
        for subset in subsets(&[0, 1, 2, 3, 4], 2) {
            assert!(matches!(
                combine_shares(&pick(&shares, &subset)),
                Err(CryptoError::NotEnoughShares {
                    given: 2,
                    threshold: 3
                })
            ));
        }
    }

    #[test]
    fn k_minus_one_shares_give_a_key_that_fails_the_check_value() {
        // Shamir cannot tell on its own: rewrite the threshold the shares carry (as a holder
        // could, recomputing the checksum) and the combination succeeds with a wrong key.
        let root = RootKey::generate().unwrap();
        let check = root.check_value();
        let shares = split_root_key(&root, 5, 3).unwrap();
        for subset in subsets(&[0, 1, 2, 3, 4], 2) {
            let lowered: Vec<UnsealShare> = subset
                .iter()
                .map(|&i| UnsealShare {
                    threshold: 2,
                    point: shares[i].point.clone(),
                })
                .collect();
            let combined = combine_shares(&lowered).unwrap();
            assert!(!same_key(&combined, &root));
            assert!(!combined.matches_check_value(&check), "{subset:?}");
        }
    }

    #[test]
    fn shares_of_different_splits_fail_the_check_value() {
        let root = RootKey::generate().unwrap();
        let check = root.check_value();
        let a = split_root_key(&root, 3, 3).unwrap();
        let b = split_root_key(&root, 3, 3).unwrap();
        let mixed = vec![
            UnsealShare::from_text(&a[0].to_text()).unwrap(),
            UnsealShare::from_text(&a[1].to_text()).unwrap(),
            UnsealShare::from_text(&b[2].to_text()).unwrap(),
        ];
        let combined = combine_shares(&mixed).unwrap();
        assert!(!combined.matches_check_value(&check));
    }

    #[test]
    fn duplicates_are_refused() {
        let root = RootKey::generate().unwrap();
        let shares = split_root_key(&root, 3, 2).unwrap();
        let twice = pick(&shares, &[0, 0]);
        assert!(matches!(
            combine_shares(&twice),
            Err(CryptoError::InvalidShare(_))
        ));
        let with_extra = pick(&shares, &[0, 1, 0]);
        assert!(matches!(
            combine_shares(&with_extra),
            Err(CryptoError::InvalidShare(_))
        ));
        // The same index from another split is no better.
        let other = split_root_key(&root, 3, 2).unwrap();
        let same_index = vec![
            UnsealShare::from_text(&shares[0].to_text()).unwrap(),
            UnsealShare::from_text(&other[0].to_text()).unwrap(),
        ];
        assert!(matches!(
            combine_shares(&same_index),
            Err(CryptoError::InvalidShare(_))
        ));
    }

    #[test]
    fn mixed_thresholds_and_empty_input_are_refused() {
        let root = RootKey::generate().unwrap();
        let two = split_root_key(&root, 3, 2).unwrap();
        let three = split_root_key(&root, 3, 3).unwrap();
        let mixed = vec![
            UnsealShare::from_text(&two[0].to_text()).unwrap(),
            UnsealShare::from_text(&three[1].to_text()).unwrap(),
        ];
        assert!(matches!(
            combine_shares(&mixed),
            Err(CryptoError::InvalidShare(_))
        ));
        assert!(matches!(
            combine_shares(&[]),
            Err(CryptoError::InvalidInput(_))
        ));
    }

    #[test]
    fn split_parameters_follow_vault() {
        let root = RootKey::generate().unwrap();
        for (shares, threshold) in [(0, 0), (1, 0), (0, 1), (2, 1), (5, 1), (3, 4), (255, 1)] {
            assert!(
                matches!(
                    split_root_key(&root, shares, threshold),
                    Err(CryptoError::InvalidInput(_))
                ),
                "{threshold} of {shares}"
            );
        }
        for (shares, threshold) in [(1, 1), (2, 2), (255, 2), (255, 255)] {
            let split = split_root_key(&root, shares, threshold).unwrap();
            assert_eq!(split.len(), usize::from(shares));
            let used = &split[usize::from(shares - threshold)..];
            assert!(same_key(&combine_shares(used).unwrap(), &root));
        }
    }

    #[test]
    fn a_single_share_is_the_key_in_share_form() {
        let root = RootKey::generate().unwrap();
        let split = split_root_key(&root, 1, 1).unwrap();
        assert_eq!(split[0].index(), 1);
        assert_eq!(split[0].threshold(), 1);
        let read = UnsealShare::from_text(&split[0].to_text()).unwrap();
        assert!(same_key(&combine_shares(&[read]).unwrap(), &root));
    }

    #[test]
    fn text_round_trips_and_ignores_surrounding_space() {
        let root = RootKey::generate().unwrap();
        let shares = split_root_key(&root, 3, 2).unwrap();
        for share in &shares {
            let text = share.to_text();
            assert_eq!(text.len(), 52);
            let padded = format!("  {}\n", text.as_str());
            let read = UnsealShare::from_text(&padded).unwrap();
            assert_eq!(read.index(), share.index());
            assert_eq!(read.threshold(), share.threshold());
            assert_eq!(*read.point, *share.point);
        }
    }

    #[test]
    fn a_corrupted_share_text_is_refused() {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let root = RootKey::generate().unwrap();
        let share = &split_root_key(&root, 3, 2).unwrap()[0];
        let text = share.to_text();
        for i in 0..text.len() {
            for &c in ALPHABET {
                if text.as_bytes()[i] == c {
                    continue;
                }
                let mut typo = text.as_bytes().to_vec();
                typo[i] = c;
                let typo = String::from_utf8(typo).unwrap();
                assert!(
                    matches!(
                        UnsealShare::from_text(&typo),
                        Err(CryptoError::InvalidShare(_))
                    ),
                    "position {i}"
                );
            }
        }
        let swapped: String = {
            let mut chars: Vec<char> = text.chars().collect();
            let j = (0..chars.len() - 1)
                .find(|&j| chars[j] != chars[j + 1])
                .unwrap();
            chars.swap(j, j + 1);
            chars.into_iter().collect()
        };
        for bad in [
            "",
            "not base64!",
            &text[..text.len() - 4],
            &format!("{}AAAA", text.as_str()),
            &swapped,
        ] {
            let err = UnsealShare::from_text(bad).unwrap_err();
            assert!(matches!(err, CryptoError::InvalidShare(_)), "{bad}");
            assert!(bad.len() < 8 || !err.to_string().contains(&bad[..8]));
        }
    }

    #[test]
    fn a_share_of_an_unknown_format_is_refused() {
        let mut bytes = vec![2u8, 2, 1];
        bytes.extend_from_slice(&[0u8; KEY_LEN]);
        let sum = checksum(&bytes);
        bytes.extend_from_slice(&sum);
        assert!(matches!(
            UnsealShare::from_text(&STANDARD.encode(&bytes)),
            Err(CryptoError::InvalidShare(_))
        ));
        bytes[0] = FORMAT_V1;
        bytes[2] = 0;
        let body_len = bytes.len() - CHECKSUM_LEN;
        let sum = checksum(&bytes[..body_len]);
        bytes[body_len..].copy_from_slice(&sum);
        assert!(matches!(
            UnsealShare::from_text(&STANDARD.encode(&bytes)),
            Err(CryptoError::InvalidShare(_))
        ));
    }

    #[test]
    fn debug_never_prints_key_or_share_bytes() {
        let root = RootKey::generate().unwrap();
        let shares = split_root_key(&root, 3, 2).unwrap();
        let shown = format!("{shares:?} {shares:#?} {root:?}");
        assert!(shown.contains("REDACTED"));
        assert!(!shown.contains(root.to_base64().as_str()));
        assert!(!shown.contains(&format!("{:?}", root.bytes())));
        for share in &shares {
            assert!(!shown.contains(share.to_text().as_str()));
            assert!(!shown.contains(&format!("{:?}", &share.point[1..])));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn any_threshold_sized_subset_recombines(
            (shares, threshold, order) in (2u8..=12)
                .prop_flat_map(|n| (Just(n), 2..=n))
                .prop_flat_map(|(n, k)| {
                    (Just(n), Just(k), Just((0..usize::from(n)).collect::<Vec<_>>()).prop_shuffle())
                }),
        ) {
            let root = RootKey::generate().unwrap();
            let split = split_root_key(&root, shares, threshold).unwrap();
            let chosen = pick(&split, &order[..usize::from(threshold)]);
            let combined = combine_shares(&chosen).unwrap();
            prop_assert!(same_key(&combined, &root));
            prop_assert!(combined.matches_check_value(&root.check_value()));
        }
    }
}
