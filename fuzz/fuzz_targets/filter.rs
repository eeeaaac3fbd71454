//! LDAP filters (RFC 4515): parse never panics (nesting depth included); printing is
//! canonical; evaluation never panics; escaped values parse to themselves.
#![no_main]

use idsync::directory::filter::{self, Filter};
use idsync::directory::ldif::Entry;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut entry = Entry::new("CN=Fuzz User,OU=Sales,DC=corp");
    entry.add_values("cn", ["Fuzz User"]);
    entry.add_values(
        "objectCategory",
        ["CN=Person,CN=Schema,CN=Configuration,DC=corp"],
    );
    entry.add_values("userAccountControl", ["514"]);
    entry.add_values("mail", [&data[..data.len().min(16)]]);
    if let Ok(s) = std::str::from_utf8(data)
        && let Ok(f) = Filter::parse(s)
    {
        let text = f.to_string();
        let again = Filter::parse(&text).expect("a printed filter parses");
        assert_eq!(again, f, "{text}");
        let matched = f.matches(&entry);
        assert_eq!(Filter::not(f).matches(&entry), !matched);
    }
    let text = format!("(mail={})", filter::escape_value(data));
    let parsed = Filter::parse(&text).expect("an escaped value parses");
    assert_eq!(parsed, Filter::equals("mail", data));
});
