//! The HTTP server: routes, fault injection, admin endpoints, and an accept loop that can
//! close a connection without answering.

use crate::auth::{self, AppCredentials, TokenStore};
use crate::batch;
use crate::config::{Config, Knobs, MAX_TOKEN_LIFETIME};
use crate::error::{EmulatorError, GraphError, Result};
use crate::graph::{self, Body as GBody, GraphRequest, GraphResponse, Ids};
use crate::stats::Stats;
use crate::tenant::Tenant;
use crate::throttle::{Origin, Throttle};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tower::ServiceExt;

/// State shared by all requests. Locks are std locks held only for short, synchronous work,
/// never across the latency sleep.
pub struct Shared {
    pub tenant: RwLock<Tenant>,
    /// Sync features, domains and directory roles (read-only).
    pub directory: crate::directory::Directory,
    /// The app's application permissions; `None`: every one.
    pub app_roles: Option<Vec<String>>,
    pub tokens: Mutex<TokenStore>,
    pub throttle: Mutex<Throttle>,
    pub stats: Mutex<Stats>,
    pub knobs: Mutex<Knobs>,
    pub rng: Mutex<StdRng>,
    pub app: AppCredentials,
    pub base_url: String,
    pub token_lifetime: Mutex<Duration>,
    pub delta_page_size: usize,
    pub header_read_timeout: Duration,
}

impl Shared {
    pub fn knobs(&self) -> Knobs {
        self.knobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn roll(&self, p: f64) -> bool {
        p > 0.0
            && self
                .rng
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .random::<f64>()
                < p
    }
}

/// Lets a handler close its own connection without an answer.
#[derive(Clone)]
struct ConnKiller(Arc<Notify>);

/// The number of the connection a request came on (throttling tells who was told to wait).
#[derive(Clone, Copy)]
struct ConnId(u64);

fn graph_http_response(r: GraphResponse, ids: &Ids) -> Response {
    let mut builder = Response::builder().status(r.status);
    for (k, v) in &r.headers {
        builder = builder.header(k, v);
    }
    builder = builder
        .header("request-id", &ids.request_id)
        .header("client-request-id", &ids.client_request_id)
        .header("Cache-Control", "no-cache");
    let body = match r.body {
        GBody::None => Body::empty(),
        GBody::Json(v) => Body::from(v.to_string()),
        GBody::Text(t) => Body::from(t),
    };
    builder
        .body(body)
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// Drop, latency and 503 knobs; `None` means carry on. Drops never return.
async fn inject_faults(
    shared: &Shared,
    killer: Option<&ConnKiller>,
    ids: &Ids,
) -> Option<GraphResponse> {
    let knobs = shared.knobs();
    if shared.roll(knobs.drop_rate)
        && let Some(k) = killer
    {
        shared
            .stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .dropped += 1;
        k.0.notify_one();
        // The connection task drops this request's future together with the socket.
        std::future::pending::<()>().await;
    }
    if knobs.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(knobs.latency_ms)).await;
    }
    if shared.roll(knobs.fail_rate) {
        shared
            .stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .injected_failures += 1;
        return Some(GraphResponse::error(
            &GraphError::service_unavailable(knobs.retry_after_503),
            &ids.request_id,
            &ids.client_request_id,
        ));
    }
    None
}

async fn graph_entry(
    State(shared): State<Arc<Shared>>,
    killer: Option<axum::Extension<ConnKiller>>,
    conn: Option<axum::Extension<ConnId>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let ids = Ids::new(header("client-request-id"));
    let origin = Origin {
        conn: conn.map_or(0, |c| c.0.0),
        arrived: std::time::Instant::now(),
    };
    shared
        .stats
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .requests += 1;
    let resp = match inject_faults(&shared, killer.as_ref().map(|k| &k.0), &ids).await {
        Some(r) => r,
        None => {
            let check = shared
                .tokens
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .check(header("authorization"));
            match check {
                Err(e) => {
                    GraphResponse::error(&e.graph_error(), &ids.request_id, &ids.client_request_id)
                }
                Ok(app) => {
                    let path = uri.path().strip_prefix("/v1.0").unwrap_or("").to_string();
                    if path.trim_end_matches('/') == "/$batch" {
                        if method == Method::POST {
                            batch::run(&shared, &app, &body, &ids, origin)
                        } else {
                            GraphResponse::error(
                                &GraphError::new(
                                    405,
                                    "Request_BadRequest",
                                    "Specified HTTP method is not allowed for the request target.",
                                ),
                                &ids.request_id,
                                &ids.client_request_id,
                            )
                        }
                    } else {
                        let req = GraphRequest {
                            method: method.as_str().to_string(),
                            path,
                            query: uri.query().map(str::to_string),
                            headers: headers
                                .iter()
                                .filter_map(|(k, v)| {
                                    v.to_str()
                                        .ok()
                                        .map(|v| (k.as_str().to_string(), v.to_string()))
                                })
                                .collect(),
                            body: if body.is_empty() {
                                None
                            } else {
                                Some(body.to_vec())
                            },
                        };
                        graph::serve(&shared, &app, &req, &ids, origin)
                    }
                }
            }
        }
    };
    // The work is done; now the answer may be lost on the way back.
    if let Some(k) = killer.as_ref().map(|k| &k.0)
        && shared.roll(shared.knobs().lost_answer_rate)
    {
        shared
            .stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .lost_answers += 1;
        k.0.notify_one();
        std::future::pending::<()>().await;
    }
    shared
        .stats
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .status(resp.status);
    graph_http_response(resp, &ids)
}

async fn token_entry(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared
        .stats
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .requests += 1;
    let latency = shared.knobs().latency_ms;
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let form: HashMap<String, String> = form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let basic = auth::parse_basic(headers.get("authorization").and_then(|v| v.to_str().ok()));
    let trace = uuid::Uuid::new_v4().to_string();
    let (status, body) = match auth::check_token_request(&shared.app, &tenant, &form, basic) {
        Ok(client_id) => {
            let lifetime = *shared
                .token_lifetime
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let token = shared
                .tokens
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .issue(&client_id, lifetime);
            shared
                .stats
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .tokens_issued += 1;
            let secs = lifetime.as_secs();
            (
                200,
                json!({ "token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": token }),
            )
        }
        Err(e) => (e.status, e.body(&trace, &trace)),
    };
    shared
        .stats
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .status(status);
    let mut resp = Response::builder()
        .status(status)
        .header("Content-Type", "application/json; charset=utf-8")
        .header("Cache-Control", "no-store, no-cache")
        .header("Pragma", "no-cache")
        .header("x-ms-request-id", &trace)
        .body(Body::from(body.to_string()))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
    if status == 401 {
        resp.headers_mut().insert(
            "WWW-Authenticate",
            HeaderValue::from_static("Basic realm=\"\""),
        );
    }
    resp
}

fn admin_json(status: StatusCode, v: Value) -> Response {
    (
        status,
        [("Content-Type", "application/json")],
        v.to_string(),
    )
        .into_response()
}

async fn admin_stats(State(shared): State<Arc<Shared>>) -> Response {
    let stats = shared
        .stats
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    admin_json(
        StatusCode::OK,
        serde_json::to_value(stats).unwrap_or(Value::Null),
    )
}

async fn admin_stats_reset(State(shared): State<Arc<Shared>>) -> Response {
    *shared.stats.lock().unwrap_or_else(PoisonError::into_inner) = Stats::default();
    shared
        .throttle
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .reset();
    admin_json(StatusCode::OK, json!({}))
}

fn config_json(shared: &Shared) -> Value {
    let mut v = serde_json::to_value(shared.knobs()).unwrap_or(Value::Null);
    v["token_lifetime_secs"] = json!(
        shared
            .token_lifetime
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_secs()
    );
    v
}

async fn admin_config_get(State(shared): State<Arc<Shared>>) -> Response {
    admin_json(StatusCode::OK, config_json(&shared))
}

async fn admin_config_set(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let mut v: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return admin_json(StatusCode::BAD_REQUEST, json!({ "error": e.to_string() })),
    };
    if let Some(secs) = v
        .as_object_mut()
        .and_then(|o| o.remove("token_lifetime_secs"))
    {
        match secs.as_u64().map(Duration::from_secs) {
            Some(d) if d <= MAX_TOKEN_LIFETIME => {
                *shared
                    .token_lifetime
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = d
            }
            _ => {
                return admin_json(
                    StatusCode::BAD_REQUEST,
                    json!({ "error": format!(
                        "token_lifetime_secs must be an integer of at most {}",
                        MAX_TOKEN_LIFETIME.as_secs()
                    ) }),
                );
            }
        }
    }
    let result = shared
        .knobs
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .patch(&v);
    match result {
        Ok(()) => admin_json(StatusCode::OK, config_json(&shared)),
        Err(e) => admin_json(StatusCode::BAD_REQUEST, json!({ "error": e.to_string() })),
    }
}

async fn admin_users_get(State(shared): State<Arc<Shared>>) -> Response {
    let users = shared
        .tenant
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .snapshot();
    admin_json(StatusCode::OK, json!({ "value": users }))
}

async fn admin_users_post(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let doc: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return admin_json(StatusCode::BAD_REQUEST, json!({ "error": e.to_string() })),
    };
    let doc = if doc.is_object() && doc.get("value").is_none() {
        json!([doc])
    } else {
        doc
    };
    let users = match crate::tenant::users_from_json(doc) {
        Ok(u) => u,
        Err(e) => return admin_json(StatusCode::BAD_REQUEST, json!({ "error": e.to_string() })),
    };
    let mut tenant = shared
        .tenant
        .write()
        .unwrap_or_else(PoisonError::into_inner);
    let mut ids = Vec::new();
    for u in users {
        match tenant.insert_raw(u) {
            Ok(k) => ids.push(k),
            Err(e) => {
                return admin_json(StatusCode::BAD_REQUEST, json!({ "error": e.to_string() }));
            }
        }
    }
    admin_json(StatusCode::CREATED, json!({ "ids": ids }))
}

async fn fallback(uri: Uri) -> Response {
    let first = uri
        .path()
        .split('/')
        .find(|s| !s.is_empty())
        .unwrap_or("")
        .to_string();
    let ids = Ids::new(None);
    let e = GraphError::new(400, "BadRequest", format!("Invalid version: {first}"));
    graph_http_response(
        GraphResponse::error(&e, &ids.request_id, &ids.client_request_id),
        &ids,
    )
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token_entry))
        .route("/v1.0", any(graph_entry))
        .route("/v1.0/{*rest}", any(graph_entry))
        .route("/_emulator/stats", get(admin_stats))
        .route("/_emulator/stats/reset", post(admin_stats_reset))
        .route(
            "/_emulator/config",
            get(admin_config_get).post(admin_config_set),
        )
        .route(
            "/_emulator/users",
            get(admin_users_get).post(admin_users_post),
        )
        .fallback(fallback)
        .with_state(shared)
}

/// Serves connections until `shutdown` flips; each connection can be killed by its handler.
async fn accept_loop(
    listener: TcpListener,
    app: Router,
    header_read_timeout: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut conns = JoinSet::new();
    let mut next_conn = 0u64;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let app = app.clone();
                let kill = Arc::new(Notify::new());
                next_conn += 1;
                let conn_id = ConnId(next_conn);
                conns.spawn(async move {
                    let k = kill.clone();
                    let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                        req.extensions_mut().insert(ConnKiller(k.clone()));
                        req.extensions_mut().insert(conn_id);
                        app.clone().oneshot(req)
                    });
                    // The header timeout needs hyper's timer; without it a client that
                    // connects and sends nothing held its connection for ever.
                    let conn = hyper::server::conn::http1::Builder::new()
                        .keep_alive(true)
                        .timer(TokioTimer::new())
                        .header_read_timeout(header_read_timeout)
                        .serve_connection(TokioIo::new(stream), svc);
                    tokio::select! {
                        _ = conn => {}
                        // Dropping the connection future closes the socket with no answer.
                        _ = kill.notified() => {}
                    }
                });
                // Reap finished connections so the set does not grow without bound.
                while conns.try_join_next().is_some() {}
            }
            _ = shutdown.changed() => break,
        }
    }
    conns.shutdown().await;
}

/// Builds the shared state and binds the listener (not yet serving).
pub(crate) async fn bind(
    config: Config,
) -> Result<(Arc<Shared>, TcpListener, Option<std::path::PathBuf>)> {
    config.knobs.validate()?;
    if config.token_lifetime > MAX_TOKEN_LIFETIME {
        return Err(EmulatorError::Config(format!(
            "token lifetime must be at most {} s",
            MAX_TOKEN_LIFETIME.as_secs()
        )));
    }
    let listener =
        TcpListener::bind(config.listen)
            .await
            .map_err(|source| EmulatorError::Bind {
                addr: config.listen.to_string(),
                source,
            })?;
    let addr: SocketAddr = listener
        .local_addr()
        .map_err(|source| EmulatorError::Bind {
            addr: config.listen.to_string(),
            source,
        })?;
    let host = if addr.ip().is_ipv6() {
        format!("[{}]", addr.ip())
    } else {
        addr.ip().to_string()
    };
    let base_url = format!("http://{host}:{}", addr.port());
    let upn_suffixes: std::collections::BTreeSet<String> = config
        .users
        .iter()
        .filter_map(|u| u.get("userPrincipalName").and_then(Value::as_str))
        .filter(|upn| !upn.contains("#EXT#"))
        .filter_map(|upn| upn.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase()))
        .collect();
    let mut directory = crate::directory::Directory::build(
        config.directory,
        &config.tenant_id,
        config.verified_domains.as_deref().unwrap_or_default(),
        &upn_suffixes,
    );
    let mut tenant = Tenant::new(config.verified_domains.clone());
    tenant.load(config.users)?;
    tenant.groups_mut().load_groups(config.groups)?;
    tenant.groups_mut().load_contacts(config.contacts)?;
    tenant.set_skus(std::mem::take(&mut directory.subscribed_skus));
    let app = AppCredentials {
        tenant_id: config.tenant_id,
        client_id: config.client_id,
        client_secret: config.client_secret,
        federated_assertion: config.federated_assertion,
        tenant_aliases: config.verified_domains.unwrap_or_default(),
        resources: vec![base_url.clone()],
    };
    let shared = Arc::new(Shared {
        tenant: RwLock::new(tenant),
        directory,
        app_roles: config.app_roles,
        tokens: Mutex::new(TokenStore::default()),
        throttle: Mutex::new(Throttle::default()),
        stats: Mutex::new(Stats::default()),
        knobs: Mutex::new(config.knobs),
        rng: Mutex::new(StdRng::seed_from_u64(config.seed)),
        app,
        base_url,
        token_lifetime: Mutex::new(config.token_lifetime),
        delta_page_size: config.delta_page_size.max(1),
        header_read_timeout: config.header_read_timeout,
    });
    Ok((shared, listener, config.save_on_shutdown))
}

pub(crate) fn spawn_server(
    shared: Arc<Shared>,
    listener: TcpListener,
) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = watch::channel(false);
    let timeout = shared.header_read_timeout;
    let handle = tokio::spawn(accept_loop(listener, router(shared), timeout, rx));
    (tx, handle)
}
