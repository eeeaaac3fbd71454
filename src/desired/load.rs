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
    load_with(dir, None).map(|l| l.state)
}

/// A loaded desired state and what the CLI should warn about.
#[derive(Debug)]
pub struct Loaded {
    pub state: DesiredState,
    /// Located warnings (never secret values), e.g. a `directories:` block that is not used.
    pub warnings: Vec<Issue>,
}

/// [`load`], with the connection settings taken from `directories` (the pipeline's
/// `--directories FILE`: `ad:` and `entra:` at its top level) instead of the desired state's
/// `directories:`, which is then never used — only named in a warning when it differs.
pub fn load_with(dir: &Path, directories: Option<&Path>) -> Result<Loaded, LoadError> {
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
        let Some(text) = read_text(path, &mut issues)? else {
            continue;
        };
        hasher.update(path.file_name().unwrap_or_default().as_encoded_bytes());
        hasher.update([0]);
        hasher.update(text.as_bytes());
        hasher.update([0]);
        match parse_yaml::<DesiredFile>(&text) {
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
    let mut merged = merge(files, &mut checker);
    let mut warnings = Vec::new();
    if let Some(path) = directories {
        let text = read_text(path, &mut checker.issues)?;
        match text.as_deref().map(parse_yaml::<model::Directories>) {
            Some(Ok(given)) => {
                let given = Loc {
                    value: given,
                    line: 1,
                    column: 1,
                };
                if let Some(own) = &merged.directories {
                    let differ = differing_keys(&own.value, &given);
                    if !differ.is_empty() {
                        warnings.push(Issue {
                            file: own.file.clone(),
                            line: own.value.line,
                            column: own.value.column,
                            message: format!(
                                "warning: `directories:` is not used: {} gives the connection settings, and this block differs in {}",
                                path.display(),
                                differ.join(", ")
                            ),
                        });
                    }
                }
                merged.directories = Some(From {
                    file: path.to_owned(),
                    value: given,
                });
            }
            Some(Err((line, column, message))) => {
                checker.issues.push(Issue {
                    file: path.to_owned(),
                    line,
                    column,
                    message,
                });
                merged.directories = None;
            }
            None => merged.directories = None,
        }
    }
    let state = checker.build(merged, paths, digest);
    if checker.issues.is_empty() {
        Ok(Loaded { state, warnings })
    } else {
        Err(LoadError::Invalid {
            issues: checker.issues,
        })
    }
}

/// Reads a YAML file as UTF-8. Invalid UTF-8 is a located issue (`Ok(None)`), not an I/O error.
fn read_text(path: &Path, issues: &mut Vec<Issue>) -> Result<Option<String>, LoadError> {
    let bytes =
        crate::files::read::read_regular_file(path, crate::files::read::DESIRED_STATE_FILE_LIMIT)
            .map_err(|e| LoadError::Io {
            path: path.to_owned(),
            source: e.into_io_error(),
        })?;
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Some(text)),
        Err(e) => {
            let bytes = e.as_bytes();
            let at = e.utf8_error().valid_up_to();
            // The prefix is valid UTF-8 by definition; count characters for the column.
            let before = std::str::from_utf8(&bytes[..at]).unwrap_or_default();
            let line = before.matches('\n').count() as u64 + 1;
            let column = before.rsplit('\n').next().unwrap_or("").chars().count() as u64 + 1;
            issues.push(Issue {
                file: path.to_owned(),
                line,
                column,
                message: format!(
                    "invalid UTF-8 (byte 0x{:02x}); YAML files must be UTF-8",
                    bytes.get(at).copied().unwrap_or_default()
                ),
            });
            Ok(None)
        }
    }
}

/// Parses one YAML document; an empty file (or only comments) is the default value.
fn parse_yaml<T: serde::de::DeserializeOwned + Default>(
    text: &str,
) -> Result<T, (u64, u64, String)> {
    if text.trim().is_empty()
        || text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Ok(T::default());
    }
    parse_within(text, budget())
}

/// What one file may hold. serde-saphyr's defaults (250,000 nodes, 1M events) stop at about
/// 27,000 identities as `import` writes them (9 nodes, 12 events, ~75 scalar bytes each); these
/// hold a million such identities several times over and still bound a hostile file. Aliases
/// and anchors keep the defaults: they are what guards against billion-laughs expansion.
fn budget() -> serde_saphyr::Budget {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_nodes = 32_000_000;
    budget.max_events = 64_000_000;
    budget.max_total_scalar_bytes = 1 << 30;
    budget
}

/// Parses one YAML document within `budget`; a breach is a plain message at its location.
fn parse_within<T: serde::de::DeserializeOwned>(
    text: &str,
    budget: serde_saphyr::Budget,
) -> Result<T, (u64, u64, String)> {
    let limits = budget.clone();
    // Comments are never read back (no `Commented<T>`): not emitting them keeps them out of
    // the event count, so a heavily commented `import` file costs no more than a bare one.
    let options = serde_saphyr::options! { budget: Some(budget), emit_comments: false };
    serde_saphyr::from_str_with_options::<T>(text, options).map_err(|e| {
        let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
        let plain = e.without_snippet();
        if let serde_saphyr::Error::Budget { breach, .. } = plain {
            return (line.max(1), column.max(1), too_big(breach, &limits));
        }
        use serde_saphyr::MessageFormatter as _;
        let message = plain_text(&serde_saphyr::UserMessageFormatter.format_message(plain));
        (line, column, message)
    })
}

/// A message as one plain line: quotes stay quotes; control characters — raw, or as the
/// `\u{0}` the YAML parser writes for them — are shown as `U+0000`.
fn plain_text(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(c) = rest.chars().next() {
        let escaped = rest.strip_prefix("\\u{").and_then(|r| {
            let (hex, tail) = r.split_once('}')?;
            let code = u32::from_str_radix(hex, 16)
                .ok()
                .filter(|_| hex.len() <= 6)?;
            Some((code, tail))
        });
        if let Some((code, tail)) = escaped {
            out.push_str(&format!("U+{code:04X}"));
            rest = tail;
            continue;
        }
        if c.is_control() {
            out.push_str(&format!("U+{:04X}", u32::from(c)));
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// A budget breach in words: which limit, and what to do about it.
fn too_big(breach: &serde_saphyr::budget::BudgetBreach, limits: &serde_saphyr::Budget) -> String {
    use serde_saphyr::budget::BudgetBreach as B;
    let what = match breach {
        B::Nodes { .. } => format!("more than {} YAML nodes", limits.max_nodes),
        B::Events { .. } => format!("more than {} YAML events", limits.max_events),
        B::ScalarBytes { .. } => format!(
            "more than {} MiB of values",
            limits.max_total_scalar_bytes >> 20
        ),
        B::Depth { .. } => {
            return format!(
                "nested deeper than {} levels; a desired state needs a handful",
                limits.max_depth
            );
        }
        B::Aliases { .. } | B::Anchors { .. } | B::AliasAnchorRatio { .. } => {
            return "too many YAML aliases or anchors (refused: they can expand without bound)"
                .to_owned();
        }
        B::Documents { .. } => format!("more than {} YAML documents", limits.max_documents),
        _ => "more YAML than idsync reads in one file".to_owned(),
    };
    format!(
        "this file is too big: {what} (enough for about a million identities); split `identities` across several files in the folder"
    )
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
    upn_suffixes: Option<From<BTreeMap<String, Loc<String>>>>,
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
            // In file order, so a duplicate is reported where it is written second.
            let mut entries: Vec<(&String, &Loc<String>)> = s.value.value.iter().collect();
            entries.sort_by_key(|(_, to)| (to.line, to.column));
            let mut first: BTreeMap<String, (&String, &Loc<String>)> = BTreeMap::new();
            for (from, to) in entries {
                for domain in [from, &to.value] {
                    if !is_domain(domain) {
                        self.issue(
                            &s.file,
                            to,
                            format!("upn_suffixes: `{domain}` is not a domain name"),
                        );
                    }
                }
                let key = fold(from);
                if let Some((earlier, at)) = first.get(&key) {
                    self.issue(
                        &s.file,
                        to,
                        format!(
                            "upn_suffixes: `{from}` is `{earlier}` (line {}) in another case; UPN suffixes are case-insensitive, keep one",
                            at.line
                        ),
                    );
                    continue;
                }
                first.insert(key.clone(), (from, to));
                upn_suffixes.insert(key, to.value.clone());
            }
        }

        let mut attrs = BTreeMap::new();
        if let Some(a) = &m.attributes {
            for (name, authority) in &a.value.value {
                // proxyAddresses has an authority but no value to override (it is a list).
                if attributes::by_graph(name).is_some() || name == "proxyAddresses" {
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
                    Some(p) => self.secret_source(file, base, p, "directories.ad.password"),
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
            (Some(s), None) => self
                .secret_source(file, base, s, "directories.entra.client_secret")
                .map(GraphCredential::ClientSecret),
            (None, Some(f)) => self
                .secret_file(
                    file,
                    f,
                    &base.join(&f.value),
                    "directories.entra.federated_token_file",
                )
                .map(GraphCredential::FederatedTokenFile),
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

    fn secret_source(
        &mut self,
        file: &Path,
        base: &Path,
        s: &Loc<model::SecretRef>,
        what: &str,
    ) -> Option<SecretSource> {
        match &s.value {
            model::SecretRef::Env(name) => match env_refusal(name) {
                Some(why) => {
                    self.issue(file, s, format!("{what}: {why}"));
                    None
                }
                None => Some(SecretSource::Env(name.clone())),
            },
            model::SecretRef::File(p) => self
                .secret_file(file, s, &base.join(p), what)
                .map(SecretSource::File),
        }
    }

    fn secret_file<T>(
        &mut self,
        file: &Path,
        at: &Loc<T>,
        path: &Path,
        what: &str,
    ) -> Option<PathBuf> {
        match secret_file_refusal(path) {
            Some(why) => {
                self.issue(file, at, format!("{what}: {why}"));
                None
            }
            None => Some(path.to_owned()),
        }
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

/// The keys in which two `directories:` blocks differ, as written (relative paths are compared
/// as text: each file's paths are relative to that file). Names keys, never values.
fn differing_keys(own: &model::Directories, given: &model::Directories) -> Vec<String> {
    fn value<T>(v: &Option<Loc<T>>) -> Option<&T> {
        v.as_ref().map(|l| &l.value)
    }
    // Exhaustive on purpose: a key added to the model stops this compiling until it is
    // compared below too.
    if let (Some(ad), Some(entra)) = (&own.ad, &own.entra) {
        let model::AdDirectory {
            url: _,
            start_tls: _,
            base_dn: _,
            bind_dn: _,
            password: _,
            ca_file: _,
            timeout_seconds: _,
            snapshot: _,
        } = &ad.value;
        let model::EntraDirectory {
            tenant_id: _,
            client_id: _,
            client_secret: _,
            federated_token_file: _,
            login_url: _,
            graph_url: _,
            snapshot: _,
        } = &entra.value;
    }
    let mut out = Vec::new();
    macro_rules! compare {
        ($side:literal, $a:expr, $b:expr, [$($key:ident),*], [$($flag:ident),*]) => {
            match ($a.as_ref(), $b.as_ref()) {
                (None, None) => {}
                (Some(a), Some(b)) => {
                    $(if value(&a.$key) != value(&b.$key) {
                        out.push(concat!("directories.", $side, ".", stringify!($key)).to_owned());
                    })*
                    $(if a.$flag != b.$flag {
                        out.push(concat!("directories.", $side, ".", stringify!($flag)).to_owned());
                    })*
                }
                _ => out.push(concat!("directories.", $side).to_owned()),
            }
        };
    }
    compare!(
        "ad",
        own.ad,
        given.ad,
        [
            url,
            base_dn,
            bind_dn,
            password,
            ca_file,
            timeout_seconds,
            snapshot
        ],
        [start_tls]
    );
    compare!(
        "entra",
        own.entra,
        given.entra,
        [
            tenant_id,
            client_id,
            client_secret,
            federated_token_file,
            login_url,
            graph_url,
            snapshot
        ],
        []
    );
    out
}

/// Why a variable may not hold an idsync secret, if it may not. The desired state is untrusted
/// (a pull request edits it while the pipeline holds credentials), so it may only name the
/// variables set for idsync, and never the key that signs saved plans.
fn env_refusal(name: &str) -> Option<&'static str> {
    let valid = name
        .strip_prefix(SECRET_ENV_PREFIX)
        .is_some_and(|rest| !rest.is_empty())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if name == crate::apply::saved::KEY_ENV {
        Some("IDSYNC_PLAN_KEY signs saved plans and is never sent to a directory")
    } else if !valid {
        // The name is not repeated: a secret pasted here by mistake must not reach a log.
        Some(
            "`{ env: NAME }` must name a variable starting with IDSYNC_ (letters, digits, `_`): the desired state may not choose which of the pipeline's variables is sent to a directory",
        )
    } else {
        None
    }
}

/// Only these variables may hold secrets named in the desired state.
const SECRET_ENV_PREFIX: &str = "IDSYNC_";

/// Why a path is obviously not a secret file, if it is: kernel and device files
/// (`/proc/self/environ` holds every variable of the pipeline), git's own files (a checkout's
/// `.git/config` can hold the token it was cloned with), anything that is not a regular file.
/// The read itself is bounded and checked again when the secret is read.
fn secret_file_refusal(path: &Path) -> Option<String> {
    fn lexical(path: &Path) -> Option<String> {
        use std::path::Component;
        let mut components = path.components();
        if let (Some(Component::RootDir), Some(Component::Normal(top))) =
            (components.next(), components.next())
            && ["proc", "sys", "dev"].iter().any(|t| top == *t)
            // /dev/shm holds ordinary files (a job may put a secret there), not devices.
            && !(top == "dev" && components.next().is_some_and(|c| c.as_os_str() == "shm"))
        {
            return Some(format!(
                "a file under /{} is not a secret file",
                top.to_string_lossy()
            ));
        }
        if path.components().any(|c| c.as_os_str() == ".git") {
            return Some("a file inside a .git folder is not a secret file".into());
        }
        None
    }
    if let Some(why) = lexical(path) {
        return Some(why);
    }
    // A symlink committed to the repository can point anywhere: check where it leads.
    if let Ok(real) = std::fs::canonicalize(path)
        && let Some(why) = lexical(&real)
    {
        return Some(format!("it leads to {}: {why}", real.display()));
    }
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => Some("it is not a regular file".into()),
        _ => None,
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
    fn messages_are_quoted_plainly() {
        assert_eq!(
            plain_text("unexpected character: `\\u{0}'"),
            "unexpected character: `U+0000'"
        );
        assert_eq!(
            plain_text("expected ':'\u{1b}[31m"),
            "expected ':'U+001B[31m"
        );
        assert_eq!(plain_text("keep \\u{zz} and \\n"), "keep \\u{zz} and \\n");
    }

    #[test]
    fn only_idsync_variables_hold_secrets() {
        assert_eq!(env_refusal("IDSYNC_AD_PASSWORD"), None);
        for name in [
            "IDSYNC_PLAN_KEY",
            "GITHUB_TOKEN",
            "IDSYNC_",
            "idsync_x",
            "IDSYNC_A-B",
            "",
        ] {
            assert!(env_refusal(name).is_some(), "{name}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn obvious_non_secret_files_are_refused() {
        for p in [
            "/proc/self/environ",
            "/dev/zero",
            "/sys/kernel/x",
            "repo/.git/config",
        ] {
            assert!(secret_file_refusal(Path::new(p)).is_some(), "{p}");
        }
        let dir = tempfile::tempdir().unwrap();
        assert!(secret_file_refusal(dir.path()).is_some(), "a directory");
        let link = dir.path().join("secret");
        std::os::unix::fs::symlink("/proc/self/environ", &link).unwrap();
        let why = secret_file_refusal(&link).unwrap();
        assert!(why.contains("/proc"), "{why}");
        let real = dir.path().join("real");
        std::fs::write(&real, "s3cr3t").unwrap();
        assert_eq!(secret_file_refusal(&real), None);
        assert_eq!(secret_file_refusal(&dir.path().join("not-yet")), None);
        assert_eq!(
            secret_file_refusal(Path::new("/dev/shm/idsync-not-yet")),
            None
        );
    }

    #[test]
    fn a_file_past_the_budget_is_a_located_plain_error() {
        let mut small = budget();
        small.max_nodes = 20;
        let text = "identities:\n".to_owned()
            + &"  - ad: { sam_account_name: a }\n    entra: { id: b }\n".repeat(5);
        assert!(parse_within::<DesiredFile>(&text, budget()).is_ok());
        let (line, column, message) = parse_within::<DesiredFile>(&text, small)
            .map(|_| ())
            .unwrap_err();
        // Located where the file outgrew the budget, not at its start.
        assert!(line > 1 && column >= 1, "{line}:{column}");
        assert!(
            message.starts_with("this file is too big: more than 20 YAML nodes")
                && message.contains("split `identities`"),
            "{message}"
        );
        assert!(!message.contains("Nodes {"), "{message}");
    }

    #[test]
    fn domains() {
        assert!(is_domain("example.com"));
        assert!(is_domain("corp.local"));
        assert!(!is_domain("exa mple.com"));
        assert!(!is_domain("-x.com"));
    }
}
