//! idsync: hybrid identity as code.
#![warn(clippy::print_stdout, clippy::print_stderr)]
