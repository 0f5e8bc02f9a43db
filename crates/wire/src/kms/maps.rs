//! Map members of JSON 1.1 requests (KMS's `EncryptionContext`, `SourceEncryptionContext`,
//! `DestinationEncryptionContext`), read by the generated models.
//!
//! serde's map impls let a repeated key silently replace the earlier value. An encryption context
//! that names a key twice is ambiguous: a client, a policy condition (`kms:EncryptionContext:*`)
//! and the ciphertext's authenticated data could each end up seeing a different value. Such a
//! request is refused like a repeated structure member (`SerializationException`).

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

use crate::codec::{self, MemberSet, msg};

/// Reads one map member into `slot` (as `codec::read_member` does), refusing a repeated key.
pub(crate) fn read_map_member<'de, A, K, V>(
    map: &mut A,
    seen: &mut MemberSet,
    index: u32,
    slot: &mut Option<BTreeMap<K, V>>,
) -> Result<(), A::Error>
where
    A: MapAccess<'de>,
    K: Deserialize<'de> + Ord,
    V: Deserialize<'de>,
{
    let mut read: Option<UniqueKeys<K, V>> = None;
    codec::read_member(map, seen, index, &mut read)?;
    *slot = read.map(|UniqueKeys(entries)| entries);
    Ok(())
}

struct UniqueKeys<K, V>(BTreeMap<K, V>);

impl<'de, K, V> Deserialize<'de> for UniqueKeys<K, V>
where
    K: Deserialize<'de> + Ord,
    V: Deserialize<'de>,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct UniqueKeysVisitor<K, V>(PhantomData<(K, V)>);

        impl<'de, K, V> Visitor<'de> for UniqueKeysVisitor<K, V>
        where
            K: Deserialize<'de> + Ord,
            V: Deserialize<'de>,
        {
            type Value = UniqueKeys<K, V>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = BTreeMap::new();
                while let Some((key, value)) = map.next_entry::<K, V>()? {
                    if entries.insert(key, value).is_some() {
                        return Err(de::Error::custom(msg::DUPLICATE_MEMBER));
                    }
                }
                Ok(UniqueKeys(entries))
            }
        }

        deserializer.deserialize_map(UniqueKeysVisitor(PhantomData))
    }
}
