//! Microsoft Graph's rules for `user` objects (and, in [`group`], for groups, their members and
//! contacts), written once: the property table (known,
//! read-only, mastered on-premises for synced users, collections), the write rules (required
//! properties, value rules, UPN and mailNickname validity, `mail` → primary SMTP address,
//! uniqueness without case) and Graph's error bodies for the refusals.
//!
//! Why a crate of its own: two fakes of Graph must answer alike — idsync's Entra snapshot
//! (`src/directory/snapshot/entra`) and the Graph emulator (`graph-emulator`). idsync cannot
//! depend on the emulator (an HTTP server, a dev-dependency only), and the emulator should not
//! depend on idsync (a test double built on the product's model would share its mistakes).
//! So both depend on this small crate, which knows nothing but Graph and `serde_json` (and,
//! in [`time`], the civil calendar both fakes print dates with). It lives
//! under `graph-emulator/`, where DESIGN.md places "Graph's rules live once, shared with the
//! Entra snapshot", as a workspace member of its own.

pub mod error;
pub mod group;
pub mod license;
pub mod time;
pub mod user;
pub mod write;

pub use error::{ErrorExtra, GraphError, SYNCED_OBJECT_MESSAGE};
