//! DNs (RFC 4514): parse never panics; a DN equals itself reparsed; escaped values round trip.
#![no_main]

use idsync::directory::dn::Dn;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(dn) = Dn::parse(s) {
        let again = Dn::parse(dn.as_str()).expect("a DN's text reparses");
        assert_eq!(again, dn);
        assert_eq!(again.hash_value(), dn.hash_value());
        assert!(dn.is_within(&dn));
        let _ = dn.leaf_value();
        if let Some(parent) = dn.parent() {
            assert!(dn.is_within(&parent), "{dn} within {parent}");
            assert_eq!(parent.rdns().len() + 1, dn.rdns().len());
        }
    }
    // Any string is a value `escape_value` can write into a DN.
    let root = Dn::parse("").expect("root");
    let parent = Dn::parse("OU=Fuzz,DC=corp").expect("parent");
    for base in [&root, &parent] {
        let child = Dn::child("CN", s, base);
        assert_eq!(child.leaf_value().as_deref(), Some(s), "{child}");
        assert_eq!(child.parent().as_ref(), Some(base));
    }
});
