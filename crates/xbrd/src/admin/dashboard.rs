//! The operator's dashboard: a static page and its assets, embedded in the binary (no build step
//! at install time), served without a token at `GET /dashboard` and `GET /dashboard/assets/{file}`.
//!
//! The files hold no data: the page asks for the admin bearer token once (kept in the browser's
//! `sessionStorage`), then reads the token-guarded JSON API (`/v1/status`, `/v1/balances/history`,
//! `/v1/channels`, `/v1/transactions`, `/v1/keys`), `/metrics` and `/ready`. The chart library
//! (uPlot, MIT) is vendored as one minified file with its licence, served as `uPlot.LICENSE`.

use axum::Router;
use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::error::ApiError;

/// One embedded file.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// Name under `/dashboard/assets/`.
    pub name: &'static str,
    /// `Content-Type` it is served with.
    pub content_type: &'static str,
    /// The file.
    pub body: &'static [u8],
}

/// The page at `/dashboard`.
pub const INDEX_HTML: &str = include_str!("../../assets/dashboard/index.html");

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

/// An [`Asset`] from a file under `assets/dashboard/`.
macro_rules! asset {
    ($name:literal, $content_type:expr, $file:literal) => {
        Asset {
            name: $name,
            content_type: $content_type,
            body: include_bytes!(concat!("../../assets/dashboard/", $file)),
        }
    };
}

/// Everything under `/dashboard/assets/`.
pub const ASSETS: &[Asset] = &[
    asset!("dashboard.js", JS, "dashboard.js"),
    asset!("dashboard.css", CSS, "dashboard.css"),
    asset!("uPlot.iife.min.js", JS, "vendor/uplot/uPlot.iife.min.js"),
    asset!("uPlot.min.css", CSS, "vendor/uplot/uPlot.min.css"),
    asset!("uPlot.LICENSE", TEXT, "vendor/uplot/LICENSE"),
];

/// Scripts, styles and requests only from this origin; no framing.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'none'; \
     frame-ancestors 'none'; base-uri 'none'";

/// The asset called `name`.
pub fn asset(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

/// The dashboard's routes (merged into the admin router, outside the token guard).
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/dashboard", get(index))
        .route("/dashboard/assets/{file}", get(serve_asset))
}

/// Headers every dashboard file carries: revalidated on each load (a new binary brings new
/// files), never sniffed, never framed.
fn common_headers(content_type: &'static str) -> [(header::HeaderName, &'static str); 4] {
    [
        (header::CONTENT_TYPE, content_type),
        (header::CACHE_CONTROL, "no-cache"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ]
}

async fn index() -> Response {
    (
        common_headers("text/html; charset=utf-8"),
        [(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY)],
        INDEX_HTML,
    )
        .into_response()
}

async fn serve_asset(Path(file): Path<String>) -> Response {
    match asset(&file) {
        Some(a) => (common_headers(a.content_type), a.body).into_response(),
        None => ApiError::not_found(format!("no dashboard asset {file:?}")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_exactly_the_embedded_assets() {
        for a in ASSETS.iter().filter(|a| a.name != "uPlot.LICENSE") {
            assert!(
                INDEX_HTML.contains(&format!("/dashboard/assets/{}", a.name)),
                "index.html does not load {}",
                a.name
            );
        }
        for (i, _) in INDEX_HTML.match_indices("/dashboard/assets/") {
            let rest = &INDEX_HTML[i + "/dashboard/assets/".len()..];
            let name: String = rest.chars().take_while(|c| *c != '"').collect();
            assert!(
                asset(&name).is_some(),
                "index.html loads unknown asset {name}"
            );
        }
    }

    #[test]
    fn assets_have_content_types_by_kind_and_unique_names() {
        for a in ASSETS {
            let want = match a.name.rsplit('.').next() {
                Some("js") => "text/javascript; charset=utf-8",
                Some("css") => "text/css; charset=utf-8",
                _ => "text/plain; charset=utf-8",
            };
            assert_eq!(a.content_type, want, "{}", a.name);
            assert!(!a.body.is_empty(), "{}", a.name);
            assert_eq!(ASSETS.iter().filter(|b| b.name == a.name).count(), 1);
        }
        let licence = String::from_utf8_lossy(asset("uPlot.LICENSE").unwrap().body);
        assert!(licence.contains("MIT License"), "{licence}");
    }
}
