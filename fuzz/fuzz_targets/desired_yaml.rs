//! The desired-state YAML loader: never panics; every problem names the file and a line.
#![no_main]

use std::sync::OnceLock;

use idsync::desired::{self, LoadError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let dir = DIR.get_or_init(|| tempfile::tempdir().expect("temporary folder"));
    let path = dir.path().join("idsync.yaml");
    std::fs::write(&path, text).expect("write the input");
    match desired::load(dir.path()) {
        Ok(_) => {}
        Err(LoadError::Invalid { issues }) => {
            assert!(!issues.is_empty());
            // YAML breaks lines at LF, CRLF and a lone CR (YAML 1.2, section 5.4).
            let lines = text.replace("\r\n", "\n").split(['\n', '\r']).count() as u64;
            for issue in issues {
                assert_eq!(issue.file, path);
                assert!(issue.line <= lines, "{issue}");
            }
        }
        Err(e) => panic!("unexpected error: {e}"),
    }
});
