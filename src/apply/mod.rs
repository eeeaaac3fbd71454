//! Apply: carry out a plan through the directories' write capabilities, and the saved-plan
//! files that carry a plan from `plan --out` to `apply`.

mod executor;
mod password;
pub mod saved;

pub use executor::{ActionOutcome, ApplyReport, Status, execute};
pub use saved::{SavedPlan, SavedPlanError};
