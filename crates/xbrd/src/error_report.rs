//! How the binary prints a failure: the error and its causes on one line, each cause once.
//!
//! Errors here often repeat their source in their own message (`config field `x`: cannot read
//! key file p: <io error>`, whose source is the key-file error, whose source is the I/O error);
//! printing the whole chain would say the same thing three times, so a cause already contained in
//! the text so far is left out.

/// `error` and each of its causes not already said, joined with `": "`.
pub fn render(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let message = cause.to_string();
        if text.contains(&message) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&message);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConfigError, KeyFileError};

    #[test]
    fn a_cause_repeated_in_the_message_is_said_once() {
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        let io_text = io.to_string();
        let e = anyhow::Error::new(ConfigError::KeyFile {
            field: "ethereum.private_key_file".into(),
            source: KeyFileError::Read {
                path: "/k".into(),
                source: io,
            },
        });
        let text = render(&e);
        assert_eq!(
            text,
            format!("config field `ethereum.private_key_file`: cannot read key file /k: {io_text}")
        );
        // A context that does not repeat its cause keeps it.
        let e = anyhow::anyhow!("disk full").context("cannot open the store");
        assert_eq!(render(&e), "cannot open the store: disk full");
    }
}
