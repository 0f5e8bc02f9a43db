//! The shared store behaviour suite, run on the embedded backend.

use coffer_store_embedded::EmbeddedStore;

async fn fresh() -> (EmbeddedStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path().join("coffer.db")).unwrap();
    (store, dir)
}

coffer_store::store_behaviour_suite!(fresh().await);
