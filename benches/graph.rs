//! Live Graph: the connector's full read against a raw paged fetch of the same pages from the
//! same emulator, and writes under the emulator's rate limit.
//!
//!   cargo bench --bench graph                   # 100k users read, 10k updates written
//!   cargo bench --bench graph -- 20000 2000     # smaller
//!   cargo bench --bench graph -- --groups 10000 1000000   # groups read: 10k groups, 1M members
//!   cargo bench --bench graph -- creates 10000  # 10k user creates under the rate limit
//!
//! Prints a table: medians of 5 alternating runs (A raw, B ours), the ratio B/A, and for the
//! writes the achieved rate as a share of the rate limit and the requests sent before a
//! Retry-After had elapsed (must be 0).

use std::time::Instant;

use graph_emulator::{Config, Emulator, RunningEmulator};
use idsync::directory::graph::{Credential, GraphDirectory, Settings};
use idsync::directory::{EntraGroupRead, EntraOp, EntraUserRead, EntraUserWrite};
use idsync::secret::SecretSource;
use idsync::synthetic::{self, Mix};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The connector's configuration; the secret sits in a file (`{ file: … }`).
fn config(emu: &RunningEmulator, secret: &std::path::Path) -> Settings {
    Settings {
        tenant_id: emu.tenant_id().to_owned(),
        client_id: emu.client_id().to_owned(),
        credential: Credential::ClientSecret(SecretSource::File(secret.to_owned())),
        login_url: emu.base_url().to_owned(),
        graph_url: emu.base_url().to_owned(),
    }
}

async fn token(emu: &RunningEmulator, http: &reqwest::Client) -> String {
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", emu.client_id()),
        ("client_secret", emu.client_secret()),
        ("scope", &format!("{}/.default", emu.base_url())),
    ];
    let v: serde_json::Value = http
        .post(emu.token_url())
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["access_token"].as_str().unwrap().to_owned()
}

/// The baseline: the same pages, as bytes, following nextLink without decoding the users.
async fn raw_read(emu: &RunningEmulator, select: &[String]) -> usize {
    let http = reqwest::Client::new();
    let token = token(emu, &http).await;
    let mut url = format!(
        "{}/v1.0/users?$select={}&$top=999",
        emu.base_url(),
        select.join(",")
    );
    let mut bytes = 0;
    loop {
        let body = http
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        bytes += body.len();
        let text = std::str::from_utf8(&body).unwrap();
        match text.find("\"@odata.nextLink\":\"") {
            Some(at) => {
                let rest = &text[at + 19..];
                url = rest[..rest.find('"').unwrap()].to_owned();
            }
            None => return bytes,
        }
    }
}

async fn our_read(emu: &RunningEmulator, secret: &std::path::Path, select: &[String]) -> usize {
    let mut graph = GraphDirectory::connect(&config(emu, secret)).await.unwrap();
    graph.read_users(select).await.unwrap().len()
}

/// `n` security groups holding `memberships` member ids in all: group 0 holds a tenth of
/// them (100k of 1M), the others share the rest evenly. Members are ids of objects the
/// emulator does not hold (no users are loaded): listing them costs Graph the same.
fn groups_tenant(n: usize, memberships: usize) -> serde_json::Value {
    let big = memberships / 10;
    let rest = memberships - big;
    let per = rest / (n - 1).max(1);
    let member = |k: usize| serde_json::json!({ "id": format!("00000000-0000-4000-8000-{k:012}") });
    let groups: Vec<serde_json::Value> = (0..n)
        .map(|g| {
            let members: Vec<serde_json::Value> = if g == 0 {
                (0..big).map(member).collect()
            } else {
                let extra = usize::from(g - 1 < rest % (n - 1).max(1));
                let start = (g * 7_919) % 100_000;
                (0..per + extra).map(|k| member(start + k)).collect()
            };
            serde_json::json!({
                "id": format!("22222222-0000-4000-8000-{g:012}"),
                "displayName": format!("Group {g}"),
                "mailEnabled": false,
                "mailNickname": format!("group{g}"),
                "securityEnabled": true,
                "groupTypes": [],
                "members": members
            })
        })
        .collect();
    serde_json::json!({ "value": groups })
}

fn next_link(text: &str) -> Option<String> {
    let at = text.find("\"@odata.nextLink\":\"")?;
    let rest = &text[at + 19..];
    Some(rest[..rest.find('"')?].to_owned())
}

/// The baseline of the groups read: the same pages as bare GETs, bytes only — the group
/// pages in turn, then every group's member pages, `lanes` groups at a time (the
/// connector's concurrency), each following its `@odata.nextLink`.
async fn raw_groups_read(emu: &RunningEmulator, ids: &[String], lanes: usize) -> usize {
    let http = reqwest::Client::new();
    let token = token(emu, &http).await;
    let select = idsync::directory::model::GROUP_PROPERTIES.join(",");
    let mut url = Some(format!(
        "{}/v1.0/groups?$select={select}&$top=999",
        emu.base_url()
    ));
    let mut bytes = 0;
    while let Some(u) = url.take() {
        let body = http
            .get(&u)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        bytes += body.len();
        url = next_link(std::str::from_utf8(&body).unwrap());
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let worker = || async {
        let mut bytes = 0;
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(id) = ids.get(i) else { return bytes };
            let mut url = Some(format!(
                "{}/v1.0/groups/{id}/members?$select=id&$top=999",
                emu.base_url()
            ));
            while let Some(u) = url.take() {
                let body = http
                    .get(&u)
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap();
                bytes += body.len();
                url = next_link(std::str::from_utf8(&body).unwrap());
            }
        }
    };
    let all = futures_util::future::join_all((0..lanes).map(|_| worker())).await;
    bytes + all.into_iter().sum::<usize>()
}

async fn our_groups_read(emu: &RunningEmulator, secret: &std::path::Path) -> (usize, usize) {
    let mut graph = GraphDirectory::connect(&config(emu, secret)).await.unwrap();
    let groups = graph.read_groups().await.unwrap();
    let members = groups
        .iter()
        .map(|g| g.members.as_ref().map_or(0, Vec::len))
        .sum();
    (groups.len(), members)
}

/// `--groups N M`: the groups read of N groups holding M memberships, against the raw fetch.
fn groups_bench(n: usize, memberships: usize) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config_ = Config::default()
        .with_groups_json(groups_tenant(n, memberships))
        .unwrap();
    let emu = Emulator::start_blocking(config_).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, emu.client_secret()).unwrap();
    let ids: Vec<String> = emu
        .groups_snapshot()
        .iter()
        .map(|g| g["id"].as_str().unwrap().to_owned())
        .collect();
    let lanes = idsync::directory::graph::GraphOptions::default().concurrency;
    let (mut raw, mut ours) = (Vec::new(), Vec::new());
    rt.block_on(async {
        raw_groups_read(&emu, &ids, lanes).await;
        our_groups_read(&emu, &secret).await;
        for _ in 0..3 {
            let t = Instant::now();
            raw_groups_read(&emu, &ids, lanes).await;
            raw.push(t.elapsed().as_secs_f64());
            let t = Instant::now();
            assert_eq!(our_groups_read(&emu, &secret).await, (n, memberships));
            ours.push(t.elapsed().as_secs_f64());
        }
    });
    let (a, b) = (median(raw), median(ours));
    println!("| measurement | baseline (A) | idsync (B) | B/A | target |");
    println!("|---|---:|---:|---:|---|");
    println!(
        "| Graph groups read, {n} groups, {memberships} memberships (one group of {}) | {a:.2} s raw GETs of the same pages, {lanes} at once | {b:.2} s `read_groups` | {:.2} | ≤ 1.25 |",
        memberships / 10,
        b / a
    );
}

/// The emulator's write budget in the writes parts: requests per 10-second window.
const BUDGET_PER_10S: u32 = 2_000;

/// The fastest `writes` requests can finish under the budget: a fixed 10-second window, so
/// N writes need at least (ceil(N / limit) - 1) full windows before the last one opens.
fn budget_floor(writes: usize) -> f64 {
    let windows = writes.div_ceil(BUDGET_PER_10S as usize).saturating_sub(1) as f64;
    (windows * 10.0).max(1.0)
}

/// Synthetic AD user `i` provisioned in Entra as the executor builds the create
/// (`EntraOp::Create` of the plan's `provision_entra` changes and a `passwordProfile`); the
/// kinds with ordinary names only.
fn create_op(i: usize) -> Option<EntraOp> {
    use synthetic::Kind;
    if matches!(
        synthetic::kind_of(i, Mix::SteadyState),
        Kind::CloudOnly | Kind::BadUpn | Kind::DuplicateSmtp
    ) {
        return None;
    }
    let ad = synthetic::identity(i, Mix::SteadyState)
        .0
        .into_iter()
        .next()?;
    let upn = ad.upn()?.replace("@corp.local", "@example.com");
    let mut body = serde_json::Map::new();
    let mut set = |k: &str, v: serde_json::Value| {
        body.insert(k.to_owned(), v);
    };
    set("userPrincipalName", upn.as_str().into());
    set("displayName", ad.attr("displayName")?.into());
    set("mailNickname", upn.split('@').next()?.into());
    set("accountEnabled", true.into());
    set("onPremisesImmutableId", ad.object_guid.to_base64().into());
    if let Some(mail) = ad.mail() {
        set("mail", mail.into());
    }
    set("givenName", ad.attr("givenName")?.into());
    set("surname", ad.attr("sn")?.into());
    set("jobTitle", ad.attr("title")?.into());
    set("department", ad.attr("department")?.into());
    set(
        "passwordProfile",
        serde_json::json!({ "forceChangePasswordNextSignIn": true, "password": format!("Zq7#Kv-{i}-Wx") }),
    );
    Some(EntraOp::Create(body))
}

/// `creates N`: N user creates through `write_users` (the executor's write path) into an
/// empty tenant under the rate limit.
fn creates_bench(writes: usize) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let emu = Emulator::start_blocking(Config::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, emu.client_secret()).unwrap();
    let ops: Vec<EntraOp> = (0..).filter_map(create_op).take(writes).collect();
    emu.reset_stats();
    emu.update_knobs(|k| k.rate_limit = Some(BUDGET_PER_10S))
        .unwrap();
    let (elapsed, failed, created) = rt.block_on(async {
        let mut graph = GraphDirectory::connect(&config(&emu, &secret))
            .await
            .unwrap();
        let t = Instant::now();
        let results = graph.write_users(ops).await;
        let elapsed = t.elapsed();
        let mut failed = 0;
        let mut created = 0;
        for r in &results {
            match r {
                Ok(Some(_)) => created += 1,
                Ok(None) => {}
                Err(e) => {
                    if failed < 3 {
                        eprintln!("create failed: {e}");
                    }
                    failed += 1;
                }
            }
        }
        (elapsed, failed, created)
    });
    let stats = emu.stats();
    assert_eq!(emu.users_snapshot().len(), created);
    let ideal = budget_floor(writes);
    let achieved = writes as f64 / elapsed.as_secs_f64();
    println!("| measurement | fastest the budget allows | idsync | share of budget | target |");
    println!("|---|---:|---:|---:|---|");
    println!(
        "| Graph writes, {writes} user creates, limit {BUDGET_PER_10S}/10 s | {ideal:.0} s | {:.1} s, {achieved:.0} req/s ({created} created, {failed} failed, {} answered 429) | {:.0}% | batched, concurrent up to the budget |",
        elapsed.as_secs_f64(),
        stats.throttled,
        100.0 * ideal / elapsed.as_secs_f64()
    );
    println!(
        "| Requests sent before Retry-After elapsed | | {} | | 0 |",
        stats.early_requests
    );
}

fn main() {
    let raw_args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(at) = raw_args.iter().position(|a| a == "creates") {
        let n = raw_args
            .get(at + 1)
            .and_then(|a| a.replace('_', "").parse().ok())
            .unwrap_or(10_000);
        creates_bench(n);
        return;
    }
    if let Some(at) = raw_args.iter().position(|a| a == "--groups") {
        let num = |i: usize, d: usize| {
            raw_args
                .get(i)
                .and_then(|a| a.replace('_', "").parse().ok())
                .unwrap_or(d)
        };
        groups_bench(num(at + 1, 10_000), num(at + 2, 1_000_000));
        return;
    }
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.replace('_', "").parse().ok())
        .collect();
    let users = args.first().copied().unwrap_or(100_000);
    let writes = args.get(1).copied().unwrap_or(10_000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    // A tenant of `users` cloud users from the synthetic directory.
    let mut value = Vec::with_capacity(users);
    let mut i = 0;
    while value.len() < users {
        if let Some(c) = synthetic::identity(i, Mix::SteadyState).1 {
            value.push(synthetic::cloud_json(&c));
        }
        i += 1;
    }
    let tenant = serde_json::json!({ "value": value });
    let emu =
        Emulator::start_blocking(Config::default().with_tenant_json(tenant).unwrap()).unwrap();
    let desired_dir = tempfile::tempdir().unwrap();
    let secret = desired_dir.path().join("secret");
    std::fs::write(&secret, emu.client_secret()).unwrap();
    std::fs::write(
        desired_dir.path().join("d.yaml"),
        synthetic::desired_yaml(users),
    )
    .unwrap();
    let desired = idsync::desired::load(desired_dir.path()).unwrap();
    let select = idsync::connect::graph_select(&desired);

    let (mut raw, mut ours) = (Vec::new(), Vec::new());
    rt.block_on(async {
        // Warm-up of both, then 5 alternating pairs.
        raw_read(&emu, &select).await;
        our_read(&emu, &secret, &select).await;
        for _ in 0..5 {
            let t = Instant::now();
            raw_read(&emu, &select).await;
            raw.push(t.elapsed().as_secs_f64());
            let t = Instant::now();
            assert_eq!(our_read(&emu, &secret, &select).await, users);
            ours.push(t.elapsed().as_secs_f64());
        }
    });
    let (a, b) = (median(raw), median(ours));
    println!("| measurement | baseline (A) | idsync (B) | B/A | target |");
    println!("|---|---:|---:|---:|---|");
    println!(
        "| Graph full read, {users} users, $top=999 | {a:.2} s raw paged fetch | {b:.2} s `read_users` | {:.2} | ≤ 1.25 |",
        b / a
    );

    // Writes: `writes` PATCHes under a rate limit, through $batch.
    let budget_per_10s = BUDGET_PER_10S;
    emu.reset_stats();
    emu.update_knobs(|k| k.rate_limit = Some(budget_per_10s))
        .unwrap();
    let ids: Vec<String> = emu
        .users_snapshot()
        .iter()
        .take(writes)
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    let ops: Vec<EntraOp> = ids
        .iter()
        .enumerate()
        .map(|(n, id)| {
            let mut patch = serde_json::Map::new();
            patch.insert("jobTitle".into(), serde_json::json!(format!("Title {n}")));
            EntraOp::Update {
                id: id.clone(),
                patch,
            }
        })
        .collect();
    let (elapsed, failed) = rt.block_on(async {
        let mut graph = GraphDirectory::connect(&config(&emu, &secret))
            .await
            .unwrap();
        let t = Instant::now();
        let results = graph.write_users(ops).await;
        (t.elapsed(), results.iter().filter(|r| r.is_err()).count())
    });
    let stats = emu.stats();
    let ideal = budget_floor(writes);
    let achieved = writes as f64 / elapsed.as_secs_f64();
    println!(
        "| Graph writes, {writes} updates, limit {budget_per_10s}/10 s | fastest the budget allows: {ideal:.0} s | {:.1} s, {achieved:.0} req/s ({failed} failed, {} answered 429) | {:.0}% of budget | batched, concurrent up to the budget |",
        elapsed.as_secs_f64(),
        stats.throttled,
        100.0 * ideal / elapsed.as_secs_f64()
    );
    println!(
        "| Requests sent before Retry-After elapsed | | {} | | 0 |",
        stats.early_requests
    );
}
