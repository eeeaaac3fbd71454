//! OAuth2 client credentials against the Microsoft identity platform
//! (`{login_url}/{tenant}/oauth2/v2.0/token`, `scope={graph_url}/.default`), with a client
//! secret or a federated client assertion (workload identity federation, as CI runners
//! provide it in a file that they renew: it is read again on every refresh).
//!
//! The token is cached and refreshed before it expires; concurrent callers share one refresh.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::Url;
use serde_json::Value;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::GraphOptions;
use crate::directory::{DirectoryError, Secret};
use crate::files::read::ReadError;
use crate::secret::SecretSource;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Refresh this long before expiry, at most (a quarter of the lifetime for short ones).
const REFRESH_EARLY: Duration = Duration::from_secs(300);

/// The longest token lifetime idsync believes. Entra's access tokens live 60–90 minutes (at
/// most a day with a token lifetime policy); a larger `expires_in` (`u64::MAX` from a broken
/// or hostile endpoint) would overflow the refresh instant, and a token kept that long
/// would outlive its revocation.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// The most of a token answer idsync reads (a token is a few KB).
const MAX_TOKEN_ANSWER_BYTES: usize = 1024 * 1024;

/// The most of a federated token file (a JWT, a few KB) idsync reads.
const MAX_ASSERTION_BYTES: u64 = 64 * 1024;

/// How the app proves who it is.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A client secret (never shown).
    ClientSecret(SecretSource),
    /// A file holding the client assertion (a JWT from the CI's identity provider).
    FederatedTokenFile(PathBuf),
}

#[derive(Clone)]
struct Cached {
    token: Secret,
    refresh_at: Instant,
}

/// Gets and caches access tokens. Never shows a secret, an assertion or a token.
pub(crate) struct Auth {
    client: reqwest::Client,
    token_url: Url,
    tenant_id: String,
    client_id: String,
    scope: String,
    credential: Credential,
    options: GraphOptions,
    cache: Mutex<Option<Cached>>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("token_url", &self.token_url.as_str())
            .field("client_id", &self.client_id)
            .field("credential", &self.credential)
            .finish_non_exhaustive()
    }
}

impl Auth {
    pub(crate) fn new(
        login_url: &Url,
        graph_url: &Url,
        tenant_id: &str,
        client_id: &str,
        credential: Credential,
        options: GraphOptions,
    ) -> Result<Self, DirectoryError> {
        let base = login_url.as_str().trim_end_matches('/');
        let tenant: String =
            percent_encoding::utf8_percent_encode(tenant_id, percent_encoding::NON_ALPHANUMERIC)
                .collect();
        let token_url = Url::parse(&format!("{base}/{tenant}/oauth2/v2.0/token"))
            .map_err(|e| DirectoryError::Other(format!("invalid token URL: {e}")))?;
        Ok(Auth {
            client: super::http::client(&options)?,
            token_url,
            tenant_id: tenant_id.to_owned(),
            client_id: client_id.to_owned(),
            scope: format!(
                "{}/.default",
                options
                    .token_resource
                    .as_deref()
                    .unwrap_or(graph_url.as_str())
                    .trim_end_matches('/')
            ),
            credential,
            options,
            cache: Mutex::new(None),
        })
    }

    /// A token valid for a while yet, fetched if needed.
    pub(crate) async fn token(&self) -> Result<Secret, DirectoryError> {
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.as_ref()
            && Instant::now() < c.refresh_at
        {
            return Ok(c.token.clone());
        }
        let fresh = self.fetch().await?;
        let token = fresh.token.clone();
        *cache = Some(fresh);
        Ok(token)
    }

    /// Forgets `stale` (Graph refused it), unless another caller already replaced it.
    pub(crate) async fn invalidate(&self, stale: &Secret) {
        let mut cache = self.cache.lock().await;
        if cache.as_ref().is_some_and(|c| &c.token == stale) {
            *cache = None;
        }
    }

    fn what(&self) -> String {
        format!("Entra tenant {}", self.tenant_id)
    }

    /// One token request, retried (bounded) when the endpoint is unreachable or failing.
    async fn fetch(&self) -> Result<Cached, DirectoryError> {
        let mut failures = 0u32;
        let mut silence = super::http::Silence::new(self.options.deadline);
        let mut last_failure = String::new();
        loop {
            let Some(timeout) = silence.attempt_timeout(self.options.request_timeout) else {
                return Err(DirectoryError::Other(format!(
                    "{}: no token from {} within {} s ({failures} attempts): {last_failure}",
                    self.what(),
                    self.token_url,
                    self.options.deadline.as_secs()
                )));
            };
            // The clock starts before the request, so the token is never older than we think.
            let sent = Instant::now();
            let form = self.form()?;
            let result = self
                .client
                .post(self.token_url.clone())
                .form(&form)
                .timeout(timeout)
                .send()
                .await;
            let failure = match result {
                Ok(resp) => {
                    // An answer (its body may still be cut short): the silence starts again.
                    silence = super::http::Silence::new(self.options.deadline);
                    let status = resp.status();
                    match super::http::read_limited(resp, MAX_TOKEN_ANSWER_BYTES).await {
                        Ok(None) => {
                            return Err(DirectoryError::Other(format!(
                                "{}: the answer from {} is larger than {MAX_TOKEN_ANSWER_BYTES} bytes",
                                self.what(),
                                self.token_url
                            )));
                        }
                        Ok(Some(body)) if status.is_success() => return self.parse(&body, sent),
                        Ok(Some(body)) if status.is_client_error() => {
                            return Err(token_error(&self.what(), status.as_u16(), &body));
                        }
                        Ok(Some(body)) => format!(
                            "{} {}",
                            status.as_u16(),
                            token_error(&self.what(), status.as_u16(), &body)
                        ),
                        Err(e) => e.to_string(),
                    }
                }
                Err(e) if e.is_timeout() => "timed out".to_owned(),
                Err(e) if e.is_connect() => format!("cannot connect to {}", self.token_url),
                Err(_) => "connection failed".to_owned(),
            };
            failures += 1;
            silence.spent(sent.elapsed());
            let step = crate::directory::backoff::backoff(
                self.options.backoff_base,
                self.options.backoff_max,
                failures,
            );
            if failures >= self.options.max_attempts || !silence.allows(step) {
                return Err(DirectoryError::Other(format!(
                    "{}: no token from {} after {failures} attempts: {failure}",
                    self.what(),
                    self.token_url
                )));
            }
            tokio::time::sleep(step).await;
            silence.spent(step);
            last_failure = failure;
        }
    }

    fn form(&self) -> Result<Vec<(&'static str, String)>, DirectoryError> {
        let mut form = vec![
            ("grant_type", "client_credentials".to_owned()),
            ("client_id", self.client_id.clone()),
            ("scope", self.scope.clone()),
        ];
        match &self.credential {
            Credential::ClientSecret(source) => {
                let secret = source.read().map_err(|m| {
                    DirectoryError::Other(format!("{}: client secret: {m}", self.what()))
                })?;
                form.push(("client_secret", secret.expose().to_owned()));
            }
            Credential::FederatedTokenFile(path) => {
                // Re-read every time: the runner renews the file before the assertion expires.
                // A regular file of bounded size: the path may come from the desired state.
                let assertion = crate::files::read::read_regular_file(path, MAX_ASSERTION_BYTES)
                    .map_err(|e| match e {
                        ReadError::Open { source, .. } | ReadError::Read { source, .. } => {
                            DirectoryError::io(
                                format!("cannot read federated token file {}", path.display()),
                                source,
                            )
                        }
                        other => DirectoryError::Other(format!("federated token file: {other}")),
                    })?;
                let assertion = String::from_utf8(assertion).map_err(|_| {
                    DirectoryError::Other(format!(
                        "federated token file {} is not UTF-8 text",
                        path.display()
                    ))
                })?;
                let assertion = assertion.trim();
                if assertion.is_empty() {
                    return Err(DirectoryError::Other(format!(
                        "federated token file {} is empty",
                        path.display()
                    )));
                }
                form.push(("client_assertion_type", JWT_BEARER.to_owned()));
                form.push(("client_assertion", assertion.to_owned()));
            }
        }
        Ok(form)
    }

    fn parse(&self, body: &[u8], sent: Instant) -> Result<Cached, DirectoryError> {
        let bad = |why: &str| {
            DirectoryError::Other(format!(
                "{}: unexpected token answer from {}: {why}",
                self.what(),
                self.token_url
            ))
        };
        let v: Value = serde_json::from_slice(body).map_err(|_| bad("not JSON"))?;
        let token = v
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| bad("no access_token"))?;
        if let Some(kind) = v.get("token_type").and_then(Value::as_str)
            && !kind.eq_ignore_ascii_case("bearer")
        {
            return Err(bad("token_type is not Bearer"));
        }
        let lifetime = token_lifetime(v.get("expires_in")).ok_or_else(|| bad("no expires_in"))?;
        let early = REFRESH_EARLY.min(lifetime / 4);
        // Cannot overflow: the lifetime is capped at a day (`checked_add` for certainty).
        let refresh_at = sent
            .checked_add(lifetime.saturating_sub(early))
            .unwrap_or(sent);
        Ok(Cached {
            token: Secret::new(token),
            refresh_at,
        })
    }
}

/// A token answer's `expires_in` (seconds), capped at [`MAX_TOKEN_LIFETIME`]. Entra sends a
/// number; some proxies turn it into a string.
fn token_lifetime(v: Option<&Value>) -> Option<Duration> {
    let secs = match v? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }?;
    Some(Duration::from_secs(secs).min(MAX_TOKEN_LIFETIME))
}

/// The identity platform's error answer as one line: `AADSTS7000215: Invalid client secret
/// provided. … (invalid_client, trace ID …)`. Its description never holds the credential.
fn token_error(what: &str, status: u16, body: &[u8]) -> DirectoryError {
    let v: Option<Value> = serde_json::from_slice(body).ok();
    let field = |name: &str| {
        v.as_ref()
            .and_then(|v| v.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let error = field("error");
    // The description ends with "\r\nTrace ID: …\r\nCorrelation ID: …\r\nTimestamp: …".
    let description = field("error_description")
        .map(|d| d.lines().next().unwrap_or_default().trim().to_owned())
        .filter(|d| !d.is_empty());
    let code = description
        .as_deref()
        .and_then(|d| d.split(':').next())
        .filter(|c| c.starts_with("AADSTS"))
        .map(str::to_owned)
        .or_else(|| {
            v.as_ref()
                .and_then(|v| v.get("error_codes"))
                .and_then(|c| c.get(0))
                .and_then(Value::as_u64)
                .map(|c| format!("AADSTS{c}"))
        });
    let mut message = format!(
        "sign-in refused ({status}): {}",
        description.unwrap_or_else(|| "no error description".to_owned())
    );
    let mut extra = Vec::new();
    if let Some(e) = error {
        extra.push(e);
    }
    if let Some(t) = field("trace_id") {
        extra.push(format!("trace ID {t}"));
    }
    if !extra.is_empty() {
        message.push_str(&format!(" ({})", extra.join(", ")));
    }
    DirectoryError::Refused {
        object: what.to_owned(),
        message,
        code: code.or(field("error")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_lifetimes_are_capped_at_a_day() {
        use serde_json::json;
        let life = |v: Value| token_lifetime(Some(&v));
        assert_eq!(life(json!(3599)), Some(Duration::from_secs(3599)));
        assert_eq!(life(json!("3599")), Some(Duration::from_secs(3599)));
        assert_eq!(life(json!(u64::MAX)), Some(MAX_TOKEN_LIFETIME));
        assert_eq!(life(json!(u64::MAX.to_string())), Some(MAX_TOKEN_LIFETIME));
        assert_eq!(life(json!(-1)), None);
        assert_eq!(life(json!("1e30")), None);
        assert_eq!(life(json!(null)), None);
        assert_eq!(token_lifetime(None), None);
    }

    #[test]
    fn token_errors_keep_the_aadsts_line() {
        let body = serde_json::json!({
            "error": "invalid_client",
            "error_description": "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: t-1\r\nCorrelation ID: c\r\nTimestamp: x",
            "error_codes": [7000215],
            "trace_id": "t-1",
        });
        let e = token_error("Entra tenant x", 401, body.to_string().as_bytes());
        assert_eq!(
            e.to_string(),
            "Entra tenant x: sign-in refused (401): AADSTS7000215: Invalid client secret provided. (invalid_client, trace ID t-1)"
        );
        assert!(matches!(e, DirectoryError::Refused { code: Some(c), .. } if c == "AADSTS7000215"));
        let e = token_error("t", 400, b"<html>");
        assert_eq!(
            e.to_string(),
            "t: sign-in refused (400): no error description"
        );
    }
}
