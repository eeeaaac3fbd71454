//! Checking the merged files: every value parsed and valid, every issue located.

use super::*;

pub(super) struct Checker {
    pub(super) issues: Vec<Issue>,
    pub(super) files: Vec<PathBuf>,
    pub(super) parse_failed: bool,
}

impl Checker {
    pub(super) fn issue<T>(&mut self, file: &Path, at: &Loc<T>, message: impl Into<String>) {
        self.issues.push(Issue {
            file: file.to_owned(),
            line: at.line,
            column: at.column,
            message: message.into(),
        });
    }

    /// For keys missing from every file: point at the first file.
    pub(super) fn missing(&mut self, message: impl Into<String>) {
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

    pub(super) fn dn(&mut self, file: &Path, value: &Loc<String>, what: &str) -> Option<Dn> {
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

    pub(super) fn build(&mut self, m: Merged, files: Vec<PathBuf>, digest: String) -> DesiredState {
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
        let groups = self.groups(m.groups, &identities);
        let default_licenses = m
            .licenses
            .as_ref()
            .map(|l| self.licenses(&l.file, &l.value.value.default, "licenses.default"));

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
            groups,
            default_licenses,
        }
    }

    pub(super) fn ad_config(
        &mut self,
        file: &Path,
        a: &Loc<model::AdDirectory>,
    ) -> Option<AdConfig> {
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

    pub(super) fn entra_config(
        &mut self,
        file: &Path,
        e: &Loc<model::EntraDirectory>,
    ) -> Option<EntraConfig> {
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

    pub(super) fn scope(&mut self, scope: Option<&From<model::Scope>>) -> ScopeConfig {
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

    pub(super) fn provision(
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

    pub(super) fn ad_selector(
        &mut self,
        file: &Path,
        r: &Loc<ObjectRef>,
        what: &str,
    ) -> Option<AdSelector> {
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

    pub(super) fn entra_selector(
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

    pub(super) fn protect_selector(&mut self, file: &Path, r: &Loc<ObjectRef>) -> Option<Selector> {
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

    pub(super) fn identities(
        &mut self,
        items: Vec<(PathBuf, Loc<model::Identity>)>,
    ) -> Vec<IdentitySpec> {
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
            let licenses = item
                .licenses
                .as_ref()
                .map(|l| self.licenses(&file, &l.value, "identities[].licenses"));
            let item = item.value;
            out.push(IdentitySpec {
                licenses,
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

pub(super) fn given_keys(r: &ObjectRef) -> Vec<&'static str> {
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

pub(super) fn describe(keys: &[&str]) -> String {
    if keys.is_empty() {
        "none".into()
    } else {
        keys.iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

pub(super) fn unknown_attribute(name: &str) -> String {
    format!(
        "unknown attribute `{name}`; idsync maps these Graph property names: {}",
        attributes::graph_names().collect::<Vec<_>>().join(", ")
    )
}

pub(super) fn is_domain(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

/// The host of `scheme://host[:port]/…`.
pub(super) fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or("");
    }
    authority.split(':').next().unwrap_or("")
}

pub(super) fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
