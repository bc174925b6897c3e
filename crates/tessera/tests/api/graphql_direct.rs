//! Queries are answered straight from the JSON the database built (the direct path);
//! anything with introspection in it goes through async-graphql's executor. Both must
//! answer the same data and the same errors for the same selection — aliases, fragments,
//! variables with defaults, `@skip`/`@include`, `__typename`, aggregates, by-pk misses,
//! `me` — and a document repeated with other variables must not reuse anything that
//! depends on them.

use crate::both_stores;
use crate::graphql::{error_code, gql_as, zoo_model};
use crate::harness::TestApp;
use serde_json::{json, Value};

both_stores!(direct_answers_match_the_executor, repeated_documents_use_their_own_variables);

/// Adds an introspection field to the operation (the first `{` of the document after
/// the last operation keyword), which sends the request through the executor.
fn through_executor(query: &str) -> String {
    let at = query.find('{').expect("a selection set");
    format!("{}{{ __schema {{ queryType {{ name }} }} {}", &query[..at], &query[at + 1..])
}

async fn seed(t: &TestApp) {
    zoo_model(t).await;
    let zoos = t.insert("zoos", json!([{"name": "Berlin", "city": "Berlin"}, {"name": "Basel"}])).await;
    let animals: Vec<Value> =
        (0..7).map(|i| json!({"name": format!("A{i}"), "age": i * 10, "zoo": zoos[(i % 2) as usize]})).collect();
    t.insert("animals", Value::Array(animals)).await;
}

async fn direct_answers_match_the_executor(t: TestApp) {
    seed(&t).await;
    let admin = t.token.clone();
    let cases: Vec<(&str, Value)> = vec![
        ("{ animals(order_by: {name: asc}) { id name __typename zoo { n: name city __typename } } }", json!({})),
        (
            "query Q { ...Root } fragment Root on Query { a: animals(limit: 2, order_by: {id: desc}) { ...A ... on animals { age } } } fragment A on animals { id name }",
            json!({}),
        ),
        (
            "query($l: Int = 2, $skip: Boolean!, $show: Boolean = true) { zoos(order_by: {name: asc}) { name animals(limit: $l, order_by: {age: desc}) { name age @skip(if: $skip) zoo @include(if: $show) { name } } animals_aggregate { aggregate { count max { age } } } } }",
            json!({"skip": true}),
        ),
        (
            "query($w: animals_bool_exp) { first: animals_by_pk(id: 1) { name zoo { name } } missing: animals_by_pk(id: 999) { name } some: animals(where: $w) { name } }",
            json!({"w": {"zoo": {"name": {"_eq": "Basel"}}}}),
        ),
        (
            "{ __typename zoos_aggregate(where: {name: {_like: \"B%\"}}) { __typename aggregate { count } nodes { name } } }",
            json!({}),
        ),
        ("{ me { email role } zoos(limit: 1) { name } }", json!({})),
        ("{ ok: zoos(order_by: {name: desc}) { name } bad: animals(limit: 5000) { name } }", json!({})),
        (
            "{ bad: animals(where: {created_at: {_gt: \"yesterday\"}}) { name } zoos(limit: 1) { name } }",
            json!({}),
        ),
    ];
    for (query, variables) in cases {
        let direct = gql_as(&t, admin.as_deref(), query, variables.clone()).await;
        let executed = gql_as(&t, admin.as_deref(), &through_executor(query), variables).await;
        let mut executed_data = executed["data"].clone();
        let schema = executed_data.as_object_mut().and_then(|data| data.remove("__schema"));
        assert_eq!(schema, Some(json!({"queryType": {"name": "Query"}})), "{query}: {executed}");
        assert_eq!(direct["data"], executed_data, "{query}: same data both ways");
        // Locations differ by the inserted field; they are checked below.
        let without_locations = |answer: &Value| {
            let mut errors = answer.get("errors").cloned();
            for error in errors.iter_mut().flat_map(|e| e.as_array_mut()).flatten() {
                error.as_object_mut().map(|e| e.remove("locations"));
            }
            errors
        };
        assert_eq!(without_locations(&direct), without_locations(&executed), "{query}: same errors both ways");
    }
    // The errors name the failing field and keep the other fields' answers.
    let answer = gql_as(
        &t,
        admin.as_deref(),
        "{ ok: zoos(order_by: {name: desc}) { name } bad: animals(limit: 5000) { name } }",
        json!({}),
    )
    .await;
    assert_eq!(error_code(&answer), "limit_exceeded", "{answer}");
    assert_eq!(answer["errors"][0]["path"], json!(["bad"]));
    assert_eq!(answer["errors"][0]["locations"], json!([{"line": 1, "column": 45}]));
    assert_eq!(answer["data"], json!({"ok": [{"name": "Berlin"}, {"name": "Basel"}], "bad": null}));
    // An anonymous caller has no `me`.
    let anonymous = gql_as(&t, None, "{ me { email } }", json!({})).await;
    assert_eq!(anonymous, json!({"data": {"me": null}}));
}

async fn repeated_documents_use_their_own_variables(t: TestApp) {
    seed(&t).await;
    let query = "query($n: Int!) { animals(limit: $n, order_by: {name: asc}) { name } }";
    let token = t.token.clone();
    for n in [1, 3, 2] {
        let answer = gql_as(&t, token.as_deref(), query, json!({"n": n})).await;
        assert_eq!(answer["data"]["animals"].as_array().map(Vec::len), Some(n), "{answer}");
    }
    // A value of the wrong type is refused by validation every time, after good ones.
    for _ in 0..2 {
        let answer = gql_as(&t, token.as_deref(), query, json!({"n": "three"})).await;
        assert_eq!(error_code(&answer), "invalid_query", "{answer}");
        assert!(answer.get("data").is_none_or(Value::is_null), "{answer}");
    }
    // A document without variables, repeated: the same answer, and a validation error stays one.
    let first = gql_as(&t, token.as_deref(), "{ zoos(order_by: {name: asc}) { name } }", json!({})).await;
    let again = gql_as(&t, token.as_deref(), "{ zoos(order_by: {name: asc}) { name } }", json!({})).await;
    assert_eq!(first, again);
    for _ in 0..2 {
        let answer = gql_as(&t, token.as_deref(), "{ zoos { nope } }", json!({})).await;
        assert_eq!(error_code(&answer), "invalid_query", "{answer}");
    }
    // One document, two operations: each runs its own.
    let document = "query Z { zoos(order_by: {name: asc}) { name } } query A { animals(limit: 1, order_by: {name: asc}) { name } }";
    for (operation, key) in [("Z", "zoos"), ("A", "animals"), ("Z", "zoos")] {
        let body = json!({"query": document, "operationName": operation});
        let (status, answer) = t.call_as(token.as_deref(), reqwest::Method::POST, "/graphql", Some(body)).await;
        assert_eq!(status, reqwest::StatusCode::OK);
        let data = answer["data"].as_object().unwrap_or_else(|| panic!("data in {answer}"));
        assert_eq!(data.keys().collect::<Vec<_>>(), vec![key], "{answer}");
    }
}
