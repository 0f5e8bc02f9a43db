//! Enforces the dependency rules of ARCHITECTURE.md against `cargo metadata`, so the map and
//! the code cannot drift apart.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

/// Each Coffer crate and the Coffer crates it may depend on directly (normal dependencies;
/// dev-dependencies are free, so tests can use real backends).
const ALLOWED: &[(&str, &[&str])] = &[
    ("coffer-store", &[]),
    ("coffer-crypto", &[]),
    ("coffer-auth", &[]),
    ("coffer-store-embedded", &["coffer-store"]),
    ("coffer-store-postgres", &["coffer-store"]),
    ("coffer-rotation-db", &[]),
    (
        "coffer-domain",
        &["coffer-store", "coffer-crypto", "coffer-auth"],
    ),
    ("coffer-wire", &["coffer-domain", "coffer-auth"]),
    (
        "coffer",
        &[
            "coffer-wire",
            "coffer-auth",
            "coffer-domain",
            "coffer-crypto",
            "coffer-store",
            "coffer-store-embedded",
            "coffer-store-postgres",
            "coffer-rotation-db",
        ],
    ),
    ("coffer-bench", &[]),
];

const DATABASE_DRIVERS: &[&str] = &[
    "rusqlite",
    "libsqlite3-sys",
    "tokio-postgres",
    "postgres",
    "sqlx",
    "mysql_async",
];
const HTTP_SERVERS: &[&str] = &["axum", "hyper", "hyper-util", "tower-http"];

struct Graph {
    /// Package name -> names of its normal (non-dev, non-build) dependencies.
    normal: BTreeMap<String, BTreeSet<String>>,
    members: BTreeSet<String>,
}

fn graph() -> Graph {
    let output = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).unwrap();
    let name_of: BTreeMap<String, String> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_owned(),
                p["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let members = metadata["workspace_members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| name_of[id.as_str().unwrap()].clone())
        .collect();
    let mut normal: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for node in metadata["resolve"]["nodes"].as_array().unwrap() {
        let name = name_of[node["id"].as_str().unwrap()].clone();
        let deps = normal.entry(name).or_default();
        for dep in node["deps"].as_array().unwrap() {
            let is_normal = dep["dep_kinds"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kind"].is_null());
            if is_normal {
                deps.insert(name_of[dep["pkg"].as_str().unwrap()].clone());
            }
        }
    }
    Graph { normal, members }
}

impl Graph {
    fn direct(&self, package: &str) -> BTreeSet<String> {
        self.normal.get(package).cloned().unwrap_or_default()
    }

    fn transitive(&self, package: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![package.to_owned()];
        while let Some(next) = stack.pop() {
            for dep in self.normal.get(&next).into_iter().flatten() {
                if seen.insert(dep.clone()) {
                    stack.push(dep.clone());
                }
            }
        }
        seen
    }
}

#[test]
fn every_crate_has_a_rule() {
    let g = graph();
    let ruled: BTreeSet<String> = ALLOWED.iter().map(|(name, _)| name.to_string()).collect();
    assert_eq!(
        g.members, ruled,
        "add new crates to ALLOWED here and to ARCHITECTURE.md"
    );
}

#[test]
fn coffer_crates_depend_only_in_the_documented_directions() {
    let g = graph();
    for (package, allowed) in ALLOWED {
        let direct = g.direct(package);
        let internal: BTreeSet<&str> = direct
            .iter()
            .map(String::as_str)
            .filter(|d| g.members.contains(*d))
            .collect();
        let extra: Vec<&&str> = internal.iter().filter(|d| !allowed.contains(d)).collect();
        assert!(
            extra.is_empty(),
            "{package} must not depend on {extra:?} (see ARCHITECTURE.md)"
        );
    }
}

#[test]
fn wire_knows_nothing_of_sql() {
    let g = graph();
    let reached = g.transitive("coffer-wire");
    for driver in DATABASE_DRIVERS
        .iter()
        .chain(&["coffer-store-embedded", "coffer-store-postgres"])
    {
        assert!(!reached.contains(*driver), "coffer-wire reaches {driver}");
    }
}

#[test]
fn only_backends_talk_to_a_database() {
    let g = graph();
    for package in &g.members {
        // The store backends, and managed rotation's driver for the databases whose
        // credentials it rotates.
        if matches!(
            package.as_str(),
            "coffer-store-embedded" | "coffer-store-postgres" | "coffer-rotation-db"
        ) {
            continue;
        }
        for driver in DATABASE_DRIVERS {
            assert!(
                !g.direct(package).contains(*driver),
                "{package} depends on the database driver {driver} directly"
            );
        }
    }
    let domain = g.transitive("coffer-domain");
    assert!(
        DATABASE_DRIVERS.iter().all(|d| !domain.contains(*d)),
        "the domain must see only the Store trait"
    );
}

#[test]
fn only_crypto_uses_the_cryptographic_library() {
    let g = graph();
    for package in &g.members {
        if package == "coffer-crypto" {
            continue;
        }
        assert!(
            !g.direct(package).contains("aws-lc-rs"),
            "{package} uses aws-lc-rs directly; key material belongs in coffer-crypto"
        );
    }
}

#[test]
fn only_the_server_serves_http() {
    let g = graph();
    for package in [
        "coffer-store",
        "coffer-store-embedded",
        "coffer-store-postgres",
        "coffer-crypto",
        "coffer-auth",
        "coffer-domain",
        "coffer-wire",
    ] {
        let reached = g.transitive(package);
        for server in HTTP_SERVERS {
            assert!(
                !reached.contains(*server),
                "{package} reaches the HTTP server stack ({server})"
            );
        }
    }
}
