//! Loading: read every YAML file of a folder, merge them, check the result.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::model::{self, DesiredFile, Loc, ObjectRef};
use super::{
    AdConfig, AdSelector, DesiredState, EntraConfig, EntraSelector, GraphConfig, GraphCredential,
    IdentitySpec, Issue, LdapConfig, ProvisionAdConfig, ScopeConfig, SecretSource, Selector,
    Template,
};
use crate::directory::{Dn, Filter, Guid, attributes};
use crate::names::{SamAccountName, Upn, fold};

/// Why a desired state could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: no *.yaml or *.yml files", dir.display())]
    NoFiles { dir: PathBuf },
    #[error("{}", issues.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid { issues: Vec<Issue> },
}

/// The JSON Schema of one desired-state file, as committed in `schema/idsync.schema.json`.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(DesiredFile);
    // Cannot fail: the generated schema is a JSON value.
    let mut text = serde_json::to_string_pretty(&schema).expect("schema serializes");
    text.push('\n');
    text
}

/// Loads every `*.yaml`/`*.yml` file in `dir` (sorted by name), merges and validates them.
pub fn load(dir: &Path) -> Result<DesiredState, LoadError> {
    let io = |source| LoadError::Io {
        path: dir.to_owned(),
        source,
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension().is_some_and(|e| {
                    e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml")
                })
        })
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(LoadError::NoFiles {
            dir: dir.to_owned(),
        });
    }

    let mut hasher = Sha256::new();
    let mut files = Vec::new();
    let mut issues = Vec::new();
    for path in &paths {
        let text = crate::files::read::read_regular_text(
            path,
            crate::files::read::DESIRED_STATE_FILE_LIMIT,
        )
        .map_err(|e| LoadError::Io {
            path: path.clone(),
            source: e.into_io_error(),
        })?;
        hasher.update(path.file_name().unwrap_or_default().as_encoded_bytes());
        hasher.update([0]);
        hasher.update(text.as_bytes());
        hasher.update([0]);
        match parse_file(&text) {
            Ok(doc) => files.push((path.clone(), doc)),
            Err((line, column, message)) => issues.push(Issue {
                file: path.clone(),
                line,
                column,
                message,
            }),
        }
    }
    let digest = format!("sha256:{:x}", hasher.finalize());

    // A file that did not parse may hold the keys the merged state misses; saying they are
    // missing would only add noise.
    let parse_failed = !issues.is_empty();
    let mut checker = Checker {
        issues,
        files: paths.clone(),
        parse_failed,
    };
    let merged = merge(files, &mut checker);
    let state = checker.build(merged, paths, digest);
    if checker.issues.is_empty() {
        Ok(state)
    } else {
        Err(LoadError::Invalid {
            issues: checker.issues,
        })
    }
}

/// Parses one file; an empty file is an empty document.
fn parse_file(text: &str) -> Result<DesiredFile, (u64, u64, String)> {
    if text.trim().is_empty()
        || text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Ok(DesiredFile::default());
    }
    serde_saphyr::from_str::<DesiredFile>(text).map_err(|e| {
        let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
        let plain = e.without_snippet();
        use serde_saphyr::MessageFormatter as _;
        let message = serde_saphyr::UserMessageFormatter
            .format_message(plain)
            .escape_debug()
            .to_string();
        (line, column, message)
    })
}

/// A value together with the file it came from.
struct From<T> {
    file: PathBuf,
    value: Loc<T>,
}

#[derive(Default)]
struct Merged {
    version: Option<From<u32>>,
    directories: Option<From<model::Directories>>,
    scope: Option<From<model::Scope>>,
    matching: Option<From<model::Matching>>,
    upn_suffixes: Option<From<BTreeMap<String, String>>>,
    attributes: Option<From<BTreeMap<String, Loc<model::Authority>>>>,
    provision: Option<From<model::Provision>>,
    deprovision: Option<From<model::Deprovision>>,
    protect: Option<From<Vec<Loc<ObjectRef>>>>,
    identities: Vec<(PathBuf, Loc<model::Identity>)>,
}

fn merge(files: Vec<(PathBuf, DesiredFile)>, c: &mut Checker) -> Merged {
    fn take<T>(
        slot: &mut Option<From<T>>,
        key: &str,
        file: &Path,
        value: Option<Loc<T>>,
        c: &mut Checker,
    ) {
        let Some(value) = value else { return };
        match slot {
            Some(first) => c.issue(
                file,
                &value,
                format!(
                    "`{key}` is already defined at {}:{}:{}; only `identities` may be split across files",
                    first.file.display(),
                    first.value.line,
                    first.value.column
                ),
            ),
            None => {
                *slot = Some(From {
                    file: file.to_owned(),
                    value,
                })
            }
        }
    }
    let mut m = Merged::default();
    for (file, doc) in files {
        take(&mut m.version, "version", &file, doc.version, c);
        take(&mut m.directories, "directories", &file, doc.directories, c);
        take(&mut m.scope, "scope", &file, doc.scope, c);
        take(&mut m.matching, "matching", &file, doc.matching, c);
        take(
            &mut m.upn_suffixes,
            "upn_suffixes",
            &file,
            doc.upn_suffixes,
            c,
        );
        take(&mut m.attributes, "attributes", &file, doc.attributes, c);
        take(&mut m.provision, "provision", &file, doc.provision, c);
        take(&mut m.deprovision, "deprovision", &file, doc.deprovision, c);
        take(&mut m.protect, "protect", &file, doc.protect, c);
        if let Some(ids) = doc.identities {
            m.identities
                .extend(ids.value.into_iter().map(|i| (file.clone(), i)));
        }
    }
    m
}

struct Checker {
    issues: Vec<Issue>,
    files: Vec<PathBuf>,
    parse_failed: bool,
}

impl Checker {
    fn issue<T>(&mut self, file: &Path, at: &Loc<T>, message: impl Into<String>) {
        self.issues.push(Issue {
            file: file.to_owned(),
            line: at.line,
            column: at.column,
            message: message.into(),
        });
    }

    /// For keys missing from every file: point at the first file.
    fn missing(&mut self, message: impl Into<String>) {
        if self.parse_failed {
            return;
        }
        let file = self.files.first().cloned().unwrap_or_default();
        self.issues.push(Issue {
            file,
            line: 1,
            column: 1,
            message: message.into(),
        });
    }

    fn dn(&mut self, file: &Path, value: &Loc<String>, what: &str) -> Option<Dn> {
        match Dn::parse(value) {
            Ok(dn) if !dn.is_root() => Some(dn),
            Ok(_) => {
                self.issue(file, value, format!("{what} must not be empty"));
                None
            }
            Err(e) => {
                self.issue(file, value, format!("{what}: {}", e.reason));
                None
            }
        }
    }

    fn build(&mut self, m: Merged, files: Vec<PathBuf>, digest: String) -> DesiredState {
        match &m.version {
            None => self.missing("`version` is required (set `version: 1`)"),
            Some(v) if v.value.value != 1 => {
                let (file, at) = (v.file.clone(), v.value.clone());
                self.issue(
                    &file,
                    &at,
                    format!(
                        "unsupported version {}; this idsync reads version 1",
                        at.value
                    ),
                );
            }
            Some(_) => {}
        }

        let (ad, entra) = match m.directories {
            Some(d) => (
                d.value
                    .value
                    .ad
                    .as_ref()
                    .and_then(|a| self.ad_config(&d.file, a)),
                d.value
                    .value
                    .entra
                    .as_ref()
                    .and_then(|e| self.entra_config(&d.file, e)),
            ),
            None => (None, None),
        };

        let scope = self.scope(m.scope.as_ref());

        let matching = m.matching.map(|m| m.value.value).unwrap_or_default();

        let mut upn_suffixes = BTreeMap::new();
        if let Some(s) = &m.upn_suffixes {
            for (from, to) in &s.value.value {
                for domain in [from, to] {
                    if !is_domain(domain) {
                        self.issue(
                            &s.file,
                            &s.value,
                            format!("upn_suffixes: `{domain}` is not a domain name"),
                        );
                    }
                }
                upn_suffixes.insert(fold(from), to.clone());
            }
        }

        let mut attrs = BTreeMap::new();
        if let Some(a) = &m.attributes {
            for (name, authority) in &a.value.value {
                if attributes::by_graph(name).is_some() {
                    attrs.insert(name.clone(), authority.value);
                } else {
                    self.issue(&a.file, authority, unknown_attribute(name));
                }
            }
        }

        let (provision_ad, provision_entra) = self.provision(m.provision.as_ref(), &scope);

        let (deprovision_action, max_deletes) = m
            .deprovision
            .map(|d| (d.value.value.action, d.value.value.max_deletes))
            .unwrap_or((
                model::DeprovisionAction::Report,
                model::Deprovision::default().max_deletes,
            ));

        let mut protect = Vec::new();
        if let Some(p) = &m.protect {
            for r in &p.value.value {
                if let Some(sel) = self.protect_selector(&p.file, r) {
                    protect.push(sel);
                }
            }
        }

        let identities = self.identities(m.identities);

        DesiredState {
            files,
            digest,
            ad,
            entra,
            scope,
            source_anchor: matching.source_anchor,
            soft_match: matching.soft_match,
            upn_suffixes,
            attributes: attrs,
            provision_ad,
            provision_entra,
            deprovision_action,
            max_deletes,
            protect,
            identities,
        }
    }

    fn ad_config(&mut self, file: &Path, a: &Loc<model::AdDirectory>) -> Option<AdConfig> {
        let base = file.parent().unwrap_or(Path::new("."));
        match (&a.url, &a.snapshot) {
            (Some(_), Some(s)) => {
                self.issue(
                    file,
                    s,
                    "directories.ad: give either `url` (live AD) or `snapshot`, not both",
                );
                None
            }
            (None, Some(s)) => Some(AdConfig::Snapshot(base.join(&s.value))),
            (None, None) => {
                self.issue(
                    file,
                    a,
                    "directories.ad needs `url` (live AD) or `snapshot` (an LDIF file)",
                );
                None
            }
            (Some(url), None) => {
                let mut ok = true;
                let lower = url.to_ascii_lowercase();
                let host = host_of(&lower);
                if lower.starts_with("ldap://") {
                    if !a.start_tls && !is_loopback(host) {
                        self.issue(file, url, "ldap:// sends the password in clear: use ldaps:// or set `start_tls: true` (plain ldap:// is accepted on loopback only)");
                        ok = false;
                    }
                } else if !lower.starts_with("ldaps://") {
                    self.issue(
                        file,
                        url,
                        "directories.ad.url must start with ldaps:// or ldap://",
                    );
                    ok = false;
                }
                let base_dn = match &a.base_dn {
                    Some(b) => self.dn(file, b, "directories.ad.base_dn"),
                    None => {
                        self.issue(file, a, "directories.ad.base_dn is required with `url`");
                        None
                    }
                };
                let bind_dn = a.bind_dn.as_ref().map(|b| b.value.clone());
                if bind_dn.is_none() {
                    self.issue(file, a, "directories.ad.bind_dn is required with `url`");
                }
                let password = match &a.password {
                    Some(p) => Some(secret_source(base, &p.value)),
                    None => {
                        self.issue(file, a, "directories.ad.password is required with `url` ({ env: NAME } or { file: PATH })");
                        None
                    }
                };
                Some(AdConfig::Ldap(LdapConfig {
                    url: url.value.clone(),
                    start_tls: a.start_tls,
                    base_dn: base_dn?,
                    bind_dn: bind_dn?,
                    password: password?,
                    ca_file: a.ca_file.as_ref().map(|c| base.join(&c.value)),
                    timeout_seconds: a.timeout_seconds.as_ref().map_or(30, |t| t.value),
                }))
                .filter(|_| ok)
            }
        }
    }

    fn entra_config(&mut self, file: &Path, e: &Loc<model::EntraDirectory>) -> Option<EntraConfig> {
        let base = file.parent().unwrap_or(Path::new("."));
        if let Some(s) = &e.snapshot {
            if e.tenant_id.is_some() || e.client_id.is_some() {
                self.issue(file, s, "directories.entra: give either a tenant (`tenant_id`, `client_id`, …) or `snapshot`, not both");
                return None;
            }
            return Some(EntraConfig::Snapshot(base.join(&s.value)));
        }
        let required = |key: &str, v: &Option<Loc<String>>, c: &mut Self| match v {
            Some(v) => Some(v.value.clone()),
            None => {
                c.issue(
                    file,
                    e,
                    format!("directories.entra.{key} is required (or give `snapshot`)"),
                );
                None
            }
        };
        let tenant_id = required("tenant_id", &e.tenant_id, self);
        let client_id = required("client_id", &e.client_id, self);
        let credential = match (&e.client_secret, &e.federated_token_file) {
            (Some(s), None) => Some(GraphCredential::ClientSecret(secret_source(base, &s.value))),
            (None, Some(f)) => Some(GraphCredential::FederatedTokenFile(base.join(&f.value))),
            (Some(s), Some(_)) => {
                self.issue(
                    file,
                    s,
                    "directories.entra: give `client_secret` or `federated_token_file`, not both",
                );
                None
            }
            (None, None) => {
                self.issue(
                    file,
                    e,
                    "directories.entra needs `client_secret` or `federated_token_file`",
                );
                None
            }
        };
        let url = |key: &str, v: &Option<Loc<String>>, default: &str, c: &mut Self| {
            let Some(v) = v else {
                return Some(default.to_owned());
            };
            let lower = v.to_ascii_lowercase();
            if lower.starts_with("https://")
                || (lower.starts_with("http://") && is_loopback(host_of(&lower)))
            {
                Some(v.trim_end_matches('/').to_owned())
            } else {
                c.issue(file, v, format!("directories.entra.{key} must be https:// (http:// only on loopback addresses)"));
                None
            }
        };
        let login_url = url(
            "login_url",
            &e.login_url,
            "https://login.microsoftonline.com",
            self,
        );
        let graph_url = url(
            "graph_url",
            &e.graph_url,
            "https://graph.microsoft.com",
            self,
        );
        Some(EntraConfig::Graph(GraphConfig {
            tenant_id: tenant_id?,
            client_id: client_id?,
            credential: credential?,
            login_url: login_url?,
            graph_url: graph_url?,
        }))
    }

    fn scope(&mut self, scope: Option<&From<model::Scope>>) -> ScopeConfig {
        let mut out = ScopeConfig {
            ous: Vec::new(),
            exclude_ous: Vec::new(),
            ldap_filter: None,
        };
        let Some(s) = scope else {
            self.missing("`scope` is required: list the OUs in scope under `scope.ous`");
            return out;
        };
        let file = s.file.clone();
        if s.value.ous.is_empty() {
            self.issue(&file, &s.value, "scope.ous must list at least one OU");
        }
        for ou in &s.value.ous {
            if let Some(dn) = self.dn(&file, ou, "scope.ous") {
                out.ous.push(dn);
            }
        }
        for ou in &s.value.exclude_ous {
            if let Some(dn) = self.dn(&file, ou, "scope.exclude_ous") {
                if !out.ous.iter().any(|base| dn.is_within(base)) {
                    self.issue(&file, ou, format!("scope.exclude_ous: `{dn}` is not inside any of scope.ous, so it excludes nothing"));
                }
                out.exclude_ous.push(dn);
            }
        }
        if let Some(f) = &s.value.ldap_filter {
            match Filter::parse(f) {
                Ok(filter) => out.ldap_filter = Some(filter),
                Err(e) => self.issue(&file, f, format!("scope.ldap_filter: {e}")),
            }
        }
        out
    }

    fn provision(
        &mut self,
        p: Option<&From<model::Provision>>,
        scope: &ScopeConfig,
    ) -> (Option<ProvisionAdConfig>, bool) {
        let Some(p) = p else { return (None, false) };
        let file = p.file.clone();
        let entra = p.value.entra.as_ref().is_some_and(|e| e.enabled);
        let Some(ad) = p.value.ad.as_ref().filter(|a| a.enabled) else {
            return (None, entra);
        };
        let ou = match &ad.ou {
            Some(ou) => self.dn(&file, ou, "provision.ad.ou").inspect(|dn| {
                if !scope.ous.is_empty() && !scope.contains(dn) {
                    self.issue(&file, ou, format!("provision.ad.ou `{dn}` is outside scope: accounts created there would be out of scope at once"));
                }
            }),
            None => {
                self.issue(&file, ad, "provision.ad.ou is required when provision.ad.enabled is true");
                None
            }
        };
        let template = match &ad.sam_account_name {
            Some(t) => match Template::parse(t) {
                Ok(t) => Some(t),
                Err((pos, msg)) => {
                    let at = Loc {
                        value: (),
                        line: t.line,
                        column: t.column + pos as u64,
                    };
                    self.issue(&file, &at, format!("provision.ad.sam_account_name: {msg}"));
                    None
                }
            },
            None => {
                self.issue(&file, ad, "provision.ad.sam_account_name is required when provision.ad.enabled is true (e.g. \"{mailNickname}\")");
                None
            }
        };
        let cfg = match (ou, template) {
            (Some(ou), Some(sam_account_name)) => Some(ProvisionAdConfig {
                ou,
                sam_account_name,
                initial_state: ad.initial_state,
            }),
            _ => None,
        };
        (cfg, entra)
    }

    fn ad_selector(&mut self, file: &Path, r: &Loc<ObjectRef>, what: &str) -> Option<AdSelector> {
        let given = given_keys(r);
        if given.len() != 1 || r.id.is_some() {
            self.issue(file, r, format!("{what}: give exactly one of `sam_account_name`, `dn`, `object_guid`, `upn` (got {})", describe(&given)));
            return None;
        }
        if let Some(s) = &r.sam_account_name {
            return Some(AdSelector::SamAccountName(SamAccountName::new(s.clone())));
        }
        if let Some(d) = &r.dn {
            return match Dn::parse(d) {
                Ok(dn) => Some(AdSelector::Dn(dn)),
                Err(e) => {
                    self.issue(file, r, format!("{what}.dn: {}", e.reason));
                    None
                }
            };
        }
        if let Some(g) = &r.object_guid {
            return match Guid::parse(g) {
                Some(g) => Some(AdSelector::ObjectGuid(g)),
                None => {
                    self.issue(file, r, format!("{what}.object_guid `{g}` is not a GUID (3ab39606-c642-489b-84b6-58c038d3ef39)"));
                    None
                }
            };
        }
        r.upn.as_ref().map(|u| AdSelector::Upn(Upn::new(u.clone())))
    }

    fn entra_selector(
        &mut self,
        file: &Path,
        r: &Loc<ObjectRef>,
        what: &str,
    ) -> Option<EntraSelector> {
        let given = given_keys(r);
        if given.len() != 1 || !(r.upn.is_some() || r.id.is_some()) {
            self.issue(
                file,
                r,
                format!(
                    "{what}: give exactly one of `upn`, `id` (got {})",
                    describe(&given)
                ),
            );
            return None;
        }
        match (&r.upn, &r.id) {
            (Some(u), _) => Some(EntraSelector::Upn(Upn::new(u.clone()))),
            (_, Some(id)) => Some(EntraSelector::Id(id.clone())),
            _ => None,
        }
    }

    fn protect_selector(&mut self, file: &Path, r: &Loc<ObjectRef>) -> Option<Selector> {
        let given = given_keys(r);
        if given.len() != 1 {
            self.issue(file, r, format!("protect: give exactly one of `sam_account_name`, `dn`, `object_guid`, `upn`, `id` (got {})", describe(&given)));
            return None;
        }
        if let Some(u) = &r.upn {
            return Some(Selector::Upn(Upn::new(u.clone())));
        }
        if let Some(id) = &r.id {
            return Some(Selector::Entra(EntraSelector::Id(id.clone())));
        }
        self.ad_selector(file, r, "protect").map(Selector::Ad)
    }

    fn identities(&mut self, items: Vec<(PathBuf, Loc<model::Identity>)>) -> Vec<IdentitySpec> {
        let mut names: HashMap<String, String> = HashMap::new();
        let mut out = Vec::new();
        for (file, item) in items {
            let origin = format!("{}:{}:{}", file.display(), item.line, item.column);
            if item.ad.is_none() && item.entra.is_none() {
                self.issue(&file, &item, "an identity needs `ad:`, `entra:` or both");
                continue;
            }
            if let Some(name) = &item.name
                && let Some(first) = names.insert(fold(name), origin.clone())
            {
                self.issue(
                    &file,
                    &item,
                    format!("identity name `{name}` is already used at {first}"),
                );
            }
            if item.ignore && !item.attributes.is_empty() {
                self.issue(
                    &file,
                    &item,
                    "an ignored identity cannot carry `attributes` (it is never touched)",
                );
            }
            for (name, value) in &item.attributes {
                if attributes::by_graph(name).is_none() {
                    self.issue(&file, value, unknown_attribute(name));
                }
            }
            let ad = match &item.ad {
                Some(r) => match self.ad_selector(&file, r, "identities[].ad") {
                    Some(s) => Some(s),
                    None => continue,
                },
                None => None,
            };
            let entra = match &item.entra {
                Some(r) => match self.entra_selector(&file, r, "identities[].entra") {
                    Some(s) => Some(s),
                    None => continue,
                },
                None => None,
            };
            let item = item.value;
            out.push(IdentitySpec {
                name: item.name,
                ad,
                entra,
                ignore: item.ignore,
                attributes: item
                    .attributes
                    .into_iter()
                    .map(|(k, v)| (k, v.value))
                    .collect(),
                origin,
            });
        }
        out
    }
}

fn given_keys(r: &ObjectRef) -> Vec<&'static str> {
    [
        ("sam_account_name", r.sam_account_name.is_some()),
        ("dn", r.dn.is_some()),
        ("object_guid", r.object_guid.is_some()),
        ("upn", r.upn.is_some()),
        ("id", r.id.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, set)| set.then_some(k))
    .collect()
}

fn describe(keys: &[&str]) -> String {
    if keys.is_empty() {
        "none".into()
    } else {
        keys.iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn unknown_attribute(name: &str) -> String {
    format!(
        "unknown attribute `{name}`; idsync maps these Graph property names: {}",
        attributes::graph_names().collect::<Vec<_>>().join(", ")
    )
}

fn secret_source(base: &Path, s: &model::SecretRef) -> SecretSource {
    match s {
        model::SecretRef::Env(name) => SecretSource::Env(name.clone()),
        model::SecretRef::File(p) => SecretSource::File(base.join(p)),
    }
}

fn is_domain(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

/// The host of `scheme://host[:port]/…`.
fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or("");
    }
    authority.split(':').next().unwrap_or("")
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_loopback() {
        assert_eq!(host_of("http://127.0.0.1:8080/x"), "127.0.0.1");
        assert_eq!(
            host_of("ldaps://dc01.corp.example.com"),
            "dc01.corp.example.com"
        );
        assert_eq!(host_of("http://[::1]:80"), "::1");
        assert!(is_loopback("127.0.0.7"));
        assert!(is_loopback("::1"));
        assert!(!is_loopback("10.0.0.1"));
    }

    #[test]
    fn domains() {
        assert!(is_domain("example.com"));
        assert!(is_domain("corp.local"));
        assert!(!is_domain("exa mple.com"));
        assert!(!is_domain("-x.com"));
    }
}
