//! JSON error bodies: `{ "error": { "code": "...", "message": "..." } }`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::ports::{ChainError, RoleError};

/// An admin API error with an HTTP status, a stable machine-readable code and a human message.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code, e.g. `unauthorized`, `not_ready`, `not_supported`.
    pub code: &'static str,
    /// What happened (never a secret).
    pub message: String,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
}

impl ApiError {
    /// Builds an error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 401 `unauthorized`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 409 `not_supported`: the endpoint does not apply to this role.
    pub fn not_supported(what: &str, role: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "not_supported",
            format!("{what} is not available for role {role}"),
        )
    }

    /// 503 `not_ready`.
    pub fn not_ready(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", message)
    }

    /// 502 `chain_error`: the Ethereum gateway failed.
    pub fn chain(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, "chain_error", message)
    }

    /// 502 `wamp_error`: a WAMP call failed.
    pub fn wamp(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, "wamp_error", message)
    }

    /// 500 `internal`.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        serde_json::to_value(Body {
            error: Inner {
                code: self.code,
                message: &self.message,
            },
        })
        .unwrap_or_default()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

/// The HTTP answer to a role's error.
impl From<RoleError> for ApiError {
    fn from(e: RoleError) -> Self {
        match e {
            RoleError::NotFound(m) => ApiError::not_found(m),
            RoleError::InvalidInput(m) => ApiError::bad_request(m),
            RoleError::NotReady(m) => ApiError::not_ready(m),
            RoleError::NotSupported { what, role } => ApiError::not_supported(what, role),
            RoleError::Peer(m) => ApiError::wamp(m),
            RoleError::Internal(m) => ApiError::internal(m),
        }
    }
}

/// The HTTP answer to a chain error: `502 chain_error`.
impl From<ChainError> for ApiError {
    fn from(e: ChainError) -> Self {
        ApiError::chain(e.to_string())
    }
}
