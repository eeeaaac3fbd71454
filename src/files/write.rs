//! Atomic writes beside the real target (plans, reports, snapshots, imports).
