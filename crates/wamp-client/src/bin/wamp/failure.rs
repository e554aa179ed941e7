//! How a command fails, and the exit code and output of each kind of failure.

use std::process::ExitCode;

use wamp_client::Error;
use wamp_client::error::WampError;

use crate::json;

/// Why a command did not succeed.
#[derive(Debug)]
pub enum Failure {
    /// The router or a callee answered with an ERROR: printed as JSON on stdout, exit code 1.
    Wamp(Box<WampError>),
    /// Bad command-line input: message on stderr, exit code 2.
    Usage(String),
    /// Connecting, joining or the connection failed, or another local failure: message on
    /// stderr, exit code 2.
    Local(String),
}

impl Failure {
    /// Exit code 1.
    pub const WAMP_ERROR: u8 = 1;
    /// Exit code 2.
    pub const USAGE_OR_CONNECTION: u8 = 2;

    /// A failure of a session operation: WAMP errors keep their URI and payload, everything else
    /// becomes a local failure described by `context`.
    pub fn from_error(context: &str, error: Error) -> Failure {
        match error {
            Error::Wamp(e) => Failure::Wamp(e),
            other => Failure::Local(format!("{context}: {other}")),
        }
    }

    /// Prints the failure and returns its exit code.
    pub fn report(self) -> ExitCode {
        match self {
            Failure::Wamp(e) => {
                json::print_line(&json::error_doc(&e.uri, &e.args, &e.kwargs));
                ExitCode::from(Self::WAMP_ERROR)
            }
            Failure::Usage(message) => {
                eprintln!("wamp: usage error: {message}");
                ExitCode::from(Self::USAGE_OR_CONNECTION)
            }
            Failure::Local(message) => {
                eprintln!("wamp: {message}");
                ExitCode::from(Self::USAGE_OR_CONNECTION)
            }
        }
    }
}
