//! LDIF: parse never panics; an unmodified parse renders the exact bytes; an edited entry
//! re-parses to the edit.
#![no_main]

use idsync::directory::ldif::LdifFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut file) = LdifFile::parse(data) else {
        return;
    };
    assert_eq!(file.render(), data, "an unmodified parse renders its input");
    if file.is_empty() {
        return;
    }
    // Edit the last entry with values taken from the input itself.
    let value = data[..data.len().min(90)].to_vec();
    let dn = String::from_utf8_lossy(&data[data.len() / 2..]).into_owned();
    let last = file.len() - 1;
    let entry = &mut file.entries_mut()[last];
    entry.set_values("fuzzEdit", [value.clone(), Vec::new()]);
    entry.set_dn(dn.clone());
    let first = entry.lines().first().map(|l| l.name().to_owned());
    if let Some(name) = &first {
        entry.remove_attribute(name);
    }
    let expected: Vec<(String, Vec<u8>)> = entry
        .lines()
        .iter()
        .map(|l| (l.name().to_ascii_lowercase(), l.value().to_vec()))
        .collect();
    if file.len() > 1 {
        file.remove_entry(0);
    }
    let text = file.render();
    let again = match LdifFile::parse(&text) {
        Ok(again) => again,
        Err(e) => panic!("the edited file does not parse: {e}"),
    };
    let back = &again.entries()[again.len() - 1];
    assert_eq!(back.dn(), dn);
    let got: Vec<(String, Vec<u8>)> = back
        .lines()
        .iter()
        .map(|l| (l.name().to_ascii_lowercase(), l.value().to_vec()))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(again.render(), text);
});
