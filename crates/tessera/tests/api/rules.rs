//! Per-table access rules: the matrix of callers (anonymous, the row's owner, another
//! user, an admin) by actions (list, view, create, update, delete) on an owned and an
//! ownerless table; rules combined with `?filter=` and `total`; rules with `@request.body`
//! and `@request.auth.role`; hidden rows answering like missing ones; the `owner` field
//! and roles that cannot be escalated; the users table; rules shown to admins only;
//! malformed rules; table management for admins only; the legacy paths.

use crate::auth::assert_no_password;
use crate::both_stores;
use crate::harness::{assert_error, encode_query, TestApp, USER_PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

both_stores!(
    rule_matrix_on_an_owned_table,
    rule_matrix_on_an_ownerless_table,
    list_rules_and_filters_intersect,
    hidden_rows_are_not_found,
    rules_with_body_and_role_macros,
    bad_rules_are_refused,
    rules_are_shown_to_admins_only,
    table_management_is_for_admins,
    owner_cannot_be_given_away,
    roles_cannot_be_escalated,
    users_see_only_themselves,
    legacy_paths_follow_the_rules,
);

/// The default update and delete rule of an owned table.
const OWNER_RULE: &str = "@request.auth.id != null && owner = @request.auth.id";

/// The zoo's `animals` table, with or without an owner.
async fn animals(t: &TestApp, owner: bool) {
    let body = json!({
        "name": "animals",
        "fields": {"name": "string", "species": "string", "age": "integer"},
        "owner": owner
    });
    let (status, created) = t.post("/api/tables", body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
}

/// Changes some of a table's rules as the admin, asserting 200.
async fn set_rules(t: &TestApp, table: &str, rules: Value) {
    let (status, body) = t.patch(&format!("/api/tables/{table}"), json!({ "rules": rules })).await;
    assert_eq!(status, StatusCode::OK, "set rules {rules}: {body}");
}

/// Creates one animal as `token`, asserting 201; returns the row.
async fn create_as(t: &TestApp, token: Option<&str>, row: Value) -> Value {
    let (status, created) = t.call_as(token, Method::POST, "/api/tables/animals/rows", Some(row.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "create {row}: {created}");
    created
}

/// Lists a table's rows as `token` with encoded query parameters.
async fn list_as(t: &TestApp, token: Option<&str>, table: &str, params: &[(&str, &str)]) -> (StatusCode, Value) {
    let query: Vec<String> = params.iter().map(|(key, value)| format!("{key}={}", encode_query(value))).collect();
    t.call_as(token, Method::GET, &format!("/api/tables/{table}/rows?{}", query.join("&")), None).await
}

/// The names of the listed rows, in order.
#[track_caller]
fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap_or_else(|| panic!("items in {list}"))
        .iter()
        .map(|row| row["name"].as_str().expect("name").to_string())
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Anonymous,
    /// The owner of the rows the matrix acts on.
    A,
    /// Another user.
    B,
    Admin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    List,
    View,
    Create,
    Update,
    Delete,
}

/// Two signed-in users and the admin.
struct Callers {
    a_id: i64,
    a: String,
    b_id: i64,
    b: String,
    admin_id: i64,
    admin: String,
}

impl Callers {
    async fn new(t: &TestApp) -> Callers {
        let (a_id, a) = t.user_token("a@zoo.example").await;
        let (b_id, b) = t.user_token("b@zoo.example").await;
        let admin = t.token.clone().expect("the admin's token");
        Callers { a_id, a, b_id, b, admin_id: t.admin_id, admin }
    }

    fn token(&self, caller: Caller) -> Option<&str> {
        match caller {
            Caller::Anonymous => None,
            Caller::A => Some(&self.a),
            Caller::B => Some(&self.b),
            Caller::Admin => Some(&self.admin),
        }
    }

    fn id(&self, caller: Caller) -> Value {
        match caller {
            Caller::Anonymous => Value::Null,
            Caller::A => json!(self.a_id),
            Caller::B => json!(self.b_id),
            Caller::Admin => json!(self.admin_id),
        }
    }
}

/// One cell of a matrix: who, what, and the status (with the error code of a refusal).
type Cell = (Caller, Op, StatusCode, Option<&'static str>);

const OK: StatusCode = StatusCode::OK;
const CREATED: StatusCode = StatusCode::CREATED;
const GONE: StatusCode = StatusCode::NO_CONTENT;
const UNAUTHENTICATED: (StatusCode, Option<&str>) = (StatusCode::UNAUTHORIZED, Some("unauthenticated"));
const FORBIDDEN: (StatusCode, Option<&str>) = (StatusCode::FORBIDDEN, Some("forbidden"));
const HIDDEN: (StatusCode, Option<&str>) = (StatusCode::NOT_FOUND, Some("row_not_found"));

/// Runs every cell on a fresh row of A's (so a deletion does not disturb the next cell),
/// checking the answer and, for a refusal, that nothing changed.
async fn run_matrix(t: &TestApp, callers: &Callers, owned: bool, matrix: &[Cell]) {
    for &(caller, op, status, code) in matrix {
        let what = format!("{caller:?} {op:?}");
        let row = create_as(t, Some(&callers.a), json!({"name": "Leo", "species": "lion", "age": 7})).await;
        let path = format!("/api/tables/animals/rows/{}", row["id"]);
        let before = t.all_rows("animals").await;
        let token = callers.token(caller);
        let result = match op {
            Op::List => t.call_as(token, Method::GET, "/api/tables/animals/rows?limit=1000", None).await,
            Op::View => t.call_as(token, Method::GET, &path, None).await,
            Op::Create => {
                let body = json!({"name": "Mia", "species": "cat", "age": 2});
                t.call_as(token, Method::POST, "/api/tables/animals/rows", Some(body)).await
            }
            Op::Update => t.call_as(token, Method::PATCH, &path, Some(json!({"age": 8}))).await,
            Op::Delete => t.call_as(token, Method::DELETE, &path, None).await,
        };
        assert_eq!(result.0, status, "{what}: {}", result.1);
        if let Some(code) = code {
            assert_error(&result, status, code);
            assert_eq!(t.all_rows("animals").await, before, "{what} is refused and changes nothing");
            continue;
        }
        let body = &result.1;
        match op {
            Op::List => assert_eq!(body["items"], json!(before), "{what} sees every row"),
            Op::View => assert_eq!(*body, row, "{what}"),
            Op::Create => {
                assert_eq!(body["name"], "Mia", "{what}: {body}");
                if owned {
                    assert_eq!(body["owner"], callers.id(caller), "{what}: the creator owns the row");
                } else {
                    assert!(body.get("owner").is_none(), "{what}: no owner field: {body}");
                }
            }
            Op::Update => {
                let mut expected = row.clone();
                expected["age"] = json!(8);
                expected["updated_at"] = body["updated_at"].clone();
                assert_eq!(*body, expected, "{what}: only the age changed (the owner kept)");
            }
            Op::Delete => {
                assert_eq!(*body, Value::Null, "{what}");
                assert_error(&t.get(&path).await, StatusCode::NOT_FOUND, "row_not_found");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The rule matrix
// ---------------------------------------------------------------------------------------

/// Default rules of an owned table: list/view public, create authenticated, update and
/// delete by the owner. B acting on A's row is told it does not exist.
async fn rule_matrix_on_an_owned_table(t: TestApp) {
    animals(&t, true).await;
    let callers = Callers::new(&t).await;
    use Caller::*;
    use Op::*;
    #[rustfmt::skip]
    let matrix: &[Cell] = &[
        (Anonymous, List, OK, None),
        (Anonymous, View, OK, None),
        (Anonymous, Create, UNAUTHENTICATED.0, UNAUTHENTICATED.1),
        (Anonymous, Update, UNAUTHENTICATED.0, UNAUTHENTICATED.1),
        (Anonymous, Delete, UNAUTHENTICATED.0, UNAUTHENTICATED.1),
        (A, List, OK, None),
        (A, View, OK, None),
        (A, Create, CREATED, None),
        (A, Update, OK, None),
        (A, Delete, GONE, None),
        (B, List, OK, None),
        (B, View, OK, None),
        (B, Create, CREATED, None),
        (B, Update, HIDDEN.0, HIDDEN.1),
        (B, Delete, HIDDEN.0, HIDDEN.1),
        (Admin, List, OK, None),
        (Admin, View, OK, None),
        (Admin, Create, CREATED, None),
        (Admin, Update, OK, None),
        (Admin, Delete, GONE, None),
    ];
    run_matrix(&t, &callers, true, matrix).await;
}

/// Default rules of an ownerless table: changes are for admins; a user who may never
/// change a row is forbidden, an anonymous caller asked to sign in.
async fn rule_matrix_on_an_ownerless_table(t: TestApp) {
    animals(&t, false).await;
    let callers = Callers::new(&t).await;
    use Caller::*;
    use Op::*;
    #[rustfmt::skip]
    let matrix: &[Cell] = &[
        (Anonymous, List, OK, None),
        (Anonymous, View, OK, None),
        (Anonymous, Create, UNAUTHENTICATED.0, UNAUTHENTICATED.1),
        (Anonymous, Update, UNAUTHENTICATED.0, UNAUTHENTICATED.1),
        (Anonymous, Delete, UNAUTHENTICATED.0, UNAUTHENTICATED.1),
        (A, List, OK, None),
        (A, View, OK, None),
        (A, Create, CREATED, None),
        (A, Update, FORBIDDEN.0, FORBIDDEN.1),
        (A, Delete, FORBIDDEN.0, FORBIDDEN.1),
        (B, Update, FORBIDDEN.0, FORBIDDEN.1),
        (B, Delete, FORBIDDEN.0, FORBIDDEN.1),
        (Admin, List, OK, None),
        (Admin, Create, CREATED, None),
        (Admin, Update, OK, None),
        (Admin, Delete, GONE, None),
    ];
    run_matrix(&t, &callers, false, matrix).await;

    // With reads and creates for admins only: the admin still does everything, the
    // others are refused outright.
    let kept = create_as(&t, Some(&callers.a), json!({"name": "Kept"})).await;
    let kept_path = format!("/api/tables/animals/rows/{}", kept["id"]);
    set_rules(&t, "animals", json!({"list": "admin", "view": "admin", "create": "admin"})).await;
    let before = t.all_rows("animals").await;
    for (caller, refusal) in [(Anonymous, Some(UNAUTHENTICATED)), (A, Some(FORBIDDEN)), (Admin, None)] {
        for (method, path, body, success) in [
            (Method::GET, "/api/tables/animals/rows", None, OK),
            (Method::GET, kept_path.as_str(), None, OK),
            (Method::POST, "/api/tables/animals/rows", Some(json!({"name": "Mia"})), CREATED),
        ] {
            let result = t.call_as(callers.token(caller), method.clone(), path, body).await;
            match refusal {
                Some((status, code)) => {
                    assert_eq!(result.0, status, "{caller:?} {method} {path}: {}", result.1);
                    assert_error(&result, status, code.expect("code"));
                }
                None => assert_eq!(result.0, success, "{caller:?} {method} {path}: {}", result.1),
            }
        }
    }
    assert_eq!(t.all_rows("animals").await.len(), before.len() + 1, "only the admin's row was added");
}

// ---------------------------------------------------------------------------------------
// Rules and filters
// ---------------------------------------------------------------------------------------

async fn list_rules_and_filters_intersect(t: TestApp) {
    animals(&t, true).await;
    let callers = Callers::new(&t).await;
    for (token, name, age) in [
        (&callers.a, "A1", 1),
        (&callers.a, "A4", 4),
        (&callers.a, "A6", 6),
        (&callers.b, "B2", 2),
        (&callers.b, "B5", 5),
        (&callers.b, "B9", 9),
    ] {
        create_as(&t, Some(token), json!({"name": name, "age": age})).await;
    }

    // A rule on the rows: everyone sees the animals older than 3, and filters within them.
    set_rules(&t, "animals", json!({"list": "age > 3"})).await;
    let b = Some(callers.b.as_str());
    for token in [None, b] {
        let (status, list) = list_as(&t, token, "animals", &[]).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_eq!(names(&list), ["A4", "A6", "B5", "B9"]);
        let (status, list) = list_as(&t, token, "animals", &[("filter", "age < 8"), ("total", "true")]).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_eq!(names(&list), ["A4", "A6", "B5"]);
        assert_eq!(list["total"], 3, "total counts the visible rows only: {list}");
        let (_, list) =
            list_as(&t, token, "animals", &[("filter", "age < 3 || name ~ \"a\""), ("total", "true")]).await;
        assert_eq!(names(&list), ["A4", "A6"], "an OR in the filter cannot widen the rule");
        assert_eq!(list["total"], 2);
        let (_, list) = list_as(&t, token, "animals", &[("total", "true"), ("limit", "1")]).await;
        assert_eq!((names(&list), &list["total"]), (vec!["A4".to_string()], &json!(4)));
    }
    let (_, list) = list_as(&t, Some(&callers.admin), "animals", &[("total", "true")]).await;
    assert_eq!(list["total"], 6, "the admin sees every row");

    // A rule on the caller: everyone sees their own.
    set_rules(&t, "animals", json!({"list": OWNER_RULE})).await;
    let (status, list) = list_as(&t, Some(&callers.a), "animals", &[("total", "true")]).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!((names(&list), &list["total"]), (vec!["A1".into(), "A4".into(), "A6".into()], &json!(3)));
    let (_, list) = list_as(&t, Some(&callers.a), "animals", &[("filter", "age > 3"), ("total", "true")]).await;
    assert_eq!((names(&list), &list["total"]), (vec!["A4".into(), "A6".into()], &json!(2)));
    let filter = format!("owner = {} || age > 3", callers.a_id);
    let (_, list) = list_as(&t, b, "animals", &[("filter", &filter), ("total", "true")]).await;
    assert_eq!((names(&list), &list["total"]), (vec!["B5".into(), "B9".into()], &json!(2)));
    // Nobody's rows for an anonymous caller: asked to sign in.
    assert_error(&list_as(&t, None, "animals", &[]).await, StatusCode::UNAUTHORIZED, "unauthenticated");
    let (_, list) = list_as(&t, Some(&callers.admin), "animals", &[("filter", "age > 3"), ("total", "true")]).await;
    assert_eq!((names(&list), &list["total"]), (vec!["A4".into(), "A6".into(), "B5".into(), "B9".into()], &json!(4)));
}

async fn hidden_rows_are_not_found(t: TestApp) {
    animals(&t, true).await;
    let callers = Callers::new(&t).await;
    set_rules(&t, "animals", json!({"view": OWNER_RULE, "list": OWNER_RULE})).await;
    let leo = create_as(&t, Some(&callers.a), json!({"name": "Leo", "age": 7})).await;
    let id = leo["id"].as_i64().unwrap();
    let path = format!("/api/tables/animals/rows/{id}");
    let missing_path = "/api/tables/animals/rows/999999";

    assert_eq!(t.call_as(Some(&callers.a), Method::GET, &path, None).await, (StatusCode::OK, leo.clone()));
    assert_eq!(t.get(&path).await, (StatusCode::OK, leo.clone()), "the admin sees it");

    let hidden = t.call_as(Some(&callers.b), Method::GET, &path, None).await;
    assert_error(&hidden, StatusCode::NOT_FOUND, "row_not_found");
    let missing = t.call_as(Some(&callers.b), Method::GET, missing_path, None).await;
    assert_error(&missing, StatusCode::NOT_FOUND, "row_not_found");
    assert_eq!(
        hidden.1.to_string().replace(&id.to_string(), "<id>"),
        missing.1.to_string().replace("999999", "<id>"),
        "a hidden row answers exactly like a missing one"
    );
    for (method, body) in
        [(Method::PATCH, Some(json!({"age": 1}))), (Method::PUT, Some(json!({"name": "Mine"}))), (Method::DELETE, None)]
    {
        let result = t.call_as(Some(&callers.b), method.clone(), &path, body).await;
        assert_error(&result, StatusCode::NOT_FOUND, "row_not_found");
    }
    // The view rule holds no row for an anonymous caller.
    assert_error(&t.call_as(None, Method::GET, &path, None).await, StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_eq!(t.get(&path).await, (StatusCode::OK, leo), "untouched");
}

async fn rules_with_body_and_role_macros(t: TestApp) {
    animals(&t, true).await;
    let callers = Callers::new(&t).await;
    set_rules(
        &t,
        "animals",
        json!({"create": "@request.body.age >= 0", "update": "@request.auth.role = \"user\" && @request.body.age < 100"}),
    )
    .await;
    let a = Some(callers.a.as_str());

    // Create: decided by the body, for anyone.
    let young = create_as(&t, a, json!({"name": "Leo", "age": 3})).await;
    assert_eq!(young["owner"], callers.a_id);
    let count = t.all_rows("animals").await.len();
    for body in [json!({"name": "Bad", "age": -1}), json!({"name": "Ageless"})] {
        let result = t.call_as(a, Method::POST, "/api/tables/animals/rows", Some(body.clone())).await;
        assert_eq!(result.0, StatusCode::FORBIDDEN, "{body}: {}", result.1);
        assert_error(&result, StatusCode::FORBIDDEN, "forbidden");
    }
    let result =
        t.call_as(None, Method::POST, "/api/tables/animals/rows", Some(json!({"name": "Bad", "age": -1}))).await;
    assert_error(&result, StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_eq!(t.all_rows("animals").await.len(), count, "nothing created");
    let stray = create_as(&t, None, json!({"name": "Stray", "age": 2})).await;
    assert_eq!(stray["owner"], Value::Null, "an anonymous row has no owner");
    let old = create_as(&t, Some(&callers.admin), json!({"name": "Old", "age": -5})).await;
    assert_eq!(old["owner"], callers.admin_id, "admins pass any rule");

    // Update: any user, to an age under 100; not decided by ownership.
    let path = format!("/api/tables/animals/rows/{}", young["id"]);
    let (status, updated) = t.call_as(Some(&callers.b), Method::PATCH, &path, Some(json!({"age": 50}))).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!((&updated["age"], &updated["owner"]), (&json!(50), &json!(callers.a_id)));
    let result = t.call_as(Some(&callers.b), Method::PATCH, &path, Some(json!({"age": 150}))).await;
    assert_error(&result, StatusCode::FORBIDDEN, "forbidden");
    let result = t.call_as(None, Method::PATCH, &path, Some(json!({"age": 5}))).await;
    assert_error(&result, StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_eq!(t.get(&path).await.1["age"], 50, "the refused updates changed nothing");
    let (status, updated) = t.patch(&path, json!({"age": 500})).await;
    assert_eq!((status, &updated["age"]), (StatusCode::OK, &json!(500)), "the admin passes any rule: {updated}");
}

async fn bad_rules_are_refused(t: TestApp) {
    animals(&t, true).await;
    let (_, before) = t.get("/api/tables/animals").await;
    for (rules, named) in [
        (json!({"list": "age >"}), None),
        (json!({"list": "age = \"old\""}), None),
        (json!({"list": ""}), None),
        (json!({"list": 5}), None),
        (json!({"list": "weight > 3"}), Some("weight")),
        (json!({"read": "public"}), Some("read")),
        (json!({"create": "age > 3"}), None),
        (json!({"list": "@request.body.age > 3"}), None),
        (json!({"delete": "@request.body.age > 3"}), None),
        (json!({"create": "@request.body.weight > 3"}), Some("weight")),
        (json!({"update": "@request.auth.nickname = \"x\""}), Some("nickname")),
    ] {
        let result = t.patch("/api/tables/animals", json!({ "rules": rules })).await;
        assert_eq!(result.0, StatusCode::BAD_REQUEST, "{rules}: {}", result.1);
        assert_error(&result, StatusCode::BAD_REQUEST, "invalid_rules");
        if let Some(named) = named {
            assert!(result.1.to_string().contains(named), "{rules}: the error names {named}: {}", result.1);
        }
    }
    assert_eq!(t.get("/api/tables/animals").await.1, before, "nothing changed");

    // At creation too; and `owner` exists only on owned tables.
    for body in [
        json!({"name": "zoos", "fields": {"name": "string"}, "rules": {"list": "city = \"Berlin\""}}),
        json!({"name": "zoos", "fields": {"name": "string"}, "owner": false, "rules": {"update": OWNER_RULE}}),
    ] {
        assert_error(&t.post("/api/tables", body).await, StatusCode::BAD_REQUEST, "invalid_rules");
    }
    assert_error(&t.get("/api/tables/zoos").await, StatusCode::NOT_FOUND, "table_not_found");

    // Only admins change rules.
    let (_, user) = t.user_token("leo@zoo.example").await;
    let change = json!({"rules": {"update": "authenticated"}});
    let result = t.call_as(Some(&user), Method::PATCH, "/api/tables/animals", Some(change.clone())).await;
    assert_error(&result, StatusCode::FORBIDDEN, "forbidden");
    let result = t.call_as(None, Method::PATCH, "/api/tables/animals", Some(change)).await;
    assert_error(&result, StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_eq!(t.get("/api/tables/animals").await.1, before, "nothing changed");
}

// ---------------------------------------------------------------------------------------
// Tables: rules shown to admins, management by admins
// ---------------------------------------------------------------------------------------

async fn rules_are_shown_to_admins_only(t: TestApp) {
    animals(&t, true).await;
    let body =
        json!({"name": "zoos", "fields": {"name": "string"}, "owner": false, "rules": {"list": "authenticated"}});
    let (status, created) = t.post("/api/tables", body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (_, user) = t.user_token("leo@zoo.example").await;

    let owned_defaults = json!({
        "list": "public", "view": "public", "create": "authenticated", "update": OWNER_RULE, "delete": OWNER_RULE
    });
    let (status, shown) = t.get("/api/tables/animals").await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(shown["rules"], owned_defaults, "{shown}");
    assert!(!shown["fields"]["owner"].is_null(), "the owner field is listed: {shown}");
    let (_, zoos) = t.get("/api/tables/zoos").await;
    assert_eq!(
        zoos["rules"],
        json!({"list": "authenticated", "view": "public", "create": "authenticated", "update": "admin", "delete": "admin"}),
        "partial rules at creation fill in the defaults: {zoos}"
    );
    assert!(zoos["fields"].get("owner").is_none(), "{zoos}");
    let (_, list) = t.get("/api/tables").await;
    let listed = list["items"].as_array().expect("items").iter().find(|table| table["name"] == "animals").cloned();
    assert_eq!(listed.expect("animals is listed")["rules"], owned_defaults);

    // Everyone else sees the tables, not their rules.
    for token in [None, Some(user.as_str())] {
        let (status, shown) = t.call_as(token, Method::GET, "/api/tables/animals", None).await;
        assert_eq!(status, StatusCode::OK, "{shown}");
        assert_eq!(shown["name"], "animals");
        assert!(shown.get("rules").is_none(), "{token:?}: {shown}");
        let (status, list) = t.call_as(token, Method::GET, "/api/tables", None).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        let items = list["items"].as_array().expect("items");
        assert!(items.iter().any(|table| table["name"] == "zoos"), "{list}");
        assert!(items.iter().all(|table| table.get("rules").is_none()), "{token:?}: {list}");
    }

    // A partial change keeps the other rules.
    set_rules(&t, "animals", json!({"update": "authenticated"})).await;
    let mut expected = owned_defaults;
    expected["update"] = json!("authenticated");
    assert_eq!(t.get("/api/tables/animals").await.1["rules"], expected);
}

async fn table_management_is_for_admins(t: TestApp) {
    animals(&t, true).await;
    let (_, shown) = t.get("/api/tables/animals").await;
    let id = shown["id"].as_i64().expect("table id");
    let before = t.snapshot("animals").await;
    let (_, user) = t.user_token("leo@zoo.example").await;

    let new_table = json!({"name": "zoos", "fields": {"name": "string"}});
    let legacy_schema = format!("/api/table/{id}/");
    let requests = [
        (Method::POST, "/api/tables", Some(new_table.clone())),
        (Method::PUT, "/api/tables/animals", Some(json!({"fields": {"name": "string"}}))),
        (Method::PATCH, "/api/tables/animals", Some(json!({"add_fields": {"city": "string"}}))),
        (Method::PATCH, "/api/tables/animals", Some(json!({"rules": {"list": "admin"}}))),
        (Method::DELETE, "/api/tables/animals", None),
        (Method::POST, "/api/table/", Some(new_table)),
        (Method::PUT, legacy_schema.as_str(), Some(json!({"fields": {"name": "string"}}))),
    ];
    for (method, path, body) in requests {
        let result = t.call_as(None, method.clone(), path, body.clone()).await;
        assert_eq!(result.0, StatusCode::UNAUTHORIZED, "anonymous {method} {path}: {}", result.1);
        assert_error(&result, StatusCode::UNAUTHORIZED, "unauthenticated");
        let result = t.call_as(Some(&user), method.clone(), path, body).await;
        assert_eq!(result.0, StatusCode::FORBIDDEN, "user {method} {path}: {}", result.1);
        assert_error(&result, StatusCode::FORBIDDEN, "forbidden");
    }
    assert_eq!(t.snapshot("animals").await, before, "nothing changed");
    assert_error(&t.get("/api/tables/zoos").await, StatusCode::NOT_FOUND, "table_not_found");

    // Reading the schema is public.
    for token in [None, Some(user.as_str())] {
        for path in ["/api/tables", "/api/tables/animals"] {
            let (status, body) = t.call_as(token, Method::GET, path, None).await;
            assert_eq!(status, StatusCode::OK, "{token:?} {path}: {body}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Owners and roles
// ---------------------------------------------------------------------------------------

async fn owner_cannot_be_given_away(t: TestApp) {
    animals(&t, true).await;
    let callers = Callers::new(&t).await;
    let a = Some(callers.a.as_str());
    let rows = "/api/tables/animals/rows";

    // Creating a row for someone else.
    for body in [
        json!({"name": "Gift", "owner": callers.b_id}),
        json!([{"name": "Fine"}, {"name": "Gift", "owner": callers.b_id}]),
    ] {
        let result = t.call_as(a, Method::POST, rows, Some(body.clone())).await;
        assert_eq!(result.0, StatusCode::FORBIDDEN, "{body}: {}", result.1);
        assert_error(&result, StatusCode::FORBIDDEN, "forbidden");
    }
    let result = t.call_as(None, Method::POST, rows, Some(json!({"name": "Gift", "owner": callers.b_id}))).await;
    assert_error(&result, StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_eq!(t.all_rows("animals").await, Vec::<Value>::new(), "nothing created");

    // Naming oneself is fine.
    let mine = create_as(&t, a, json!({"name": "Mine", "owner": callers.a_id})).await;
    assert_eq!(mine["owner"], callers.a_id);
    let path = format!("{rows}/{}", mine["id"]);

    // Any owner in an update from a non-admin is refused.
    for (method, body) in [
        (Method::PATCH, json!({"owner": callers.b_id})),
        (Method::PATCH, json!({"owner": callers.a_id})),
        (Method::PATCH, json!({"owner": null})),
        (Method::PUT, json!({"name": "Mine", "owner": callers.b_id})),
    ] {
        let result = t.call_as(a, method.clone(), &path, Some(body.clone())).await;
        assert_eq!(result.0, StatusCode::FORBIDDEN, "{method} {body}: {}", result.1);
        assert_error(&result, StatusCode::FORBIDDEN, "forbidden");
    }
    assert_eq!(t.get(&path).await, (StatusCode::OK, mine.clone()), "untouched");

    // Admins may set owners, and the new owner then owns the row.
    let given = create_as(&t, Some(&callers.admin), json!({"name": "Given", "owner": callers.b_id})).await;
    assert_eq!(given["owner"], callers.b_id);
    let (status, moved) = t.patch(&path, json!({"owner": callers.b_id})).await;
    assert_eq!((status, &moved["owner"]), (StatusCode::OK, &json!(callers.b_id)), "{moved}");
    let (status, _) = t.call_as(Some(&callers.b), Method::PATCH, &path, Some(json!({"age": 1}))).await;
    assert_eq!(status, StatusCode::OK);
    let result = t.call_as(a, Method::PATCH, &path, Some(json!({"age": 2}))).await;
    assert_error(&result, StatusCode::NOT_FOUND, "row_not_found");
}

async fn roles_cannot_be_escalated(t: TestApp) {
    // Signing up with a role.
    for role in ["admin", "user"] {
        let body = json!({"email": "eve@zoo.example", "password": USER_PASSWORD, "role": role});
        let result = t.call_as(None, Method::POST, "/api/auth/register", Some(body)).await;
        assert_error(&result, StatusCode::FORBIDDEN, "forbidden");
    }
    let (status, found) = t.list_with("users", &[("filter", "email = \"eve@zoo.example\"")]).await;
    assert_eq!((status, &found["items"]), (StatusCode::OK, &json!([])), "nobody created: {found}");

    // Promoting oneself.
    let (a_id, a) = t.user_token("leo@zoo.example").await;
    let own = format!("/api/tables/users/rows/{a_id}");
    let result = t.call_as(Some(&a), Method::PATCH, &own, Some(json!({"role": "admin"}))).await;
    assert_error(&result, StatusCode::FORBIDDEN, "forbidden");
    let body = json!({"email": "mia@zoo.example", "password": USER_PASSWORD, "role": "admin"});
    let result = t.call_as(Some(&a), Method::POST, "/api/auth/register", Some(body)).await;
    assert_error(&result, StatusCode::FORBIDDEN, "forbidden");
    let (status, me) = t.call_as(Some(&a), Method::GET, "/api/auth/me", None).await;
    assert_eq!((status, &me["role"]), (StatusCode::OK, &json!("user")), "{me}");
    let result = t.call_as(Some(&a), Method::POST, "/api/tables", Some(json!({"name": "mine", "fields": {}}))).await;
    assert_error(&result, StatusCode::FORBIDDEN, "forbidden");

    // Admins give roles.
    let (status, boss) = t
        .post("/api/auth/register", json!({"email": "boss@zoo.example", "password": USER_PASSWORD, "role": "admin"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{boss}");
    assert_eq!(boss["role"], "admin");
    assert_no_password(&boss);
    let (status, clerk) = t
        .post(
            "/api/tables/users/rows",
            json!({"email": "clerk@zoo.example", "password": USER_PASSWORD, "role": "user"}),
        )
        .await;
    assert_eq!((status, &clerk["role"]), (StatusCode::CREATED, &json!("user")), "{clerk}");
    let session = t.login("boss@zoo.example", USER_PASSWORD).await;
    let boss_token = session["access_token"].as_str().expect("access token");
    let result =
        t.call_as(Some(boss_token), Method::POST, "/api/tables", Some(json!({"name": "ledger", "fields": {}}))).await;
    assert_eq!(result.0, StatusCode::CREATED, "the new admin manages tables: {}", result.1);
    let (status, promoted) = t.patch(&own, json!({"role": "admin"})).await;
    assert_eq!((status, &promoted["role"]), (StatusCode::OK, &json!("admin")), "{promoted}");
}

async fn users_see_only_themselves(t: TestApp) {
    let callers = Callers::new(&t).await;
    let a = Some(callers.a.as_str());
    let users = "/api/tables/users/rows";

    let (status, list) = list_as(&t, a, "users", &[("total", "true")]).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!((&items[0]["id"], &items[0]["email"]), (&json!(callers.a_id), &json!("a@zoo.example")));
    assert_eq!(list["total"], 1);
    assert_no_password(&list);

    let (status, own) = t.call_as(a, Method::GET, &format!("{users}/{}", callers.a_id), None).await;
    assert_eq!(status, StatusCode::OK, "{own}");
    assert_eq!(own, items[0]);
    let other = format!("{users}/{}", callers.b_id);
    assert_error(&t.call_as(a, Method::GET, &other, None).await, StatusCode::NOT_FOUND, "row_not_found");

    // The admin sees everyone.
    let ids: Vec<Value> = t.all_rows("users").await.iter().map(|user| user["id"].clone()).collect();
    assert_eq!(ids, [json!(callers.admin_id), json!(callers.a_id), json!(callers.b_id)]);
    // Nobody to see for an anonymous caller.
    assert_error(&list_as(&t, None, "users", &[]).await, StatusCode::UNAUTHORIZED, "unauthenticated");
}

// ---------------------------------------------------------------------------------------
// Legacy paths
// ---------------------------------------------------------------------------------------

async fn legacy_paths_follow_the_rules(t: TestApp) {
    let callers = Callers::new(&t).await;
    let a = Some(callers.a.as_str());
    let table = json!({"name": "Person", "fields": {"first_name": "string"}});
    let result = t.call_as(None, Method::POST, "/api/table/", Some(table.clone())).await;
    assert_error(&result, StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_error(
        &t.call_as(a, Method::POST, "/api/table/", Some(table.clone())).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let (status, created) = t.post("/api/table/", table).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_i64().expect("table id");
    let create = format!("/api/table/{id}/row/");
    let list = format!("/api/table/{id}/rows/");

    let result = t.call_as(None, Method::POST, &create, Some(json!({"first_name": "Ghost"}))).await;
    assert_error(&result, StatusCode::UNAUTHORIZED, "unauthenticated");
    let (status, ann) = t.call_as(a, Method::POST, &create, Some(json!({"first_name": "Ann"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{ann}");
    assert_eq!(ann["owner"], callers.a_id);
    let (status, bob) = t.call_as(Some(&callers.b), Method::POST, &create, Some(json!({"first_name": "Bob"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{bob}");
    let result = t.call_as(a, Method::POST, &create, Some(json!({"first_name": "Eve", "owner": callers.b_id}))).await;
    assert_error(&result, StatusCode::FORBIDDEN, "forbidden");

    // Lists: public by default, then each user's own.
    assert_eq!(t.call_as(None, Method::GET, &list, None).await, (StatusCode::OK, json!([ann.clone(), bob.clone()])));
    set_rules(&t, "Person", json!({"list": OWNER_RULE})).await;
    assert_eq!(t.call_as(a, Method::GET, &list, None).await, (StatusCode::OK, json!([ann])));
    assert_eq!(t.call_as(Some(&callers.b), Method::GET, &list, None).await, (StatusCode::OK, json!([bob])));
    assert_error(&t.call_as(None, Method::GET, &list, None).await, StatusCode::UNAUTHORIZED, "unauthenticated");

    // Changing the schema through the legacy path: admins only.
    let change = json!({"fields": {"first_name": "string", "age": "integer"}});
    let result = t.call_as(a, Method::PUT, &format!("/api/table/{id}/"), Some(change)).await;
    assert_error(&result, StatusCode::FORBIDDEN, "forbidden");
}
