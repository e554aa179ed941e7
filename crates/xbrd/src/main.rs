//! xbrd: the XBR data-market daemon.
//!
//! Exit codes: 0 success; 1 runtime failure; 2 invalid configuration or usage.
#![deny(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use xbrd::cli::{Cli, Command, ConfigCommand, MarketCommand};
use xbrd::config::{self, ConfigError};

/// Exit code for configuration and usage errors.
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = if e.downcast_ref::<ConfigError>().is_some() {
                EXIT_CONFIG
            } else {
                1
            };
            eprintln!("xbrd: error: {}", xbrd::error_report::render(&e));
            ExitCode::from(code)
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run(arg) => {
            let cfg = config::load(&arg.config)?;
            xbrd::logging::init(&cfg.log);
            if let Some(spec) = xbr_market::failpoint::setup_from_env() {
                tracing::warn!(failpoints = %spec, "failpoints configured (test build)");
            }
            runtime()?.block_on(xbrd::run::run(cfg))
        }
        Command::Config(ConfigCommand::Check(arg)) => {
            let cfg = config::load(&arg.config)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&xbrd::run::effective_config(&cfg))?
            );
            eprintln!("xbrd: configuration {} is valid", arg.config.display());
            Ok(())
        }
        Command::Keygen(args) => {
            let out = xbrd::keygen::keygen(&args)?;
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(())
        }
        Command::Status(args) => {
            let status = runtime()?.block_on(xbrd::status::status(&args))?;
            println!("{}", serde_json::to_string_pretty(&status)?);
            Ok(())
        }
        Command::Health(args) => {
            let admin = xbrd::status::health_target(&args)?;
            runtime()?.block_on(xbrd::status::health(admin))
        }
        Command::Chain(args) => {
            xbrd::chain_cmd::init_logging();
            runtime()?.block_on(xbrd::chain_cmd::run(*args))
        }
        Command::Market(MarketCommand::RegisterKey(args)) => {
            let registered = runtime()?.block_on(xbrd::register_key::register_key(&args))?;
            println!("{}", serde_json::to_string_pretty(&registered)?);
            Ok(())
        }
        // Operator commands (issue 14).
        Command::Completions(args) => {
            xbrd::cli_docs::completions(args.shell, &mut std::io::stdout());
            Ok(())
        }
        Command::Man(args) => match args.out {
            None => Ok(xbrd::cli_docs::man_page(&mut std::io::stdout())?),
            Some(dir) => {
                for page in xbrd::cli_docs::man_pages(&dir)? {
                    println!("{}", page.display());
                }
                Ok(())
            }
        },
        Command::Backup(args) => {
            let report = xbrd::backup::backup(&args)?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
        Command::Restore(args) => {
            let report = runtime()?.block_on(xbrd::backup::restore(&args))?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
    }
}
