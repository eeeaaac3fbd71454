//! Loading: read every YAML file of a folder (YAML reading in [`yaml`]), merge them, check
//! the result ([`check`]; the secret references it may hold in [`secrets`]).

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

mod check;
mod groups;
mod licenses;
mod secrets;
mod yaml;

use check::*;
use yaml::*;

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
    groups: Vec<(PathBuf, Loc<model::Group>)>,
    licenses: Option<From<model::Licenses>>,
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
                    "`{key}` is already defined at {}:{}:{}; only `identities` and `groups` may be split across files",
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
        take(&mut m.licenses, "licenses", &file, doc.licenses, c);
        if let Some(ids) = doc.identities {
            m.identities
                .extend(ids.value.into_iter().map(|i| (file.clone(), i)));
        }
        if let Some(groups) = doc.groups {
            m.groups
                .extend(groups.value.into_iter().map(|g| (file.clone(), g)));
        }
    }
    m
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

#[cfg(test)]
mod tests;
