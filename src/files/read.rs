//! Bounded reads of regular files (secrets, snapshots, plans, desired state).
