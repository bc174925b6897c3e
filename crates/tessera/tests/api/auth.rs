//! Users and tokens: sign-up and its checks, sign-in by email, username or identity,
//! refresh rotation and reuse detection, sign-out, access-token expiry and forgeries,
//! login rate limits with `Retry-After`, API tokens (shown once, listed, revoked,
//! scoped, expiring), passwords that no answer ever contains, CORS off by default, and
//! tokens that outlive a restart. Time moves through the app's manual clock, never by
//! sleeping.

use crate::both_stores;
use crate::harness::{
    assert_error, base64url_decode, base64url_encode, StoreLocation, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD,
    USER_PASSWORD,
};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tessera_core::auth::AuthConfig;
use tessera_http::HttpConfig;

both_stores!(
    register_returns_the_user_without_its_password,
    registration_is_validated,
    login_refresh_logout,
    login_by_email_username_or_identity,
    wrong_password_and_unknown_user_look_alike,
    reusing_a_rotated_refresh_token_revokes_its_family,
    access_tokens_expire_after_900_seconds,
    refresh_tokens_expire_after_30_days,
    forged_and_garbage_access_tokens_are_refused,
    logins_are_rate_limited_per_account,
    logins_are_rate_limited_per_address,
    api_tokens_are_shown_once_listed_and_revoked,
    api_token_scopes_read_and_write,
    api_token_scopes_per_table,
    api_token_scope_requests_are_checked,
    api_tokens_expire,
    deleting_a_user_or_changing_a_password_ends_their_credentials,
    passwords_never_appear,
    cors_is_off_by_default,
    cors_allows_only_configured_origins,
    tokens_survive_a_restart,
);

const DAY: i64 = 86_400;

async fn post_anonymous(t: &TestApp, path: &str, body: Value) -> (StatusCode, Value) {
    t.call_as(None, Method::POST, path, Some(body)).await
}

async fn refresh(t: &TestApp, refresh_token: &str) -> (StatusCode, Value) {
    post_anonymous(t, "/api/auth/refresh", json!({ "refresh_token": refresh_token })).await
}

async fn me(t: &TestApp, token: Option<&str>) -> (StatusCode, Value) {
    t.call_as(token, Method::GET, "/api/auth/me", None).await
}

#[track_caller]
fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key].as_str().unwrap_or_else(|| panic!("a string `{key}` in {value}"))
}

fn sorted_keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> =
        value.as_object().unwrap_or_else(|| panic!("an object: {value}")).keys().cloned().collect();
    keys.sort_unstable();
    keys
}

/// The answer of a login or a refresh, for `user`.
#[track_caller]
fn assert_session(session: &Value, user: &Value) {
    assert_eq!(
        sorted_keys(session),
        ["access_token", "expires_in", "refresh_token", "token_type", "user"],
        "{session}"
    );
    assert_eq!(session["token_type"], "Bearer", "{session}");
    assert_eq!(session["expires_in"], 900, "{session}");
    assert_eq!(text(session, "access_token").split('.').count(), 3, "a JWT: {session}");
    assert!(text(session, "refresh_token").starts_with("tsr_"), "{session}");
    assert_eq!(session["user"], *user, "the signed-in user");
    assert_no_password(session);
}

/// No key naming a password anywhere in `value`, and no password or password hash in
/// any of its strings.
#[track_caller]
pub fn assert_no_password(value: &Value) {
    fn walk(value: &Value, whole: &Value) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    assert!(!key.to_ascii_lowercase().contains("password"), "a `{key}` key in {whole}");
                    walk(inner, whole);
                }
            }
            Value::Array(items) => items.iter().for_each(|item| walk(item, whole)),
            Value::String(s) => {
                assert!(!s.contains("$argon2") && !s.contains(USER_PASSWORD), "a password or its hash in {whole}")
            }
            _ => {}
        }
    }
    walk(value, value);
}

/// `unix` seconds as RFC 3339 UTC (`2023-11-14T22:13:20Z`).
fn rfc3339(unix: i64) -> String {
    let (days, seconds) = (unix.div_euclid(DAY), unix.rem_euclid(DAY));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let (era, day_of_era) = (z.div_euclid(146_097), z.rem_euclid(146_097));
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", seconds / 3600, seconds % 3600 / 60, seconds % 60)
}

#[test]
fn rfc3339_formats_unix_seconds() {
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
}

/// Reads the `Retry-After` of a 429 as whole seconds.
#[track_caller]
fn retry_after(headers: &reqwest::header::HeaderMap) -> i64 {
    let value = headers.get("retry-after").expect("a Retry-After header on a 429");
    value.to_str().expect("ASCII").parse().unwrap_or_else(|_| panic!("integer seconds in Retry-After: {value:?}"))
}

/// The tables API tokens are tried on: `animals` (owned rows) and `zoos`.
async fn animals_and_zoos(t: &TestApp) {
    t.create_table("animals", json!({"name": "string", "species": "string", "age": "integer"})).await;
    t.create_table("zoos", json!({"name": "string"})).await;
}

/// Creates an API token with an access token, asserting 201; returns the whole answer.
async fn new_api_token(t: &TestApp, access: &str, body: Value) -> Value {
    let (status, created) = t.call_as(Some(access), Method::POST, "/api/auth/tokens", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created
}

async fn api_token(t: &TestApp, access: &str, scopes: Value) -> String {
    let created = new_api_token(t, access, json!({"name": "scoped", "scopes": scopes})).await;
    text(&created, "token").to_string()
}

// ---------------------------------------------------------------------------------------
// Sign-up
// ---------------------------------------------------------------------------------------

async fn register_returns_the_user_without_its_password(t: TestApp) {
    let (status, leo) =
        post_anonymous(&t, "/api/auth/register", json!({"email": "Leo@Zoo.Example", "password": USER_PASSWORD})).await;
    assert_eq!(status, StatusCode::CREATED, "{leo}");
    assert_eq!(leo["email"], "leo@zoo.example", "emails are stored lower-case");
    assert_eq!(leo["role"], "user");
    let id = leo["id"].as_i64().expect("id");
    assert_ne!(id, t.admin_id);
    assert!(leo["created_at"].is_string() && leo["updated_at"].is_string(), "{leo}");
    assert_no_password(&leo);

    // A username alone is an identity too; or both.
    let (status, mia) =
        post_anonymous(&t, "/api/auth/register", json!({"username": "mia", "password": USER_PASSWORD})).await;
    assert_eq!(status, StatusCode::CREATED, "{mia}");
    assert_eq!(mia["username"], "mia");
    assert_eq!(mia["role"], "user");
    assert_no_password(&mia);
    let (status, bo) = post_anonymous(
        &t,
        "/api/auth/register",
        json!({"email": "bo@zoo.example", "username": "bo", "password": USER_PASSWORD}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{bo}");
    assert_eq!((&bo["email"], &bo["username"]), (&json!("bo@zoo.example"), &json!("bo")));

    // The users table holds the same row.
    let (status, row) = t.get(&format!("/api/tables/users/rows/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{row}");
    assert_eq!(row, leo);
}

async fn registration_is_validated(t: TestApp) {
    t.register("leo@zoo.example", USER_PASSWORD).await;
    let (status, bo) =
        post_anonymous(&t, "/api/auth/register", json!({"username": "bo", "password": USER_PASSWORD})).await;
    assert_eq!(status, StatusCode::CREATED, "{bo}");

    for (body, status, code) in [
        (json!({"email": "mia@zoo.example", "password": "short"}), StatusCode::BAD_REQUEST, "invalid_password"),
        (json!({"email": "mia@zoo.example", "password": "1234567"}), StatusCode::BAD_REQUEST, "invalid_password"),
        (
            json!({"email": "mia@zoo.example", "password": "MIA@zoo.example"}),
            StatusCode::BAD_REQUEST,
            "invalid_password",
        ),
        (json!({"username": "mialongname", "password": "MiaLongName"}), StatusCode::BAD_REQUEST, "invalid_password"),
        (json!({"password": USER_PASSWORD}), StatusCode::BAD_REQUEST, "validation_failed"),
        (json!({"email": "not-an-email", "password": USER_PASSWORD}), StatusCode::BAD_REQUEST, "validation_failed"),
        (json!({"email": "LEO@Zoo.example", "password": USER_PASSWORD}), StatusCode::CONFLICT, "duplicate_value"),
        (json!({"email": "leo@zoo.example", "password": USER_PASSWORD}), StatusCode::CONFLICT, "duplicate_value"),
        (
            json!({"email": "mia@zoo.example", "username": "bo", "password": USER_PASSWORD}),
            StatusCode::CONFLICT,
            "duplicate_value",
        ),
        (
            json!({"email": "mia@zoo.example", "password": USER_PASSWORD, "role": "admin"}),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            json!({"email": "mia@zoo.example", "password": USER_PASSWORD, "role": "user"}),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
    ] {
        let result = post_anonymous(&t, "/api/auth/register", body.clone()).await;
        assert_eq!(result.0, status, "{body}: {}", result.1);
        assert_error(&result, status, code);
    }
    // Nothing was created by the refused requests: the admin, leo and bo.
    let (status, users) = t.list_with("users", &[("total", "true")]).await;
    assert_eq!(status, StatusCode::OK, "{users}");
    assert_eq!(users["total"], 3, "{users}");
}

// ---------------------------------------------------------------------------------------
// Sessions
// ---------------------------------------------------------------------------------------

async fn login_refresh_logout(t: TestApp) {
    let user = t.register("leo@zoo.example", USER_PASSWORD).await;
    let session = t.login("leo@zoo.example", USER_PASSWORD).await;
    assert_session(&session, &user);
    let access = text(&session, "access_token");
    assert_eq!(me(&t, Some(access)).await, (StatusCode::OK, user.clone()));
    assert_error(&me(&t, None).await, StatusCode::UNAUTHORIZED, "unauthenticated");

    // A refresh answers a new pair; the chain goes on.
    let first_refresh = text(&session, "refresh_token").to_string();
    let (status, second) = refresh(&t, &first_refresh).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_session(&second, &user);
    let second_refresh = text(&second, "refresh_token").to_string();
    assert_ne!(second_refresh, first_refresh, "refresh tokens rotate");
    assert_eq!(me(&t, Some(text(&second, "access_token"))).await, (StatusCode::OK, user.clone()));
    let (status, third) = refresh(&t, &second_refresh).await;
    assert_eq!(status, StatusCode::OK, "{third}");
    assert_session(&third, &user);
    let third_refresh = text(&third, "refresh_token").to_string();

    // Logout ends the session.
    let result = t
        .call_as(
            Some(text(&third, "access_token")),
            Method::POST,
            "/api/auth/logout",
            Some(json!({ "refresh_token": third_refresh })),
        )
        .await;
    assert_eq!(result, (StatusCode::NO_CONTENT, Value::Null));
    assert_error(&refresh(&t, &third_refresh).await, StatusCode::UNAUTHORIZED, "invalid_refresh_token");

    // Things that are not live refresh tokens.
    for token in ["tsr_1_nope", "", access, "tsr_999999_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] {
        assert_error(&refresh(&t, token).await, StatusCode::UNAUTHORIZED, "invalid_refresh_token");
    }
}

async fn login_by_email_username_or_identity(t: TestApp) {
    let (status, user) = post_anonymous(
        &t,
        "/api/auth/register",
        json!({"email": "leo@zoo.example", "username": "leo", "password": USER_PASSWORD}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    for body in [
        json!({"identity": "leo@zoo.example", "password": USER_PASSWORD}),
        json!({"identity": "leo", "password": USER_PASSWORD}),
        json!({"email": "leo@zoo.example", "password": USER_PASSWORD}),
        json!({"username": "leo", "password": USER_PASSWORD}),
        // Emails are stored lower-case and unique in any case: any case signs in.
        json!({"identity": "LEO@Zoo.Example", "password": USER_PASSWORD}),
    ] {
        let (status, session) = post_anonymous(&t, "/api/auth/login", body.clone()).await;
        assert_eq!(status, StatusCode::OK, "{body}: {session}");
        assert_session(&session, &user);
    }

    // The admin signs in the same way, as an admin.
    let session = t.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(session["user"]["id"], t.admin_id);
    assert_eq!(session["user"]["role"], "admin");
    let (status, admin) = me(&t, Some(text(&session, "access_token"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(admin, session["user"]);
    assert_eq!(me(&t, t.token.as_deref()).await, (StatusCode::OK, admin), "the harness's token is the admin's");
}

async fn wrong_password_and_unknown_user_look_alike(t: TestApp) {
    t.register("leo@zoo.example", USER_PASSWORD).await;
    let wrong =
        post_anonymous(&t, "/api/auth/login", json!({"identity": "leo@zoo.example", "password": "wrong-pass"})).await;
    assert_error(&wrong, StatusCode::UNAUTHORIZED, "invalid_credentials");
    for identity in ["nobody@zoo.example", "nobody"] {
        let unknown =
            post_anonymous(&t, "/api/auth/login", json!({"identity": identity, "password": "wrong-pass"})).await;
        assert_eq!(unknown, wrong, "an unknown {identity} answers exactly like a wrong password");
    }
    let unknown = post_anonymous(&t, "/api/auth/login", json!({"identity": "nobody", "password": USER_PASSWORD})).await;
    assert_eq!(unknown, wrong);
}

async fn reusing_a_rotated_refresh_token_revokes_its_family(t: TestApp) {
    let user = t.register("leo@zoo.example", USER_PASSWORD).await;
    let phone = t.login("leo@zoo.example", USER_PASSWORD).await;
    let laptop = t.login("leo@zoo.example", USER_PASSWORD).await;

    let stolen = text(&phone, "refresh_token").to_string();
    let (status, rotated) = refresh(&t, &stolen).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let successor = text(&rotated, "refresh_token").to_string();

    // The rotated token comes back: refused, and its whole family with it.
    assert_error(&refresh(&t, &stolen).await, StatusCode::UNAUTHORIZED, "invalid_refresh_token");
    assert_error(&refresh(&t, &successor).await, StatusCode::UNAUTHORIZED, "invalid_refresh_token");
    assert_error(&refresh(&t, &stolen).await, StatusCode::UNAUTHORIZED, "invalid_refresh_token");

    // The user's other session is another family: it lives on.
    let (status, renewed) = refresh(&t, text(&laptop, "refresh_token")).await;
    assert_eq!(status, StatusCode::OK, "{renewed}");
    assert_session(&renewed, &user);
}

async fn access_tokens_expire_after_900_seconds(t: TestApp) {
    let user = t.register("leo@zoo.example", USER_PASSWORD).await;
    let session = t.login("leo@zoo.example", USER_PASSWORD).await;
    let access = text(&session, "access_token");

    t.clock.advance(899);
    assert_eq!(me(&t, Some(access)).await, (StatusCode::OK, user.clone()));
    t.clock.advance(2);
    assert_error(&me(&t, Some(access)).await, StatusCode::UNAUTHORIZED, "invalid_token");
    // An expired token is refused, not taken for anonymous, even where anonymous may read.
    assert_error(
        &t.call_as(Some(access), Method::GET, "/api/tables", None).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    );

    // The refresh token still works and gives a fresh access token.
    let (status, renewed) = refresh(&t, text(&session, "refresh_token")).await;
    assert_eq!(status, StatusCode::OK, "{renewed}");
    assert_session(&renewed, &user);
    assert_eq!(me(&t, Some(text(&renewed, "access_token"))).await, (StatusCode::OK, user));
}

async fn refresh_tokens_expire_after_30_days(t: TestApp) {
    let user = t.register("leo@zoo.example", USER_PASSWORD).await;
    let early = t.login("leo@zoo.example", USER_PASSWORD).await;
    let late = t.login("leo@zoo.example", USER_PASSWORD).await;

    t.clock.advance(30 * DAY - 1);
    let (status, renewed) = refresh(&t, text(&late, "refresh_token")).await;
    assert_eq!(status, StatusCode::OK, "still valid a second before 30 days: {renewed}");
    assert_session(&renewed, &user);

    t.clock.advance(2);
    assert_error(&refresh(&t, text(&early, "refresh_token")).await, StatusCode::UNAUTHORIZED, "invalid_refresh_token");
}

async fn forged_and_garbage_access_tokens_are_refused(t: TestApp) {
    let session = {
        t.register("leo@zoo.example", USER_PASSWORD).await;
        t.login("leo@zoo.example", USER_PASSWORD).await
    };
    let access = text(&session, "access_token");
    let parts: Vec<&str> = access.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT: {access}");
    let claims: Value =
        serde_json::from_slice(&base64url_decode(parts[1]).expect("base64url claims")).expect("JSON claims");
    let mut escalated = claims.clone();
    escalated["role"] = json!("admin");
    let escalated = base64url_encode(escalated.to_string().as_bytes());
    let alg_none = base64url_encode(br#"{"alg":"none","typ":"JWT"}"#);
    // What a signature under another secret looks like: 32 bytes that are not this one.
    let other_secret_signature = base64url_encode(&[0x5a; 32]);
    // A genuine admin token of another tessera, whose secret is not this one's.
    let elsewhere = TestApp::start_on(
        StoreLocation::new(t.kind).await,
        HttpConfig::default(),
        AuthConfig { jwt_secret: Some("another secret, also 32 bytes!!!".into()), ..AuthConfig::default() },
    )
    .await;
    let foreign = elsewhere.token.clone().expect("the other app's admin token");
    assert_eq!(me(&elsewhere, Some(&foreign)).await.0, StatusCode::OK, "valid where it was issued");

    let forgeries = [
        "garbage".to_string(),
        "a.b.c".to_string(),
        format!("{alg_none}.{}.", parts[1]),
        format!("{alg_none}.{escalated}."),
        format!("{alg_none}.{}.{}", parts[1], parts[2]),
        format!("{}.{}.{other_secret_signature}", parts[0], parts[1]),
        format!("{}.{escalated}.{}", parts[0], parts[2]),
        format!("{}.{}", parts[0], parts[1]),
        format!("{access}x"),
        foreign,
        // A refresh token is not an access token; an API token that does not exist.
        text(&session, "refresh_token").to_string(),
        "tsk_1_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_string(),
    ];
    for token in &forgeries {
        let result = me(&t, Some(token)).await;
        assert_eq!(result.0, StatusCode::UNAUTHORIZED, "{token}: {}", result.1);
        assert_error(&result, StatusCode::UNAUTHORIZED, "invalid_token");
        let result =
            t.call_as(Some(token), Method::POST, "/api/tables", Some(json!({"name": "forged", "fields": {}}))).await;
        assert_error(&result, StatusCode::UNAUTHORIZED, "invalid_token");
    }
    assert_error(&t.get("/api/tables/forged").await, StatusCode::NOT_FOUND, "table_not_found");
    // The genuine token still works.
    assert_eq!(me(&t, Some(access)).await.0, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------
// Rate limits
// ---------------------------------------------------------------------------------------

async fn logins_are_rate_limited_per_account(t: TestApp) {
    let leo = t.register("leo@zoo.example", USER_PASSWORD).await;
    t.register("mia@zoo.example", USER_PASSWORD).await;
    let attempt = |password: &str| json!({"identity": "leo@zoo.example", "password": password});
    for _ in 0..10 {
        let result = post_anonymous(&t, "/api/auth/login", attempt("wrong-pass")).await;
        assert_error(&result, StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    // The 11th within the minute is refused, even with the right password.
    let (status, headers, body) =
        t.call_with_headers(Method::POST, "/api/auth/login", Some(attempt(USER_PASSWORD)), &[]).await;
    assert_error(&(status, body), StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let wait = retry_after(&headers);
    assert!((1..=60).contains(&wait), "Retry-After: {wait}");

    // Other accounts are not held back.
    t.login("mia@zoo.example", USER_PASSWORD).await;

    // A minute later the account signs in again.
    t.clock.advance(61);
    let session = t.login("leo@zoo.example", USER_PASSWORD).await;
    assert_session(&session, &leo);
}

async fn logins_are_rate_limited_per_address(t: TestApp) {
    let leo = t.register("leo@zoo.example", USER_PASSWORD).await;
    // Whatever the harness signed in at start leaves the window.
    t.clock.advance(61);
    for i in 0..100 {
        let body = json!({"identity": format!("nobody{i}@zoo.example"), "password": "wrong-pass"});
        let result = post_anonymous(&t, "/api/auth/login", body).await;
        assert_eq!(result.0, StatusCode::UNAUTHORIZED, "attempt {}: {}", i + 1, result.1);
        assert_error(&result, StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    // The 101st attempt from this address within the minute, on an untouched account.
    let body = json!({"identity": "leo@zoo.example", "password": USER_PASSWORD});
    let (status, headers, answer) = t.call_with_headers(Method::POST, "/api/auth/login", Some(body), &[]).await;
    assert_error(&(status, answer), StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let wait = retry_after(&headers);
    assert!((1..=60).contains(&wait), "Retry-After: {wait}");

    t.clock.advance(61);
    let session = t.login("leo@zoo.example", USER_PASSWORD).await;
    assert_session(&session, &leo);
}

// ---------------------------------------------------------------------------------------
// API tokens
// ---------------------------------------------------------------------------------------

async fn api_tokens_are_shown_once_listed_and_revoked(t: TestApp) {
    animals_and_zoos(&t).await;
    let (_, access) = t.user_token("leo@zoo.example").await;

    let created = new_api_token(&t, &access, json!({"name": "ci", "scopes": ["read"]})).await;
    for key in ["id", "name", "scopes", "expires_at", "created_at", "token"] {
        assert!(created.get(key).is_some(), "`{key}` in {created}");
    }
    assert!(sorted_keys(&created).iter().all(|key| !key.contains("hash")), "no secret hash in {created}");
    assert_eq!(created["name"], "ci");
    assert_eq!(created["scopes"], json!(["read"]));
    assert_eq!(created["expires_at"], Value::Null, "no expiry asked, none given");
    let token = text(&created, "token").to_string();
    assert!(token.starts_with("tsk_"), "{created}");
    let id = created["id"].as_i64().expect("id");

    // The list shows the token without its secret.
    let (status, list) = t.call_as(Some(&access), Method::GET, "/api/auth/tokens", None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0]["id"], id);
    assert_eq!(items[0]["name"], "ci");
    assert_eq!(items[0]["scopes"], json!(["read"]));
    assert!(items[0].get("token").is_none(), "{list}");
    assert!(
        sorted_keys(&items[0]).iter().all(|key| !key.contains("hash") && !key.contains("secret")),
        "no secret in {list}"
    );
    // `tsk_<id>_<secret>`: the secret is base64url, so it may itself hold `_`.
    let secret = token.splitn(3, '_').nth(2).expect("secret");
    assert_eq!(secret.len(), 43, "{token}");
    assert!(!list.to_string().contains(secret), "{list}");

    // It works.
    let (status, _) = t.call_as(Some(&token), Method::GET, "/api/tables/animals/rows", None).await;
    assert_eq!(status, StatusCode::OK);

    // Only signed-in users manage tokens, and each sees only their own.
    assert_error(
        &post_anonymous(&t, "/api/auth/tokens", json!({"name": "x", "scopes": ["read"]})).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    assert_error(
        &t.call_as(None, Method::GET, "/api/auth/tokens", None).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    let (_, other) = t.user_token("mia@zoo.example").await;
    let (status, list) = t.call_as(Some(&other), Method::GET, "/api/auth/tokens", None).await;
    assert_eq!((status, &list["items"]), (StatusCode::OK, &json!([])), "{list}");

    // Revoked, it is refused.
    let result = t.call_as(Some(&access), Method::DELETE, &format!("/api/auth/tokens/{id}"), None).await;
    assert_eq!(result, (StatusCode::NO_CONTENT, Value::Null));
    let result = t.call_as(Some(&token), Method::GET, "/api/tables/animals/rows", None).await;
    assert_error(&result, StatusCode::UNAUTHORIZED, "invalid_token");
}

async fn api_token_scopes_read_and_write(t: TestApp) {
    animals_and_zoos(&t).await;
    let (leo_id, access) = t.user_token("leo@zoo.example").await;
    let read = api_token(&t, &access, json!(["read"])).await;
    let write = api_token(&t, &access, json!(["write"])).await;

    // Write: creates rows as the token's user.
    let (status, row) =
        t.call_as(Some(&write), Method::POST, "/api/tables/animals/rows", Some(json!({"name": "Leo", "age": 7}))).await;
    assert_eq!(status, StatusCode::CREATED, "{row}");
    assert_eq!(row["owner"], leo_id);
    let path = format!("/api/tables/animals/rows/{}", row["id"]);

    // Both read (write implies read).
    for token in [&read, &write] {
        let (status, list) = t.call_as(Some(token), Method::GET, "/api/tables/animals/rows", None).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_eq!(list["items"], json!([row.clone()]));
        assert_eq!(t.call_as(Some(token), Method::GET, &path, None).await, (StatusCode::OK, row.clone()));
    }

    // Read cannot write, even the user's own row.
    let create = t.call_as(Some(&read), Method::POST, "/api/tables/animals/rows", Some(json!({"name": "Mia"}))).await;
    assert_error(&create, StatusCode::FORBIDDEN, "forbidden");
    assert_error(
        &t.call_as(Some(&read), Method::PATCH, &path, Some(json!({"age": 8}))).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_error(&t.call_as(Some(&read), Method::DELETE, &path, None).await, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(t.all_rows("animals").await, std::slice::from_ref(&row));

    let (status, patched) = t.call_as(Some(&write), Method::PATCH, &path, Some(json!({"age": 8}))).await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["age"], 8);
    assert_eq!(t.call_as(Some(&write), Method::DELETE, &path, None).await, (StatusCode::NO_CONTENT, Value::Null));
}

async fn api_token_scopes_per_table(t: TestApp) {
    animals_and_zoos(&t).await;
    let (_, access) = t.user_token("leo@zoo.example").await;
    let animals_writer = api_token(&t, &access, json!(["write:animals"])).await;
    let zoos_reader = api_token(&t, &access, json!(["read:zoos"])).await;
    let rows = |table: &str| format!("/api/tables/{table}/rows");

    let (status, row) =
        t.call_as(Some(&animals_writer), Method::POST, &rows("animals"), Some(json!({"name": "Leo"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{row}");
    assert_eq!(t.call_as(Some(&animals_writer), Method::GET, &rows("animals"), None).await.0, StatusCode::OK);
    for (method, body) in [(Method::POST, Some(json!({"name": "Berlin"}))), (Method::GET, None)] {
        let result = t.call_as(Some(&animals_writer), method.clone(), &rows("zoos"), body).await;
        assert_error(&result, StatusCode::FORBIDDEN, "forbidden");
    }

    assert_eq!(t.call_as(Some(&zoos_reader), Method::GET, &rows("zoos"), None).await.0, StatusCode::OK);
    let result = t.call_as(Some(&zoos_reader), Method::POST, &rows("zoos"), Some(json!({"name": "Berlin"}))).await;
    assert_error(&result, StatusCode::FORBIDDEN, "forbidden");
    let result = t.call_as(Some(&zoos_reader), Method::GET, &rows("animals"), None).await;
    assert_error(&result, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(t.all_rows("zoos").await, Vec::<Value>::new());
    assert_eq!(t.all_rows("animals").await, [row]);
}

async fn api_token_scope_requests_are_checked(t: TestApp) {
    t.create_table("zoos", json!({"name": "string"})).await;
    let (_, access) = t.user_token("leo@zoo.example").await;
    for (scopes, status, code) in [
        (json!(["admin"]), StatusCode::FORBIDDEN, "forbidden"),
        (json!(["read", "admin"]), StatusCode::FORBIDDEN, "forbidden"),
        (json!([]), StatusCode::BAD_REQUEST, "bad_request"),
        (json!(["delete"]), StatusCode::BAD_REQUEST, "bad_request"),
        (json!(["read", "everything"]), StatusCode::BAD_REQUEST, "bad_request"),
        (json!(["read:"]), StatusCode::BAD_REQUEST, "bad_request"),
    ] {
        let body = json!({"name": "t", "scopes": scopes});
        let result = t.call_as(Some(&access), Method::POST, "/api/auth/tokens", Some(body)).await;
        assert_eq!(result.0, status, "{scopes}: {}", result.1);
        assert_error(&result, status, code);
    }
    let (status, list) = t.call_as(Some(&access), Method::GET, "/api/auth/tokens", None).await;
    assert_eq!((status, &list["items"]), (StatusCode::OK, &json!([])), "nothing created: {list}");

    // An admin may hold an admin token, which manages tables; the admin's read token may not.
    let admin = t.token.clone().expect("the admin's token");
    let admin_scoped = api_token(&t, &admin, json!(["admin"])).await;
    let result = t
        .call_as(
            Some(&admin_scoped),
            Method::POST,
            "/api/tables",
            Some(json!({"name": "animals", "fields": {"name": "string"}})),
        )
        .await;
    assert_eq!(result.0, StatusCode::CREATED, "{}", result.1);
    let admin_reader = api_token(&t, &admin, json!(["read"])).await;
    let result = t
        .call_as(
            Some(&admin_reader),
            Method::POST,
            "/api/tables",
            Some(json!({"name": "birds", "fields": {"name": "string"}})),
        )
        .await;
    assert_error(&result, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(t.call_as(Some(&admin_reader), Method::GET, "/api/tables/zoos/rows", None).await.0, StatusCode::OK);
}

async fn api_tokens_expire(t: TestApp) {
    animals_and_zoos(&t).await;
    let (_, access) = t.user_token("leo@zoo.example").await;
    let expires_at = rfc3339(t.clock.now() + 3600);
    let created =
        new_api_token(&t, &access, json!({"name": "hour", "scopes": ["read"], "expires_at": expires_at})).await;
    assert!(!created["expires_at"].is_null(), "{created}");
    let token = text(&created, "token").to_string();
    let path = "/api/tables/animals/rows";
    assert_eq!(t.call_as(Some(&token), Method::GET, path, None).await.0, StatusCode::OK);
    t.clock.advance(3599);
    assert_eq!(t.call_as(Some(&token), Method::GET, path, None).await.0, StatusCode::OK, "valid until its expiry");
    t.clock.advance(2);
    assert_error(&t.call_as(Some(&token), Method::GET, path, None).await, StatusCode::UNAUTHORIZED, "invalid_token");
}

/// A deleted user's API tokens and sessions stop working at once, and a password change
/// ends the user's sessions (refresh tokens) while the new password signs in.
async fn deleting_a_user_or_changing_a_password_ends_their_credentials(t: TestApp) {
    animals_and_zoos(&t).await;
    let (id, access) = t.user_token("leo@zoo.example").await;
    let api = text(&new_api_token(&t, &access, json!({"name": "ci", "scopes": ["read"]})).await, "token").to_string();
    let path = "/api/tables/animals/rows";
    assert_eq!(t.call_as(Some(&api), Method::GET, path, None).await.0, StatusCode::OK);

    let session = t.login("leo@zoo.example", USER_PASSWORD).await;
    let change = json!({"password": "a brand new one"});
    let (status, body) =
        t.call_as(Some(&access), Method::PATCH, &format!("/api/tables/users/rows/{id}"), Some(change)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_no_password(&body);
    assert_error(
        &refresh(&t, text(&session, "refresh_token")).await,
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    );
    t.login("leo@zoo.example", "a brand new one").await;

    assert_eq!(t.delete(&format!("/api/tables/users/rows/{id}")).await.0, StatusCode::NO_CONTENT);
    assert_error(&t.call_as(Some(&api), Method::GET, path, None).await, StatusCode::UNAUTHORIZED, "invalid_token");
}

// ---------------------------------------------------------------------------------------
// Passwords, CORS, restarts
// ---------------------------------------------------------------------------------------

async fn passwords_never_appear(t: TestApp) {
    let user = t.register("leo@zoo.example", USER_PASSWORD).await;
    assert_no_password(&user);
    let id = user["id"].as_i64().unwrap();
    let session = t.login("leo@zoo.example", USER_PASSWORD).await;
    assert_no_password(&session);
    let access = text(&session, "access_token").to_string();
    let (status, mine) = me(&t, Some(&access)).await;
    assert_eq!(status, StatusCode::OK);
    assert_no_password(&mine);
    let (status, renewed) = refresh(&t, text(&session, "refresh_token")).await;
    assert_eq!(status, StatusCode::OK);
    assert_no_password(&renewed);

    // Through the rows API, for the admin and for the user.
    let path = format!("/api/tables/users/rows/{id}");
    for token in [t.token.as_deref(), Some(access.as_str())] {
        let (status, list) = t.call_as(token, Method::GET, "/api/tables/users/rows", None).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert!(!list["items"].as_array().expect("items").is_empty(), "{list}");
        assert_no_password(&list);
        let (status, row) = t.call_as(token, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{row}");
        assert_no_password(&row);
    }
    let (status, patched) = t.patch(&path, json!({"username": "leo"})).await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_no_password(&patched);
    // An admin creates a user through the rows API: the password is taken, and hashed.
    let (status, mia) =
        t.post("/api/tables/users/rows", json!({"email": "mia@zoo.example", "password": USER_PASSWORD})).await;
    assert_eq!(status, StatusCode::CREATED, "{mia}");
    assert_no_password(&mia);
    assert_eq!(t.login("mia@zoo.example", USER_PASSWORD).await["user"], mia);

    // Not to be filtered on, sorted on or selected either.
    for filter in ["password ~ \"a\"", "password = \"password-123\"", "password != null"] {
        assert_error(&t.list_with("users", &[("filter", filter)]).await, StatusCode::BAD_REQUEST, "invalid_filter");
    }
    for fields in ["password", "id,password"] {
        assert_error(&t.list_with("users", &[("fields", fields)]).await, StatusCode::BAD_REQUEST, "bad_request");
    }
    assert_error(&t.list_with("users", &[("sort", "password")]).await, StatusCode::BAD_REQUEST, "invalid_sort");
}

async fn cors_is_off_by_default(t: TestApp) {
    let origin = ("origin", "https://evil.example");
    let (status, headers, _) = t.call_with_headers(Method::GET, "/api/tables", None, &[origin]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get("access-control-allow-origin").is_none(), "{headers:?}");
    assert!(headers.get("access-control-allow-credentials").is_none(), "{headers:?}");

    let preflight =
        [origin, ("access-control-request-method", "POST"), ("access-control-request-headers", "authorization")];
    let (_, headers, _) = t.call_with_headers(Method::OPTIONS, "/api/auth/login", None, &preflight).await;
    assert!(headers.get("access-control-allow-origin").is_none(), "{headers:?}");
    assert!(headers.get("access-control-allow-methods").is_none(), "{headers:?}");

    t.register("leo@zoo.example", USER_PASSWORD).await;
    let body = json!({"identity": "leo@zoo.example", "password": USER_PASSWORD});
    let (status, headers, _) = t.call_with_headers(Method::POST, "/api/auth/login", Some(body), &[origin]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get("access-control-allow-origin").is_none(), "{headers:?}");
}

/// With allowed origins configured, browsers on those origins may call the API (preflight
/// and actual requests), and other origins still get no CORS headers.
async fn cors_allows_only_configured_origins(t: TestApp) {
    let config = tessera_http::HttpConfig { cors_origins: vec!["https://app.example".into()], ..Default::default() };
    let t = TestApp::start_with(t.kind, config).await;
    let preflight = |origin| {
        [
            ("origin", origin),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "authorization"),
        ]
    };
    let (status, headers, _) =
        t.call_with_headers(Method::OPTIONS, "/api/tables/users/rows", None, &preflight("https://app.example")).await;
    assert!(status.is_success(), "{status}");
    assert_eq!(headers["access-control-allow-origin"], "https://app.example");
    assert!(headers["access-control-allow-headers"].to_str().unwrap().contains("authorization"), "{headers:?}");
    let (_, headers, _) =
        t.call_with_headers(Method::GET, "/api/tables", None, &[("origin", "https://app.example")]).await;
    assert_eq!(headers["access-control-allow-origin"], "https://app.example");
    let (_, headers, _) =
        t.call_with_headers(Method::OPTIONS, "/api/tables", None, &preflight("https://evil.example")).await;
    assert!(headers.get("access-control-allow-origin").is_none(), "{headers:?}");
}

/// Tokens are signed with a secret the store keeps: a token issued by one run of tessera
/// is accepted by the next one on the same store.
async fn tokens_survive_a_restart(mut t: TestApp) {
    let user = t.register("leo@zoo.example", USER_PASSWORD).await;
    let session = t.login("leo@zoo.example", USER_PASSWORD).await;
    // Stop this app and start another on its store.
    let spare = StoreLocation::new(t.kind).await;
    let location = std::mem::replace(&mut t.location, spare);
    drop(t);
    let restarted = TestApp::start_on(location, HttpConfig::default(), AuthConfig::default()).await;

    assert_eq!(me(&restarted, Some(text(&session, "access_token"))).await, (StatusCode::OK, user.clone()));
    let (status, renewed) = refresh(&restarted, text(&session, "refresh_token")).await;
    assert_eq!(status, StatusCode::OK, "{renewed}");
    assert_session(&renewed, &user);
}
