//! GraphiQL, the in-browser GraphQL IDE: the page (`page()`, for `GET /graphql` asked
//! for HTML) and its assets under `/graphql/ide/` (`router()`).
//!
//! Everything is compiled into the binary: GraphiQL and React come from
//! `assets/graphiql/` (vendored from npm, see the README there), the boot code is below.
//! Nothing is fetched from another host: the Content-Security-Policy of the page says so
//! to the browser too.

use crate::error::ApiError;
use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::sync::LazyLock;
use tessera_files::range::none_match;

/// The page's policy: scripts only from this origin (the boot code is a served file, not
/// inline); styles from this origin plus inline ones, because GraphiQL's dialogs and
/// popovers (Radix, react-remove-scroll) add `<style>` elements at run time; fonts and
/// icons are `data:` URIs inside `graphiql.min.css`; requests only to this origin
/// (`POST /graphql`).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; font-src 'self' data:; img-src 'self' data:; \
     connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'";

const PAGE: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8" />
  <meta name="viewport" content="width=device-width, initial-scale=1" />
  <title>tessera GraphQL</title>
  <link rel="icon" href="data:," />
  <link rel="stylesheet" href="/graphql/ide/graphiql.min.css" />
  <style>
    html, body { height: 100%; margin: 0; }
    #graphiql { height: 100vh; height: 100dvh; }
  </style>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<noscript>GraphiQL needs JavaScript. Without it, POST GraphQL queries to /graphql; the schema is at /graphql/schema.graphql.</noscript>
<script src="/graphql/ide/react.production.min.js"></script>
<script src="/graphql/ide/react-dom.production.min.js"></script>
<script src="/graphql/ide/graphiql.min.js"></script>
<script src="/graphql/ide/boot.js"></script>
</body>
</html>
"#;

/// Renders GraphiQL into `#graphiql`. Its fetcher posts `{"query", "variables",
/// "operationName"}` as JSON to `/graphql` on this origin, with the headers of the
/// Headers tab (where `Authorization: Bearer …` goes). The headers are not kept in
/// localStorage: a token should not outlive the tab.
const BOOT_JS: &str = r##""use strict";
(function () {
  var root = document.getElementById("graphiql");
  if (typeof GraphiQL === "undefined" || typeof React === "undefined" || typeof ReactDOM === "undefined") {
    root.textContent = "GraphiQL could not load its scripts from /graphql/ide/.";
    root.setAttribute("data-tessera-graphiql", "failed");
    return;
  }
  var defaultQuery = [
    "# tessera's GraphQL API, made from your tables.",
    "#",
    "# A table `animals` gives the queries",
    "#   animals            its rows",
    "#   animals_by_pk      one row by its id",
    "#   animals_aggregate  count and the like",
    "# and the mutations insert_animals,",
    "# update_animals, delete_animals, ...",
    "#",
    "# Docs (book icon, top left) lists what this",
    "# server has; SDL: /graphql/schema.graphql",
    "#",
    "# Anonymous unless the Headers tab below says",
    "#   {\"Authorization\": \"Bearer <token>\"}",
    "# (a token: POST /api/auth/login, or an API token)",
    "#",
    "# Ctrl-Enter runs, Ctrl-Space completes,",
    "# Shift-Ctrl-P prettifies.",
    "",
    "{",
    "  __typename",
    "}",
    ""
  ].join("\n");
  var fetcher = GraphiQL.createFetcher({
    url: "/graphql",
    headers: { Accept: "application/graphql-response+json, application/json" },
    enableIncrementalDelivery: false
  });
  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: defaultQuery,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
      defaultEditorToolsVisibility: "headers"
    })
  );
  root.setAttribute("data-tessera-graphiql", "booted");
})();
"##;

/// The GraphiQL page (`text/html`), with its Content-Security-Policy.
pub fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        PAGE,
    )
        .into_response()
}

/// `GET /graphql/ide/{file}`: the page's five files; any other name is a 404.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/graphql/ide/{file}", get(asset))
}

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

static ASSETS: [Asset; 5] = [
    Asset {
        name: "react.production.min.js",
        content_type: JS,
        body: include_bytes!("../../assets/graphiql/react.production.min.js"),
    },
    Asset {
        name: "react-dom.production.min.js",
        content_type: JS,
        body: include_bytes!("../../assets/graphiql/react-dom.production.min.js"),
    },
    Asset { name: "graphiql.min.js", content_type: JS, body: include_bytes!("../../assets/graphiql/graphiql.min.js") },
    Asset {
        name: "graphiql.min.css",
        content_type: CSS,
        body: include_bytes!("../../assets/graphiql/graphiql.min.css"),
    },
    Asset { name: "boot.js", content_type: JS, body: BOOT_JS.as_bytes() },
];

/// Strong ETags of the assets, in the order of `ASSETS`, computed once.
static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| ASSETS.iter().map(|asset| etag(asset.body)).collect());

/// `"<FNV-1a 64 of the bytes>-<length>"`, both in hex: the bytes are fixed in the binary,
/// so this changes exactly when they do (across builds too), which is all an ETag needs.
fn etag(body: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in body {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("\"{hash:016x}-{:x}\"", body.len())
}

async fn asset(Path(file): Path<String>, request_headers: HeaderMap) -> Response {
    let Some(index) = ASSETS.iter().position(|asset| asset.name == file) else {
        return ApiError::not_found(format!("no GraphiQL file named {file:?}")).into_response();
    };
    let asset = &ASSETS[index];
    let tag = &ETAGS[index];
    let headers = [
        (header::ETAG, HeaderValue::from_str(tag).expect("an ETag is ASCII")),
        (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400")),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    ];
    let matches = request_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| none_match(value, tag));
    if matches {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    (headers, [(header::CONTENT_TYPE, asset.content_type)], asset.body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::{to_bytes, Body};
    use axum::http::Request;
    use tower::ServiceExt;

    async fn get(path: &str, if_none_match: Option<&str>) -> Response {
        let mut request = Request::get(path);
        if let Some(tag) = if_none_match {
            request = request.header(header::IF_NONE_MATCH, tag);
        }
        router::<()>().oneshot(request.body(Body::empty()).unwrap()).await.unwrap()
    }

    fn header_of(response: &Response, name: header::HeaderName) -> &str {
        response.headers().get(name).unwrap().to_str().unwrap()
    }

    async fn body_of(response: Response) -> Vec<u8> {
        to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec()
    }

    #[tokio::test]
    async fn serves_each_file_with_its_type_etag_and_caching() {
        for (name, content_type) in [
            ("react.production.min.js", JS),
            ("react-dom.production.min.js", JS),
            ("graphiql.min.js", JS),
            ("graphiql.min.css", CSS),
            ("boot.js", JS),
        ] {
            let response = get(&format!("/graphql/ide/{name}"), None).await;
            assert_eq!(response.status(), StatusCode::OK, "{name}");
            assert_eq!(header_of(&response, header::CONTENT_TYPE), content_type, "{name}");
            assert_eq!(header_of(&response, header::CACHE_CONTROL), "public, max-age=86400", "{name}");
            let tag = header_of(&response, header::ETAG).to_owned();
            assert!(tag.starts_with('"') && tag.ends_with('"') && !tag.starts_with("W/"), "{name}: strong ETag {tag}");
            let body = body_of(response).await;
            assert!(body.len() > 1000 || name == "boot.js", "{name}: {} bytes", body.len());
            assert_eq!(tag, etag(&body), "{name}: the ETag is that of the body sent");
        }
    }

    #[test]
    fn the_vendored_files_are_what_the_names_say() {
        let text = |name: &str| {
            let asset = ASSETS.iter().find(|asset| asset.name == name).unwrap();
            std::str::from_utf8(asset.body).unwrap()
        };
        assert!(text("react.production.min.js").contains("react.production.min.js"));
        assert!(text("react-dom.production.min.js").contains("react-dom.production.min.js"));
        assert!(text("graphiql.min.js").contains("GraphiQL"));
        assert!(text("graphiql.min.css").contains(".graphiql-container"));
        // Offline: the stylesheet loads nothing from another host (its fonts are data: URIs).
        let css = text("graphiql.min.css");
        assert!(!css.contains("@import"));
        for (at, _) in css.match_indices("url(") {
            let target = css[at + 4..].trim_start_matches(['"', '\'']);
            assert!(target.starts_with("data:"), "graphiql.min.css loads {}", &target[..target.len().min(60)]);
        }
    }

    #[tokio::test]
    async fn if_none_match_with_the_etag_answers_304() {
        let tag = header_of(&get("/graphql/ide/graphiql.min.css", None).await, header::ETAG).to_owned();
        for header_value in [tag.clone(), format!("\"other\", {tag}"), format!("W/{tag}"), "*".to_owned()] {
            let response = get("/graphql/ide/graphiql.min.css", Some(&header_value)).await;
            assert_eq!(response.status(), StatusCode::NOT_MODIFIED, "If-None-Match: {header_value}");
            assert_eq!(header_of(&response, header::ETAG), tag);
            assert_eq!(header_of(&response, header::CACHE_CONTROL), "public, max-age=86400");
            assert!(body_of(response).await.is_empty());
        }
        let response = get("/graphql/ide/graphiql.min.css", Some("\"something-else\"")).await;
        assert_eq!(response.status(), StatusCode::OK);
        // Another file's tag does not match this one.
        let js_tag = header_of(&get("/graphql/ide/graphiql.min.js", None).await, header::ETAG).to_owned();
        assert_ne!(js_tag, tag);
        assert_eq!(get("/graphql/ide/graphiql.min.css", Some(&js_tag)).await.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn other_names_are_404() {
        for path in [
            "/graphql/ide/index.html",
            "/graphql/ide/graphiql.min.js.map",
            "/graphql/ide/GRAPHIQL.MIN.JS",
            "/graphql/ide/..%2FCargo.toml",
            "/graphql/ide/README.md",
            "/graphql/ide/refresh.sh",
            "/graphql/ide/",
            "/graphql/ide/boot.js/x",
        ] {
            let response = get(path, None).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
            assert!(response.headers().get(header::ETAG).is_none(), "{path}");
        }
    }

    #[tokio::test]
    async fn the_page_loads_the_served_files_under_its_policy() {
        let response = page();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header_of(&response, header::CONTENT_TYPE), "text/html; charset=utf-8");
        let policy = header_of(&response, header::CONTENT_SECURITY_POLICY).to_owned();
        assert!(policy.contains("script-src 'self';"), "{policy}");
        assert!(policy.contains("connect-src 'self';"), "{policy}");
        assert!(!policy.contains("unsafe-eval") && !policy.contains("http"), "{policy}");
        let html = String::from_utf8(body_of(response).await).unwrap();
        // Every script and stylesheet the page names is one the router serves, and the
        // page has no inline script (the policy would block it).
        let mut linked = 0;
        for attribute in ["src=\"", "href=\""] {
            for (at, _) in html.match_indices(attribute) {
                let url = html[at + attribute.len()..].split('"').next().unwrap();
                if url == "data:," {
                    continue; // the empty favicon, so the browser does not ask for /favicon.ico
                }
                let name = url.strip_prefix("/graphql/ide/").unwrap_or_else(|| panic!("{url} is not an IDE asset"));
                assert!(ASSETS.iter().any(|asset| asset.name == name), "{url}");
                linked += 1;
            }
        }
        assert_eq!(linked, ASSETS.len(), "the page links each asset once");
        assert_eq!(html.matches("<script").count(), html.matches("<script src=").count());
        assert!(BOOT_JS.contains("url: \"/graphql\""));
        assert!(BOOT_JS.contains("isHeadersEditorEnabled: true"));
    }
}
