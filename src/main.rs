//! The `idsync` command. Parsing and printing live in `cli`; the work is in the library.

mod cli;

// Reading a large export allocates millions of small strings; mimalloc frees them without
// glibc's chunk consolidation (BENCHMARKS.md, "CLI end to end").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // Transparent huge pages off: the kernel zeroes each 2 MiB page on first touch, and the
    // reads of a large export touch far more of them than they fill (1M identities: 8.4 s of
    // system time, 2.3 s without; BENCHMARKS.md). What mimalloc's `MIMALLOC_ALLOW_THP=0` does.
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
    cli::main()
}
