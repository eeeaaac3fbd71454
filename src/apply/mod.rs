//! Apply: carry out a plan through the directories' write capabilities, and the saved-plan
//! files that carry a plan from `plan --out` to `apply`, checked against a fresh plan.

mod executor;
mod password;
pub mod saved;
mod verify;

pub use executor::{ActionOutcome, ApplyReport, Status, execute, execute_checked};
pub use saved::{SavedPlan, SavedPlanError, ad_identity, entra_identity};
pub use verify::{CheckError, Checked, check};
