//! The command line of `xbrd chain …` (clap derive): the command groups and the argument sets
//! they share (where the chain is, whose key signs).

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

/// `xbrd chain [--json] <command>`.
#[derive(Debug, Args)]
pub struct ChainArgs {
    /// Print the result as JSON on stdout (default: human-readable text). Progress goes to stderr.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: ChainCommand,
}

/// Where the chain is (for `xbrd chain …`).
#[derive(Debug, Args)]
pub struct GatewayArgs {
    /// Read the gateway and contract addresses from this daemon configuration.
    #[arg(short = 'c', long = "config", value_name = "FILE", conflicts_with_all = ["gateway", "contracts_file"])]
    pub config: Option<PathBuf>,
    /// Ethereum JSON-RPC URL.
    #[arg(long, value_name = "URL", env = "XBRD_GATEWAY")]
    pub gateway: Option<String>,
    /// Contract addresses file written by `xbrd chain deploy`.
    #[arg(long, value_name = "FILE")]
    pub contracts_file: Option<PathBuf>,
    /// The chain id the gateway must serve (default: the `-c` configuration's `chain_id`);
    /// nothing is sent on another chain.
    #[arg(long, value_name = "ID", env = "XBRD_CHAIN_ID")]
    pub chain_id: Option<u64>,
    /// Blocks a transaction's receipt must have (its own included) before the command goes on
    /// (default: the `-c` configuration's `[ethereum.transactions] confirmations`, else 1).
    #[arg(long, value_name = "N")]
    pub confirmations: Option<u64>,
}

/// The key that signs (a member's, a market owner's): a keystore v3 file with its passphrase
/// source, or a raw key file.
pub type KeyArgs = crate::eth_key::EthKeyArgs;

/// `xbrd chain …`.
#[derive(Debug, Subcommand)]
pub enum ChainCommand {
    /// Deploy the XBR contracts (dev chains) and write their addresses to a file.
    Deploy {
        /// Ethereum JSON-RPC URL.
        #[arg(long, value_name = "URL", env = "XBRD_GATEWAY")]
        gateway: String,
        /// The chain id the gateway must serve.
        #[arg(long, value_name = "ID", env = "XBRD_CHAIN_ID")]
        chain_id: Option<u64>,
        /// Blocks each deployment's receipt must have before the next.
        #[arg(long, value_name = "N")]
        confirmations: Option<u64>,
        /// The deployer's key.
        #[command(flatten)]
        key: KeyArgs,
        /// Directory holding the contracts' bytecode (`<Contract>.bin`, as `scripts/xbr-contracts.sh bytecode`
        /// writes; default `$XBRD_PEERS_DIR/contracts`).
        #[arg(long, value_name = "DIR", env = "XBRD_CONTRACTS_DIR")]
        bytecode: Option<PathBuf>,
        /// Where to write the addresses (a `.toml` name): a TOML `[ethereum.contracts]` table for `ethereum.contracts_file`
        /// (an `XBR_DEBUG_*_ADDR` env file is written beside it with the extension `.env`).
        #[arg(long, value_name = "FILE", default_value = "contracts.toml")]
        out: PathBuf,
    },
    /// Bootstrap a dev market (members, market, channels) from a description file.
    Bootstrap {
        /// Where the chain is.
        #[command(flatten)]
        gateway: GatewayArgs,
        /// The market description (TOML: market_id, owner, maker, members, channels).
        #[arg(long, value_name = "FILE")]
        market: PathBuf,
        /// Key file (mode 0600) of the account that funds members with ETH and XBR (e.g. the deployer).
        #[arg(long, value_name = "FILE")]
        funder_key_file: PathBuf,
    },
    /// ETH and XBR balance of an address.
    Balance {
        /// The address (0x + 40 hex digits).
        address: String,
        /// Where the chain is.
        #[command(flatten)]
        gateway: GatewayArgs,
    },
    /// XBR network membership: show (`member get`, or `member ADDRESS`) or register.
    Member(MemberArgs),
    /// Data markets: show, create, join.
    #[command(subcommand)]
    Market(MarketCommand),
    /// A member's part in a market.
    #[command(subcommand)]
    Actor(ActorCommand),
    /// Payment and paying channels: show, open, close.
    #[command(subcommand)]
    Channel(ChannelCommand),
}

/// `xbrd chain member …`; `xbrd chain member ADDRESS` is kept as the spelling of `member get`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct MemberArgs {
    /// The address (0x + 40 hex digits): the older spelling of `member get ADDRESS`.
    #[arg(required = true)]
    pub address: Option<String>,
    /// Where the chain is.
    #[command(flatten)]
    pub gateway: GatewayArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Option<MemberCommand>,
}

/// `xbrd chain member get|register`.
#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Membership status of an address in the XBR network, and the network's current EULA.
    Get {
        /// The address (0x + 40 hex digits).
        address: String,
        /// Where the chain is.
        #[command(flatten)]
        gateway: GatewayArgs,
    },
    /// Register the key's address as a member (`XBRNetwork.registerMember`).
    Register {
        /// Where the chain is.
        #[command(flatten)]
        gateway: GatewayArgs,
        /// The member's key.
        #[command(flatten)]
        key: KeyArgs,
        /// The EULA you accept: must equal `XBRNetwork.eula()` (without it, the command shows
        /// the hash to read and accept).
        #[arg(long, value_name = "HASH")]
        eula: Option<String>,
        /// The member's profile multihash (may be empty).
        #[arg(long, value_name = "HASH", default_value = "")]
        profile: String,
    },
}

/// `xbrd chain market get|create|join`.
#[derive(Debug, Subcommand)]
pub enum MarketCommand {
    /// A market: owner, maker, securities, fee, terms, metadata.
    Get {
        /// The market id (UUID or 0x + 32 hex digits); or give `--maker`.
        #[arg(required_unless_present = "maker")]
        market_id: Option<String>,
        /// Look the market up by its market maker's address instead.
        #[arg(long, value_name = "ADDRESS", conflicts_with = "market_id")]
        maker: Option<String>,
        /// Where the chain is.
        #[command(flatten)]
        gateway: GatewayArgs,
    },
    /// Create a market owned by the key's member (`XBRMarket.createMarket`, coin: the XBR token).
    Create {
        /// Where the chain is.
        #[command(flatten)]
        gateway: GatewayArgs,
        /// The owner's key (a registered member).
        #[command(flatten)]
        key: KeyArgs,
        /// The new market's id (UUID or 0x + 32 hex digits; default: a random UUID).
        #[arg(long, value_name = "ID")]
        market_id: Option<String>,
        /// The market maker's address.
        #[arg(long, value_name = "ADDRESS")]
        maker: String,
        /// Security a provider deposits when joining (base units, or e.g. "35 XBR").
        #[arg(long, value_name = "AMOUNT", default_value = "0")]
        provider_security: String,
        /// Security a consumer deposits when joining (base units, or e.g. "35 XBR").
        #[arg(long, value_name = "AMOUNT", default_value = "0")]
        consumer_security: String,
        /// Market fee as a fraction of the token's total supply (base units).
        #[arg(long, value_name = "AMOUNT", default_value = "0")]
        market_fee: String,
        /// Terms multihash.
        #[arg(long, value_name = "HASH", default_value = "")]
        terms: String,
        /// Metadata multihash.
        #[arg(long, value_name = "HASH", default_value = "")]
        meta: String,
    },
    /// Join a market as provider, consumer or both (`XBRMarket.joinMarket`), approving the
    /// security first when the market asks for one.
    Join {
        /// Where the chain is.
        #[command(flatten)]
        gateway: GatewayArgs,
        /// The member's key.
        #[command(flatten)]
        key: KeyArgs,
        /// The market id (UUID or 0x + 32 hex digits).
        #[arg(long, value_name = "ID")]
        market_id: String,
        /// How to join.
        #[arg(long, value_enum)]
        actor: ActorKind,
        /// Actor metadata multihash.
        #[arg(long, value_name = "HASH", default_value = "")]
        meta: String,
    },
}

/// `--actor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ActorKind {
    /// Sells data (paying channels).
    Provider,
    /// Buys data (payment channels).
    Consumer,
    /// Both.
    ProviderConsumer,
}

/// `xbrd chain actor get`.
#[derive(Debug, Subcommand)]
pub enum ActorCommand {
    /// How an address takes part in a market (provider and/or consumer, security, joined block).
    Get {
        /// The member's address.
        address: String,
        /// The market id (UUID or 0x + 32 hex digits).
        #[arg(long, value_name = "ID")]
        market_id: String,
        /// Where the chain is.
        #[command(flatten)]
        gateway: GatewayArgs,
    },
}

/// `--type` of `channel open`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ChannelKindArg {
    /// A buyer's channel: the member funds it and sends `openChannel` itself.
    Payment,
    /// A seller's channel: the market maker funds and opens it on the member's signed request.
    Paying,
}

/// `xbrd chain channel get|open|close`.
#[derive(Debug, Subcommand)]
pub enum ChannelCommand {
    /// A channel's on-chain state, with its closing state.
    Get {
        /// The channel id (UUID or 0x + 32 hex digits).
        channel_id: String,
        /// Where the chain is.
        #[command(flatten)]
        gateway: GatewayArgs,
    },
    /// Open a channel signed by the member (EIP-712 ChannelOpen). A payment channel is approved
    /// and opened by the member; a paying channel is asked of the market maker
    /// (`xbr.marketmaker.open_channel`) over the delegate configuration's transport.
    Open {
        /// Payment (buyer) or paying (seller).
        #[arg(long = "type", value_enum)]
        kind: ChannelKindArg,
        /// Where the chain is; with `-c`, the delegate's configuration also gives the delegate,
        /// the market and (paying channels) the router to reach the maker.
        #[command(flatten)]
        gateway: GatewayArgs,
        /// The member's key (signs ChannelOpen; pays for a payment channel).
        #[command(flatten)]
        key: KeyArgs,
        /// Tokens to lock (base units, or e.g. "35 XBR").
        #[arg(long, value_name = "AMOUNT")]
        amount: String,
        /// The delegate's address (default: the `-c` configuration's delegate).
        #[arg(long, value_name = "ADDRESS")]
        delegate: Option<String>,
        /// The market id (default: the `-c` configuration's, or the market of its maker).
        #[arg(long, value_name = "ID")]
        market_id: Option<String>,
        /// The new channel's id (default: a random UUID).
        #[arg(long, value_name = "ID")]
        channel_id: Option<String>,
    },
    /// Close a delegate's channel at its current off-chain state: asks the running delegate
    /// daemon (admin API `POST /v1/channel/close`), then waits until the chain shows the
    /// channel closing or closed.
    Close {
        /// The delegate daemon's configuration (admin address, token, gateway).
        #[arg(short = 'c', long = "config", value_name = "FILE", env = "XBRD_CONFIG")]
        config: PathBuf,
        /// The chain id the gateway must serve (default: the configuration's).
        #[arg(long, value_name = "ID", env = "XBRD_CHAIN_ID")]
        chain_id: Option<u64>,
        /// Return once the daemon signed the close, without waiting for the chain.
        #[arg(long)]
        no_wait: bool,
    },
}
