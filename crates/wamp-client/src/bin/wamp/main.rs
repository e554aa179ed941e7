//! `wamp`: a WAMP v2 command-line client.
//!
//! ```text
//! wamp [--url URL] [--realm REALM] [--serializer json|msgpack|cbor]
//!      [--authmethod anonymous|ticket|wampcra|cryptosign|scram] [--authid ID] [--authrole ROLE]
//!      [--ticket T | --secret S | --private-key HEX] [--ca-file PEM] <COMMAND>
//!
//!   call PROCEDURE [ARG...] [--kwargs JSON] [--timeout SECS] [--progress]
//!   publish TOPIC [ARG...] [--kwargs JSON] [--no-acknowledge] [--retain] [--include-me]
//!   subscribe TOPIC [--match exact|prefix|wildcard] [--count N] [--details]
//!   register PROCEDURE SHELL-COMMAND [--match ...] [--invoke ...] [--command-timeout SECS]
//!   bench [--calls N] [--concurrency C] [--payload-bytes B]
//! ```
//!
//! Arguments are JSON values (`2`, `'"text"'`, `'{"a": [1, 2]}'`); byte strings are written as
//! WAMP's JSON convention, a string of `"\u0000"` + base64. Results, events and errors come out
//! as one JSON document per line on stdout; status messages go to stderr.
//!
//! Exit codes: 0 success, 1 the router or a callee answered with an ERROR (printed as
//! `{"error": URI, "args": [...], "kwargs": {...}}`), 2 usage, connection, authentication or
//! other local failures.
//!
//! Secrets are best given through the environment (`WAMP_TICKET`, `WAMP_SECRET`,
//! `WAMP_PRIVATE_KEY`) rather than the command line, where other users can see them.
#![deny(unsafe_code)]

mod bench;
mod cli;
mod commands;
mod connect;
mod cpu;
mod failure;
mod json;
mod register;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::failure::Failure;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return Failure::Local(format!("cannot start the async runtime: {e}")).report(),
    };
    let outcome = runtime.block_on(run(cli));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Call(args) => commands::call(&cli.connection, args).await,
        Command::Publish(args) => commands::publish(&cli.connection, args).await,
        Command::Subscribe(args) => commands::subscribe(&cli.connection, args).await,
        Command::Register(args) => register::run(&cli.connection, args).await,
        Command::Bench(args) => bench::run(&cli.connection, args).await,
    }
}
