//! GraphQL over the live catalog: the zoo scenario end to end (auth mutations, writes
//! with a token, public reads, nested reads both ways, where/order_by through relations,
//! aggregates, updates and deletes by pk and by where), the same rows as REST for every
//! caller of a rule matrix, ONE statement per root field whatever the rows and levels,
//! limits, and errors that carry a code and a path instead of a 500.

use crate::both_stores;
use crate::harness::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

both_stores!(
    zoo_scenario_end_to_end,
    same_rows_as_rest_for_every_caller,
    nested_query_is_one_statement_per_root_field,
    limits_refuse_expensive_queries,
    errors_have_codes_and_paths,
    mutations_validate_like_rest,
    file_fields_expose_their_urls,
);

/// Sends a GraphQL request as `token` (None: anonymous); asserts the HTTP answer is 200.
pub(crate) async fn gql_as(t: &TestApp, token: Option<&str>, query: &str, variables: Value) -> Value {
    let body = json!({"query": query, "variables": variables});
    let (status, answer) = t.call_as(token, Method::POST, "/graphql", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{query}: {answer}");
    answer
}

/// As the admin; asserts no errors and returns `data`.
async fn gql(t: &TestApp, query: &str) -> Value {
    let answer = gql_as(t, t.token.as_deref(), query, json!({})).await;
    assert!(answer.get("errors").is_none(), "{query}: {answer}");
    answer["data"].clone()
}

/// The first error's `extensions.code`.
pub(crate) fn error_code(answer: &Value) -> &str {
    answer["errors"][0]["extensions"]["code"].as_str().unwrap_or_else(|| panic!("an error code in {answer}"))
}

pub(crate) async fn zoo_model(t: &TestApp) {
    let public = json!({"list": "public", "view": "public", "create": "authenticated", "update": "authenticated", "delete": "authenticated"});
    let zoos = json!({"name": "zoos", "fields": {"name": {"type": "string", "required": true}, "city": "string"}, "rules": public});
    assert_eq!(t.post("/api/tables", zoos).await.0, StatusCode::CREATED);
    let animals = json!({
        "name": "animals",
        "fields": {
            "name": {"type": "string", "required": true},
            "age": {"type": "integer", "min": 0, "max": 200},
            "zoo": {"type": "relation", "target": "zoos", "on_delete": "restrict"}
        },
        "rules": public
    });
    let (status, body) = t.post("/api/tables", animals).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn zoo_scenario_end_to_end(t: TestApp) {
    zoo_model(&t).await;
    // Register and log in through GraphQL; the tokens are REST's.
    let registered = gql_as(
        &t,
        None,
        "mutation($o: users_insert_input!) { register(object: $o) { id email role } }",
        json!({"o": {"email": "keeper@zoo.test", "password": "keeper-password-1"}}),
    )
    .await;
    assert_eq!(registered["data"]["register"]["email"], "keeper@zoo.test", "{registered}");
    let login = gql_as(
        &t,
        None,
        "mutation { login(identity: \"keeper@zoo.test\", password: \"keeper-password-1\") { access_token refresh_token token_type user { id email } } }",
        json!({}),
    )
    .await;
    let session = &login["data"]["login"];
    assert_eq!(session["token_type"], "Bearer", "{login}");
    let token = session["access_token"].as_str().expect("access token").to_string();
    let keeper = Some(token.as_str());
    // The GraphQL token works for REST and `me`.
    let (status, me) = t.call_as(keeper, Method::GET, "/api/auth/me", None).await;
    assert_eq!((status, &me["email"]), (StatusCode::OK, &json!("keeper@zoo.test")));
    let me = gql_as(&t, keeper, "{ me { email } }", json!({})).await;
    assert_eq!(me["data"]["me"]["email"], "keeper@zoo.test");
    assert_eq!(gql_as(&t, None, "{ me { email } }", json!({})).await["data"]["me"], Value::Null);

    // Writes with the token.
    let zoos = gql_as(
        &t,
        keeper,
        "mutation { insert_zoos(objects: [{name: \"Berlin\", city: \"Berlin\"}, {name: \"Wien\", city: \"Vienna\"}]) { affected_rows returning { id name } } }",
        json!({}),
    )
    .await;
    assert_eq!(zoos["data"]["insert_zoos"]["affected_rows"], 2, "{zoos}");
    let berlin = zoos["data"]["insert_zoos"]["returning"][0]["id"].as_i64().unwrap();
    let wien = zoos["data"]["insert_zoos"]["returning"][1]["id"].as_i64().unwrap();
    let animals = gql_as(
        &t,
        keeper,
        "mutation($rows: [animals_insert_input!]!) { insert_animals(objects: $rows) { affected_rows returning { name zoo { name } } } }",
        json!({"rows": [
            {"name": "Ada", "age": 60, "zoo": berlin},
            {"name": "Bo", "age": 70, "zoo": wien},
            {"name": "Cy", "age": 10, "zoo": berlin},
            {"name": "Di", "age": 55, "zoo": berlin}
        ]}),
    )
    .await;
    assert_eq!(animals["data"]["insert_animals"]["affected_rows"], 4, "{animals}");
    assert_eq!(animals["data"]["insert_animals"]["returning"][1], json!({"name": "Bo", "zoo": {"name": "Wien"}}));
    let one = gql_as(
        &t,
        keeper,
        "mutation { insert_animals_one(object: {name: \"Ed\", age: 5, zoo: 2}) { name zoo_id } }",
        json!({}),
    )
    .await;
    assert_eq!(one["data"]["insert_animals_one"], json!({"name": "Ed", "zoo_id": wien}), "{one}");

    // Anonymous writes are refused, reads are public.
    let refused = gql_as(&t, None, "mutation { insert_zoos_one(object: {name: \"X\"}) { id } }", json!({})).await;
    assert_eq!(error_code(&refused), "unauthenticated");
    assert_eq!(refused["errors"][0]["path"], json!(["insert_zoos_one"]));
    let read = gql_as(
        &t,
        None,
        "{ animals(where: {age: {_gt: 50}}, order_by: {name: asc}, limit: 20) { name zoo { name } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        read["data"]["animals"],
        json!([
            {"name": "Ada", "zoo": {"name": "Berlin"}},
            {"name": "Bo", "zoo": {"name": "Wien"}},
            {"name": "Di", "zoo": {"name": "Berlin"}}
        ])
    );

    // Nested both ways, where and order_by through the relation, aggregates.
    let nested = gql(
        &t,
        "{ zoos(order_by: {name: desc}) { name animals(order_by: {age: desc}, limit: 2) { name age zoo { city } } animals_aggregate { aggregate { count sum { age } max { age } min { name } } } } }",
    )
    .await;
    assert_eq!(
        nested["zoos"][1],
        json!({
            "name": "Berlin",
            "animals": [{"name": "Ada", "age": 60, "zoo": {"city": "Berlin"}}, {"name": "Di", "age": 55, "zoo": {"city": "Berlin"}}],
            "animals_aggregate": {"aggregate": {"count": 3, "sum": {"age": 125}, "max": {"age": 60}, "min": {"name": "Ada"}}}
        })
    );
    let through = gql(
        &t,
        "{ animals(where: {zoo: {city: {_eq: \"Vienna\"}}}, order_by: [{zoo: {name: asc}}, {name: desc}]) { name } all: animals(order_by: [{zoo: {name: desc}}, {age: asc_nulls_first}]) { name } }",
    )
    .await;
    assert_eq!(through["animals"], json!([{"name": "Ed"}, {"name": "Bo"}]));
    assert_eq!(
        through["all"],
        json!([{"name": "Ed"}, {"name": "Bo"}, {"name": "Cy"}, {"name": "Di"}, {"name": "Ada"}])
    );
    // Through an array relation: zoos with some animal older than 65, or with none at all.
    let some = gql(
        &t,
        "{ old: zoos(where: {animals: {age: {_gt: 65}}}) { name } empty: zoos(where: {_not: {animals: {}}}) { name } both: zoos(where: {_or: [{animals: {name: {_eq: \"Cy\"}}}, {city: {_eq: \"Vienna\"}}]}, order_by: {name: asc}) { name } }",
    )
    .await;
    let like = gql(
        &t,
        "{ lower: animals(where: {name: {_like: \"a%\"}}) { name } upper: animals(where: {name: {_like: \"A_a\"}}) { name } not: animals(where: {name: {_nilike: \"%D%\"}}, order_by: {name: asc}) { name } }",
    )
    .await;
    assert_eq!(like, json!({"lower": [], "upper": [{"name": "Ada"}], "not": [{"name": "Bo"}, {"name": "Cy"}]}));
    assert_eq!(some["old"], json!([{"name": "Wien"}]));
    assert_eq!(some["empty"], json!([]));
    assert_eq!(some["both"], json!([{"name": "Berlin"}, {"name": "Wien"}]));
    let aggregate = gql(
        &t,
        "{ animals_aggregate(where: {_or: [{name: {_ilike: \"a%\"}}, {age: {_lt: 6}}]}) { aggregate { count avg { age } } nodes { name } } }",
    )
    .await;
    assert_eq!(aggregate["animals_aggregate"]["aggregate"]["count"], 2);
    assert_eq!(aggregate["animals_aggregate"]["aggregate"]["avg"]["age"].as_f64(), Some(32.5));
    assert_eq!(aggregate["animals_aggregate"]["nodes"], json!([{"name": "Ada"}, {"name": "Ed"}]));

    // Updates and deletes, by pk and by where.
    let updated = gql_as(
        &t,
        keeper,
        "mutation { update_animals(where: {zoo: {name: {_eq: \"Berlin\"}}}, _inc: {age: 1}) { affected_rows returning { name age } } }",
        json!({}),
    )
    .await;
    assert_eq!(updated["data"]["update_animals"]["affected_rows"], 3, "{updated}");
    let by_pk = gql_as(
        &t,
        keeper,
        "mutation { update_animals_by_pk(pk_columns: {id: 1}, _set: {name: \"Ada Lovelace\"}) { name age } }",
        json!({}),
    )
    .await;
    assert_eq!(by_pk["data"]["update_animals_by_pk"], json!({"name": "Ada Lovelace", "age": 61}), "{by_pk}");
    let deleted = gql_as(
        &t,
        keeper,
        "mutation { delete_animals(where: {age: {_lt: 20}}) { affected_rows returning { name } } }",
        json!({}),
    )
    .await;
    assert_eq!(deleted["data"]["delete_animals"]["affected_rows"], 2, "{deleted}");
    let gone = gql_as(
        &t,
        keeper,
        "mutation { delete_animals_by_pk(id: 2) { name } missing: delete_animals_by_pk(id: 999) { name } }",
        json!({}),
    )
    .await;
    assert_eq!(gone["data"], json!({"delete_animals_by_pk": {"name": "Bo"}, "missing": null}), "{gone}");
    let left: Vec<String> =
        t.list("animals", "sort=id").await.iter().map(|r| r["name"].as_str().unwrap().to_string()).collect();
    assert_eq!(left, vec!["Ada Lovelace", "Di"]);

    // Refresh and logout.
    let refresh_token = session["refresh_token"].as_str().unwrap();
    let refreshed = gql_as(
        &t,
        None,
        "mutation($r: String!) { refresh(refresh_token: $r) { access_token refresh_token } }",
        json!({"r": refresh_token}),
    )
    .await;
    let new_refresh =
        refreshed["data"]["refresh"]["refresh_token"].as_str().expect("rotated refresh token").to_string();
    let reused = gql_as(
        &t,
        None,
        "mutation($r: String!) { refresh(refresh_token: $r) { access_token } }",
        json!({"r": refresh_token}),
    )
    .await;
    assert_eq!(error_code(&reused), "invalid_refresh_token");
    let out = gql_as(&t, None, "mutation($r: String!) { logout(refresh_token: $r) }", json!({"r": new_refresh})).await;
    assert_eq!(out["data"]["logout"], true, "{out}");
}

/// A table whose list/view rules depend on the row: each caller must see the same rows
/// through GraphQL as through REST, also when the rows are embedded in another table's.
async fn same_rows_as_rest_for_every_caller(t: TestApp) {
    let public = json!({"list": "public", "view": "public", "create": "authenticated"});
    t.post("/api/tables", json!({"name": "zoos", "fields": {"name": "string"}, "rules": public})).await;
    let notes = json!({
        "name": "notes",
        "fields": {"text": "string", "public": "boolean", "zoo": {"type": "relation", "target": "zoos"}},
        "rules": {
            "list": "public = true || owner = @request.auth.id",
            "view": "public = true || owner = @request.auth.id",
            "create": "authenticated",
            "update": "owner = @request.auth.id"
        }
    });
    let (status, body) = t.post("/api/tables", notes).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let zoo = t.insert("zoos", json!([{"name": "Berlin"}])).await[0];
    let (_, a) = t.user_token("a@rules.test").await;
    let (_, b) = t.user_token("b@rules.test").await;
    for (token, text, public) in [(&a, "a1", false), (&a, "a2", true), (&b, "b1", false), (&b, "b2", false)] {
        let row = json!({"text": text, "public": public, "zoo": zoo});
        let (status, _) = t.call_as(Some(token), Method::POST, "/api/tables/notes/rows", Some(row)).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let admin = t.token.clone().unwrap();
    for token in [None, Some(a.as_str()), Some(b.as_str()), Some(admin.as_str())] {
        let (_, rest) = t.call_as(token, Method::GET, "/api/tables/notes/rows?sort=id", None).await;
        let rest: Vec<Value> = rest["items"].as_array().unwrap().iter().map(|r| r["text"].clone()).collect();
        let graph = gql_as(&t, token, "{ notes(order_by: {id: asc}) { text } zoos { notes(order_by: {id: asc}) { text } notes_aggregate { aggregate { count } } } }", json!({}))
            .await;
        let listed: Vec<Value> = graph["data"]["notes"].as_array().unwrap().iter().map(|r| r["text"].clone()).collect();
        let nested: Vec<Value> =
            graph["data"]["zoos"][0]["notes"].as_array().unwrap().iter().map(|r| r["text"].clone()).collect();
        assert_eq!(listed, rest, "GraphQL list = REST list for {token:?}");
        assert_eq!(nested, rest, "nested = REST list for {token:?}");
        assert_eq!(graph["data"]["zoos"][0]["notes_aggregate"]["aggregate"]["count"], json!(rest.len()));
        // A condition on related rows sees only the rows the caller may list.
        let with_b1 = gql_as(&t, token, "{ zoos(where: {notes: {text: {_eq: \"b1\"}}}) { name } }", json!({})).await;
        let sees_b1 = rest.contains(&json!("b1"));
        assert_eq!(with_b1["data"]["zoos"].as_array().unwrap().len(), usize::from(sees_b1), "{with_b1}");
        for id in 1..=4 {
            let (status, _) = t.call_as(token, Method::GET, &format!("/api/tables/notes/rows/{id}"), None).await;
            let one = gql_as(&t, token, &format!("{{ notes_by_pk(id: {id}) {{ id }} }}"), json!({})).await;
            let found = !one["data"]["notes_by_pk"].is_null();
            assert_eq!(found, status == StatusCode::OK, "by pk {id} for {token:?}: {one}");
        }
    }
    // Writes check the rules: b cannot update a's note, by pk or by where.
    let by_pk = gql_as(
        &t,
        Some(&b),
        "mutation { update_notes_by_pk(pk_columns: {id: 1}, _set: {text: \"x\"}) { id } }",
        json!({}),
    )
    .await;
    assert!(by_pk["errors"].is_array() || by_pk["data"]["update_notes_by_pk"].is_null(), "{by_pk}");
    let by_where =
        gql_as(&t, Some(&b), "mutation { update_notes(where: {}, _set: {text: \"x\"}) { affected_rows } }", json!({}))
            .await;
    assert_eq!(by_where["data"]["update_notes"]["affected_rows"], 2, "only b's own notes: {by_where}");
    let texts: Vec<Value> = t.list("notes", "sort=id").await.iter().map(|r| r["text"].clone()).collect();
    assert_eq!(texts, vec![json!("a1"), json!("a2"), json!("x"), json!("x")]);
}

/// A 3-level query (zoos → animals → zoo) is one statement for 2, 20 and 60 animals.
async fn nested_query_is_one_statement_per_root_field(t: TestApp) {
    zoo_model(&t).await;
    let zoo = t.insert("zoos", json!([{"name": "Berlin", "city": "Berlin"}])).await[0];
    let store = t.app.store().clone();
    let query =
        "{ zoos { name animals(limit: 100) { name zoo { name city } } animals_aggregate { aggregate { count } } } }";
    let mut counts = Vec::new();
    for total in [2usize, 20, 60] {
        let have = t.all_rows("animals").await.len();
        let rows: Vec<Value> = (have..total).map(|i| json!({"name": format!("A{i}"), "age": 1, "zoo": zoo})).collect();
        t.insert("animals", Value::Array(rows)).await;
        let before = store.statements_executed();
        let data = gql(&t, query).await;
        counts.push(store.statements_executed() - before);
        let animals = data["zoos"][0]["animals"].as_array().unwrap();
        assert_eq!(animals.len(), total);
        assert!(animals.iter().all(|a| a["zoo"]["name"] == "Berlin"));
        assert_eq!(data["zoos"][0]["animals_aggregate"]["aggregate"]["count"], json!(total));
    }
    assert_eq!(counts, vec![1, 1, 1], "a 3-level query is one statement whatever its size");
    let before = store.statements_executed();
    gql(&t, "{ a: animals(limit: 5) { name } b: zoos { name } c: animals_aggregate { aggregate { count } } }").await;
    assert_eq!(store.statements_executed() - before, 3, "one statement per root field");
}

async fn limits_refuse_expensive_queries(t: TestApp) {
    zoo_model(&t).await;
    let too_big = gql_as(&t, t.token.as_deref(), "{ animals(limit: 5000) { name } }", json!({})).await;
    assert_eq!(error_code(&too_big), "limit_exceeded");
    let nodes =
        gql_as(&t, t.token.as_deref(), "{ zoos(limit: 1000) { animals(limit: 1000) { name } } }", json!({})).await;
    assert_eq!(error_code(&nodes), "limit_exceeded", "{nodes}");
    let levels = ["zoos", "animals", "zoo"].iter().cycle().take(20).copied().collect::<Vec<_>>();
    let deep = format!("{{ {} {{ name }} {} }}", levels.join(" { "), "}".repeat(levels.len() - 1));
    let refused = gql_as(&t, t.token.as_deref(), &deep, json!({})).await;
    assert!(refused["errors"][0]["message"].as_str().unwrap().contains("nested too deep"), "{refused}");
    let wide: String = (0..1100).map(|i| format!("f{i}: name ")).collect();
    let refused = gql_as(&t, t.token.as_deref(), &format!("{{ zoos {{ {wide} }} }}"), json!({})).await;
    assert!(refused["errors"][0]["message"].as_str().unwrap().contains("complex"), "{refused}");
}

async fn errors_have_codes_and_paths(t: TestApp) {
    zoo_model(&t).await;
    // Unknown fields and wrong types: GraphQL validation, before anything runs.
    let unknown = gql_as(&t, t.token.as_deref(), "{ animals { nope } }", json!({})).await;
    assert!(unknown["errors"][0]["message"].as_str().unwrap().contains("nope"), "{unknown}");
    assert_eq!(error_code(&unknown), "invalid_query");
    // A value GraphQL accepts but the field does not: a coded error for that field only.
    let bad = gql_as(
        &t,
        t.token.as_deref(),
        "{ bad: animals(where: {created_at: {_gt: \"yesterday\"}}) { name } zoos { name } }",
        json!({}),
    )
    .await;
    assert_eq!(error_code(&bad), "bad_request", "{bad}");
    assert_eq!(bad["errors"][0]["path"], json!(["bad"]));
    assert_eq!(bad["data"]["zoos"], json!([]), "the other root field still answers: {bad}");
    // Mutations over GET are refused; queries over GET work.
    let (status, _) = t.get("/graphql?query=mutation%20%7B%20logout(refresh_token%3A%20%22x%22)%20%7D").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    let (status, body) = t.get("/graphql?query=%7B%20zoos%20%7B%20name%20%7D%20%7D").await;
    assert_eq!((status, &body["data"]), (StatusCode::OK, &json!({"zoos": []})));
    // Not a GraphQL request at all.
    let (status, body) = t.post("/graphql", json!({"nothing": 1})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // The SDL names the tables' types.
    let sdl = t.client.get(format!("{}/graphql/schema.graphql", t.base)).send().await.unwrap().text().await.unwrap();
    for expected in ["type animals {", "zoo: zoos", "animals_aggregate(", "insert_animals_one(", "scalar DateTime"] {
        assert!(sdl.contains(expected), "SDL has {expected}");
    }
}

async fn mutations_validate_like_rest(t: TestApp) {
    zoo_model(&t).await;
    let zoo = t.insert("zoos", json!([{"name": "Berlin"}])).await[0];
    t.insert("animals", json!([{"name": "Ada", "age": 199, "zoo": zoo}])).await;
    let token = t.token.clone();
    let token = token.as_deref();
    let missing = gql_as(&t, token, "mutation { insert_animals_one(object: {age: 3}) { id } }", json!({})).await;
    assert_eq!(error_code(&missing), "validation_failed", "{missing}");
    assert_eq!(missing["errors"][0]["extensions"]["details"][0]["field"], "name");
    let dangling = gql_as(
        &t,
        token,
        "mutation { insert_animals(objects: [{name: \"A\"}, {name: \"B\", zoo: 999}]) { affected_rows } }",
        json!({}),
    )
    .await;
    assert_eq!(error_code(&dangling), "validation_failed", "{dangling}");
    assert_eq!(t.all_rows("animals").await.len(), 1, "a refused bulk insert writes nothing");
    let out_of_range =
        gql_as(&t, token, "mutation { update_animals(where: {}, _inc: {age: 5}) { affected_rows } }", json!({})).await;
    assert_eq!(error_code(&out_of_range), "validation_failed", "{out_of_range}");
    assert_eq!(t.all_rows("animals").await[0]["age"], 199, "nothing changed");
    let referenced =
        gql_as(&t, token, &format!("mutation {{ delete_zoos_by_pk(id: {zoo}) {{ id }} }}"), json!({})).await;
    assert_eq!(error_code(&referenced), "row_referenced", "{referenced}");
    let referenced = gql_as(&t, token, "mutation { delete_zoos(where: {}) { affected_rows } }", json!({})).await;
    assert_eq!(error_code(&referenced), "row_referenced", "{referenced}");
    assert_eq!(t.all_rows("zoos").await.len(), 1);
    let empty = gql_as(&t, token, "mutation { update_animals(where: {}) { affected_rows } }", json!({})).await;
    assert_eq!(error_code(&empty), "bad_request", "{empty}");
    // After a failed mutation field, the request's later ones do not run.
    let two = gql_as(
        &t,
        token,
        "mutation { a: insert_zoos_one(object: {city: \"nameless\"}) { id } b: insert_zoos_one(object: {name: \"Z\"}) { id } }",
        json!({}),
    )
    .await;
    assert_eq!(two["errors"][0]["extensions"]["code"], "validation_failed", "{two}");
    assert_eq!(two["errors"][1]["extensions"]["code"], "not_run", "{two}");
    assert_eq!(two["errors"][1]["path"], json!(["b"]));
    assert_eq!(t.all_rows("zoos").await.len(), 1);
    // The mutation fields of a request are one transaction: a later failure undoes the
    // earlier fields' writes, and the answer has no data.
    let undone = gql_as(
        &t,
        token,
        "mutation { a: insert_zoos_one(object: {name: \"Kept?\"}) { id } u: update_animals(where: {}, _set: {name: \"renamed\"}) { affected_rows } b: insert_zoos_one(object: {city: \"nameless\"}) { id } }",
        json!({}),
    )
    .await;
    assert_eq!(undone["data"], Value::Null, "{undone}");
    assert_eq!(undone["errors"][0]["path"], json!(["b"]), "{undone}");
    assert_eq!(t.all_rows("zoos").await.len(), 1, "the first insert was rolled back");
    assert_eq!(t.all_rows("animals").await[0]["name"], "Ada", "the update was rolled back");
    let both = gql_as(
        &t,
        token,
        &format!("mutation {{ a: update_zoos_by_pk(pk_columns: {{id: {zoo}}}, _set: {{name: \"Z1\"}}) {{ id }} b: insert_animals_one(object: {{name: \"Pip\", zoo: {zoo}}}) {{ zoo {{ name }} }} }}"),
        json!({}),
    )
    .await;
    assert_eq!(both["data"]["b"]["zoo"]["name"], "Z1", "a later field sees an earlier one's write: {both}");
    assert_eq!(t.all_rows("animals").await.len(), 2);
}

/// A file field reads as `{name, url}` and the URL serves the file.
async fn file_fields_expose_their_urls(t: TestApp) {
    t.create_unowned_table(
        "posts",
        json!({"title": "string", "photo": "file", "docs": {"type": "file", "multiple": true}}),
    )
    .await;
    let form = reqwest::multipart::Form::new()
        .part(
            "@json",
            reqwest::multipart::Part::text(json!({"title": "hi"}).to_string()).mime_str("application/json").unwrap(),
        )
        .part(
            "photo",
            reqwest::multipart::Part::bytes(b"photo bytes".to_vec())
                .file_name("cat.txt")
                .mime_str("text/plain")
                .unwrap(),
        )
        .part(
            "docs",
            reqwest::multipart::Part::bytes(b"one".to_vec()).file_name("a.txt").mime_str("text/plain").unwrap(),
        )
        .part(
            "docs",
            reqwest::multipart::Part::bytes(b"two".to_vec()).file_name("b.txt").mime_str("text/plain").unwrap(),
        );
    let response = t
        .client
        .post(format!("{}/api/tables/posts/rows", t.base))
        .bearer_auth(t.token.as_deref().unwrap())
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let data = gql(&t, "{ posts { id title photo { name url } docs { name url } } }").await;
    let post = &data["posts"][0];
    let id = post["id"].as_i64().unwrap();
    let name = post["photo"]["name"].as_str().unwrap();
    assert_eq!(post["photo"]["url"], format!("/api/files/posts/{id}/photo/{name}"));
    let docs = post["docs"].as_array().unwrap();
    assert_eq!(docs.len(), 2, "{post}");
    assert!(docs[0]["name"].as_str().unwrap().starts_with("a_"), "in upload order: {post}");
    // A file object has the keys the selection asks for, aliases included.
    let partial = gql(&t, "{ posts { photo { link: url __typename } docs { name } } }").await;
    assert_eq!(partial["posts"][0]["photo"], json!({"link": post["photo"]["url"], "__typename": "File"}));
    assert_eq!(partial["posts"][0]["docs"][1], json!({"name": docs[1]["name"]}));
    for (url, body) in
        [(post["photo"]["url"].as_str().unwrap(), "photo bytes"), (docs[1]["url"].as_str().unwrap(), "two")]
    {
        let fetched = t.client.get(format!("{}{url}", t.base)).send().await.unwrap().text().await.unwrap();
        assert_eq!(fetched, body);
    }
}
