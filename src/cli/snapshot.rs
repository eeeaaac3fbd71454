//! `idsync snapshot`: export a directory as the snapshot files idsync reads, with what a plan
//! of this desired state reads (same scope, attributes and `$select`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::ValueEnum;
use idsync::connect::{EntraDirectory, ad_query, graph_select, open_ad, open_entra};
use idsync::directory::snapshot::export::{self, AdExport, EntraExport, Shape};
use idsync::directory::{AdGroupRead, AdUserRead, EntraGroupRead, EntraUserRead};

use super::{Global, output, progress, runtime, validate};

#[derive(Debug, clap::Args)]
pub struct SnapshotArgs {
    /// Which directory to export.
    #[arg(long, value_enum)]
    from: Source,
    /// Where to write: for AD one LDIF file, for Entra a snapshot folder (`users.json` and
    /// the tenant data files that could be read).
    /// Replaced whole, atomically; a failed export leaves it as it was.
    #[arg(long, value_name = "PATH")]
    out: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Source {
    Ad,
    Entra,
}

pub fn run(global: &Global, args: &SnapshotArgs) -> anyhow::Result<ExitCode> {
    let desired = validate::load(global)?;
    let shape = match args.from {
        Source::Ad => Shape::File,
        Source::Entra => Shape::Folder,
    };
    // Before a long read: a target the export would refuse fails now.
    export::check_target(&args.out, shape)?;
    let rt = runtime()?;
    let overrides = global.overrides();
    let (count, what) = match args.from {
        Source::Ad => {
            let query = export::ad_export_query(&ad_query(&desired));
            let (users, groups, contacts, source) = rt.block_on(async {
                let mut ad = open_ad(&desired, &overrides).await?;
                ad.set_progress(progress::sink(global));
                output::info(global, &format!("reading {}", ad.describe()));
                let users = ad.read_users(&query).await?;
                let groups = ad.read_groups(&query).await?;
                let contacts = ad.read_contacts(&query).await?;
                Ok::<_, anyhow::Error>((users, groups, contacts, ad.describe()))
            })?;
            AdExport {
                source: &source,
                query: &query,
                users: &users,
                groups: &groups,
                contacts: &contacts,
            }
            .write(&args.out)
            .context("writing the AD snapshot")?;
            (users.len(), "AD users")
        }
        Source::Entra => {
            let select = graph_select(&desired);
            let read = rt.block_on(async {
                let mut entra = open_entra(&desired, &overrides).await?;
                entra.set_progress(progress::sink(global));
                output::info(global, &format!("reading {}", entra.describe()));
                let users = entra.read_users(&select).await?;
                let tenant = entra.read_tenant_docs().await?;
                // A kind the source does not know (a snapshot folder without its file) is left
                // out, not written as "none".
                let groups = entra.read_groups().await?;
                let groups = match entra.groups_unread() {
                    None => Ok(groups),
                    Some(why) => Err(why),
                };
                let contacts = entra.read_contacts().await?;
                let contacts = match entra.contacts_unread() {
                    None => Ok(contacts),
                    Some(why) => Err(why),
                };
                // Checked before anything is written: a snapshot is only what a plan reads.
                tenant.tenant().map_err(|(source, e)| {
                    anyhow::anyhow!(
                        "{}: object #{}: {}",
                        source.request(),
                        e.index + 1,
                        e.message
                    )
                })?;
                let graph_url = match &entra {
                    EntraDirectory::Graph(g) => g.graph_url().to_owned(),
                    EntraDirectory::Snapshot(_) | EntraDirectory::Export(_) => {
                        export::GRAPH_URL.to_owned()
                    }
                };
                Ok::<_, anyhow::Error>((users, tenant, graph_url, groups, contacts))
            })?;
            let (users, tenant, graph_url, groups, contacts) = read;
            EntraExport {
                graph_url: &graph_url,
                select: &select,
                users: &users,
                tenant: &tenant,
                groups: groups.as_deref().ok(),
                contacts: contacts.as_deref().ok(),
            }
            .write(&args.out)
            .context("writing the Entra snapshot")?;
            // A part not read is left out of the folder; say why, so the admin can grant the
            // permission (a plan from this snapshot states its assumptions for it).
            let s = output::stderr_styler(global);
            for (source, part) in tenant.parts() {
                if let Some(why) = part.why_unknown() {
                    eprintln!(
                        "{} {} not written: {why}",
                        s.warning("warning:"),
                        source.file
                    );
                }
            }
            for (file, why) in [
                (export::GROUPS_FILE, groups.as_ref().err()),
                (export::CONTACTS_FILE, contacts.as_ref().err()),
            ] {
                if let Some(why) = why {
                    eprintln!("{} {file} not written: {why}", s.warning("warning:"));
                }
            }
            (users.len(), "cloud users")
        }
    };
    if !global.quiet {
        eprintln!("Wrote {count} {what} to {}.", args.out.display());
        if count == 0 {
            eprintln!(
                "warning: the read returned no users; check scope.ous and the account's permissions"
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
