//! Command-line interface (clap derive).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use crate::chain_cmd::args::{ChainArgs, ChainCommand, GatewayArgs};

/// xbrd: the XBR data-market daemon (seller, buyer or market maker on a WAMP router and an XBR chain).
#[derive(Debug, Parser)]
#[command(name = "xbrd", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon in the role the configuration names.
    Run(ConfigArg),
    /// Work with configuration files.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Generate an Ethereum key and a WAMP-cryptosign key (files created with mode 0600).
    Keygen(KeygenArgs),
    /// XBR contracts on chain: members, markets, actors, channels; deploy and bootstrap a dev market.
    Chain(Box<ChainArgs>),
    /// Show the status of a running daemon (reads its admin API).
    Status(StatusArgs),
    /// Exit 0 when a running daemon answers `GET /health` (for container health checks).
    Health(HealthArgs),
    /// The market realm: register a delegate's key with the market maker.
    #[command(subcommand)]
    Market(MarketCommand),
    // Operator commands (issue 14).
    /// Print a shell completion script to stdout (e.g. `xbrd completions bash > /etc/bash_completion.d/xbrd`).
    Completions(CompletionsArgs),
    /// Print the man page (roff) to stdout, or write one page per command into a directory.
    Man(ManArgs),
    /// Copy the store into a file with SQLite's online backup (safe while the daemon runs).
    Backup(BackupArgs),
    /// Check a backup and put it in place of the store (the daemon must be stopped).
    Restore(RestoreArgs),
}

/// `xbrd completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `xbrd man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write `xbrd.1` and `xbrd-<command>.1` for every subcommand into this directory instead.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// `xbrd backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The daemon's configuration (gives the store's path).
    #[arg(short = 'c', long = "config", value_name = "FILE", env = "XBRD_CONFIG")]
    pub config: PathBuf,
    /// The backup file to write (mode 0600; an existing file is refused).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// `xbrd restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The daemon's configuration (gives the store's path and the role whose invariants are checked).
    #[arg(short = 'c', long = "config", value_name = "FILE", env = "XBRD_CONFIG")]
    pub config: PathBuf,
    /// The backup file (`xbrd backup --out`).
    #[arg(long, value_name = "FILE")]
    pub from: PathBuf,
    /// Only check the backup (integrity, schema, money-path invariants); change nothing.
    #[arg(long)]
    pub check: bool,
}

/// `xbrd market …`.
#[derive(Debug, Subcommand)]
pub enum MarketCommand {
    /// Register the delegate's cryptosign key (the configuration's `[authentication]
    /// private_key_file`) for its member, once: joins with the member's signed first login,
    /// checks the market admitted it as a member's `user`, prints the authid and leaves.
    RegisterKey(RegisterKeyArgs),
}

/// `xbrd market register-key`.
#[derive(Debug, Args)]
pub struct RegisterKeyArgs {
    /// The delegate's configuration (realm, transports, cryptosign key).
    #[arg(short = 'c', long = "config", value_name = "FILE", env = "XBRD_CONFIG")]
    pub config: PathBuf,
    /// The member's Ethereum key file (mode 0600): signs the first login; read, never stored.
    #[arg(long, value_name = "FILE")]
    pub member_key_file: PathBuf,
}

/// `xbrd health`: which admin API to probe. The first given wins: `--admin`; the configuration's
/// `[admin] listen` (`-c`, or `XBRD_CONFIG` as for `xbrd run`, with its environment overrides);
/// `XBRD__ADMIN__LISTEN`; the default `127.0.0.1:7480`.
#[derive(Debug, Args)]
pub struct HealthArgs {
    /// Admin API address.
    #[arg(long, value_name = "ADDR")]
    pub admin: Option<SocketAddr>,
    /// The daemon's configuration: its `[admin] listen` is probed (nothing else is read).
    #[arg(short = 'c', long = "config", value_name = "FILE", env = "XBRD_CONFIG")]
    pub config: Option<PathBuf>,
}

/// `-c FILE`.
#[derive(Debug, Args)]
pub struct ConfigArg {
    /// The TOML configuration file.
    #[arg(short = 'c', long = "config", value_name = "FILE", env = "XBRD_CONFIG")]
    pub config: PathBuf,
}

/// `xbrd config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a configuration (file + environment) and print the effective settings without secrets.
    Check(ConfigArg),
}

/// `xbrd keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Directory to write `<name>.priv` (0600) and `<name>.pub` into.
    #[arg(short, long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    /// Base name of the key files.
    #[arg(short, long, default_value = "xbrd")]
    pub name: String,
    /// Derive from a BIP-39 mnemonic read from this file (mode 0600) instead of generating random keys.
    #[arg(long, value_name = "FILE")]
    pub mnemonic_file: Option<PathBuf>,
    /// Account index for derivation: Ethereum `m/44'/60'/0'/0/<index>`, cryptosign `m/44'/655'/0'/0/<index>`.
    #[arg(long, default_value_t = 0, requires = "mnemonic_file")]
    pub index: u32,
    /// Replace existing files.
    #[arg(long)]
    pub force: bool,
}

/// `xbrd status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Daemon configuration (gives the admin address and token file).
    #[arg(short = 'c', long = "config", value_name = "FILE", env = "XBRD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Admin API address, when no configuration is given.
    #[arg(long, value_name = "ADDR", conflicts_with = "config")]
    pub admin: Option<SocketAddr>,
    /// Admin token file, when no configuration is given.
    #[arg(long, value_name = "FILE", conflicts_with = "config")]
    pub token_file: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }
}
