//! Checking `groups[]`: each side named by exactly one valid key, no group named twice, every
//! member resolvable (an identity name, a UPN, or `group:NAME` of another entry), no group
//! containing itself through nested groups.

use super::*;
use crate::desired::{
    AdGroupSelector, EntraGroupSelector, GroupSpec, GroupType, MemberRef, Membership,
};
use crate::names::{SmtpAddress, closest};
use crate::plan::Side;

/// The prefix of a nested-group member.
const GROUP_PREFIX: &str = "group:";

/// A group entry that passed its own checks, before members are resolved.
struct Entry {
    file: PathBuf,
    at: Loc<()>,
    name: String,
    ad: Option<AdGroupSelector>,
    entra: Option<EntraGroupSelector>,
    group_type: GroupType,
    /// `members` as written, each with where.
    members: Option<Vec<Loc<String>>>,
    members_from: Option<Side>,
    ignore: bool,
    licenses: Option<Vec<crate::desired::LicenseSpec>>,
}

impl Checker {
    pub(super) fn groups(
        &mut self,
        items: Vec<(PathBuf, Loc<model::Group>)>,
        identities: &[IdentitySpec],
    ) -> Vec<GroupSpec> {
        let mut entries: Vec<Entry> = Vec::new();
        // Folded name -> origin; one per kind of side key.
        let mut names: HashMap<String, String> = HashMap::new();
        let mut ad_keys: HashMap<String, String> = HashMap::new();
        let mut entra_keys: HashMap<String, String> = HashMap::new();
        for (file, item) in items {
            let origin = format!("{}:{}:{}", file.display(), item.line, item.column);
            let at = Loc {
                value: (),
                line: item.line,
                column: item.column,
            };
            let g = item.value;
            if g.ad.is_none() && g.entra.is_none() {
                self.issue(
                    &file,
                    &at,
                    format!("group `{}` needs `ad:`, `entra:` or both", g.name.value),
                );
                continue;
            }
            if g.name.trim().is_empty() {
                self.issue(&file, &g.name, "a group name must not be empty");
                continue;
            }
            if let Some(first) = names.insert(fold(&g.name), origin.clone()) {
                self.issue(
                    &file,
                    &g.name,
                    format!("group name `{}` is already used at {first}", g.name.value),
                );
            }
            let ad = match &g.ad {
                Some(r) => match self.ad_group_selector(&file, r) {
                    Some(s) => Some(s),
                    None => continue,
                },
                None => None,
            };
            let entra = match &g.entra {
                Some(r) => match self.entra_group_selector(&file, r) {
                    Some(s) => Some(s),
                    None => continue,
                },
                None => None,
            };
            if let (Some(sel), Some(r)) = (&ad, &g.ad)
                && let Some(first) = ad_keys.insert(ad_key(sel), origin.clone())
            {
                self.issue(
                    &file,
                    r,
                    format!(
                        "group `{}` names the same AD group as the entry at {first}",
                        g.name.value
                    ),
                );
            }
            if let (Some(sel), Some(r)) = (&entra, &g.entra)
                && let Some(first) = entra_keys.insert(entra_key(sel), origin.clone())
            {
                self.issue(
                    &file,
                    r,
                    format!(
                        "group `{}` names the same cloud group as the entry at {first}",
                        g.name.value
                    ),
                );
            }
            if let (Some(_), Some(from)) = (&g.members, &g.members_from) {
                self.issue(
                    &file,
                    from,
                    "give `members` (the exact set) or `members_from` (mirror one side), not both",
                );
                continue;
            }
            if g.ignore && (g.members.is_some() || g.members_from.is_some()) {
                self.issue(
                    &file,
                    &at,
                    "an ignored group cannot carry `members` or `members_from` (it is never touched)",
                );
                continue;
            }
            let licenses = g
                .licenses
                .as_ref()
                .map(|l| self.licenses(&file, &l.value, "groups[].licenses"));
            entries.push(Entry {
                licenses,
                file,
                at,
                name: g.name.value,
                ad,
                entra,
                group_type: match g.group_type {
                    model::GroupKind::Security => GroupType::Security,
                    model::GroupKind::Distribution => GroupType::Distribution,
                },
                members: g.members.map(|m| m.value),
                members_from: g.members_from.map(|f| match f.value {
                    model::Authority::Ad => Side::Ad,
                    model::Authority::Entra => Side::Entra,
                }),
                ignore: g.ignore,
            });
        }

        // Names members may use: every identity's name, explicit or defaulted (the cloud UPN,
        // else the sAMAccountName: what plans call it). UPNs need no entry.
        let mut identity_names: HashMap<String, &str> = HashMap::new();
        for spec in identities {
            let name = match (&spec.name, &spec.entra, &spec.ad) {
                (Some(n), _, _) => n.as_str(),
                (None, Some(EntraSelector::Upn(u)), _) => u.as_str(),
                (None, _, Some(AdSelector::SamAccountName(s))) => s.as_str(),
                (None, _, Some(AdSelector::Upn(u))) => u.as_str(),
                _ => continue,
            };
            identity_names.entry(fold(name)).or_insert(name);
        }
        let group_names: HashMap<String, usize> = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (fold(&e.name), i))
            .rev() // the first entry of a name wins, as the duplicate error says
            .collect();

        // Resolve members; `edges[i]` are the nested groups of entry `i`, with where.
        let mut resolved: Vec<Membership> = Vec::with_capacity(entries.len());
        let mut edges: Vec<Vec<(usize, Loc<()>)>> = vec![Vec::new(); entries.len()];
        for (i, e) in entries.iter().enumerate() {
            let Some(members) = &e.members else {
                resolved.push(
                    e.members_from
                        .map_or(Membership::Unmanaged, Membership::From),
                );
                continue;
            };
            let mut refs = Vec::with_capacity(members.len());
            let mut seen: HashMap<String, ()> = HashMap::new();
            for m in members {
                let text = m.value.trim();
                if seen.insert(fold(text), ()).is_some() {
                    self.issue(&e.file, m, format!("member `{text}` is listed twice"));
                    continue;
                }
                if let Some(group) = strip_prefix_ci(text, GROUP_PREFIX) {
                    let group = group.trim();
                    match group_names.get(&fold(group)) {
                        Some(&j) => {
                            edges[i].push((
                                j,
                                Loc {
                                    value: (),
                                    line: m.line,
                                    column: m.column,
                                },
                            ));
                            refs.push(MemberRef::Group(entries[j].name.clone()));
                        }
                        None => {
                            let hint = did_you_mean(closest(
                                group,
                                entries.iter().map(|e| e.name.as_str()),
                            ));
                            self.issue(
                                &e.file,
                                m,
                                format!(
                                    "member `{text}`: no group named `{group}` in groups[]{hint}"
                                ),
                            );
                        }
                    }
                } else if text.contains('@') {
                    if is_upn(text) {
                        refs.push(MemberRef::Upn(Upn::new(text)));
                    } else {
                        self.issue(
                            &e.file,
                            m,
                            format!("member `{text}` is not a UPN (local@domain)"),
                        );
                    }
                } else if let Some(name) = identity_names.get(&fold(text)) {
                    refs.push(MemberRef::Identity((*name).to_owned()));
                } else {
                    let mut hint = did_you_mean(closest(text, identity_names.values().copied()));
                    if hint.is_empty() && group_names.contains_key(&fold(text)) {
                        hint = format!("; for the group, write \"group:{text}\"");
                    }
                    self.issue(
                        &e.file,
                        m,
                        format!(
                            "member `{text}` is neither an identity name in identities[], nor a UPN, nor \"group:NAME\"{hint}"
                        ),
                    );
                }
            }
            resolved.push(Membership::Exact(refs));
        }

        self.cycles(&entries, &edges);

        entries
            .into_iter()
            .zip(resolved)
            .map(|(e, members)| GroupSpec {
                origin: format!("{}:{}:{}", e.file.display(), e.at.line, e.at.column),
                name: e.name,
                ad: e.ad,
                entra: e.entra,
                group_type: e.group_type,
                members,
                ignore: e.ignore,
                licenses: e.licenses,
            })
            .collect()
    }

    /// Reports each cycle of nested groups once, at the member where it starts, with its path.
    fn cycles(&mut self, entries: &[Entry], edges: &[Vec<(usize, Loc<()>)>]) {
        // Iterative depth-first search (a desired state is untrusted: no recursion on its
        // depth). 0 = unvisited, 1 = on the current path, 2 = done.
        let mut state = vec![0u8; entries.len()];
        for start in 0..entries.len() {
            if state[start] != 0 {
                continue;
            }
            // (node, next edge to follow)
            let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
            state[start] = 1;
            while let Some(top) = stack.last_mut() {
                let node = top.0;
                let Some((to, at)) = edges[node].get(top.1) else {
                    state[node] = 2;
                    stack.pop();
                    continue;
                };
                top.1 += 1;
                match state[*to] {
                    0 => {
                        state[*to] = 1;
                        stack.push((*to, 0));
                    }
                    1 => {
                        // The path from `to` down to `node`, then back to `to`.
                        let from = stack.iter().position(|&(n, _)| n == *to).unwrap_or(0);
                        let mut path: Vec<&str> = stack[from..]
                            .iter()
                            .map(|&(n, _)| entries[n].name.as_str())
                            .collect();
                        path.push(&entries[*to].name);
                        // At the member that leads out of the cycle's first group.
                        let (file, at) = match stack.get(from + 1) {
                            Some(_) => {
                                let first = stack[from].0;
                                let follow = stack[from].1 - 1;
                                (&entries[first].file, edges[first][follow].1.clone())
                            }
                            None => (&entries[node].file, at.clone()),
                        };
                        let message = format!(
                            "group `{}` contains itself: {}",
                            entries[*to].name,
                            path.join(" -> ")
                        );
                        let file = file.clone();
                        self.issue(&file, &at, message);
                    }
                    _ => {}
                }
            }
        }
    }

    fn ad_group_selector(
        &mut self,
        file: &Path,
        r: &Loc<model::GroupAdRef>,
    ) -> Option<AdGroupSelector> {
        let given: Vec<&str> = [
            ("sam_account_name", r.sam_account_name.is_some()),
            ("dn", r.dn.is_some()),
            ("object_guid", r.object_guid.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, set)| set.then_some(k))
        .collect();
        if given.len() != 1 {
            self.issue(
                file,
                r,
                format!(
                    "groups[].ad: give exactly one of `sam_account_name`, `dn`, `object_guid` (got {})",
                    describe(&given)
                ),
            );
            return None;
        }
        if let Some(s) = &r.sam_account_name {
            if s.trim().is_empty() {
                self.issue(file, s, "groups[].ad.sam_account_name must not be empty");
                return None;
            }
            return Some(AdGroupSelector::SamAccountName(SamAccountName::new(
                s.value.clone(),
            )));
        }
        if let Some(d) = &r.dn {
            return self.dn(file, d, "groups[].ad.dn").map(AdGroupSelector::Dn);
        }
        let g = r.object_guid.as_ref()?;
        match Guid::parse(g) {
            Some(guid) => Some(AdGroupSelector::ObjectGuid(guid)),
            None => {
                self.issue(
                    file,
                    g,
                    format!(
                        "groups[].ad.object_guid `{}` is not a GUID (3ab39606-c642-489b-84b6-58c038d3ef39)",
                        g.value
                    ),
                );
                None
            }
        }
    }

    fn entra_group_selector(
        &mut self,
        file: &Path,
        r: &Loc<model::GroupEntraRef>,
    ) -> Option<EntraGroupSelector> {
        let given: Vec<&str> = [
            ("id", r.id.is_some()),
            ("mail", r.mail.is_some()),
            ("display_name", r.display_name.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, set)| set.then_some(k))
        .collect();
        if given.len() != 1 {
            self.issue(
                file,
                r,
                format!(
                    "groups[].entra: give exactly one of `id`, `mail`, `display_name` (got {})",
                    describe(&given)
                ),
            );
            return None;
        }
        if let Some(id) = &r.id {
            // Not checked further, as identities[].entra.id is not: snapshots and emulators use
            // ids of their own.
            if id.trim().is_empty() {
                self.issue(file, id, "groups[].entra.id must not be empty");
                return None;
            }
            return Some(EntraGroupSelector::Id(id.value.clone()));
        }
        if let Some(mail) = &r.mail {
            if !is_upn(mail) {
                self.issue(
                    file,
                    mail,
                    format!(
                        "groups[].entra.mail `{}` is not an SMTP address (local@domain)",
                        mail.value
                    ),
                );
                return None;
            }
            return Some(EntraGroupSelector::Mail(SmtpAddress::new(
                mail.value.clone(),
            )));
        }
        let name = r.display_name.as_ref()?;
        if name.trim().is_empty() {
            self.issue(file, name, "groups[].entra.display_name must not be empty");
            return None;
        }
        Some(EntraGroupSelector::DisplayName(name.value.clone()))
    }
}

/// A folded key per AD selector kind: two entries with the same key name the same group.
fn ad_key(s: &AdGroupSelector) -> String {
    match s {
        AdGroupSelector::SamAccountName(n) => format!("sam:{}", fold(n.as_str())),
        AdGroupSelector::Dn(dn) => format!("dn:{}", fold(&dn.to_string())),
        AdGroupSelector::ObjectGuid(g) => format!("guid:{g}"),
    }
}

fn entra_key(s: &EntraGroupSelector) -> String {
    match s {
        EntraGroupSelector::Id(id) => format!("id:{}", fold(id)),
        EntraGroupSelector::Mail(m) => format!("mail:{}", fold(m.as_str())),
        EntraGroupSelector::DisplayName(n) => format!("name:{}", fold(n)),
    }
}

/// `local@domain`, with nothing odd in it (the shape of a UPN or an SMTP address).
fn is_upn(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !local.chars().any(|c| c.is_whitespace() || c == '@')
                && is_domain(domain)
        }
        None => false,
    }
}

fn strip_prefix_ci<'s>(s: &'s str, prefix: &str) -> Option<&'s str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

fn did_you_mean(names: Vec<&str>) -> String {
    if names.is_empty() {
        String::new()
    } else {
        format!(
            "; did you mean {}?",
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}
