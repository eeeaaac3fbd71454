//! The `$batch` engine: requests go 20 to a `POST /v1.0/$batch`, several batches in flight
//! (bounded, one connection each), and each sub-request is retried on its own.
//!
//! - A 429 inside a batch closes the shared gate for its `Retry-After` and sends only that
//!   request again; it also halves the number of batches in flight, which grows back by one
//!   after as many clean batches as are in flight (additive increase, multiplicative decrease).
//! - A 5xx for a sub-request, or a batch that got no answer (timeout, dropped connection, 5xx),
//!   sends the requests again after exponential backoff with jitter, bounded. Such a write may
//!   have landed: a create is then first looked up (a user by its userPrincipalName, a group
//!   by a filter on its names; found: it is done), and a delete that then answers 404 is done
//!   too.
//! - Any other answer is final and goes back to the caller, which maps it to a result.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::ops::ControlFlow;
use std::time::Duration;

use futures_util::StreamExt as _;
use futures_util::stream::FuturesUnordered;
use reqwest::Method;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use super::http::{Http, HttpError, Reply, Retry, later, parse_retry_after, reply_error};
use crate::directory::{DirectoryError, ProgressEvent, ProgressSink};

/// Graph takes at most 20 requests in one `$batch`.
pub(crate) const BATCH_SIZE: usize = 20;

/// One request to run through `$batch`. URLs are relative to `/v1.0` and percent-encoded.
/// Its `Debug` leaves out a create's password, as [`EntraOp`](crate::directory::EntraOp)'s does.
#[derive(Clone)]
pub(crate) enum Request {
    Get(String),
    /// A GET whose successful answer is handed back unparsed ([`Done::raw`]): large pages
    /// (a group's members) are decoded by their reader without building a JSON tree.
    GetRaw(String),
    Patch(String, Value),
    Delete(String),
    /// A create; `check` is the GET that finds the object if an earlier attempt landed.
    Post {
        url: String,
        body: Value,
        check: Option<String>,
    },
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        struct Body<'a>(&'a Value);
        impl std::fmt::Debug for Body<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self.0 {
                    Value::Object(map) => crate::directory::Redacted(map).fmt(f),
                    other => other.fmt(f),
                }
            }
        }
        match self {
            Request::Get(url) => f.debug_tuple("Get").field(url).finish(),
            Request::GetRaw(url) => f.debug_tuple("GetRaw").field(url).finish(),
            Request::Patch(url, body) => f
                .debug_tuple("Patch")
                .field(url)
                .field(&Body(body))
                .finish(),
            Request::Delete(url) => f.debug_tuple("Delete").field(url).finish(),
            Request::Post { url, body, check } => f
                .debug_struct("Post")
                .field("url", url)
                .field("body", &Body(body))
                .field("check", check)
                .finish(),
        }
    }
}

/// A request and the name its errors carry.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub request: Request,
    pub label: String,
}

/// A final answer to one request.
#[derive(Debug)]
pub(crate) struct Done {
    pub status: u16,
    pub body: Option<Value>,
    pub headers: Option<Value>,
    /// An earlier attempt may have been applied (its outcome was never seen). A create found
    /// by its lookup then answers as the lookup did: 200 with the user read.
    pub uncertain: bool,
    /// The body of a [`Request::GetRaw`]'s 2xx answer, as sent (then `body` is `None`).
    pub raw: Option<Box<RawValue>>,
}

/// A `$batch` answer, read without building the sub-responses' bodies.
#[derive(serde::Deserialize)]
struct BatchAnswer {
    responses: Vec<SubAnswer>,
}

#[derive(serde::Deserialize)]
struct SubAnswer {
    #[serde(default)]
    id: Value,
    #[serde(default)]
    status: Option<u64>,
    #[serde(default)]
    headers: Option<Value>,
    #[serde(default)]
    body: Option<Box<RawValue>>,
}

impl SubAnswer {
    fn id(&self) -> Option<String> {
        match &self.id {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
}

#[derive(Debug, Default)]
struct State {
    /// Failures whose outcome was unknown (5xx, no answer).
    failures: u32,
    throttled: u32,
    uncertain: bool,
    /// The next attempt is the create's lookup, not the create.
    lookup: bool,
    /// Time since its last answer spent on attempts that got none and backoff: bounded by
    /// `GraphOptions::deadline`, so an endpoint that never answers fails in time.
    silent: Duration,
}

/// How many batches may be in flight now.
#[derive(Debug)]
struct Limit {
    max: usize,
    current: usize,
    clean: usize,
}

impl Limit {
    fn throttled(&mut self) {
        self.current = (self.current / 2).max(1);
        self.clean = 0;
    }

    fn clean(&mut self) {
        self.clean += 1;
        if self.clean >= self.current {
            self.current = (self.current + 1).min(self.max);
            self.clean = 0;
        }
    }
}

/// Runs every item; the answers are in the items' order.
pub(crate) async fn run(
    http: &Http,
    items: &[Item],
    progress: &dyn ProgressSink,
) -> Vec<Result<Done, DirectoryError>> {
    let mut results: Vec<Option<Result<Done, DirectoryError>>> =
        items.iter().map(|_| None).collect();
    let mut keep = |i: usize, r: Result<Done, DirectoryError>| {
        results[i] = Some(r);
        progress.event(ProgressEvent::Advance(1));
        ControlFlow::Continue(Vec::new())
    };
    Engine::new(http, items.to_vec(), &mut keep).drive().await;
    results
        .into_iter()
        .zip(items)
        .map(|(r, item)| {
            r.unwrap_or_else(|| {
                Err(DirectoryError::Other(format!(
                    "{}: no answer (internal error)",
                    item.label
                )))
            })
        })
        .collect()
}

/// What [`follow`] does with each final answer: the requests it calls for next (a page's next
/// page), sent before anything not yet sent; or stop, dropping what is still in flight.
pub(crate) type OnDone<'a> =
    dyn FnMut(usize, Result<Done, DirectoryError>) -> ControlFlow<(), Vec<Item>> + 'a;

/// Runs `items` as [`run`] does, handing each final answer to `on_done` as it arrives (item
/// index, answer; follow-ups are numbered after the items, in the order they were given).
/// Batches go out as lanes free up, without waiting for each other, and `on_done` decodes one
/// answer while the other lanes' batches are in flight.
pub(crate) async fn follow(http: &Http, items: Vec<Item>, on_done: &mut OnDone<'_>) {
    Engine::new(http, items, on_done).drive().await;
}

struct Engine<'a, 'b> {
    http: &'a Http,
    items: Vec<Item>,
    on_done: &'a mut OnDone<'b>,
    states: Vec<State>,
    /// Items whose final answer went to `on_done`.
    done: Vec<bool>,
    /// `on_done` said stop.
    stopped: bool,
    /// Items to send as soon as there is room.
    ready: VecDeque<usize>,
    /// Items backing off, by the instant they may go again.
    waiting: BinaryHeap<Reverse<(Instant, usize)>>,
    limit: Limit,
}

/// A batch's lane, items and outcome.
type Sent = (usize, Vec<usize>, Result<Reply, HttpError>);

impl<'a, 'b> Engine<'a, 'b> {
    fn new(http: &'a Http, items: Vec<Item>, on_done: &'a mut OnDone<'b>) -> Self {
        Engine {
            http,
            states: items.iter().map(|_| State::default()).collect(),
            done: vec![false; items.len()],
            ready: (0..items.len()).collect(),
            items,
            on_done,
            stopped: false,
            waiting: BinaryHeap::new(),
            limit: Limit {
                max: http.lanes(),
                current: http.lanes(),
                clean: 0,
            },
        }
    }

    async fn drive(&mut self) {
        let batch_url = match self.http.url("/$batch") {
            Ok(u) => u,
            Err(e) => {
                let message = e.to_string();
                for i in 0..self.items.len() {
                    self.finish(i, Err(DirectoryError::Other(message.clone())));
                }
                return;
            }
        };
        let http = self.http;
        let mut in_flight = FuturesUnordered::new();
        let mut free_lanes: Vec<usize> = (0..http.lanes()).rev().collect();
        loop {
            if self.stopped {
                return;
            }
            let now = Instant::now();
            while let Some(Reverse((at, i))) = self.waiting.peek().copied()
                && at <= now
            {
                self.waiting.pop();
                self.ready.push_back(i);
            }
            while in_flight.len() < self.limit.current && !self.ready.is_empty() {
                let Some(lane) = free_lanes.pop() else { break };
                let take = self.ready.len().min(BATCH_SIZE);
                let batch: Vec<usize> = self.ready.drain(..take).collect();
                let body = self.body(&batch);
                let url = batch_url.clone();
                let budget = batch
                    .iter()
                    .map(|&i| http.options.deadline.saturating_sub(self.states[i].silent))
                    .min()
                    .unwrap_or(http.options.deadline);
                in_flight.push(async move {
                    let r = http
                        .send_within(lane, Method::POST, &url, Some(&body), Retry::Never, budget)
                        .await;
                    (lane, batch, r)
                });
            }
            if in_flight.is_empty() && self.ready.is_empty() && self.waiting.is_empty() {
                return;
            }
            // Wake for an answer, or for a backed-off item when there is room to send it.
            let wake = self
                .waiting
                .peek()
                .map(|Reverse((at, _))| *at)
                .filter(|_| in_flight.len() < self.limit.current);
            tokio::select! {
                Some(sent) = in_flight.next(), if !in_flight.is_empty() => {
                    let lane = self.handle(sent);
                    free_lanes.push(lane);
                }
                _ = sleep_until(wake) => {}
            }
        }
    }

    /// The `$batch` body for these items.
    fn body(&self, batch: &[usize]) -> Value {
        let requests: Vec<Value> = batch
            .iter()
            .enumerate()
            .map(|(k, &i)| {
                let (method, url, body) = match &self.items[i].request {
                    Request::Get(url) | Request::GetRaw(url) => ("GET", url, None),
                    Request::Patch(url, body) => ("PATCH", url, Some(body)),
                    Request::Delete(url) => ("DELETE", url, None),
                    Request::Post { check: Some(c), .. } if self.states[i].lookup => {
                        ("GET", c, None)
                    }
                    Request::Post { url, body, .. } => ("POST", url, Some(body)),
                };
                let mut r = Map::new();
                r.insert("id".into(), json!((k + 1).to_string()));
                r.insert("method".into(), json!(method));
                r.insert("url".into(), json!(url));
                if let Some(b) = body {
                    r.insert(
                        "headers".into(),
                        json!({"Content-Type": "application/json"}),
                    );
                    r.insert("body".into(), b.clone());
                }
                Value::Object(r)
            })
            .collect();
        json!({ "requests": requests })
    }

    /// Handles one batch's answer; returns its lane.
    fn handle(&mut self, (lane, batch, result): Sent) -> usize {
        let reply = match result {
            Ok(r) => {
                for &i in &batch {
                    self.states[i].silent = Duration::ZERO;
                }
                r
            }
            Err(HttpError::Transport(e, took)) => {
                for &i in &batch {
                    let state = &mut self.states[i];
                    state.silent = state.silent.saturating_add(took);
                    self.failed(i, &e, Duration::ZERO);
                }
                return lane;
            }
            Err(HttpError::Directory(e)) => {
                let message = e.to_string();
                for &i in &batch {
                    let label = &self.items[i].label;
                    self.finish(i, Err(DirectoryError::Other(format!("{label}: {message}"))));
                }
                return lane;
            }
        };
        let status = reply.status.as_u16();
        if status >= 500 {
            let wait = super::http::retry_after(&reply.headers).unwrap_or_default();
            let e = format!("$batch answered {}", reply_error(&reply).describe());
            for &i in &batch {
                self.failed(i, &e, wait);
            }
            return lane;
        }
        let responses = Some(&reply)
            .filter(|r| r.status.is_success())
            .and_then(|r| serde_json::from_slice::<BatchAnswer>(&r.body).ok())
            .map(|a| a.responses);
        let Some(mut responses) = responses else {
            // The batch itself was refused: a request idsync built wrong, or auth.
            let e = reply_error(&reply);
            for &i in &batch {
                let label = self.items[i].label.clone();
                self.finish(i, Err(e.clone().refused(label)));
            }
            return lane;
        };
        let mut throttled = false;
        for (k, &i) in batch.iter().enumerate() {
            let id = (k + 1).to_string();
            let sub = responses
                .iter()
                .position(|r| r.id().as_deref() == Some(id.as_str()))
                .map(|at| responses.swap_remove(at));
            let Some(sub) = sub else {
                self.failed(i, "no answer for it in the $batch answer", Duration::ZERO);
                continue;
            };
            throttled |= self.sub_response(i, sub);
        }
        if throttled {
            self.limit.throttled();
        } else {
            self.limit.clean();
        }
        lane
    }

    /// Handles one sub-response; true when it was a 429.
    fn sub_response(&mut self, i: usize, sub: SubAnswer) -> bool {
        let status = sub.status.and_then(|s| u16::try_from(s).ok()).unwrap_or(0);
        let headers = sub.headers;
        let retry_after = headers
            .as_ref()
            .and_then(Value::as_object)
            .and_then(|h| {
                h.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
                    .and_then(|(_, v)| v.as_str().map(str::to_owned).or(Some(v.to_string())))
            })
            .and_then(|v| parse_retry_after(&v));
        // A raw GET's page stays as sent; every other body (errors included) is parsed.
        let keep_raw =
            matches!(self.items[i].request, Request::GetRaw(_)) && (200..300).contains(&status);
        let (body, raw) = match sub.body {
            Some(b) if keep_raw => (None, Some(b)),
            Some(b) => (serde_json::from_str::<Value>(b.get()).ok(), None),
            None => (None, None),
        };
        let state = &mut self.states[i];
        match status {
            429 => {
                state.throttled += 1;
                let wait = retry_after.unwrap_or_else(|| self.http.backoff(state.throttled));
                self.http.gate.block(wait);
                if state.throttled >= self.http.options.max_throttled {
                    let e = super::http::GraphErrorBody::parse(body.as_ref(), None, 429);
                    let label = &self.items[i].label;
                    self.finish(
                        i,
                        Err(DirectoryError::Other(format!(
                            "{label}: still throttled after {} waits: {}",
                            self.states[i].throttled,
                            e.describe()
                        ))),
                    );
                } else {
                    self.ready.push_back(i);
                }
                true
            }
            500..=599 | 0 => {
                let e = super::http::GraphErrorBody::parse(body.as_ref(), headers.as_ref(), status);
                self.failed(i, &e.describe(), retry_after.unwrap_or_default());
                false
            }
            _ if state.lookup => {
                // A lookup by id answers 404 when the create did not land; one by a filter
                // (groups have no unique name to GET) answers an empty collection.
                if status == 404 || (status == 200 && empty_collection(body.as_ref())) {
                    // The earlier attempt did not land: create it now.
                    state.lookup = false;
                    self.ready.push_back(i);
                } else {
                    self.finish(
                        i,
                        Ok(Done {
                            status,
                            body,
                            headers,
                            uncertain: true,
                            raw,
                        }),
                    );
                }
                false
            }
            400 if state.uncertain
                && matches!(self.items[i].request, Request::Post { check: Some(_), .. })
                && upn_conflict(body.as_ref()) =>
            {
                // Our earlier attempt may be the one holding the name: look again.
                let e = super::http::GraphErrorBody::parse(body.as_ref(), headers.as_ref(), 400);
                self.failed(i, &e.describe(), Duration::ZERO);
                false
            }
            _ => {
                let uncertain = state.uncertain;
                self.finish(
                    i,
                    Ok(Done {
                        status,
                        body,
                        headers,
                        uncertain,
                        raw,
                    }),
                );
                false
            }
        }
    }

    /// An attempt whose outcome is unknown: back off and try again, bounded.
    fn failed(&mut self, i: usize, error: &str, at_least: Duration) {
        let state = &mut self.states[i];
        state.failures += 1;
        if !matches!(self.items[i].request, Request::Get(_) | Request::GetRaw(_)) && !state.lookup {
            state.uncertain = true;
        }
        if matches!(self.items[i].request, Request::Post { check: Some(_), .. }) && state.uncertain
        {
            state.lookup = true;
        }
        let failures = state.failures;
        let backoff = self.http.backoff(failures);
        let wait = backoff.max(at_least);
        let deadline = self.http.options.deadline;
        // A `Retry-After` (`at_least`) came with an answer: only our own backoff is silence.
        let out_of_time = state.silent.saturating_add(backoff) >= deadline;
        if failures >= self.http.options.max_attempts || out_of_time {
            let label = &self.items[i].label;
            let message = if out_of_time {
                format!(
                    "{label}: no answer within {} s ({failures} attempts): {error}",
                    deadline.as_secs()
                )
            } else {
                format!("{label}: gave up after {failures} attempts: {error}")
            };
            self.finish(
                i,
                Err(DirectoryError::Unavailable {
                    directory: "Entra",
                    message,
                }),
            );
            return;
        }
        state.silent = state.silent.saturating_add(backoff);
        self.waiting.push(Reverse((later(wait), i)));
    }

    fn finish(&mut self, i: usize, result: Result<Done, DirectoryError>) {
        if self.done[i] || self.stopped {
            return;
        }
        self.done[i] = true;
        match (self.on_done)(i, result) {
            ControlFlow::Continue(next) => {
                // Ahead of everything not yet sent, in their order: a group's next page
                // goes out beside other groups' first pages, not after them all.
                let (first, end) = (self.items.len(), self.items.len() + next.len());
                self.items.extend(next);
                self.states.resize_with(end, State::default);
                self.done.resize(end, false);
                for at in (first..end).rev() {
                    self.ready.push_front(at);
                }
            }
            ControlFlow::Break(()) => self.stopped = true,
        }
    }
}

/// `{"value": []}`: a filter that matched nothing.
fn empty_collection(body: Option<&Value>) -> bool {
    body.and_then(|b| b.get("value"))
        .and_then(Value::as_array)
        .is_some_and(Vec::is_empty)
}

/// A 400 saying another object already has this userPrincipalName.
fn upn_conflict(body: Option<&Value>) -> bool {
    let Some(err) = body.and_then(|b| b.get("error")) else {
        return false;
    };
    let targets = err
        .get("details")
        .and_then(Value::as_array)
        .is_some_and(|d| {
            d.iter()
                .any(|x| x.get("target").and_then(Value::as_str) == Some("userPrincipalName"))
        });
    targets
        || err
            .get("message")
            .and_then(Value::as_str)
            .is_some_and(|m| m.contains("same value for property userPrincipalName"))
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_shown_for_debugging_leaves_out_the_password() {
        let body = serde_json::json!({
            "userPrincipalName": "new@example.com",
            "passwordProfile": {"password": "xWwvJ]6NMw+bWH-d"}
        });
        for request in [
            Request::Post {
                url: "/users".into(),
                body: body.clone(),
                check: None,
            },
            Request::Patch("/users/1".into(), body),
        ] {
            let shown = format!("{request:?}");
            assert!(shown.contains("new@example.com"), "{shown}");
            assert!(shown.contains("\"passwordProfile\": <redacted>"), "{shown}");
            assert!(!shown.contains("xWwvJ"), "{shown}");
        }
    }

    #[test]
    fn the_limit_halves_on_throttling_and_grows_back() {
        let mut l = Limit {
            max: 4,
            current: 4,
            clean: 0,
        };
        l.throttled();
        assert_eq!(l.current, 2);
        l.throttled();
        l.throttled();
        assert_eq!(l.current, 1);
        l.clean();
        assert_eq!(l.current, 2);
        l.clean();
        l.clean();
        assert_eq!(l.current, 3);
        for _ in 0..10 {
            l.clean();
        }
        assert_eq!(l.current, 4);
    }

    #[test]
    fn upn_conflicts_are_recognised() {
        let body = json!({"error": {"code": "Request_BadRequest",
            "message": "Another object with the same value for property userPrincipalName already exists.",
            "details": [{"code": "ObjectConflict", "target": "userPrincipalName"}]}});
        assert!(upn_conflict(Some(&body)));
        let other = json!({"error": {"code": "Request_BadRequest", "message": "Another object with the same value for property proxyAddresses already exists."}});
        assert!(!upn_conflict(Some(&other)));
        assert!(!upn_conflict(None));
    }
}
