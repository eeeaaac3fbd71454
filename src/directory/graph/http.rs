//! One Graph HTTP exchange: bearer token, the shared throttling gate, retries, and Graph's
//! error body turned into a [`DirectoryError`].
//!
//! Retry rules: a 429 is never applied by Graph, so it is always retried after its
//! `Retry-After`, and that wait holds back every request of this app (the [`Gate`]). A 401
//! `InvalidAuthenticationToken` gets one fresh token. 5xx answers, timeouts and dropped
//! connections are retried with exponential backoff and jitter, bounded — but only when the
//! caller says a blind retry is safe ([`Retry::Transient`]); a `$batch` of writes is retried
//! per request by the batch engine instead, which knows which writes may have landed.

use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;
use tokio::time::Instant;

use super::GraphOptions;
use super::auth::Auth;
use crate::directory::{DirectoryError, Guid};

/// A "not before" instant shared by every request to Graph: a `Retry-After` given to one
/// request holds back all of them, including ones about to be sent concurrently.
#[derive(Debug, Default)]
pub(crate) struct Gate(Mutex<Option<Instant>>);

impl Gate {
    /// No request goes out before `wait` from now (a longer earlier block stays).
    pub(crate) fn block(&self, wait: Duration) {
        let until = later(wait);
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if g.is_none_or(|u| u < until) {
            *g = Some(until);
        }
    }

    /// The instant requests may go again, if that is still ahead.
    pub(crate) fn closed_until(&self) -> Option<Instant> {
        let g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        g.filter(|u| *u > Instant::now())
    }

    pub(crate) async fn wait(&self) {
        while let Some(until) = self.closed_until() {
            tokio::time::sleep_until(until).await;
        }
    }
}

/// Whether a failure whose outcome is unknown (5xx, timeout, dropped connection) may be
/// retried by sending the same request again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Reads and idempotent requests: retry, bounded.
    Transient,
    /// The caller decides: the 5xx answer or the transport error comes back.
    Never,
}

/// An answer read in full.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub(crate) fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Why an exchange produced no answer to act on.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    /// Timeout, refused or dropped connection: the request may or may not have been applied.
    /// The duration is the time spent on attempts without an answer (not waiting for the
    /// gate or a token), which counts against the request's deadline.
    #[error("{0}")]
    Transport(String, Duration),
    /// Anything else (token, throttling without end, retries exhausted), already explained.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
}

/// The HTTP side of a Graph client.
pub(crate) struct Http {
    /// One client per concurrent lane: each has its own HTTP/1.1 connection, reused only by
    /// that lane's next request, which goes out after this one's answer has been handled.
    lanes: Vec<reqwest::Client>,
    pub(crate) auth: Auth,
    pub(crate) gate: Gate,
    pub(crate) graph_url: Url,
    pub(crate) options: GraphOptions,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http")
            .field("graph_url", &self.graph_url.as_str())
            .field("lanes", &self.lanes.len())
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

/// The reqwest client every connection uses: rustls, no redirects (Graph answers ours
/// directly, and a redirect must never carry the token elsewhere), bounded timeouts.
pub(crate) fn client(options: &GraphOptions) -> Result<reqwest::Client, DirectoryError> {
    reqwest::Client::builder()
        .use_rustls_tls()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(options.connect_timeout)
        .timeout(options.request_timeout)
        .pool_max_idle_per_host(1)
        .user_agent(concat!("idsync/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| DirectoryError::Other(format!("cannot set up the HTTP client: {e}")))
}

impl Http {
    pub(crate) fn new(
        auth: Auth,
        graph_url: Url,
        options: GraphOptions,
    ) -> Result<Self, DirectoryError> {
        let lanes = (0..options.concurrency.max(1))
            .map(|_| client(&options))
            .collect::<Result<_, _>>()?;
        Ok(Http {
            lanes,
            auth,
            gate: Gate::default(),
            graph_url,
            options,
        })
    }

    pub(crate) fn lanes(&self) -> usize {
        self.lanes.len()
    }

    /// `{graph_url}/v1.0{path}`; `path` starts with `/` and is already percent-encoded.
    pub(crate) fn url(&self, path: &str) -> Result<Url, DirectoryError> {
        let base = self.graph_url.as_str().trim_end_matches('/');
        Url::parse(&format!("{base}/v1.0{path}"))
            .map_err(|e| DirectoryError::Other(format!("invalid Graph URL for {path}: {e}")))
    }

    /// Sends one request on `lane` and reads the answer, retrying as described in the module
    /// documentation. 4xx answers (but 401 and 429) come back as they are.
    pub(crate) async fn send(
        &self,
        lane: usize,
        method: Method,
        url: &Url,
        body: Option<&Value>,
        retry: Retry,
    ) -> Result<Reply, HttpError> {
        self.send_within(lane, method, url, body, retry, self.options.deadline)
            .await
    }

    /// [`Http::send`], with at most `budget` spent without an answer before the first one
    /// (the `$batch` engine passes what is left of its items' deadline); after an answer,
    /// a fresh [`GraphOptions::deadline`](super::GraphOptions::deadline) applies.
    pub(crate) async fn send_within(
        &self,
        lane: usize,
        method: Method,
        url: &Url,
        body: Option<&Value>,
        retry: Retry,
        budget: Duration,
    ) -> Result<Reply, HttpError> {
        // Cannot fail: `lanes` has at least one client (`Http::new`), so `%` is in range.
        let client = &self.lanes[lane % self.lanes.len()];
        let what = format!("{method} {}", url.path());
        let mut failures = 0u32;
        let mut throttled = 0u32;
        let mut refreshed = false;
        let mut silence = Silence::new(budget);
        loop {
            self.gate.wait().await;
            let token = self.auth.token().await?;
            // Getting a token may have taken a while: the gate may have closed meanwhile.
            if self.gate.closed_until().is_some() {
                continue;
            }
            let mut req = client
                .request(method.clone(), url.clone())
                .bearer_auth(token.expose())
                .header("client-request-id", Guid::new_random().to_string())
                .header(reqwest::header::ACCEPT, "application/json");
            if let Some(b) = body {
                req = req.json(b);
            }
            let Some(timeout) = silence.attempt_timeout(self.options.request_timeout) else {
                return Err(no_answer(&what, failures, silence.budget, retry));
            };
            let attempt = Instant::now();
            let outcome = match req.timeout(timeout).send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let headers = resp.headers().clone();
                    match read_limited(resp, MAX_ANSWER_BYTES).await {
                        Ok(Some(body)) => Ok(Reply {
                            status,
                            headers,
                            body,
                        }),
                        Ok(None) => {
                            return Err(DirectoryError::Other(format!(
                                "{what}: the answer is larger than the {MAX_ANSWER_BYTES} bytes idsync reads"
                            ))
                            .into());
                        }
                        Err(e) => Err(e),
                    }
                }
                Err(e) => Err(e),
            };
            let reply = match outcome {
                Ok(r) => {
                    silence = Silence::new(self.options.deadline);
                    r
                }
                Err(e) => {
                    let e = transport_error(&e);
                    failures += 1;
                    silence.spent(attempt.elapsed());
                    let pause = self.backoff(failures);
                    if retry == Retry::Never
                        || failures >= self.options.max_attempts
                        || !silence.allows(pause)
                    {
                        return Err(match retry {
                            Retry::Never => HttpError::Transport(e, silence.spent),
                            // Not a refusal: Graph cannot be reached (apply stops writing then).
                            Retry::Transient => DirectoryError::Unavailable {
                                directory: "Entra",
                                message: format!("{what}: gave up after {failures} attempts: {e}"),
                            }
                            .into(),
                        });
                    }
                    tokio::time::sleep(pause).await;
                    silence.spent(pause);
                    continue;
                }
            };
            match reply.status.as_u16() {
                429 => {
                    throttled += 1;
                    let wait = retry_after(&reply.headers).unwrap_or(self.backoff(throttled));
                    self.gate.block(wait);
                    if throttled >= self.options.max_throttled {
                        return Err(DirectoryError::Other(format!(
                            "{what}: still throttled after {throttled} waits; last: {}",
                            describe_error(&reply)
                        ))
                        .into());
                    }
                }
                401 if !refreshed => {
                    // Expired early or revoked: one fresh token, then the answer stands.
                    refreshed = true;
                    self.auth.invalidate(&token).await;
                }
                500..=599 if retry == Retry::Transient => {
                    failures += 1;
                    if failures >= self.options.max_attempts {
                        return Err(DirectoryError::Unavailable {
                            directory: "Entra",
                            message: format!(
                                "{what}: gave up after {failures} attempts: {}",
                                describe_error(&reply)
                            ),
                        }
                        .into());
                    }
                    let wait = self
                        .backoff(failures)
                        .max(retry_after(&reply.headers).unwrap_or_default());
                    tokio::time::sleep(wait).await;
                }
                _ => return Ok(reply),
            }
        }
    }

    /// The wait before retry `attempt` ([`crate::directory::backoff`] with these options).
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        crate::directory::backoff::backoff(
            self.options.backoff_base,
            self.options.backoff_max,
            attempt,
        )
    }
}

/// `Retry-After` in seconds (Graph sends integers; an HTTP date is not used by Graph).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()
        .and_then(parse_retry_after)
}

/// The most of one Graph answer idsync reads: a page of 999 users with every property is a
/// few MB; a hostile or broken endpoint could otherwise send until memory runs out.
pub(crate) const MAX_ANSWER_BYTES: usize = 256 * 1024 * 1024;

/// An answer's body, or `None` when it is longer than `limit` (not read further).
pub(crate) async fn read_limited(
    mut resp: reqwest::Response,
    limit: usize,
) -> Result<Option<Vec<u8>>, reqwest::Error> {
    let announced = resp.content_length().and_then(|n| usize::try_from(n).ok());
    if announced.is_some_and(|n| n > limit) {
        return Ok(None);
    }
    let mut body = Vec::with_capacity(announced.unwrap_or(0));
    while let Some(chunk) = resp.chunk().await? {
        if body.len().saturating_add(chunk.len()) > limit {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

/// The longest `Retry-After` idsync obeys. Graph's throttling windows are seconds to a few
/// minutes long; a larger value (a broken or hostile proxy: `1e30`) would park a run for
/// ever, so it is cut to this and the retry count still bounds the whole wait.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// A `Retry-After` value: non-negative seconds (fractions allowed), capped at
/// [`MAX_RETRY_AFTER`]; anything else is `None` (the caller backs off on its own).
pub(crate) fn parse_retry_after(v: &str) -> Option<Duration> {
    let secs: f64 = v.trim().parse().ok()?;
    if secs.is_nan() || secs < 0.0 {
        return None;
    }
    // Compared before converting: `Duration::from_secs_f64` panics beyond u64::MAX seconds.
    Some(if secs >= MAX_RETRY_AFTER.as_secs_f64() {
        MAX_RETRY_AFTER
    } else {
        Duration::from_secs_f64(secs)
    })
}

/// `now + wait`, or far in the future when that is beyond what `Instant` can hold.
pub(crate) fn later(wait: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(wait)
        .or_else(|| now.checked_add(MAX_RETRY_AFTER))
        .unwrap_or(now)
}

/// Time spent on one request without an answer (attempts that timed out or failed, and the
/// backoff after them), against the budget it may spend.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Silence {
    pub(crate) budget: Duration,
    spent: Duration,
}

impl Silence {
    pub(crate) fn new(budget: Duration) -> Self {
        Silence {
            budget,
            spent: Duration::ZERO,
        }
    }

    pub(crate) fn spent(&mut self, d: Duration) {
        self.spent = self.spent.saturating_add(d);
    }

    pub(crate) fn left(&self) -> Duration {
        self.budget.saturating_sub(self.spent)
    }

    /// Whether pausing for `pause` still leaves time for another attempt.
    pub(crate) fn allows(&self, pause: Duration) -> bool {
        pause < self.left()
    }

    /// The next attempt's timeout: the per-attempt one, or what is left if less; `None` when
    /// nothing is left.
    pub(crate) fn attempt_timeout(&self, per_attempt: Duration) -> Option<Duration> {
        let left = self.left();
        (!left.is_zero()).then(|| per_attempt.min(left))
    }
}

fn no_answer(what: &str, failures: u32, budget: Duration, retry: Retry) -> HttpError {
    let message = format!(
        "{what}: no answer within {} s ({failures} attempts)",
        budget.as_secs()
    );
    match retry {
        Retry::Never => HttpError::Transport(message, Duration::ZERO),
        Retry::Transient => DirectoryError::Unavailable {
            directory: "Entra",
            message,
        }
        .into(),
    }
}

/// A reqwest error as one line, without the URL's query (it may be long) and never a token
/// (reqwest never puts headers in its errors).
fn transport_error(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else if e.is_body() || e.is_decode() {
        "answer cut short"
    } else {
        "connection failed"
    };
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {detail}")
    }
}

/// Graph's error body (`{"error":{"code","message","innerError":{"request-id"}}}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GraphErrorBody {
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
}

impl GraphErrorBody {
    /// Reads an error body; `headers` supply the request-id when the body has none.
    pub(crate) fn parse(body: Option<&Value>, headers: Option<&Value>, status: u16) -> Self {
        let err = body.and_then(|b| b.get("error"));
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
        let inner = err.and_then(|e| e.get("innerError").or_else(|| e.get("innererror")));
        let header_id = headers.and_then(|h| {
            h.as_object().and_then(|o| {
                o.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("request-id"))
                    .and_then(|(_, v)| v.as_str().map(str::to_owned))
            })
        });
        GraphErrorBody {
            code: text(err.and_then(|e| e.get("code"))).unwrap_or_else(|| format!("HTTP {status}")),
            message: text(err.and_then(|e| e.get("message")))
                .unwrap_or_else(|| format!("Graph answered {status}")),
            request_id: text(inner.and_then(|i| i.get("request-id"))).or(header_id),
        }
    }

    /// `<code>: <message> (request-id …)`.
    pub(crate) fn describe(&self) -> String {
        match &self.request_id {
            Some(id) => format!("{}: {} (request-id {id})", self.code, self.message),
            None => format!("{}: {}", self.code, self.message),
        }
    }

    pub(crate) fn refused(self, object: impl Into<String>) -> DirectoryError {
        DirectoryError::Refused {
            object: object.into(),
            message: self.describe(),
            code: Some(self.code),
        }
    }
}

/// A top-level answer's Graph error, described.
pub(crate) fn reply_error(reply: &Reply) -> GraphErrorBody {
    let headers = reply
        .headers
        .get("request-id")
        .and_then(|v| v.to_str().ok())
        .map(|id| serde_json::json!({ "request-id": id }));
    GraphErrorBody::parse(
        reply.json().as_ref(),
        headers.as_ref(),
        reply.status.as_u16(),
    )
}

fn describe_error(reply: &Reply) -> String {
    format!(
        "{} {}",
        reply.status.as_u16(),
        reply_error(reply).describe()
    )
}

/// `http://` is accepted on loopback hosts only; everything else must be `https://`.
pub(crate) fn check_endpoint(name: &str, raw: &str) -> Result<Url, DirectoryError> {
    let url = Url::parse(raw)
        .map_err(|e| DirectoryError::Other(format!("directories.entra.{name} `{raw}`: {e}")))?;
    let host = url.host_str().unwrap_or("");
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err(DirectoryError::Other(format!(
            "directories.entra.{name} must be https:// (http:// only on loopback addresses), got `{raw}`"
        ))),
    }
}

/// Whether `link` (an `@odata.nextLink`) points at the same Graph endpoint: the bearer token
/// goes only there.
pub(crate) fn same_origin(base: &Url, link: &Url) -> bool {
    base.scheme() == link.scheme()
        && base.host_str().map(str::to_ascii_lowercase)
            == link.host_str().map(str::to_ascii_lowercase)
        && base.port_or_known_default() == link.port_or_known_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_be_tls_unless_loopback() {
        for ok in [
            "https://graph.microsoft.com",
            "http://127.0.0.1:8080",
            "http://127.9.9.9",
            "http://[::1]:80",
            "http://localhost:1",
        ] {
            assert!(check_endpoint("graph_url", ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://graph.microsoft.com",
            "http://10.0.0.1",
            "ftp://127.0.0.1",
            "http://localhost.evil.com",
            "nope",
        ] {
            assert!(check_endpoint("graph_url", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn next_links_stay_on_the_graph_endpoint() {
        let base = Url::parse("https://graph.microsoft.com").unwrap();
        let ok = Url::parse("https://GRAPH.microsoft.com:443/v1.0/users?$skiptoken=x").unwrap();
        assert!(same_origin(&base, &ok));
        for bad in [
            "http://graph.microsoft.com/v1.0/users",
            "https://evil.example.com/v1.0/users",
            "https://graph.microsoft.com:8443/v1.0/users",
        ] {
            assert!(!same_origin(&base, &Url::parse(bad).unwrap()), "{bad}");
        }
    }

    #[test]
    fn retry_after_is_seconds() {
        assert_eq!(parse_retry_after("10"), Some(Duration::from_secs(10)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(parse_retry_after("NaN"), None);
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }

    #[test]
    fn huge_retry_after_values_are_capped_not_a_panic() {
        for huge in [
            "300",
            "301",
            "1e19",
            "18446744073709551616",
            "1e30",
            "inf",
            "1e308",
        ] {
            assert_eq!(parse_retry_after(huge), Some(MAX_RETRY_AFTER), "{huge}");
        }
        assert_eq!(
            parse_retry_after("299.5"),
            Some(Duration::from_millis(299_500))
        );
        // Blocking the gate for the longest wait is fine too (no `Instant` overflow).
        let gate = Gate::default();
        gate.block(Duration::MAX);
        assert!(gate.closed_until().is_some());
    }

    #[test]
    fn silence_bounds_attempts_and_pauses() {
        let per_attempt = Duration::from_secs(30);
        let mut s = Silence::new(Duration::from_secs(55));
        assert_eq!(s.attempt_timeout(per_attempt), Some(per_attempt));
        s.spent(per_attempt);
        assert!(s.allows(Duration::from_secs(1)));
        s.spent(Duration::from_secs(1));
        assert_eq!(
            s.attempt_timeout(per_attempt),
            Some(Duration::from_secs(24))
        );
        s.spent(Duration::from_secs(24));
        assert!(!s.allows(Duration::ZERO));
        assert_eq!(s.attempt_timeout(per_attempt), None);
        s.spent(Duration::MAX); // saturates
        assert_eq!(s.left(), Duration::ZERO);
    }

    #[test]
    fn graph_errors_name_code_message_and_request_id() {
        let body = serde_json::json!({"error": {"code": "Request_BadRequest", "message": "No.",
            "innerError": {"request-id": "r-1", "date": "x"}}});
        let e = GraphErrorBody::parse(Some(&body), None, 400);
        assert_eq!(e.describe(), "Request_BadRequest: No. (request-id r-1)");
        let headers = serde_json::json!({"Request-Id": "r-2"});
        let e = GraphErrorBody::parse(None, Some(&headers), 502);
        assert_eq!(
            e.describe(),
            "HTTP 502: Graph answered 502 (request-id r-2)"
        );
    }

    /// Answers every connection with `reply`, then closes it.
    fn canned(reply: &'static str) -> String {
        use std::io::{Read as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for mut conn in listener.incoming().flatten() {
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf);
                let _ = conn.write_all(reply.as_bytes());
            }
        });
        url
    }

    #[tokio::test]
    async fn answers_are_read_up_to_a_limit() {
        let client = reqwest::Client::new();
        let get = |url: String| {
            let client = client.clone();
            async move { client.get(url).send().await.unwrap() }
        };
        // Announced too long: refused before reading.
        let url =
            canned("HTTP/1.1 200 OK\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhello world");
        assert_eq!(
            read_limited(get(url.clone()).await, 10).await.unwrap(),
            None
        );
        assert_eq!(
            read_limited(get(url).await, 11).await.unwrap().as_deref(),
            Some(&b"hello world"[..])
        );
        // No length announced (chunked): cut off once past the limit.
        let url = canned(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n",
        );
        assert_eq!(read_limited(get(url).await, 10).await.unwrap(), None);
    }

    #[tokio::test]
    async fn the_gate_holds_until_its_instant() {
        let gate = Gate::default();
        assert!(gate.closed_until().is_none());
        gate.block(Duration::from_millis(60));
        gate.block(Duration::from_millis(10)); // a shorter block does not shorten it
        let start = Instant::now();
        gate.wait().await;
        assert!(start.elapsed() >= Duration::from_millis(55));
    }
}
