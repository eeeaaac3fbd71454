//! Graph's error answers: `{"error":{"code","message",("details"),"innerError":{…}}}`, with the
//! codes and messages Graph uses for the refusals both fakes make
//! (<https://learn.microsoft.com/graph/errors>).

use serde_json::{Value, json};

/// Graph's message for an update of a property Entra Connect masters on a synced user.
pub const SYNCED_OBJECT_MESSAGE: &str = "Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration.";

/// Optional members of a Graph error body.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ErrorExtra {
    /// Graph puts `details` on some errors (ObjectConflict on duplicates).
    pub details: Option<Value>,
    /// Extra `innerError` members (the 429 body carries `code`, `message`, `status` there).
    pub inner: Option<serde_json::Map<String, Value>>,
}

/// A Graph error answer before the per-request `innerError` is attached.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphError {
    pub status: u16,
    pub code: String,
    pub message: String,
    /// Rarely used parts, boxed to keep `Result<_, GraphError>` small.
    pub extra: Option<Box<ErrorExtra>>,
    /// Seconds for a `Retry-After` header (429, 503).
    pub retry_after: Option<u64>,
}

impl GraphError {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        GraphError {
            status,
            code: code.to_string(),
            message: message.into(),
            extra: None,
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "Request_BadRequest", message)
    }

    pub fn unsupported_query(message: impl Into<String>) -> Self {
        Self::new(400, "Request_UnsupportedQuery", message)
    }

    /// 404 for a user that does not exist, as directory objects answer it.
    pub fn not_found(key: &str) -> Self {
        Self::new(
            404,
            "Request_ResourceNotFound",
            format!(
                "Resource '{key}' does not exist or one of its queried reference-property objects are not present."
            ),
        )
    }

    /// 400 with the ObjectConflict detail Graph adds for a taken unique property.
    pub fn conflict(property: &str) -> Self {
        let message =
            format!("Another object with the same value for property {property} already exists.");
        let mut e = Self::bad_request(message.clone());
        e.extra = Some(Box::new(ErrorExtra {
            details: Some(
                json!([{ "code": "ObjectConflict", "message": message, "target": property }]),
            ),
            inner: None,
        }));
        e
    }

    pub fn invalid_value(property: &str) -> Self {
        Self::bad_request(format!(
            "Invalid value specified for property '{property}' of resource 'User'."
        ))
    }

    pub fn read_only(property: &str) -> Self {
        Self::bad_request(format!(
            "Property '{property}' is read-only and cannot be set."
        ))
    }

    /// A create without one of the properties Graph requires (an empty string counts as
    /// missing).
    pub fn required(property: &str) -> Self {
        Self::bad_request(format!(
            "Property {property} value is required but is empty or missing."
        ))
    }

    /// A write body naming a property the `user` resource does not have.
    pub fn invalid_property(property: &str) -> Self {
        Self::bad_request(format!("Invalid property '{property}'."))
    }

    /// A create whose `passwordProfile` holds no password.
    pub fn password_required() -> Self {
        Self::bad_request(
            "Property passwordProfile.password value is required but is empty or missing.",
        )
    }

    /// A userPrincipalName outside the tenant's verified domains.
    pub fn unverified_domain() -> Self {
        Self::bad_request(
            "The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization.",
        )
    }

    /// Graph's message for an update of a property Entra Connect masters on a synced user.
    pub fn synced_object() -> Self {
        Self::bad_request(SYNCED_OBJECT_MESSAGE)
    }

    pub fn unsupported_filter_property(property: &str) -> Self {
        Self::unsupported_query(format!(
            "Unsupported or invalid query filter clause specified for property '{property}' of resource 'User'."
        ))
    }

    /// An operator that Graph serves only as an advanced query.
    pub fn needs_advanced_query(operator: &str) -> Self {
        Self::unsupported_query(format!(
            "Operator '{operator}' is not supported because the required parameters might be missing. Try adding $count=true query parameter and ConsistencyLevel:eventual header. Refer to https://aka.ms/graph-docs/advanced-queries for more information"
        ))
    }

    pub fn too_many_requests(retry_after: u64) -> Self {
        let mut e = Self::new(429, "TooManyRequests", "Please retry again later.");
        let mut inner = serde_json::Map::new();
        inner.insert("code".into(), json!("429"));
        inner.insert("message".into(), json!("Please retry after"));
        inner.insert("status".into(), json!("429"));
        e.extra = Some(Box::new(ErrorExtra {
            details: None,
            inner: Some(inner),
        }));
        e.retry_after = Some(retry_after);
        e
    }

    pub fn service_unavailable(retry_after: u64) -> Self {
        let mut e = Self::new(
            503,
            "serviceNotAvailable",
            "The service is temporarily unavailable. Try the request again after a delay.",
        );
        e.retry_after = Some(retry_after);
        e
    }

    /// The JSON body: `{"error":{"code","message",("details"),"innerError":{...}}}`.
    pub fn body(&self, request_id: &str, client_request_id: &str, date: &str) -> Value {
        let mut inner = serde_json::Map::new();
        inner.insert("date".into(), json!(date));
        inner.insert("request-id".into(), json!(request_id));
        inner.insert("client-request-id".into(), json!(client_request_id));
        if let Some(extra) = self.extra.as_ref().and_then(|x| x.inner.as_ref()) {
            for (k, v) in extra {
                inner.insert(k.clone(), v.clone());
            }
        }
        let mut err = serde_json::Map::new();
        err.insert("code".into(), json!(self.code));
        err.insert("message".into(), json!(self.message));
        if let Some(d) = self.extra.as_ref().and_then(|x| x.details.as_ref()) {
            err.insert("details".into(), d.clone());
        }
        err.insert("innerError".into(), Value::Object(inner));
        json!({ "error": err })
    }
}
