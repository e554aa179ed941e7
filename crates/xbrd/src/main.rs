//! xbrd: the XBR data-market daemon.
#![deny(unsafe_code)]

fn main() {
    println!("xbrd {}", env!("CARGO_PKG_VERSION"));
}
