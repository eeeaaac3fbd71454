//! The `idsync` command. Parsing and printing live in `cli`; the work is in the library.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
