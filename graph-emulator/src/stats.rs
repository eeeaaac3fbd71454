//! Counters the tests and benchmarks assert on.

use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Every HTTP request except the admin endpoints (`/_emulator/...`).
    pub requests: u64,
    /// HTTP responses by status code (a `$batch` counts once, as its own status).
    pub by_status: BTreeMap<u16, u64>,
    /// Requests inside `$batch` bodies, by the status each one got.
    pub batch_items_by_status: BTreeMap<u16, u64>,
    /// Token endpoint requests that got a token.
    pub tokens_issued: u64,
    /// 429 answers, top-level and inside batches.
    pub throttled: u64,
    /// Requests an app sent after it was given a `Retry-After` and before that period ended
    /// (requests already in flight, or in the same `$batch`, do not count; see `throttle.rs`).
    /// A well-behaved client keeps this at 0.
    pub early_requests: u64,
    /// 503 answers injected by `fail_rate` and `item_fail_rate`.
    pub injected_failures: u64,
    /// Connections closed without an answer by `drop_rate`.
    pub dropped: u64,
    /// Requests carried out whose answer was then lost (`lost_answer_rate`).
    pub lost_answers: u64,
    /// Successful POST, PATCH and DELETE on users.
    pub writes_applied: u64,
}

impl Stats {
    pub fn status(&mut self, status: u16) {
        *self.by_status.entry(status).or_default() += 1;
    }

    pub fn batch_item(&mut self, status: u16) {
        *self.batch_items_by_status.entry(status).or_default() += 1;
    }

    /// Responses with this status, top-level plus inside batches.
    pub fn count_status(&self, status: u16) -> u64 {
        self.by_status.get(&status).copied().unwrap_or(0)
            + self
                .batch_items_by_status
                .get(&status)
                .copied()
                .unwrap_or(0)
    }
}
