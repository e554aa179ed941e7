//! `xbrd chain …`: the XBR contracts from the command line, covering the reference `xbrnetwork`
//! CLI (spec §8.6) for a network on a real chain, plus dev-chain deployment.
//!
//! | module | what |
//! |---|---|
//! | [`args`] | the clap command line: groups, the gateway and key argument sets |
//! | [`target`] | gateway, contracts and pinned chain id (flags or `-c FILE`); the signing key |
//! | [`output`] | a command's [`output::Report`]: text for people, JSON with `--json` |
//! | [`dev`] | `deploy`, `bootstrap` (dev chains), `balance` |
//! | [`member`] | `member get|register` (explicit EULA acceptance) |
//! | [`market`] | `market get|create|join`, `actor get` |
//! | [`channel`] | `channel get|open` (EIP-712 ChannelOpen signed by the member) |
//! | [`paying`] | a paying channel asked of the maker (`xbr.marketmaker.open_channel`) |
//! | [`close`] | `channel close` through the delegate daemon's admin API |
//!
//! Every command logs its progress (tracing, `info` by default, `RUST_LOG` honoured) on stderr and
//! prints its result on stdout.

pub mod args;
pub mod channel;
pub mod close;
pub mod dev;
pub mod market;
pub mod member;
pub mod output;
pub mod paying;
pub mod target;

use args::{ActorCommand, ChainArgs, ChainCommand, ChannelCommand, MarketCommand, MemberCommand};
use output::Report;

use crate::config::{Log, LogFormat};

/// Logging of the chain commands: progress at `info` on stderr unless `RUST_LOG` says otherwise.
pub fn init_logging() {
    crate::logging::init(&Log {
        level: "info".into(),
        format: LogFormat::Pretty,
    });
}

/// Runs one `xbrd chain` command and prints its report.
pub async fn run(args: ChainArgs) -> anyhow::Result<()> {
    let report = execute(args.command).await?;
    println!("{}", report.render(args.json).trim_end());
    Ok(())
}

/// Runs one command; its report.
pub async fn execute(cmd: ChainCommand) -> anyhow::Result<Report> {
    match cmd {
        ChainCommand::Deploy {
            gateway,
            chain_id,
            confirmations,
            key,
            bytecode,
            out,
        } => {
            let target = target::Target::of_url(&gateway, chain_id, confirmations);
            dev::deploy(&target, &key, bytecode, &out).await
        }
        ChainCommand::Bootstrap {
            gateway,
            market,
            funder_key_file,
        } => dev::bootstrap(&gateway, &market, &funder_key_file).await,
        ChainCommand::Balance { address, gateway } => dev::balance(&address, &gateway).await,
        ChainCommand::Member(m) => match m.command {
            Some(MemberCommand::Get { address, gateway }) => member::get(&address, &gateway).await,
            Some(MemberCommand::Register {
                gateway,
                key,
                eula,
                profile,
            }) => member::register(&gateway, &key, eula.as_deref(), &profile).await,
            None => {
                let address = m.address.unwrap_or_default();
                member::get(&address, &m.gateway).await
            }
        },
        ChainCommand::Market(cmd) => match cmd {
            MarketCommand::Get {
                market_id,
                maker,
                gateway,
            } => market::get(market_id.as_deref(), maker.as_deref(), &gateway).await,
            MarketCommand::Create {
                gateway,
                key,
                market_id,
                maker,
                provider_security,
                consumer_security,
                market_fee,
                terms,
                meta,
            } => {
                let flags = market::CreateFlags {
                    market_id: market_id.as_deref(),
                    maker: &maker,
                    provider_security: &provider_security,
                    consumer_security: &consumer_security,
                    market_fee: &market_fee,
                    terms: &terms,
                    meta: &meta,
                };
                market::create(&gateway, &key, &flags).await
            }
            MarketCommand::Join {
                gateway,
                key,
                market_id,
                actor,
                meta,
            } => market::join(&gateway, &key, &market_id, actor, &meta).await,
        },
        ChainCommand::Actor(ActorCommand::Get {
            address,
            market_id,
            gateway,
        }) => market::actor_get(&address, &market_id, &gateway).await,
        ChainCommand::Channel(cmd) => match cmd {
            ChannelCommand::Get {
                channel_id,
                gateway,
            } => channel::get(&channel_id, &gateway).await,
            ChannelCommand::Open {
                kind,
                gateway,
                key,
                amount,
                delegate,
                market_id,
                channel_id,
            } => {
                let flags = channel::OpenFlags {
                    kind,
                    amount: &amount,
                    delegate: delegate.as_deref(),
                    market_id: market_id.as_deref(),
                    channel_id: channel_id.as_deref(),
                };
                channel::open(&gateway, &key, &flags).await
            }
            ChannelCommand::Close {
                config,
                chain_id,
                no_wait,
            } => close::close(&config, chain_id, no_wait).await,
        },
    }
}
