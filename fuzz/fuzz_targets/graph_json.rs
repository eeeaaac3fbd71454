//! The Graph JSON snapshot reader (`EntraSnapshot::open`): never panics; what it opens
//! converts user for user.
#![no_main]

use std::sync::OnceLock;

use idsync::directory::snapshot::EntraSnapshot;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = DIR.get_or_init(|| tempfile::tempdir().expect("temporary folder"));
    let path = dir.path().join("entra.json");
    std::fs::write(&path, data).expect("write the input");
    match EntraSnapshot::open(&path) {
        Ok(snapshot) => {
            let users = snapshot.users().expect("an opened snapshot converts");
            for user in &users {
                let found = snapshot.user(user.id()).expect("look-up by id");
                assert!(found.is_some(), "user {} not found by id", user.id());
            }
        }
        Err(e) => {
            let shown = e.to_string();
            assert!(shown.starts_with(&path.display().to_string()), "{shown}");
        }
    }
});
