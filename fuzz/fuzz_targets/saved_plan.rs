//! The saved-plan reader: never panics; whatever deserializes as a plan is written and read
//! back to the same plan.
#![no_main]

use std::sync::OnceLock;

use idsync::apply::{SavedPlan, SavedPlanError, saved};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = DIR.get_or_init(|| tempfile::tempdir().expect("temporary folder"));
    let path = dir.path().join("plan.json");
    std::fs::write(&path, data).expect("write the input");
    if let Err(e @ SavedPlanError::Io { .. }) = SavedPlan::load(&path) {
        panic!("{e}");
    }
    // The checksum stops most inputs before the plan is read: read the body directly too.
    // (A body naming another format or version is refused on reading, as it should be.)
    if let Ok(plan) = serde_json::from_slice::<SavedPlan>(data)
        && plan.format == saved::FORMAT
        && plan.version == saved::VERSION
    {
        let again = dir.path().join("again.json");
        if plan.save(&again).is_ok() {
            let read = SavedPlan::load(&again).expect("a written plan reads back");
            assert_eq!(read, plan);
        }
    }
});
