//! testkit: see the crate README section in the project README.
#![deny(unsafe_code)]
