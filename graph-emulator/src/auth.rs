//! The Microsoft identity platform's client-credentials token endpoint and Graph's bearer
//! check, as documented in
//! <https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow> and
//! <https://learn.microsoft.com/entra/identity-platform/reference-error-codes>.

use crate::error::GraphError;
use crate::time::Utc;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::TryRngCore;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};

pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The app registration the emulated tenant knows.
#[derive(Debug, Clone)]
pub struct AppCredentials {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: String,
    pub federated_assertion: Option<String>,
    /// Tenant names accepted in the URL besides the id (verified domains).
    pub tenant_aliases: Vec<String>,
    /// Resource identifiers accepted before `/.default` besides `https://graph.microsoft.com`.
    pub resources: Vec<String>,
}

/// A token endpoint error as Entra returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenError {
    pub status: u16,
    pub error: &'static str,
    pub code: u32,
    pub description: String,
}

impl TokenError {
    fn new(status: u16, error: &'static str, code: u32, description: impl Into<String>) -> Self {
        TokenError {
            status,
            error,
            code,
            description: description.into(),
        }
    }

    /// The JSON body with `error_codes`, `timestamp`, `trace_id`, `correlation_id`, `error_uri`.
    pub fn body(&self, trace_id: &str, correlation_id: &str) -> Value {
        let now = Utc::now().entra_timestamp();
        json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {}\r\nTrace ID: {}\r\nCorrelation ID: {}\r\nTimestamp: {}",
                self.code, self.description, trace_id, correlation_id, now
            ),
            "error_codes": [self.code],
            "timestamp": now,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.code),
        })
    }
}

#[derive(Debug, Clone)]
struct Issued {
    client_id: String,
    expires: Instant,
}

/// Issued tokens: opaque random strings mapped to their app and expiry.
#[derive(Debug, Default)]
pub struct TokenStore {
    tokens: HashMap<String, Issued>,
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BearerError {
    Missing,
    Invalid,
    Expired,
}

impl BearerError {
    /// Graph's 401 for each case (code `InvalidAuthenticationToken`).
    pub fn graph_error(&self) -> GraphError {
        let message = match self {
            BearerError::Missing => "Access token is empty.",
            BearerError::Invalid => "CompactToken parsing failed with error code: 80049217",
            BearerError::Expired => "Lifetime validation failed, the token is expired.",
        };
        GraphError::new(401, "InvalidAuthenticationToken", message)
    }
}

impl TokenStore {
    pub fn issue(&mut self, client_id: &str, lifetime: Duration) -> String {
        let mut bytes = [0u8; 48];
        // Cannot fail on a working OS; without randomness no token can be issued at all.
        rand::rngs::OsRng
            .try_fill_bytes(&mut bytes)
            // Cannot fail on a working OS: a test double with no randomness cannot mint tokens at all.
            .expect("OS randomness");
        let token = URL_SAFE_NO_PAD.encode(bytes);
        let now = Instant::now();
        // Forget long-expired tokens so a long benchmark does not grow the map forever.
        self.tokens
            .retain(|_, t| t.expires + Duration::from_secs(3600) > now);
        self.tokens.insert(
            token.clone(),
            Issued {
                client_id: client_id.to_string(),
                expires: now + lifetime,
            },
        );
        token
    }

    /// The app (client id) behind an `Authorization` header value.
    pub fn check(&self, authorization: Option<&str>) -> Result<String, BearerError> {
        let raw = authorization.map(str::trim).unwrap_or("");
        let token = match raw.split_once(' ') {
            Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") => t.trim(),
            _ if raw.is_empty() => return Err(BearerError::Missing),
            _ => return Err(BearerError::Invalid),
        };
        if token.is_empty() {
            return Err(BearerError::Missing);
        }
        match self.tokens.get(token) {
            None => Err(BearerError::Invalid),
            Some(t) if Instant::now() >= t.expires => Err(BearerError::Expired),
            Some(t) => Ok(t.client_id.clone()),
        }
    }
}

fn param<'a>(form: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    form.get(name).map(String::as_str).filter(|v| !v.is_empty())
}

fn missing(name: &str) -> TokenError {
    TokenError::new(
        400,
        "invalid_request",
        900144,
        format!("The request body must contain the following parameter: '{name}'."),
    )
}

/// The `iss` claim of a JWT, if `s` is one.
fn jwt_issuer(s: &str) -> Option<String> {
    let mut parts = s.split('.');
    let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.get("iss").and_then(Value::as_str).map(str::to_string)
}

/// Validates a client-credentials request; returns the client id to issue a token for.
/// `basic` is the decoded `Authorization: Basic` pair (RFC 6749 2.3.1), which Entra accepts
/// instead of `client_secret` in the body.
pub fn check_token_request(
    app: &AppCredentials,
    tenant: &str,
    form: &HashMap<String, String>,
    basic: Option<(String, String)>,
) -> Result<String, TokenError> {
    let tenant_known = tenant.eq_ignore_ascii_case(&app.tenant_id)
        || app
            .tenant_aliases
            .iter()
            .any(|a| a.eq_ignore_ascii_case(tenant));
    if !tenant_known {
        return Err(TokenError::new(
            400,
            "invalid_request",
            90002,
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
            ),
        ));
    }
    let grant = param(form, "grant_type").ok_or_else(|| missing("grant_type"))?;
    if grant != "client_credentials" {
        return Err(TokenError::new(
            400,
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{grant}'."),
        ));
    }
    let (basic_id, basic_secret) = match basic {
        Some((i, s)) => (Some(i), Some(s)),
        None => (None, None),
    };
    let client_id = param(form, "client_id")
        .map(str::to_string)
        .or(basic_id)
        .ok_or_else(|| missing("client_id"))?;
    let scope = param(form, "scope").ok_or_else(|| missing("scope"))?;
    if !client_id.eq_ignore_ascii_case(&app.client_id) {
        return Err(TokenError::new(
            400,
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
        ));
    }
    // Client credentials take exactly one resource's `/.default`.
    let resource = match scope.strip_suffix("/.default") {
        Some(r) if !scope.contains(' ') => r.trim_end_matches('/'),
        _ => {
            return Err(TokenError::new(
                400,
                "invalid_scope",
                1002012,
                format!(
                    "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
                ),
            ));
        }
    };
    let known_resource = resource.eq_ignore_ascii_case("https://graph.microsoft.com")
        || resource == "00000003-0000-0000-c000-000000000000"
        || app
            .resources
            .iter()
            .any(|r| r.trim_end_matches('/').eq_ignore_ascii_case(resource));
    if !known_resource {
        return Err(TokenError::new(
            400,
            "invalid_resource",
            500011,
            format!(
                "The resource principal named {resource} was not found in the tenant named {tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant."
            ),
        ));
    }
    let secret = param(form, "client_secret")
        .map(str::to_string)
        .or(basic_secret);
    let assertion = param(form, "client_assertion");
    let assertion_type = param(form, "client_assertion_type");
    match (secret, assertion) {
        (Some(s), _) => {
            if s != app.client_secret {
                return Err(TokenError::new(
                    401,
                    "invalid_client",
                    7000215,
                    format!(
                        "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                        app.client_id
                    ),
                ));
            }
        }
        (None, Some(a)) if assertion_type == Some(JWT_BEARER) => {
            if app.federated_assertion.as_deref() != Some(a) {
                return Err(match jwt_issuer(a) {
                    Some(iss) => TokenError::new(
                        400,
                        "invalid_client",
                        700211,
                        format!(
                            "No matching federated identity record found for presented assertion issuer '{iss}'. Please note that the matching is done using a case-sensitive comparison. Check your federated identity credential setup."
                        ),
                    ),
                    None => TokenError::new(
                        400,
                        "invalid_request",
                        50027,
                        "JWT token is invalid or malformed.",
                    ),
                });
            }
        }
        _ => {
            return Err(TokenError::new(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            ));
        }
    }
    Ok(app.client_id.clone())
}

/// Decodes `Authorization: Basic base64(id:secret)` (form-urlencoded parts, per RFC 6749).
pub fn parse_basic(header: Option<&str>) -> Option<(String, String)> {
    let h = header?.trim();
    let (scheme, rest) = h.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(rest.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let dec = |s: &str| {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((dec(id), dec(secret)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> AppCredentials {
        AppCredentials {
            tenant_id: "t".into(),
            client_id: "c".into(),
            client_secret: "s".into(),
            federated_assertion: Some("fed".into()),
            tenant_aliases: vec![],
            resources: vec!["http://127.0.0.1:1".into()],
        }
    }

    fn form(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn codes() {
        let ok = [
            ("grant_type", "client_credentials"),
            ("client_id", "c"),
            ("scope", "https://graph.microsoft.com/.default"),
        ];
        let mut f = form(&ok);
        f.insert("client_secret".into(), "s".into());
        assert_eq!(check_token_request(&app(), "t", &f, None).unwrap(), "c");
        assert_eq!(
            check_token_request(&app(), "x", &f, None).unwrap_err().code,
            90002
        );
        f.insert("client_secret".into(), "bad".into());
        assert_eq!(
            check_token_request(&app(), "t", &f, None).unwrap_err().code,
            7000215
        );
        let mut f = form(&ok);
        f.insert("client_assertion_type".into(), JWT_BEARER.into());
        f.insert("client_assertion".into(), "fed".into());
        assert!(check_token_request(&app(), "t", &f, None).is_ok());
        f.insert("scope".into(), "http://127.0.0.1:1/.default".into());
        assert!(check_token_request(&app(), "t", &f, None).is_ok());
        f.insert(
            "scope".into(),
            "https://graph.microsoft.com/User.Read".into(),
        );
        assert_eq!(
            check_token_request(&app(), "t", &f, None).unwrap_err().code,
            1002012
        );
    }

    #[test]
    fn bearer() {
        let mut s = TokenStore::default();
        let t = s.issue("c", Duration::from_secs(60));
        assert_eq!(s.check(Some(&format!("Bearer {t}"))).unwrap(), "c");
        assert_eq!(s.check(None).unwrap_err(), BearerError::Missing);
        assert_eq!(
            s.check(Some("Bearer nope")).unwrap_err(),
            BearerError::Invalid
        );
        let t = s.issue("c", Duration::ZERO);
        assert_eq!(
            s.check(Some(&format!("Bearer {t}"))).unwrap_err(),
            BearerError::Expired
        );
    }
}
