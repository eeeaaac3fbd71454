//! Live Entra ID over Microsoft Graph: auth ([`auth`]), one HTTP exchange with its retries
//! ([`http`]), the `$batch` engine ([`batch`]), reads ([`read`]) and writes ([`write`]).
//!
//! Everything runs on the caller's task (futures awaited in place, nothing spawned), so the
//! CLI's current-thread runtime is enough.

mod auth;
mod batch;
mod groups;
mod http;
mod read;
mod tenant;
mod write;

use std::sync::Arc;
use std::time::Duration;

use crate::directory::model::ObjectKind;
use crate::directory::tenant_docs::TenantDocs;
use crate::directory::{
    CloudUser, DirectoryError, EntraOp, EntraUserRead, EntraUserWrite, Flush, NoProgress,
    ProgressSink, Tenant, TenantRead,
};

pub use auth::Credential;

use auth::Auth;
use http::Http;

/// Tuning of the Graph client. The defaults suit Entra ID; tests shorten the waits.
#[derive(Debug, Clone)]
pub struct GraphOptions {
    /// `$batch` requests in flight at most (each on its own connection); throttling lowers
    /// it for a while.
    pub concurrency: usize,
    /// `$top` of user reads (Graph allows 1–999).
    pub page_size: u32,
    /// Attempts of one request whose outcome was unknown (5xx, timeout, dropped connection).
    pub max_attempts: u32,
    /// 429 answers one request may get before idsync gives up on it.
    pub max_throttled: u32,
    /// First backoff step (doubled per attempt, with jitter) and the largest.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    pub connect_timeout: Duration,
    /// One attempt, answer included.
    pub request_timeout: Duration,
    /// How long one request (a token request, a Graph request, an item of a `$batch`) may go
    /// without any answer, attempts and backoff between them included: an endpoint that
    /// accepts connections and never answers fails after this. Throttling waits do not count:
    /// a 429 is an answer.
    pub deadline: Duration,
    /// The resource tokens are asked for (`{resource}/.default`), when it is not `graph_url`
    /// itself: e.g. Graph reached through a gateway that forwards to graph.microsoft.com.
    pub token_resource: Option<String>,
}

impl Default for GraphOptions {
    fn default() -> Self {
        GraphOptions {
            concurrency: 4,
            page_size: 999,
            max_attempts: 6,
            max_throttled: 30,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            // Graph answers a page of 999 users in a few seconds; 30 s leaves room for a slow
            // day, and two attempts still fit the deadline (DESIGN.md: within a minute).
            request_timeout: Duration::from_secs(30),
            deadline: Duration::from_secs(55),
            token_resource: None,
        }
    }
}

/// Which tenant and app, and where the endpoints are. The CLI builds it from the desired
/// state (`directories.entra`); the connector owns the shape, so `directory` never reads
/// `desired`.
#[derive(Debug, Clone)]
pub struct Settings {
    pub tenant_id: String,
    pub client_id: String,
    pub credential: Credential,
    /// The identity platform (`https://login.microsoftonline.com` in the public cloud).
    pub login_url: String,
    /// Graph itself (`https://graph.microsoft.com`).
    pub graph_url: String,
}

/// Properties every read asks for: `CloudUser` cannot exist without them.
const IDENTIFYING: &[&str] = &["id", "userPrincipalName"];

/// A client for one tenant.
pub struct GraphDirectory {
    http: Http,
    graph_url: String,
    /// The `$select` of single-user reads: the last `read_users` selection, or [`set_select`].
    ///
    /// [`set_select`]: GraphDirectory::set_select
    select: String,
    progress: Arc<dyn ProgressSink>,
}

impl std::fmt::Debug for GraphDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphDirectory")
            .field("graph_url", &self.graph_url)
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

impl GraphDirectory {
    /// Connects with the default options; a token is fetched at once, so a wrong secret or
    /// tenant fails here.
    pub async fn connect(config: &Settings) -> Result<Self, DirectoryError> {
        Self::connect_with(config, GraphOptions::default()).await
    }

    pub async fn connect_with(
        config: &Settings,
        options: GraphOptions,
    ) -> Result<Self, DirectoryError> {
        let login_url = http::check_endpoint("login_url", &config.login_url)?;
        let graph_url = http::check_endpoint("graph_url", &config.graph_url)?;
        if !(1..=999).contains(&options.page_size) {
            return Err(DirectoryError::Other(format!(
                "Graph page size must be 1–999, got {}",
                options.page_size
            )));
        }
        let auth = Auth::new(
            &login_url,
            &graph_url,
            &config.tenant_id,
            &config.client_id,
            config.credential.clone(),
            options.clone(),
        )?;
        let http = Http::new(auth, graph_url, options)?;
        http.auth.token().await?;
        Ok(GraphDirectory {
            http,
            graph_url: config.graph_url.clone(),
            select: select_list(&[])?,
            progress: Arc::new(NoProgress),
        })
    }

    pub fn graph_url(&self) -> &str {
        &self.graph_url
    }

    /// Where progress of long reads and writes goes (nowhere by default).
    pub fn set_progress(&mut self, progress: Arc<dyn ProgressSink>) {
        self.progress = progress;
    }

    /// The properties `read_user`, `read_users_by_id` and the lookups of writes return, until
    /// the next `read_users`. A saved plan's preconditions hash what the plan read, so a later
    /// re-read must select the same properties.
    pub fn set_select(&mut self, select: &[String]) -> Result<(), DirectoryError> {
        self.select = select_list(select)?;
        Ok(())
    }
}

/// `$select` value: the identifying properties, then the asked ones, each once (Graph
/// matches names without regard to case).
fn select_list(select: &[String]) -> Result<String, DirectoryError> {
    let mut out: Vec<&str> = IDENTIFYING.to_vec();
    for name in select {
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if !valid {
            return Err(DirectoryError::Other(format!(
                "`{name}` is not a Graph property name"
            )));
        }
        if !out.iter().any(|o| o.eq_ignore_ascii_case(name)) {
            out.push(name);
        }
    }
    Ok(out.join(","))
}

/// One path segment, percent-encoded (ids are GUIDs; a UPN may hold `#` or `'`).
fn path_segment(s: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~')
        .remove(b'@');
    percent_encoding::utf8_percent_encode(s, SEGMENT).collect()
}

/// `/{collection}/{id}`: one object of the kind, its id (or a user's UPN) as one segment.
fn object_path(kind: ObjectKind, id: &str) -> String {
    format!("/{}/{}", kind.graph_collection(), path_segment(id))
}

impl EntraUserRead for GraphDirectory {
    async fn read_users(&mut self, select: &[String]) -> Result<Vec<CloudUser>, DirectoryError> {
        self.select = select_list(select)?;
        read::all_users(&self.http, &self.select, &*self.progress).await
    }

    async fn read_user(&mut self, id: &str) -> Result<Option<CloudUser>, DirectoryError> {
        read::one_user(&self.http, id, &self.select).await
    }

    async fn read_users_by_id(
        &mut self,
        ids: &[String],
    ) -> Result<Vec<Option<CloudUser>>, DirectoryError> {
        read::users_by_id(&self.http, ids, &self.select, &*self.progress).await
    }
}

impl EntraUserWrite for GraphDirectory {
    async fn write_users(
        &mut self,
        writes: Vec<EntraOp>,
    ) -> Vec<Result<Option<CloudUser>, DirectoryError>> {
        write::users(&self.http, writes, &self.select, &*self.progress).await
    }
}

impl Flush for GraphDirectory {
    /// Graph writes are durable once answered.
    async fn flush(&mut self) -> Result<(), DirectoryError> {
        Ok(())
    }
}

impl GraphDirectory {
    /// The tenant's answers to the tenant data requests, each read or unknown (403) with why;
    /// `idsync snapshot` writes them as they are.
    pub async fn read_tenant_docs(&mut self) -> Result<TenantDocs, DirectoryError> {
        tenant::read_docs(&self.http).await
    }
}

impl TenantRead for GraphDirectory {
    async fn read_tenant(&mut self) -> Result<Tenant, DirectoryError> {
        let docs = self.read_tenant_docs().await?;
        docs.tenant().map_err(|(source, e)| {
            DirectoryError::Other(format!(
                "{}: object #{} of the answer: {}",
                source.request(),
                e.index + 1,
                e.message
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_always_has_the_identifying_properties_once() {
        assert_eq!(select_list(&[]).unwrap(), "id,userPrincipalName");
        let asked = ["mail", "ID", "jobTitle", "mail"].map(String::from);
        assert_eq!(
            select_list(&asked).unwrap(),
            "id,userPrincipalName,mail,jobTitle"
        );
        assert!(select_list(&["a&b".to_owned()]).is_err());
        assert!(select_list(&[String::new()]).is_err());
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(
            path_segment("3ab39606-c642-489b-84b6-58c038d3ef39"),
            "3ab39606-c642-489b-84b6-58c038d3ef39"
        );
        assert_eq!(
            path_segment("o'neil_x#EXT#@example.com"),
            "o%27neil_x%23EXT%23@example.com"
        );
        assert_eq!(path_segment("a/b?c"), "a%2Fb%3Fc");
    }
}
