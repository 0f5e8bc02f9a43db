//! The root key: the one secret an operator must keep. Everything else is wrapped under it.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use crate::{CryptoError, CryptoResult, KEY_LEN};

/// Where the root key comes from, in the forms `COFFER_ROOT_KEY` accepts.
pub enum RootKeySource {
    /// The key itself, base64 (32 bytes once decoded).
    Inline(Zeroizing<String>),
    /// A file holding the base64 key.
    File(PathBuf),
}

impl RootKeySource {
    /// Interprets a `COFFER_ROOT_KEY` value: base64 of exactly 32 bytes is the key itself,
    /// anything else is the path of a key file.
    pub fn parse(value: Zeroizing<String>) -> RootKeySource {
        if decode_key(value.trim()).is_ok() {
            RootKeySource::Inline(value)
        } else {
            RootKeySource::File(PathBuf::from(value.trim()))
        }
    }
}

impl std::fmt::Debug for RootKeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RootKeySource::Inline(_) => f.write_str("Inline([REDACTED])"),
            RootKeySource::File(path) => f.debug_tuple("File").field(path).finish(),
        }
    }
}

pub struct RootKey {
    bytes: Zeroizing<[u8; KEY_LEN]>,
}

impl std::fmt::Debug for RootKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RootKey([REDACTED])")
    }
}

fn decode_key(text: &str) -> CryptoResult<Zeroizing<[u8; KEY_LEN]>> {
    let decoded = Zeroizing::new(
        STANDARD
            .decode(text)
            .map_err(|_| CryptoError::InvalidRootKey("not valid base64".into()))?,
    );
    if decoded.len() != KEY_LEN {
        return Err(CryptoError::InvalidRootKey(format!(
            "expected {KEY_LEN} bytes once decoded, got {}",
            decoded.len()
        )));
    }
    let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
    bytes.copy_from_slice(&decoded);
    Ok(bytes)
}

impl RootKey {
    pub fn generate() -> CryptoResult<RootKey> {
        Ok(RootKey {
            bytes: crate::random_key()?,
        })
    }

    pub fn from_base64(text: &str) -> CryptoResult<RootKey> {
        Ok(RootKey {
            bytes: decode_key(text.trim())?,
        })
    }

    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.bytes.as_ref()))
    }

    pub fn load(source: &RootKeySource) -> CryptoResult<RootKey> {
        match source {
            RootKeySource::Inline(text) => RootKey::from_base64(text),
            RootKeySource::File(path) => read_key_file(path),
        }
    }

    /// Reads the key file at `path`, or generates a key into it (mode 0600) when there is
    /// none. Returns whether the key was created.
    pub fn load_or_create(path: &Path) -> CryptoResult<(RootKey, bool)> {
        match read_key_file(path) {
            Ok(key) => Ok((key, false)),
            Err(CryptoError::RootKeyFile { .. }) if !path.exists() => {
                let key = RootKey::generate()?;
                write_key_file(path, &key)?;
                Ok((key, true))
            }
            Err(e) => Err(e),
        }
    }

    /// Writes the key to a new file at `path` (mode 0600, synced with its directory); fails if
    /// the file exists.
    pub fn write_new_file(&self, path: &Path) -> CryptoResult<()> {
        write_key_file(path, self)
    }

    /// A 32-byte key for `purpose`, derived with HKDF-SHA256 so that each use of the root key
    /// gets an independent key and none of them reveals the root key.
    pub fn derive(&self, purpose: &str) -> Zeroizing<[u8; KEY_LEN]> {
        self.hkdf(b"coffer root key derivation v1", purpose.as_bytes())
    }

    /// A value derived from the key that is safe to store beside the unseal shares' holders:
    /// it reveals nothing of the key, but tells whether recombined shares gave back this key
    /// ([`RootKey::matches_check_value`]), which Shamir's scheme alone cannot.
    pub fn check_value(&self) -> [u8; KEY_LEN] {
        // A salt of its own, so no purpose string passed to `derive` can produce it.
        *self.hkdf(b"coffer root key check value v1", b"")
    }

    /// Whether `check_value` is this key's [`RootKey::check_value`], in constant time.
    pub fn matches_check_value(&self, check_value: &[u8]) -> bool {
        crate::constant_time_eq(&self.check_value(), check_value)
    }

    fn hkdf(&self, salt: &[u8], info: &[u8]) -> Zeroizing<[u8; KEY_LEN]> {
        use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
        struct Len;
        impl aws_lc_rs::hkdf::KeyType for Len {
            fn len(&self) -> usize {
                KEY_LEN
            }
        }
        let mut out = Zeroizing::new([0u8; KEY_LEN]);
        let info = [info];
        Salt::new(HKDF_SHA256, salt)
            .extract(self.bytes.as_ref())
            .expand(&info, Len)
            .and_then(|okm| okm.fill(out.as_mut()))
            .expect("HKDF-SHA256 output of 32 bytes is always valid");
        out
    }

    /// A root key from bytes recombined inside this crate (unseal shares).
    pub(crate) fn from_bytes(bytes: Zeroizing<[u8; KEY_LEN]>) -> RootKey {
        RootKey { bytes }
    }

    pub(crate) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }
}

fn file_error(path: &Path, e: impl std::fmt::Display) -> CryptoError {
    CryptoError::RootKeyFile {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

fn read_key_file(path: &Path) -> CryptoResult<RootKey> {
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| file_error(path, e))?);
    RootKey::from_base64(&text).map_err(|e| file_error(path, e))
}

fn write_key_file(path: &Path, key: &RootKey) -> CryptoResult<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| file_error(path, e))?;
    let mut text = key.to_base64();
    text.push('\n');
    file.write_all(text.as_bytes())
        .map_err(|e| file_error(path, e))?;
    // The key must be on disk before anything is encrypted under it.
    file.sync_all().map_err(|e| file_error(path, e))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| file_error(dir, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_round_trips_through_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        let (created, was_created) = RootKey::load_or_create(&path).unwrap();
        assert!(was_created);
        let (loaded, was_created) = RootKey::load_or_create(&path).unwrap();
        assert!(!was_created);
        assert_eq!(created.bytes(), loaded.bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn source_tells_inline_keys_from_paths() {
        let key = RootKey::generate().unwrap();
        assert!(matches!(
            RootKeySource::parse(key.to_base64()),
            RootKeySource::Inline(_)
        ));
        assert!(matches!(
            RootKeySource::parse(Zeroizing::new("/etc/coffer/root.key".into())),
            RootKeySource::File(_)
        ));
        assert!(
            !format!("{:?}", RootKeySource::parse(key.to_base64()))
                .contains(key.to_base64().as_str())
        );
    }

    #[test]
    fn malformed_keys_are_rejected_without_echo() {
        let err = RootKey::from_base64("c2hvcnQ=").unwrap_err().to_string();
        assert!(err.contains("expected 32 bytes"), "{err}");
        assert!(!err.contains("c2hvcnQ"));
        assert!(RootKey::from_base64("not base64!").is_err());
    }

    #[test]
    fn derived_keys_differ_by_purpose() {
        let key = RootKey::generate().unwrap();
        assert_ne!(*key.derive("a"), *key.derive("b"));
        assert_eq!(*key.derive("a"), *key.derive("a"));
        assert_ne!(&*key.derive("a"), key.bytes());
    }

    #[test]
    fn check_values_tell_keys_apart() {
        let key = RootKey::generate().unwrap();
        let other = RootKey::generate().unwrap();
        let check = key.check_value();
        assert_eq!(check, key.check_value());
        assert!(key.matches_check_value(&check));
        assert!(!other.matches_check_value(&check));
        assert!(!key.matches_check_value(&check[..16]));
        assert!(!key.matches_check_value(&[]));
        assert_ne!(&check, key.bytes());
        assert_ne!(check, *key.derive(""));
    }
}
