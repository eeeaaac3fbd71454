//! `graph-emulator --listen ADDR --tenant-file FILE [...]`: prints its base URL as the first
//! line of stdout, then serves until SIGTERM or SIGINT.

use graph_emulator::config::{MAX_LATENCY_MS, MAX_TOKEN_LIFETIME};
use graph_emulator::{Config, Emulator, EmulatorError};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "\
usage: graph-emulator --listen ADDR --tenant-file FILE [options]

  --listen ADDR               address to serve on, e.g. 127.0.0.1:0 (port 0 picks a free one)
  --tenant-file FILE          users as Graph JSON: {\"value\":[...]} or a bare array, or a
                              snapshot folder (users.json, groups.json, contacts.json
                              and the tenant data files)
  --app-roles LIST            the app's application permissions, comma-separated
                              (default: every permission)
  --tenant-id ID              tenant accepted in /{tenant}/oauth2/v2.0/token
  --client-id ID              the app's client id
  --client-secret S           the app's client secret
  --federated-assertion S     a client_assertion accepted instead of the secret
  --token-lifetime SECS       access token lifetime (default 3599, at most 86400)
  --rate-limit N              requests per 10 s per app before 429 (default: unlimited)
  --latency-ms N              delay added to every request (default 0, at most 60000)
  --fail-rate P               share 0.0-1.0 of Graph requests answered 503 (default 0)
  --drop-rate P               share 0.0-1.0 of Graph requests whose connection is closed unanswered
  --item-fail-rate P          share 0.0-1.0 of $batch sub-requests answered 503 inside the batch
  --lost-answer-rate P        share 0.0-1.0 of Graph requests carried out, then left unanswered
  --verified-domain D         a verified domain; repeat for more (default: any UPN domain)
  --seed N                    seed for the fault-injection draws (default 0)
  --delta-page-size N         users per page of a delta round (default 100)
  --save-on-exit FILE         write the tenant as {\"value\":[...]} on exit
";

struct Args {
    config: Config,
    tenant_file: PathBuf,
}

fn parse_args(argv: Vec<String>) -> Result<Args, String> {
    let mut config = Config::default();
    let mut listen: Option<std::net::SocketAddr> = None;
    let mut tenant_file = None;
    let mut domains: Vec<String> = Vec::new();
    let mut it = argv.into_iter();
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (flag.clone(), None),
        };
        let mut value = || -> Result<String, String> {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        let num = |v: String| -> Result<u64, String> {
            v.parse().map_err(|_| format!("{name}: not a number: {v}"))
        };
        let share = |v: String| -> Result<f64, String> {
            match v.parse::<f64>() {
                Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
                _ => Err(format!(
                    "{name}: expected a share between 0.0 and 1.0, got {v}"
                )),
            }
        };
        match name.as_str() {
            "--listen" => {
                let v = value()?;
                listen = Some(
                    v.parse()
                        .map_err(|_| format!("--listen: not an address: {v}"))?,
                );
            }
            "--tenant-file" => tenant_file = Some(PathBuf::from(value()?)),
            "--tenant-id" => config.tenant_id = value()?,
            "--client-id" => config.client_id = value()?,
            "--client-secret" => config.client_secret = value()?,
            "--federated-assertion" => config.federated_assertion = Some(value()?),
            "--token-lifetime" => {
                let secs = num(value()?)?;
                if secs > MAX_TOKEN_LIFETIME.as_secs() {
                    return Err(format!(
                        "--token-lifetime must be at most {}",
                        MAX_TOKEN_LIFETIME.as_secs()
                    ));
                }
                config.token_lifetime = Duration::from_secs(secs);
            }
            "--rate-limit" => {
                let n = num(value()?)?;
                if n == 0 || n > u32::MAX as u64 {
                    return Err("--rate-limit must be at least 1".into());
                }
                config.knobs.rate_limit = Some(n as u32);
            }
            "--latency-ms" => {
                let ms = num(value()?)?;
                if ms > MAX_LATENCY_MS {
                    return Err(format!("--latency-ms must be at most {MAX_LATENCY_MS}"));
                }
                config.knobs.latency_ms = ms;
            }
            "--fail-rate" => config.knobs.fail_rate = share(value()?)?,
            "--drop-rate" => config.knobs.drop_rate = share(value()?)?,
            "--item-fail-rate" => config.knobs.item_fail_rate = share(value()?)?,
            "--lost-answer-rate" => config.knobs.lost_answer_rate = share(value()?)?,
            "--verified-domain" => domains.push(value()?),
            "--app-roles" => {
                config.app_roles = Some(
                    value()?
                        .split(',')
                        .map(str::trim)
                        .filter(|r| !r.is_empty())
                        .map(str::to_owned)
                        .collect(),
                )
            }
            "--seed" => config.seed = num(value()?)?,
            "--delta-page-size" => config.delta_page_size = num(value()?)?.max(1) as usize,
            "--save-on-exit" => config.save_on_shutdown = Some(PathBuf::from(value()?)),
            _ => return Err(format!("unknown argument: {flag}")),
        }
    }
    if !domains.is_empty() {
        config.verified_domains = Some(domains);
    }
    let listen = listen.ok_or("--listen is required")?;
    let tenant_file = tenant_file.ok_or("--tenant-file is required")?;
    config.listen = listen;
    Ok(Args {
        config,
        tenant_file,
    })
}

/// Waits for SIGTERM or SIGINT. Built before the URL is printed, so a signal sent as soon as
/// the URL is read is never missed (the default action would kill us without saving).
fn signals() -> std::io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

async fn run(args: Args) -> Result<(), EmulatorError> {
    let config = args.config.with_tenant_file(&args.tenant_file)?;
    let emu = Emulator::start(config).await?;
    let stop = signals().map_err(EmulatorError::Runtime)?;
    {
        // The first line of stdout is the contract with whoever spawned us.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", emu.base_url());
        let _ = out.flush();
    }
    stop.await;
    emu.shutdown().await
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1).collect()) {
        Ok(a) => a,
        Err(msg) => {
            if msg.is_empty() {
                print!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            eprintln!("graph-emulator: {msg}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("graph-emulator: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("graph-emulator: {e}");
            ExitCode::FAILURE
        }
    }
}
