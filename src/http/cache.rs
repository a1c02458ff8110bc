//! How long every answer may be kept, in one place: a middleware gives each response that did
//! not set its own `Cache-Control` the policy of its kind. During a storm thousands of residents
//! open the public map at once; everything it loads — page, scripts, styles, TileJSON, the
//! catalog, tiles (which set their own: [`super::tiles`]) — may be kept by the browser and by
//! shared caches in front of machizu. Answers that depend on a key or a session are `private`.
//!
//! | what | Cache-Control |
//! |---|---|
//! | errors | `no-store` |
//! | `/staff…` (the staff map and its API) | `private, no-cache` |
//! | `/live/…` (positions change every second) | `no-cache` |
//! | `/ingest/…`, `/admin/…`, `/health`, `/audit` | `no-store` |
//! | `/vendor/…` (MapLibre, changes only with the lockfile) | `public, max-age=86400, stale-while-revalidate=604800` |
//! | pages, `/web/…`, `/styles/…` | `public, max-age=300, stale-while-revalidate=86400` |
//! | the API with a key | `private, no-cache` |
//! | the API without one | `public, max-age=60, stale-while-revalidate=600` |

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

const ASSET: &str = "public, max-age=300, stale-while-revalidate=86400";
const VENDOR: &str = "public, max-age=86400, stale-while-revalidate=604800";

/// The policy for a successful answer to `path` (with a key: `keyed`). Runs for every answer,
/// tiles included, so it allocates nothing.
pub fn policy(path: &str, keyed: bool) -> &'static str {
    let under = |prefix: &str| path.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
    if under("/staff") {
        "private, no-cache"
    } else if under("/live") {
        "no-cache"
    } else if under("/ingest") || under("/admin") || under("/health") || under("/audit") {
        "no-store"
    } else if under("/vendor") {
        VENDOR
    } else if matches!(path, "/" | "/map" | "/sw.js") || under("/web") || under("/styles") || under("/embed") {
        ASSET
    } else if keyed {
        "private, no-cache"
    } else {
        "public, max-age=60, stale-while-revalidate=600"
    }
}

/// Sets `Cache-Control` where the handler did not, and adds `Vary: authorization` on the API.
pub async fn headers(request: Request, next: Next) -> Response {
    let policy = policy(request.uri().path(), request.headers().contains_key(header::AUTHORIZATION));
    let mut response = next.run(request).await;
    let failed = response.status().is_client_error() || response.status().is_server_error();
    let h = response.headers_mut();
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static(if failed { "no-store" } else { policy }));
    }
    if policy != ASSET && policy != VENDOR {
        // One `Vary` listing all: what the handler or compression said, and the key.
        let mut vary: Vec<&str> = h.get_all(header::VARY).iter().filter_map(|v| v.to_str().ok()).collect();
        if !vary.iter().any(|v| v.contains("authorization")) {
            vary.push("authorization");
            let joined = HeaderValue::from_str(&vary.join(", ")).expect("joined header values are valid");
            h.insert(header::VARY, joined);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::policy;

    #[test]
    fn each_kind_of_answer_has_its_policy() {
        assert_eq!(policy("/staff/api/layers", true), "private, no-cache");
        assert_eq!(policy("/staffing", false), policy("/layers", false), "a prefix is a whole segment");
        assert_eq!(policy("/live/vehicles", false), "no-cache");
        assert!(policy("/vendor/maplibre-gl/maplibre-gl.js", false).starts_with("public, max-age=86400"));
        assert!(policy("/map", false).starts_with("public, max-age=300"));
        assert!(policy("/styles/public.json", false).starts_with("public, max-age=300"));
        assert_eq!(policy("/layers", true), "private, no-cache");
        assert!(policy("/tiles/roads.json", false).starts_with("public, max-age=60"));
    }
}
