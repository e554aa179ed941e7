//! Command-line syntax (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// WAMP v2 command-line client: call procedures, publish, subscribe, register shell commands as
/// procedures, and measure RPC round trips.
///
/// Arguments are JSON values; byte strings use WAMP's JSON convention ("\u0000" + base64).
/// Results and events are printed as one JSON document per line. Exit codes: 0 ok, 1 WAMP error
/// (printed as {"error": URI, "args": [...], "kwargs": {...}}), 2 usage or connection error.
#[derive(Debug, Parser)]
#[command(name = "wamp", version)]
pub struct Cli {
    /// Where and how to connect.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Router address, realm, serializer and credentials (usable before or after the command).
#[derive(Debug, Clone, Args)]
pub struct ConnectionArgs {
    /// Router URL: ws://, wss://, rs://, rss:// (RawSocket over TCP) or rs+unix:///path.
    #[arg(
        long,
        env = "WAMP_URL",
        default_value = "ws://127.0.0.1:8080/ws",
        global = true
    )]
    pub url: String,
    /// Realm to join.
    #[arg(long, env = "WAMP_REALM", default_value = "realm1", global = true)]
    pub realm: String,
    /// Serializer (default: WebSocket offers cbor, msgpack and json and lets the router choose;
    /// RawSocket uses cbor).
    #[arg(long, value_enum, env = "WAMP_SERIALIZER", global = true)]
    pub serializer: Option<SerializerArg>,
    /// Authentication method (default: the one the given secret implies, else anonymous).
    #[arg(long, value_enum, env = "WAMP_AUTHMETHOD", global = true)]
    pub authmethod: Option<AuthMethodArg>,
    /// Authentication id (user name).
    #[arg(long, env = "WAMP_AUTHID", global = true)]
    pub authid: Option<String>,
    /// Requested authentication role.
    #[arg(long, env = "WAMP_AUTHROLE", global = true)]
    pub authrole: Option<String>,
    /// Ticket for `ticket` authentication (prefer the WAMP_TICKET variable).
    #[arg(long, env = "WAMP_TICKET", hide_env_values = true, global = true)]
    pub ticket: Option<String>,
    /// Secret for `wampcra`, password for `scram` (prefer the WAMP_SECRET variable).
    #[arg(long, env = "WAMP_SECRET", hide_env_values = true, global = true)]
    pub secret: Option<String>,
    /// Ed25519 private key for `cryptosign`: 64 hex digits (seed) or 128 (seed + public key)
    /// (prefer the WAMP_PRIVATE_KEY variable).
    #[arg(long, env = "WAMP_PRIVATE_KEY", hide_env_values = true, global = true)]
    pub private_key: Option<String>,
    /// PEM file with the CA certificate(s) to trust for wss:// and rss:// instead of the system
    /// roots.
    #[arg(long, env = "WAMP_CA_FILE", global = true)]
    pub ca_file: Option<PathBuf>,
    /// Seconds allowed for connecting and joining.
    #[arg(long, default_value_t = 10.0, global = true)]
    pub connect_timeout: f64,
}

/// A serializer name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SerializerArg {
    /// JSON (byte strings as "\u0000" + base64).
    Json,
    /// MessagePack (no integers beyond 64 bits).
    Msgpack,
    /// CBOR.
    Cbor,
}

/// An authentication method name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthMethodArg {
    /// No credentials.
    Anonymous,
    /// A static ticket (--ticket).
    Ticket,
    /// WAMP-CRA challenge-response (--secret).
    Wampcra,
    /// Ed25519 signature (--private-key).
    Cryptosign,
    /// SCRAM (--secret is the password).
    Scram,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Call a procedure and print its result.
    Call(CallArgs),
    /// Publish an event.
    Publish(PublishArgs),
    /// Subscribe to a topic and print every event.
    Subscribe(SubscribeArgs),
    /// Register a procedure that runs a shell command per invocation.
    Register(RegisterArgs),
    /// Measure RPC round trips per second and caller CPU time per call against the router.
    Bench(BenchArgs),
}

/// Positional and keyword payload, as JSON.
#[derive(Debug, Clone, Args)]
pub struct PayloadArgs {
    /// Positional arguments, each a JSON value (quote strings: '"text"').
    #[arg(allow_negative_numbers = true)]
    pub args: Vec<String>,
    /// Keyword arguments as one JSON object.
    #[arg(long)]
    pub kwargs: Option<String>,
}

/// `wamp call`.
#[derive(Debug, Args)]
pub struct CallArgs {
    /// Procedure URI.
    pub procedure: String,
    /// The payload.
    #[command(flatten)]
    pub payload: PayloadArgs,
    /// Give up (and cancel the call) after this many seconds.
    #[arg(long)]
    pub timeout: Option<f64>,
    /// Ask for progressive results and print each one as it arrives (with "progress": true).
    #[arg(long)]
    pub progress: bool,
    /// Ask the router to disclose this session to the callee.
    #[arg(long)]
    pub disclose_me: bool,
}

/// `wamp publish`.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// Topic URI.
    pub topic: String,
    /// The payload.
    #[command(flatten)]
    pub payload: PayloadArgs,
    /// Do not wait for the router's acknowledgement (nothing is printed then).
    #[arg(long)]
    pub no_acknowledge: bool,
    /// Ask the router to retain the event for later subscribers.
    #[arg(long)]
    pub retain: bool,
    /// Ask the router to disclose this session to the subscribers.
    #[arg(long)]
    pub disclose_me: bool,
}

/// URI matching of subscriptions and registrations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum MatchArg {
    /// The URI as given.
    #[default]
    Exact,
    /// Every URI starting with the given one.
    Prefix,
    /// Empty URI components match anything (e.g. `com..update`).
    Wildcard,
}

/// `wamp subscribe`.
#[derive(Debug, Args)]
pub struct SubscribeArgs {
    /// Topic URI (or pattern, with --match).
    pub topic: String,
    /// URI matching policy.
    #[arg(long = "match", value_enum, default_value_t = MatchArg::Exact)]
    pub match_policy: MatchArg,
    /// Exit after this many events (default: run until interrupted).
    #[arg(long)]
    pub count: Option<u64>,
    /// Include the event details (publisher, retained, …) in the output.
    #[arg(long)]
    pub details: bool,
}

/// How the router picks among several callees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum InvokeArg {
    /// Only one callee may register the procedure.
    #[default]
    Single,
    /// Rotate through the callees.
    Roundrobin,
    /// Pick a callee at random.
    Random,
    /// The first registered callee.
    First,
    /// The last registered callee.
    Last,
}

/// `wamp register`.
#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// Procedure URI (or pattern, with --match).
    pub procedure: String,
    /// Shell command run (with `sh -c`) per invocation. It gets {"args": [...], "kwargs": {...}}
    /// on stdin and each positional argument as JSON text in "$1", "$2", …; "$0" is the called
    /// procedure. Its stdout is the result: parsed as JSON if it is JSON, else returned as a
    /// string (empty output: no result). A non-zero exit status returns the error
    /// `xbrd.error.command_failed` with the exit status and stderr.
    pub command: String,
    /// URI matching policy.
    #[arg(long = "match", value_enum, default_value_t = MatchArg::Exact)]
    pub match_policy: MatchArg,
    /// Invocation policy when several callees register the procedure.
    #[arg(long, value_enum, default_value_t = InvokeArg::Single)]
    pub invoke: InvokeArg,
    /// Kill the command and return `xbrd.error.command_timeout` after this many seconds.
    #[arg(long, default_value_t = 60.0)]
    pub command_timeout: f64,
}

/// `wamp bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Number of measured calls.
    #[arg(long, default_value_t = 20_000)]
    pub calls: u64,
    /// Calls in flight at once.
    #[arg(long, default_value_t = 1)]
    pub concurrency: u32,
    /// Size of the byte-string argument of each call.
    #[arg(long, default_value_t = 64)]
    pub payload_bytes: usize,
    /// Unmeasured calls made first.
    #[arg(long, default_value_t = 1_000)]
    pub warmup: u64,
}
