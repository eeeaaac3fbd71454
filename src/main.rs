//! The `idsync` command. Parsing and printing live in `cli`; the work is in the library.

mod cli;

// Reading a large export allocates millions of small strings; mimalloc frees them without
// glibc's chunk consolidation (BENCHMARKS.md, "CLI end to end").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
