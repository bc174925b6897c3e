//! File fields through HTTP: multipart uploads (single, multiple, limits checked while
//! streaming, sniffed types, hostile names), downloads (ETag/304, Range/206/416,
//! Content-Disposition), thumbnails cached in storage, protected files with file tokens,
//! storage left clean after every kind of delete (rows removed through cascading
//! relations included), and the S3 backend against a real
//! S3-compatible server (moto).

use crate::both_stores;
use crate::harness::{assert_error, StoreKind, StoreLocation, TestApp};
use reqwest::multipart::{Form, Part};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

both_stores!(
    uploads_and_downloads,
    upload_limits_and_hostile_input,
    thumbnails_are_made_once_and_cached,
    protected_files_and_file_tokens,
    storage_is_cleaned_after_every_kind_of_delete,
    cascaded_deletes_take_their_files,
    a_failed_write_keeps_the_old_file_and_drops_the_new,
);

/// A PNG of `width` x `height`.
fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([(x * 3) as u8, (y * 5) as u8, 99]));
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).expect("encode png");
    out.into_inner()
}

fn file(name: &str, bytes: Vec<u8>, content_type: &str) -> Part {
    Part::bytes(bytes).file_name(name.to_string()).mime_str(content_type).expect("mime")
}

fn json_part(value: Value) -> Part {
    Part::text(value.to_string()).mime_str("application/json").expect("mime")
}

/// Sends a multipart form as `token` (the admin's when `None`).
async fn send_form(t: &TestApp, token: Option<&str>, method: Method, path: &str, form: Form) -> (StatusCode, Value) {
    let mut request = t.client.request(method, format!("{}{}", t.base, path)).multipart(form);
    if let Some(token) = token.or(t.token.as_deref()) {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let bytes = response.bytes().await.expect("body");
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// A raw GET: status, headers, body bytes.
async fn fetch(
    t: &TestApp,
    token: Option<&str>,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let mut request = t.client.get(format!("{}{}", t.base, path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.bytes().await.expect("body").to_vec())
}

fn header<'h>(headers: &'h reqwest::header::HeaderMap, name: &str) -> &'h str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

/// Every key in the storage (and, for a local directory, every file on disk: staging
/// files of aborted uploads included).
async fn stored_keys(t: &TestApp) -> Vec<String> {
    let mut keys = t.storage.list("").await.expect("list storage");
    if let Some(dir) = &t.files_dir {
        let on_disk = walk(dir.path());
        assert_eq!(on_disk.len(), keys.len(), "files on disk {on_disk:?} vs keys {keys:?}");
    }
    keys.sort();
    keys
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

async fn table_id(t: &TestApp, table: &str) -> i64 {
    let (status, schema) = t.get(&format!("/api/tables/{table}")).await;
    assert_eq!(status, StatusCode::OK, "{schema}");
    schema["id"].as_i64().expect("table id")
}

/// `posts`: a title, an image (at most 64 KiB) and a list of documents.
async fn posts(t: &TestApp) -> i64 {
    t.create_unowned_table(
        "posts",
        json!({
            "title": {"type": "string", "max_length": 20},
            "photo": {"type": "file", "mime_types": ["image/*"], "max_size": 65536},
            "docs": {"type": "file", "multiple": true, "max_size": 4096}
        }),
    )
    .await;
    table_id(t, "posts").await
}

fn file_url(table: &str, id: i64, field: &str, name: &str) -> String {
    format!("/api/files/{table}/{id}/{field}/{name}")
}

async fn uploads_and_downloads(t: TestApp) {
    let table = posts(&t).await;
    let image = png(8, 4);
    let form = Form::new()
        .part("@json", json_part(json!({"title": "hello"})))
        .part("photo", file("cat.png", image.clone(), "image/png"))
        .part("docs", file("a.txt", b"first document".to_vec(), "text/plain"))
        .part("docs", file("b.txt", b"second".to_vec(), "text/plain"));
    let (status, row) = send_form(&t, None, Method::POST, "/api/tables/posts/rows", form).await;
    assert_eq!(status, StatusCode::CREATED, "{row}");
    assert_eq!(row["title"], "hello");
    let photo = row["photo"].as_str().expect("photo name").to_string();
    assert!(photo.starts_with("cat_") && photo.ends_with(".png"), "{photo}");
    let docs: Vec<String> =
        row["docs"].as_array().expect("docs list").iter().map(|d| d.as_str().unwrap().to_string()).collect();
    assert_eq!(docs.len(), 2, "{row}");
    assert!(docs[0].starts_with("a_") && docs[1].starts_with("b_"), "{docs:?}");
    let id = row["id"].as_i64().unwrap();
    // The row reads back the same, and the objects are where the layout says.
    let (_, read) = t.get(&format!("/api/tables/posts/rows/{id}")).await;
    assert_eq!(read["docs"], row["docs"]);
    let mut expected: Vec<String> = [&photo, &docs[0], &docs[1]].iter().map(|n| format!("{table}/{n}")).collect();
    expected.sort();
    assert_eq!(stored_keys(&t).await, expected);
    // A text field sent as its own part (read like a CSV cell) on PATCH.
    let form = Form::new().text("title", "renamed");
    let (status, patched) = send_form(&t, None, Method::PATCH, &format!("/api/tables/posts/rows/{id}"), form).await;
    assert_eq!((status, &patched["title"], &patched["photo"]), (StatusCode::OK, &json!("renamed"), &json!(photo)));

    // Download: type, length, bytes, ETag, inline for images.
    let url = file_url("posts", id, "photo", &photo);
    let (status, headers, body) = fetch(&t, None, &url, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, image);
    assert_eq!(header(&headers, "content-type"), "image/png");
    assert_eq!(header(&headers, "content-length"), image.len().to_string());
    assert!(header(&headers, "content-disposition").starts_with("inline"), "{headers:?}");
    assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
    let etag = header(&headers, "etag").to_string();
    assert!(etag.starts_with('"'), "{etag}");
    let (status, headers, body) = fetch(&t, None, &url, &[("if-none-match", &etag)]).await;
    assert_eq!((status, body.len()), (StatusCode::NOT_MODIFIED, 0));
    assert_eq!(header(&headers, "etag"), etag);
    let (status, _, _) = fetch(&t, None, &url, &[("if-none-match", "\"something-else\"")]).await;
    assert_eq!(status, StatusCode::OK);
    // Ranges.
    let (status, headers, body) = fetch(&t, None, &url, &[("range", "bytes=0-9")]).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(body, image[..10]);
    assert_eq!(header(&headers, "content-range"), format!("bytes 0-9/{}", image.len()));
    let (status, _, body) = fetch(&t, None, &url, &[("range", "bytes=-5")]).await;
    assert_eq!((status, body.as_slice()), (StatusCode::PARTIAL_CONTENT, &image[image.len() - 5..]));
    let (status, headers, _) = fetch(&t, None, &url, &[("range", "bytes=100000-")]).await;
    assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(header(&headers, "content-range"), format!("bytes */{}", image.len()));
    // `?download=1` forces an attachment; documents are attachments anyway.
    let (_, headers, _) = fetch(&t, None, &format!("{url}?download=1"), &[]).await;
    assert!(header(&headers, "content-disposition").starts_with("attachment"), "{headers:?}");
    let (status, headers, body) = fetch(&t, None, &file_url("posts", id, "docs", &docs[0]), &[]).await;
    assert_eq!((status, body.as_slice()), (StatusCode::OK, &b"first document"[..]));
    assert!(header(&headers, "content-type").starts_with("text/plain"), "{headers:?}");
    assert!(header(&headers, "content-disposition").starts_with("attachment"), "{headers:?}");
    // A name the row's field does not hold, another field, another row, unknown field.
    for path in [
        file_url("posts", id, "photo", "nope_0000000000.png"),
        file_url("posts", id, "photo", &docs[0]),
        file_url("posts", id + 1, "photo", &photo),
        file_url("posts", id, "title", &photo),
        file_url("posts", id, "photo", "..%2F..%2Fetc%2Fpasswd"),
    ] {
        let (status, _, body) = fetch(&t, None, &path, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {}", String::from_utf8_lossy(&body));
    }
    // By table id too.
    let (status, _, _) = fetch(&t, None, &file_url(&table.to_string(), id, "photo", &photo), &[]).await;
    assert_eq!(status, StatusCode::OK);
}

async fn upload_limits_and_hostile_input(t: TestApp) {
    let table = posts(&t).await;
    // Over the field's max_size: 413 naming the field, nothing stored, no row.
    let big = vec![b'x'; 10_000];
    let form = Form::new().part("docs", file("big.txt", big, "text/plain"));
    let result = send_form(&t, None, Method::POST, "/api/tables/posts/rows", form).await;
    assert_error(&result, StatusCode::PAYLOAD_TOO_LARGE, "file_too_large");
    assert_eq!(result.1["error"]["details"][0]["field"], "docs");
    // One good file before the bad one: it is deleted again.
    let form = Form::new()
        .part("photo", file("ok.png", png(2, 2), "image/png"))
        .part("docs", file("big.txt", vec![b'y'; 5000], "text/plain"));
    let result = send_form(&t, None, Method::POST, "/api/tables/posts/rows", form).await;
    assert_error(&result, StatusCode::PAYLOAD_TOO_LARGE, "file_too_large");
    assert!(stored_keys(&t).await.is_empty());
    assert!(t.all_rows("posts").await.is_empty());
    // A type the field does not allow, whatever the client claims: 415 naming the field.
    let form = Form::new().part("photo", file("fake.png", b"just text, not an image".to_vec(), "image/png"));
    let result = send_form(&t, None, Method::POST, "/api/tables/posts/rows", form).await;
    assert_error(&result, StatusCode::UNSUPPORTED_MEDIA_TYPE, "file_type_not_allowed");
    assert_eq!(result.1["error"]["details"][0]["field"], "photo");
    assert_eq!(result.1["error"]["details"][0]["detected"], "text/plain");
    // A file for a field that is not a file field, or two for a single one.
    let form = Form::new().part("title", file("x.txt", b"x".to_vec(), "text/plain"));
    assert_error(
        &send_form(&t, None, Method::POST, "/api/tables/posts/rows", form).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
    let form = Form::new()
        .part("photo", file("a.png", png(1, 1), "image/png"))
        .part("photo", file("b.png", png(1, 1), "image/png"));
    assert_error(
        &send_form(&t, None, Method::POST, "/api/tables/posts/rows", form).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
    assert!(stored_keys(&t).await.is_empty());
    // Hostile names are reduced to safe stored names.
    let form = Form::new()
        .part("docs", file("../../etc/passwd", b"root:x:0:0".to_vec(), "text/plain"))
        .part("docs", file("..\\..\\boot.ini", b"[boot]".to_vec(), "text/plain"))
        .part("docs", file("tab\tand spaces (1).txt", b"ding".to_vec(), "text/plain"))
        .part("docs", file(".htaccess", b"deny".to_vec(), "text/plain"));
    let (status, row) = send_form(&t, None, Method::POST, "/api/tables/posts/rows", form).await;
    assert_eq!(status, StatusCode::CREATED, "{row}");
    let names: Vec<&str> = row["docs"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
    assert_eq!(names.len(), 4, "{row}");
    for name in &names {
        assert!(!name.contains('/') && !name.contains('\\') && !name.starts_with('.'), "{name}");
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)), "{name}");
    }
    assert!(names[0].starts_with("passwd_") && names[1].starts_with("boot_"), "{names:?}");
    assert!(names[2].starts_with("tab_and_spaces_1_") && names[3].starts_with("htaccess_"), "{names:?}");
    // Control characters: refused by the form parser (400), or stripped from the name.
    let form = Form::new().part("docs", file("bell\u{7}x\u{1b}.txt", b"ding".to_vec(), "text/plain"));
    let (status, body) = send_form(&t, None, Method::POST, "/api/tables/posts/rows", form).await;
    match status {
        StatusCode::BAD_REQUEST => assert_eq!(body["error"]["code"], "bad_request", "{body}"),
        StatusCode::CREATED => {
            let name = body["docs"][0].as_str().unwrap();
            assert!(name.starts_with("bell_x_") && name.chars().all(|c| !c.is_control()), "{name}");
            let (status, _) = t.delete(&format!("/api/tables/posts/rows/{}", body["id"])).await;
            assert_eq!(status, StatusCode::NO_CONTENT);
        }
        other => panic!("control characters in a file name: {other} {body}"),
    }
    let keys = stored_keys(&t).await;
    assert_eq!(keys.len(), 4);
    assert!(keys.iter().all(|k| k.starts_with(&format!("{table}/"))), "{keys:?}");
    // JSON may not point a row at objects it does not hold: not at create, not at update.
    let id = row["id"].as_i64().unwrap();
    let result = t.post("/api/tables/posts/rows", json!({"docs": [names[0]]})).await;
    assert_error(&result, StatusCode::BAD_REQUEST, "unknown_file");
    t.create_unowned_table("other", json!({"f": {"type": "file", "multiple": true}})).await;
    let (status, other) = t.post("/api/tables/other/rows", json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{other}");
    let other_id = other["id"].as_i64().unwrap();
    let result = t.patch(&format!("/api/tables/other/rows/{other_id}"), json!({"f": [names[0]]})).await;
    assert_error(&result, StatusCode::BAD_REQUEST, "unknown_file");
    let result = t.patch(&format!("/api/tables/posts/rows/{id}"), json!({"photo": names[0]})).await;
    assert_error(&result, StatusCode::BAD_REQUEST, "unknown_file");
    let result = t.patch(&format!("/api/tables/posts/rows/{id}"), json!({"docs": ["../../etc/passwd"]})).await;
    assert!(result.0.is_client_error(), "{result:?}");
    // Malformed forms: 400, never 500.
    let result = t
        .send_raw(Method::POST, "/api/tables/posts/rows", "multipart/form-data; boundary=xyz", b"garbage".to_vec())
        .await;
    assert_error(&result, StatusCode::BAD_REQUEST, "bad_request");
    let result = t.send_raw(Method::POST, "/api/tables/posts/rows", "multipart/form-data", b"".to_vec()).await;
    assert_error(&result, StatusCode::BAD_REQUEST, "bad_multipart");
    let form = Form::new().part("@json", json_part(json!([1, 2])));
    assert_error(
        &send_form(&t, None, Method::POST, "/api/tables/posts/rows", form).await,
        StatusCode::BAD_REQUEST,
        "invalid_json",
    );
    // The whole request is bounded too, while streaming.
    let small =
        TestApp::start_with(t.kind, tessera_http::HttpConfig { max_upload_bytes: 2048, ..Default::default() }).await;
    small.create_unowned_table("big", json!({"f": {"type": "file", "max_size": 1048576}})).await;
    let form = Form::new().part("f", file("big.bin", vec![7u8; 50_000], "application/octet-stream"));
    let result = send_form(&small, None, Method::POST, "/api/tables/big/rows", form).await;
    assert_error(&result, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    assert!(stored_keys(&small).await.is_empty());
    assert_eq!(stored_keys(&t).await, keys, "nothing changed in storage");
}

async fn thumbnails_are_made_once_and_cached(t: TestApp) {
    let table = posts(&t).await;
    let form = Form::new()
        .part("photo", file("wide.png", png(64, 32), "image/png"))
        .part("docs", file("notes.txt", b"not an image".to_vec(), "text/plain"));
    let (status, row) = send_form(&t, None, Method::POST, "/api/tables/posts/rows", form).await;
    assert_eq!(status, StatusCode::CREATED, "{row}");
    let (id, photo) = (row["id"].as_i64().unwrap(), row["photo"].as_str().unwrap().to_string());
    let url = file_url("posts", id, "photo", &photo);
    for (spec, size) in [("16x16", (16, 16)), ("20x0", (20, 10)), ("0x8", (16, 8))] {
        let (status, headers, body) = fetch(&t, None, &format!("{url}?thumb={spec}"), &[]).await;
        assert_eq!(status, StatusCode::OK, "{spec}");
        assert_eq!(header(&headers, "content-type"), "image/png");
        let image = image::load_from_memory(&body).expect("a thumbnail decodes");
        assert_eq!((image.width(), image.height()), size, "{spec}");
        // Cached in storage after the first request; the second is the same object.
        let key = format!("thumbs/{table}/{photo}/{spec}");
        assert!(t.storage.size(&key).await.unwrap().is_some(), "{key} cached");
        let (_, again_headers, again) = fetch(&t, None, &format!("{url}?thumb={spec}"), &[]).await;
        assert_eq!((again, header(&again_headers, "etag")), (body, header(&headers, "etag")));
        let (status, _, _) =
            fetch(&t, None, &format!("{url}?thumb={spec}"), &[("if-none-match", header(&headers, "etag"))]).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED);
    }
    // Served from the cache: overwrite the cached object and see it come back.
    let key = format!("thumbs/{table}/{photo}/16x16");
    t.storage.put(&key, png(3, 3)).await.unwrap();
    let (_, _, body) = fetch(&t, None, &format!("{url}?thumb=16x16"), &[]).await;
    assert_eq!(image::load_from_memory(&body).unwrap().width(), 3, "the cached thumbnail is served");
    // Bad sizes are refused; non-images ignore `thumb`.
    for bad in ["0x0", "5000x10", "abc", "10"] {
        let (status, _, body) = fetch(&t, None, &format!("{url}?thumb={bad}"), &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {}", String::from_utf8_lossy(&body));
    }
    let doc = row["docs"][0].as_str().unwrap();
    let (status, _, body) = fetch(&t, None, &format!("{}?thumb=10x10", file_url("posts", id, "docs", doc)), &[]).await;
    assert_eq!((status, body.as_slice()), (StatusCode::OK, &b"not an image"[..]));
}

async fn protected_files_and_file_tokens(t: TestApp) {
    let body = json!({
        "name": "secrets",
        "fields": {"doc": {"type": "file", "protected": true}, "pic": {"type": "file"}}
    });
    let (status, created) = t.post("/api/tables", body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (_alice, alice) = t.user_token("alice@files.test").await;
    let (_bob, bob) = t.user_token("bob@files.test").await;
    let form = Form::new()
        .part("doc", file("plan.txt", b"the plan".to_vec(), "text/plain"))
        .part("pic", file("p.png", png(2, 2), "image/png"));
    let (status, row) = send_form(&t, Some(&alice), Method::POST, "/api/tables/secrets/rows", form).await;
    assert_eq!(status, StatusCode::CREATED, "{row}");
    let id = row["id"].as_i64().unwrap();
    let doc_url = file_url("secrets", id, "doc", row["doc"].as_str().unwrap());
    let pic_url = file_url("secrets", id, "pic", row["pic"].as_str().unwrap());
    // Anonymous uploads are refused before anything is stored.
    let keys = stored_keys(&t).await;
    let anonymous = Form::new().part("doc", file("x.txt", b"x".to_vec(), "text/plain"));
    let response =
        t.client.post(format!("{}/api/tables/secrets/rows", t.base)).multipart(anonymous).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(stored_keys(&t).await, keys);

    // Public view rule: anyone gets the unprotected picture; the protected doc needs a caller.
    assert_eq!(fetch(&t, None, &pic_url, &[]).await.0, StatusCode::OK);
    assert_eq!(fetch(&t, None, &doc_url, &[]).await.0, StatusCode::UNAUTHORIZED);
    let (status, _, body) = fetch(&t, Some(&bob), &doc_url, &[]).await;
    assert_eq!((status, body.as_slice()), (StatusCode::OK, &b"the plan"[..]));

    // File tokens: for signed-in callers only; good in `?token=` for a few minutes.
    let (status, _) = t.call_as(None, Method::POST, "/api/files/token", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, minted) = t.call_as(Some(&alice), Method::POST, "/api/files/token", None).await;
    assert_eq!(status, StatusCode::OK, "{minted}");
    let file_token = minted["token"].as_str().unwrap().to_string();
    assert!(minted["expires_in"].as_i64().unwrap() <= 300);
    let (status, _, body) = fetch(&t, None, &format!("{doc_url}?token={file_token}"), &[]).await;
    assert_eq!((status, body.as_slice()), (StatusCode::OK, &b"the plan"[..]));
    for bad in ["garbage", alice.as_str()] {
        // A forged token, or an access token where a file token belongs.
        let (status, _, _) = fetch(&t, None, &format!("{doc_url}?token={bad}"), &[]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad}");
    }
    // A file token is not an access token either.
    let (status, _) = t.call_as(Some(&file_token), Method::GET, "/api/auth/me", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Only the owner may view: others get 404 (a hidden row is a missing row).
    let (status, body) = t.patch("/api/tables/secrets", json!({"rules": {"view": "owner = @request.auth.id"}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(fetch(&t, Some(&bob), &doc_url, &[]).await.0, StatusCode::NOT_FOUND);
    assert_eq!(fetch(&t, Some(&bob), &pic_url, &[]).await.0, StatusCode::NOT_FOUND);
    assert_eq!(fetch(&t, None, &pic_url, &[]).await.0, StatusCode::NOT_FOUND);
    assert_eq!(fetch(&t, Some(&alice), &doc_url, &[]).await.0, StatusCode::OK);
    let (status, minted_bob) = t.call_as(Some(&bob), Method::POST, "/api/files/token", None).await;
    assert_eq!(status, StatusCode::OK);
    let bob_file_token = minted_bob["token"].as_str().unwrap();
    assert_eq!(fetch(&t, None, &format!("{doc_url}?token={bob_file_token}"), &[]).await.0, StatusCode::NOT_FOUND);
    assert_eq!(fetch(&t, None, &format!("{doc_url}?token={file_token}"), &[]).await.0, StatusCode::OK);

    // Expired: the app clock moves past the token's lifetime (and any clock skew).
    t.clock.advance(3600);
    let (status, _, body) = fetch(&t, None, &format!("{doc_url}?token={file_token}"), &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("expired"));
}

async fn storage_is_cleaned_after_every_kind_of_delete(t: TestApp) {
    let table = posts(&t).await;
    let form = Form::new()
        .part("photo", file("one.png", png(4, 4), "image/png"))
        .part("docs", file("a.txt", b"a".to_vec(), "text/plain"))
        .part("docs", file("b.txt", b"b".to_vec(), "text/plain"));
    let (status, row) = send_form(&t, None, Method::POST, "/api/tables/posts/rows", form).await;
    assert_eq!(status, StatusCode::CREATED, "{row}");
    let id = row["id"].as_i64().unwrap();
    let row_url = format!("/api/tables/posts/rows/{id}");
    let key = |name: &Value| format!("{table}/{}", name.as_str().unwrap());
    let (a, b) = (row["docs"][0].clone(), row["docs"][1].clone());
    // A thumbnail, to see it go with its file.
    let photo_url = file_url("posts", id, "photo", row["photo"].as_str().unwrap());
    assert_eq!(fetch(&t, None, &format!("{photo_url}?thumb=2x2"), &[]).await.0, StatusCode::OK);
    assert_eq!(stored_keys(&t).await.len(), 4);

    // Replace the photo: the old object and its thumbnail go, the new one stays.
    let form = Form::new().part("photo", file("two.png", png(5, 5), "image/png"));
    let (status, replaced) = send_form(&t, None, Method::PATCH, &row_url, form).await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(replaced["docs"], json!([a, b]), "other fields keep their files");
    let mut expected = vec![key(&a), key(&b), key(&replaced["photo"])];
    expected.sort();
    assert_eq!(stored_keys(&t).await, expected);

    // Append to the list with a form, then remove one name with JSON.
    let form = Form::new().part("docs", file("c.txt", b"c".to_vec(), "text/plain"));
    let (status, appended) = send_form(&t, None, Method::PATCH, &row_url, form).await;
    assert_eq!(status, StatusCode::OK, "{appended}");
    let c = appended["docs"][2].clone();
    assert_eq!(appended["docs"], json!([a, b, c]));
    let (status, removed) = t.patch(&row_url, json!({"docs": [c, a]})).await;
    assert_eq!((status, &removed["docs"]), (StatusCode::OK, &json!([c, a])), "{removed}");
    let mut expected = vec![key(&a), key(&c), key(&replaced["photo"])];
    expected.sort();
    assert_eq!(stored_keys(&t).await, expected);

    // Clear the photo with null; PUT without the list clears it too.
    let (status, cleared) = t.patch(&row_url, json!({"photo": null})).await;
    assert_eq!((status, &cleared["photo"]), (StatusCode::OK, &Value::Null), "{cleared}");
    let mut expected = vec![key(&a), key(&c)];
    expected.sort();
    assert_eq!(stored_keys(&t).await, expected);
    let (status, put) = t.put(&row_url, json!({"title": "whole"})).await;
    assert_eq!((status, &put["docs"]), (StatusCode::OK, &Value::Null), "{put}");
    assert!(stored_keys(&t).await.is_empty());

    // Delete a row: its files go, another row's stay.
    let upload = |name: &'static str| Form::new().part("docs", file(name, b"z".to_vec(), "text/plain"));
    let (_, first) = send_form(&t, None, Method::POST, "/api/tables/posts/rows", upload("x.txt")).await;
    let (_, second) = send_form(&t, None, Method::POST, "/api/tables/posts/rows", upload("y.txt")).await;
    let (status, _) = t.delete(&format!("/api/tables/posts/rows/{}", first["id"])).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(stored_keys(&t).await, vec![key(&second["docs"][0])]);

    // Drop the field: its objects go once the migration commits.
    let (status, body) = t
        .put(
            "/api/tables/posts",
            json!({"fields": {
                "title": {"type": "string", "max_length": 20},
                "photo": {"type": "file", "mime_types": ["image/*"], "max_size": 65536}
            }}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(stored_keys(&t).await.is_empty());

    // Drop the table: everything under it goes (files and thumbnails).
    let form = Form::new().part("photo", file("last.png", png(3, 3), "image/png"));
    let (status, last) = send_form(&t, None, Method::POST, "/api/tables/posts/rows", form).await;
    assert_eq!(status, StatusCode::CREATED, "{last}");
    let url = file_url("posts", last["id"].as_i64().unwrap(), "photo", last["photo"].as_str().unwrap());
    assert_eq!(fetch(&t, None, &format!("{url}?thumb=1x1"), &[]).await.0, StatusCode::OK);
    assert_eq!(stored_keys(&t).await.len(), 2);
    let (status, _) = t.delete("/api/tables/posts").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(stored_keys(&t).await.is_empty());
}

/// Creates a row from `values` and one file per `(field, name)`; returns the row.
async fn create_with_files(t: &TestApp, table: &str, values: Value, files: &[(&str, &str)]) -> Value {
    let mut form = Form::new().part("@json", json_part(values));
    for (field, name) in files {
        form = form.part(field.to_string(), file(name, name.as_bytes().to_vec(), "text/plain"));
    }
    let (status, row) = send_form(t, None, Method::POST, &format!("/api/tables/{table}/rows"), form).await;
    assert_eq!(status, StatusCode::CREATED, "{row}");
    row
}

/// The storage keys of the files a row holds in `field` (a name or a list).
async fn keys_of(t: &TestApp, table: &str, row: &Value, field: &str) -> Vec<String> {
    let id = table_id(t, table).await;
    let names = match &row[field] {
        Value::Array(items) => items.clone(),
        name => vec![name.clone()],
    };
    names.iter().map(|name| format!("{id}/{}", name.as_str().expect("a stored name"))).collect()
}

/// Rows the database deletes through `on_delete: cascade` (over two levels and through a
/// relation of a table to itself) take their files along, whether the delete comes from
/// REST, a GraphQL `delete_<t>_by_pk` or a GraphQL `delete_<t>(where)`; `set_null`
/// relations keep theirs.
async fn cascaded_deletes_take_their_files(t: TestApp) {
    t.create_unowned_table("zoos", json!({"name": "string", "logo": "file"})).await;
    t.create_unowned_table(
        "animals",
        json!({
            "name": "string",
            "zoo": {"type": "relation", "target": "zoos", "on_delete": "cascade"},
            "mother": {"type": "relation", "target": "animals", "on_delete": "cascade"},
            "photo": "file"
        }),
    )
    .await;
    t.create_unowned_table(
        "visits",
        json!({
            "animal": {"type": "relation", "target": "animals", "on_delete": "cascade"},
            "docs": {"type": "file", "multiple": true}
        }),
    )
    .await;
    t.create_unowned_table(
        "notes",
        json!({"zoo": {"type": "relation", "target": "zoos", "on_delete": "set_null"}, "scan": "file"}),
    )
    .await;
    let berlin = create_with_files(&t, "zoos", json!({"name": "Berlin"}), &[("logo", "b.txt")]).await;
    let paris = create_with_files(&t, "zoos", json!({"name": "Paris"}), &[]).await;
    let leo =
        create_with_files(&t, "animals", json!({"name": "Leo", "zoo": berlin["id"]}), &[("photo", "leo.txt")]).await;
    // Leo's cub lives in Paris: it goes with its mother, not with its zoo.
    let cub = create_with_files(
        &t,
        "animals",
        json!({"name": "Cub", "zoo": paris["id"], "mother": leo["id"]}),
        &[("photo", "cub.txt")],
    )
    .await;
    let ida =
        create_with_files(&t, "animals", json!({"name": "Ida", "zoo": paris["id"]}), &[("photo", "ida.txt")]).await;
    let leo_visit =
        create_with_files(&t, "visits", json!({"animal": leo["id"]}), &[("docs", "v1.txt"), ("docs", "v2.txt")]).await;
    let cub_visit = create_with_files(&t, "visits", json!({"animal": cub["id"]}), &[("docs", "v3.txt")]).await;
    let ida_visit = create_with_files(&t, "visits", json!({"animal": ida["id"]}), &[("docs", "v4.txt")]).await;
    let note = create_with_files(&t, "notes", json!({"zoo": berlin["id"]}), &[("scan", "n.txt")]).await;
    assert_eq!(stored_keys(&t).await.len(), 9);

    // REST: Berlin goes with Leo, his visit, his cub (in Paris) and the cub's visit.
    let (status, body) = t.delete(&format!("/api/tables/zoos/rows/{}", berlin["id"])).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let mut left = [
        keys_of(&t, "animals", &ida, "photo").await,
        keys_of(&t, "visits", &ida_visit, "docs").await,
        keys_of(&t, "notes", &note, "scan").await,
    ]
    .concat();
    left.sort();
    assert_eq!(stored_keys(&t).await, left);
    assert_eq!(t.all_rows("animals").await.len(), 1);
    let (_, kept) = t.get(&format!("/api/tables/notes/rows/{}", note["id"])).await;
    assert_eq!(kept["zoo"], Value::Null, "set_null keeps the note and its scan");
    for row in [&leo_visit, &cub_visit] {
        let (status, _) = t.get(&format!("/api/tables/visits/rows/{}", row["id"])).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    // GraphQL by primary key (inside the mutation's transaction): Ida's visit goes too.
    let query = format!("mutation {{ delete_animals_by_pk(id: {}) {{ name }} }}", ida["id"]);
    let answer = crate::graphql::gql_as(&t, t.token.as_deref(), &query, json!({})).await;
    assert_eq!(answer["data"]["delete_animals_by_pk"]["name"], "Ida", "{answer}");
    assert_eq!(stored_keys(&t).await, keys_of(&t, "notes", &note, "scan").await);

    // GraphQL by where: a zoo whose animals' visits hold files.
    let lyon = create_with_files(&t, "zoos", json!({"name": "Lyon"}), &[("logo", "l.txt")]).await;
    let max = create_with_files(&t, "animals", json!({"name": "Max", "zoo": lyon["id"]}), &[]).await;
    create_with_files(&t, "visits", json!({"animal": max["id"]}), &[("docs", "v5.txt")]).await;
    assert_eq!(stored_keys(&t).await.len(), 3);
    let query = "mutation { delete_zoos(where: {name: {_eq: \"Lyon\"}}) { affected_rows } }";
    let answer = crate::graphql::gql_as(&t, t.token.as_deref(), query, json!({})).await;
    assert_eq!(answer["data"]["delete_zoos"]["affected_rows"], 1, "{answer}");
    assert_eq!(stored_keys(&t).await, keys_of(&t, "notes", &note, "scan").await);

    // A cascade the database refuses (a ticket points at the animal with `restrict`)
    // deletes nothing: no row, no file.
    t.create_unowned_table("tickets", json!({"animal": {"type": "relation", "target": "animals"}})).await;
    let rome = create_with_files(&t, "zoos", json!({"name": "Rome"}), &[("logo", "r.txt")]).await;
    let rex =
        create_with_files(&t, "animals", json!({"name": "Rex", "zoo": rome["id"]}), &[("photo", "rex.txt")]).await;
    t.insert("tickets", json!([{"animal": rex["id"]}])).await;
    let before = stored_keys(&t).await;
    assert_eq!(before.len(), 3);
    let refused = t.delete(&format!("/api/tables/zoos/rows/{}", rome["id"])).await;
    assert_error(&refused, StatusCode::CONFLICT, "row_referenced");
    // The answer names the ticket, which points at an animal the zoo's delete would remove.
    let details = &refused.1["error"]["details"];
    assert_eq!(details, &json!([{"table": "tickets", "field": "animal", "rows": 1, "via": "animals"}]), "{refused:?}");
    assert!(refused.1["error"]["message"]
        .as_str()
        .unwrap()
        .contains("'tickets' (field 'animal', pointing at 'animals'"));
    assert_eq!(stored_keys(&t).await, before);
    let (status, _) = t.get(&format!("/api/tables/animals/rows/{}", rex["id"])).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = t.delete("/api/tables/zoos/rows/999999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(stored_keys(&t).await, before);
}

async fn a_failed_write_keeps_the_old_file_and_drops_the_new(t: TestApp) {
    posts(&t).await;
    let form = Form::new().text("title", "ok").part("photo", file("keep.png", png(2, 2), "image/png"));
    let (status, row) = send_form(&t, None, Method::POST, "/api/tables/posts/rows", form).await;
    assert_eq!(status, StatusCode::CREATED, "{row}");
    let before = stored_keys(&t).await;
    let row_url = format!("/api/tables/posts/rows/{}", row["id"]);
    // A new photo with an invalid title: the write fails, the upload is removed, the old
    // photo stays and is still served.
    let form = Form::new().text("title", "x".repeat(50)).part("photo", file("new.png", png(2, 2), "image/png"));
    let result = send_form(&t, None, Method::PATCH, &row_url, form).await;
    assert_error(&result, StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(stored_keys(&t).await, before);
    let (_, now) = t.get(&row_url).await;
    assert_eq!(now["photo"], row["photo"]);
    let url = file_url("posts", row["id"].as_i64().unwrap(), "photo", row["photo"].as_str().unwrap());
    assert_eq!(fetch(&t, None, &url, &[]).await.0, StatusCode::OK);
    // A create that fails validation leaves nothing either.
    let form = Form::new().text("title", "y".repeat(50)).part("photo", file("n.png", png(2, 2), "image/png"));
    assert_error(
        &send_form(&t, None, Method::POST, "/api/tables/posts/rows", form).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    );
    // An update of a missing row, with a file: 404 and nothing left.
    let form = Form::new().part("photo", file("m.png", png(2, 2), "image/png"));
    let result = send_form(&t, None, Method::PATCH, "/api/tables/posts/rows/999999", form).await;
    assert_error(&result, StatusCode::NOT_FOUND, "row_not_found");
    assert_eq!(stored_keys(&t).await, before);
}

// ---------------------------------------------------------------------------------------
// S3: a real S3-compatible server (moto in server mode), started per test.
// ---------------------------------------------------------------------------------------

/// `moto_server` on a free port, killed when dropped. Fails the test (never skips) when
/// moto cannot start: test.sh installs it (`pip install moto[server]`).
struct Moto {
    child: std::process::Child,
    endpoint: String,
}

impl Moto {
    async fn start() -> Moto {
        let port = crate::harness::free_port();
        let mut command = match std::env::var("TESSERA_TEST_MOTO").ok().filter(|m| !m.is_empty()) {
            Some(program) => std::process::Command::new(program),
            None => {
                let mut command = std::process::Command::new("python3");
                command.args(["-m", "moto.server"]);
                command
            }
        };
        let child = command
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start moto (python3 -m moto.server): install it with `pip install 'moto[server]'`");
        let moto = Moto { child, endpoint: format!("http://127.0.0.1:{port}") };
        let client = reqwest::Client::new();
        for _ in 0..200 {
            if client.get(format!("{}/moto-api/", moto.endpoint)).send().await.is_ok() {
                return moto;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("moto did not start on {} within 20 s (is moto[server] installed?)", moto.endpoint);
    }

    /// Creates a bucket (moto accepts unsigned requests).
    async fn create_bucket(&self, bucket: &str) {
        let response =
            reqwest::Client::new().put(format!("{}/{bucket}", self.endpoint)).send().await.expect("create bucket");
        assert!(response.status().is_success(), "create bucket: {}", response.status());
    }

    /// Every key in a bucket, straight from the S3 API.
    async fn keys(&self, bucket: &str) -> Vec<String> {
        let text = reqwest::Client::new()
            .get(format!("{}/{bucket}?list-type=2", self.endpoint))
            .send()
            .await
            .expect("list bucket")
            .text()
            .await
            .expect("listing");
        text.split("<Key>").skip(1).filter_map(|part| part.split("</Key>").next()).map(str::to_string).collect()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

mod s3 {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::s3_backend_end_to_end(super::StoreKind::Sqlite).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::s3_backend_end_to_end(super::StoreKind::Postgres).await;
    }
}

async fn s3_backend_end_to_end(kind: StoreKind) {
    let moto = Moto::start().await;
    moto.create_bucket("tessera-test").await;
    let storage = tessera_files::StorageConfig::S3(tessera_files::storage::S3Config {
        bucket: "tessera-test".into(),
        prefix: Some("app1".into()),
        endpoint: Some(moto.endpoint.clone()),
        region: Some("us-east-1".into()),
        access_key_id: Some("testing".into()),
        secret_access_key: Some("testing".into()),
        path_style: true,
    });
    let location = StoreLocation::new(kind).await;
    let t = TestApp::start_with_storage(location, Default::default(), Default::default(), Some(storage)).await;
    t.create_unowned_table("media", json!({"clip": {"type": "file", "max_size": 8388608}, "pic": {"type": "file"}}))
        .await;
    let table = table_id(&t, "media").await;
    // Larger than one part (5 MiB): a multipart upload on S3.
    let clip: Vec<u8> = (0..6_000_000u32).map(|i| (i % 251) as u8).collect();
    let form = Form::new()
        .part("clip", file("clip.bin", clip.clone(), "application/octet-stream"))
        .part("pic", file("pic.png", png(10, 6), "image/png"));
    let (status, row) = send_form(&t, None, Method::POST, "/api/tables/media/rows", form).await;
    assert_eq!(status, StatusCode::CREATED, "{row}");
    let id = row["id"].as_i64().unwrap();
    let (clip_name, pic_name) = (row["clip"].as_str().unwrap(), row["pic"].as_str().unwrap());
    let mut expected = vec![format!("app1/{table}/{clip_name}"), format!("app1/{table}/{pic_name}")];
    expected.sort();
    assert_eq!(moto.keys("tessera-test").await, expected, "objects are in the bucket under the prefix");
    // Download whole and in part, and a thumbnail (cached in the bucket).
    let url = file_url("media", id, "clip", clip_name);
    let (status, _, body) = fetch(&t, None, &url, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body == clip, "the downloaded clip differs ({} bytes)", body.len());
    let (status, _, body) = fetch(&t, None, &url, &[("range", "bytes=5242870-5242889")]).await;
    assert_eq!((status, body.as_slice()), (StatusCode::PARTIAL_CONTENT, &clip[5_242_870..5_242_890]));
    let (status, _, body) =
        fetch(&t, None, &format!("{}?thumb=5x3", file_url("media", id, "pic", pic_name)), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(image::load_from_memory(&body).unwrap().width(), 5);
    assert_eq!(moto.keys("tessera-test").await.len(), 3);
    // A refused upload leaves nothing in the bucket.
    let form = Form::new().part("clip", file("huge.bin", vec![1u8; 9_000_000], "application/octet-stream"));
    assert_error(
        &send_form(&t, None, Method::PATCH, &format!("/api/tables/media/rows/{id}"), form).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "file_too_large",
    );
    assert_eq!(moto.keys("tessera-test").await.len(), 3);
    // Replace, then delete the row: the bucket ends empty.
    let form = Form::new().part("pic", file("pic2.png", png(2, 2), "image/png"));
    let (status, replaced) = send_form(&t, None, Method::PATCH, &format!("/api/tables/media/rows/{id}"), form).await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    let mut expected =
        vec![format!("app1/{table}/{clip_name}"), format!("app1/{table}/{}", replaced["pic"].as_str().unwrap())];
    expected.sort();
    assert_eq!(moto.keys("tessera-test").await, expected);
    let (status, _) = t.delete(&format!("/api/tables/media/rows/{id}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(moto.keys("tessera-test").await, Vec::<String>::new());
}
