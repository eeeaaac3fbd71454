//! idsync: hybrid identity as code.
//!
//! Data flows one way: the desired state ([`desired`]) and the directories' objects
//! ([`directory`]) go into the pure [`engine`], which returns a [`plan::Plan`]; [`render`] turns
//! a plan into text, JSON or Markdown; [`apply`] carries a plan out through the directories'
//! write capabilities. The library never prints: the CLI picks what to show.
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod apply;
pub mod connect;
pub mod desired;
pub mod directory;
pub mod drift;
pub mod engine;
pub mod files;
pub mod import;
pub mod names;
mod parallel;
pub mod plan;
pub mod render;
pub mod secret;
pub mod synthetic;
