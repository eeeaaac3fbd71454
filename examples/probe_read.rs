use std::time::Instant;
fn rss() -> String {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines().filter(|l| l.starts_with("VmRSS") || l.starts_with("VmHWM")).collect::<Vec<_>>().join(" ")
}
#[global_allocator]
static A: mimalloc::MiMalloc = mimalloc::MiMalloc;
fn main() {
    let mut a = std::env::args().skip(1);
    let which = a.next().unwrap();
    let path = a.next().unwrap();
    let t = Instant::now();
    if which == "ldif" {
        let bytes = std::fs::read(&path).unwrap();
        eprintln!("read {:?} {}", t.elapsed(), rss());
        let f = idsync::directory::ldif::LdifFile::parse(&bytes).unwrap();
        eprintln!("parsed {} {:?} {}", f.len(), t.elapsed(), rss());
        drop(bytes);
        eprintln!("dropped input {}", rss());
        let lines: usize = f.entries().iter().map(|e| e.lines().len()).sum();
        eprintln!("lines {lines}");
    } else if which == "ad" {
        let s = idsync::directory::snapshot::AdSnapshot::open(&path).unwrap();
        eprintln!("ad open {:?} {}", t.elapsed(), rss());
        let q = idsync::directory::AdQuery { bases: vec![], exclude: vec![], filter: None, attributes: vec![] };
        let u = s.users(&q).unwrap();
        eprintln!("ad users {} {:?} {}", u.len(), t.elapsed(), rss());
    } else {
        let s = idsync::directory::snapshot::EntraSnapshot::open(&path).unwrap();
        eprintln!("entra open {:?} {}", t.elapsed(), rss());
        let u = s.users().unwrap();
        eprintln!("entra users {} {:?} {}", u.len(), t.elapsed(), rss());
    }
}
