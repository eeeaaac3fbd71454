//! Errors: the library's own, and Graph's error responses.

use serde_json::{Value, json};

/// Failures of the emulator itself (not Graph answers).
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("cannot read tenant file {path}: {source}")]
    ReadTenant {
        path: String,
        source: std::io::Error,
    },
    #[error("tenant file {path} is not valid JSON: {source}")]
    ParseTenant {
        path: String,
        source: serde_json::Error,
    },
    #[error("invalid tenant: {0}")]
    InvalidTenant(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot start runtime: {0}")]
    Runtime(std::io::Error),
    #[error("invalid configuration: {0}")]
    Config(String),
}

pub type Result<T, E = EmulatorError> = std::result::Result<T, E>;

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

    pub fn synced_object() -> Self {
        Self::bad_request(
            "Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration.",
        )
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
