//! Error types of the protocol layer.

/// A received message that violates the WAMP protocol: it cannot be decoded, has an unknown
/// type code, the wrong arity or element types, is too large, or is unexpected in the session
/// state. A session answers each of these with ABORT `wamp.error.protocol_violation`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProtocolError {
    /// The bytes are not valid for the serializer.
    #[error("{serializer} decode failed: {reason}")]
    Decode {
        /// Serializer name (`json`, `msgpack`, `cbor`).
        serializer: &'static str,
        /// What the decoder reported.
        reason: String,
    },
    /// The message exceeds the configured maximum size (checked before decoding).
    #[error("message of {size} bytes exceeds the maximum of {max} bytes")]
    Oversize {
        /// Size of the received message.
        size: usize,
        /// Configured maximum.
        max: usize,
    },
    /// The decoded message is not a list.
    #[error("a WAMP message must be a list, got {0}")]
    NotAList(&'static str),
    /// The decoded message is an empty list.
    #[error("empty WAMP message")]
    EmptyMessage,
    /// The first element is not a non-negative integer.
    #[error("message type code must be an integer, got {0}")]
    BadCode(&'static str),
    /// The type code is not a WAMP v2 message a client handles.
    #[error("unknown message type code {0}")]
    UnknownCode(u64),
    /// A required element is missing.
    #[error("{message}: element {index} missing, expected {expected}")]
    MissingField {
        /// Message name.
        message: &'static str,
        /// Position in the list (the code is element 0).
        index: usize,
        /// What was expected there.
        expected: &'static str,
    },
    /// An element has the wrong type or range.
    #[error("{message}: element {index} must be {expected}")]
    Field {
        /// Message name.
        message: &'static str,
        /// Position in the list (the code is element 0).
        index: usize,
        /// What was expected there.
        expected: &'static str,
    },
    /// More elements than the message type allows.
    #[error("{message}: too many elements ({len})")]
    TrailingFields {
        /// Message name.
        message: &'static str,
        /// Number of elements received.
        len: usize,
    },
    /// A well-formed message that is not allowed in the current session state, or refers to an
    /// unknown request/subscription/registration.
    #[error("unexpected {message} {context}")]
    Unexpected {
        /// Message name.
        message: &'static str,
        /// Why it is unexpected (state or unknown id).
        context: String,
    },
}

/// A message that cannot be represented in the chosen serializer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EncodeError {
    /// MsgPack has no integer type beyond 64 bits (above `u64::MAX` or below `i64::MIN`); such
    /// a value needs CBOR or JSON (or the application sends it as bytes, e.g. a 32-byte
    /// `uint256`).
    #[error("integer beyond the 64-bit range cannot be encoded in {serializer}")]
    IntegerTooLarge {
        /// Serializer name.
        serializer: &'static str,
    },
    /// Floats that are NaN or infinite have no JSON representation.
    #[error("non-finite float cannot be encoded in JSON")]
    NonFiniteFloat,
    /// The underlying serializer failed.
    #[error("{serializer} encode failed: {reason}")]
    Serializer {
        /// Serializer name.
        serializer: &'static str,
        /// What the serializer reported.
        reason: String,
    },
}
