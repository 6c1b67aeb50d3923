//! The web screens: the agent desktop, the supervisor wallboard and the admin, served from
//! assets embedded in the binary (plain HTML, CSS and JavaScript modules; no build step).
//!
//! Each screen is a static page that signs in through the REST API, keeps its session
//! token in the browser's local storage and follows the live event stream; everything it
//! may do, the API decides (an agent's browser that opens the admin page is refused by
//! every endpoint the page calls, and the page says so).
//!
//! `SWITCHBOARD_WEB_DIR=crates/server/web` serves the files from disk instead, so that the
//! screens can be edited without rebuilding.
//!
//! Architecture invariant: the pages use only the public API under `/api/v1`; there is no
//! endpoint made for the browser alone.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

/// One embedded file: its name under `/web/` and its bytes.
struct Asset {
    name: &'static str,
    bytes: &'static [u8],
}

macro_rules! assets {
    ($($name:literal),* $(,)?) => {
        &[$(Asset { name: $name, bytes: include_bytes!(concat!("../web/", $name)) }),*]
    };
}

/// Every file of the screens.
const ASSETS: &[Asset] = assets![
    "index.html",
    "desktop.html",
    "wallboard.html",
    "admin.html",
    "style.css",
    "app.js",
    "login.js",
    "desktop.js",
    "wallboard.js",
    "admin.js",
    "favicon.svg",
];

/// The pages, by path.
const PAGES: &[(&str, &str)] = &[
    ("/", "index.html"),
    ("/desktop", "desktop.html"),
    ("/wallboard", "wallboard.html"),
    ("/admin", "admin.html"),
];

/// Only the page's own scripts, styles and API; no inline script, no framing.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
                   media-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

/// The file's bytes: from `SWITCHBOARD_WEB_DIR` when set, else embedded.
fn load(name: &str) -> Option<Vec<u8>> {
    let asset = ASSETS.iter().find(|a| a.name == name)?;
    match std::env::var_os("SWITCHBOARD_WEB_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => std::fs::read(std::path::Path::new(&dir).join(asset.name)).ok(),
        None => Some(asset.bytes.to_vec()),
    }
}

fn serve(name: &str) -> Response {
    let Some(bytes) = load(name) else {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    };
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(name)),
    );
    // Assets change with the binary: always revalidate (they are small).
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    res
}

/// The pages and `/web/{file}`.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut r = Router::new()
        .route(
            "/web/{file}",
            get(|Path(file): Path<String>| async move { serve(&file) }),
        )
        .route(
            "/favicon.ico",
            get(|| async { Redirect::permanent("/web/favicon.svg") }),
        );
    for &(path, file) in PAGES {
        r = r.route(path, get(move || async move { serve(file) }));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_is_an_asset_and_every_asset_has_a_type() {
        for (_, file) in PAGES {
            assert!(ASSETS.iter().any(|a| a.name == *file), "{file}");
        }
        for a in ASSETS {
            assert_ne!(
                content_type(a.name),
                "application/octet-stream",
                "{}",
                a.name
            );
            assert!(!a.bytes.is_empty(), "{}", a.name);
        }
    }

    #[test]
    fn pages_load_only_their_own_files() {
        // The CSP forbids inline scripts and styles: every page must reference files.
        for (_, file) in PAGES {
            let html = std::str::from_utf8(ASSETS.iter().find(|a| a.name == *file).unwrap().bytes)
                .unwrap();
            assert!(!html.contains("<script>"), "{file} has an inline script");
            assert!(!html.contains("<style"), "{file} has an inline style");
            assert!(
                !html.contains(" style=\""),
                "{file} has an inline style attribute"
            );
            for src in html
                .split("src=\"/web/")
                .skip(1)
                .chain(html.split("href=\"/web/").skip(1))
            {
                let name = &src[..src.find('"').unwrap()];
                assert!(
                    ASSETS.iter().any(|a| a.name == name),
                    "{file} refers to missing {name}"
                );
            }
        }
    }
}
