//! Relations between tables: foreign keys that refuse missing rows, `on_delete`
//! (restrict, cascade, set_null), many-to-many fields, `?expand=` forward, reverse and
//! nested with the related tables' rules applied, the one-statement guarantee of an
//! expanded list, and schema changes around relations (drops refused, renames and
//! rebuilds keeping every link).

use crate::both_stores;
use crate::harness::{assert_error, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

both_stores!(
    writes_refuse_missing_references,
    on_delete_restrict_cascade_and_set_null,
    many_to_many_reads_and_writes,
    expand_forward_reverse_and_nested,
    expanded_rows_obey_the_related_rules,
    expanded_list_is_one_statement,
    fields_pick_from_expanded_rows,
    schema_changes_keep_links,
    bad_relations_and_expansions_are_refused,
    filters_and_sorts_across_relations,
);

/// `zoos` and `animals` (`zoo` -> zoos with `on_delete`), both readable by anyone.
async fn zoo_model(t: &TestApp, on_delete: &str) {
    let zoos = json!({"name": "zoos", "fields": {"name": "string"}, "rules": {"list": "public", "view": "public"}});
    assert_eq!(t.post("/api/tables", zoos).await.0, StatusCode::CREATED);
    let animals = json!({
        "name": "animals",
        "fields": {
            "name": "string",
            "age": "integer",
            "zoo": {"type": "relation", "target": "zoos", "on_delete": on_delete}
        },
        "rules": {"list": "public", "view": "public"}
    });
    let (status, body) = t.post("/api/tables", animals).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn row(t: &TestApp, table: &str, body: Value) -> Value {
    let (status, created) = t.post(&format!("/api/tables/{table}/rows"), body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "create {body} in {table}: {created}");
    created
}

async fn get(t: &TestApp, path: &str) -> Value {
    let (status, body) = t.get(path).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

async fn writes_refuse_missing_references(t: TestApp) {
    zoo_model(&t, "restrict").await;
    let berlin = row(&t, "zoos", json!({"name": "Berlin"})).await;
    let leo = row(&t, "animals", json!({"name": "Leo", "zoo": berlin["id"]})).await;
    assert_eq!(leo["zoo"], berlin["id"]);

    let missing = t.post("/api/tables/animals/rows", json!({"name": "Ghost", "zoo": 999})).await;
    assert_error(&missing, StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(missing.1["error"]["details"][0]["field"], "zoo");
    assert_eq!(missing.1["error"]["details"][0]["code"], "missing_reference");
    assert!(missing.1["error"]["message"].as_str().unwrap().contains("999"), "{}", missing.1);

    // In a bulk create the culprit's index is named and nothing is written.
    let bulk = json!([{"name": "A", "zoo": berlin["id"]}, {"name": "B", "zoo": 12345}]);
    let refused = t.post("/api/tables/animals/rows", bulk).await;
    assert_error(&refused, StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(refused.1["error"]["details"][0]["row"], 1, "{}", refused.1);
    assert_eq!(t.all_rows("animals").await.len(), 1);

    let id = leo["id"].as_i64().unwrap();
    let patch = t.patch(&format!("/api/tables/animals/rows/{id}"), json!({"zoo": 777})).await;
    assert_error(&patch, StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(get(&t, &format!("/api/tables/animals/rows/{id}")).await["zoo"], berlin["id"]);

    for bad in [json!("one"), json!(0), json!(-4), json!(1.5), json!([1])] {
        let result = t.post("/api/tables/animals/rows", json!({"name": "X", "zoo": bad})).await;
        assert_error(&result, StatusCode::BAD_REQUEST, "validation_failed");
    }
}

async fn on_delete_restrict_cascade_and_set_null(t: TestApp) {
    zoo_model(&t, "restrict").await;
    let zoo = row(&t, "zoos", json!({"name": "Berlin"})).await;
    let zoo_id = zoo["id"].as_i64().unwrap();
    row(&t, "animals", json!({"name": "Leo", "zoo": zoo_id})).await;
    row(&t, "animals", json!({"name": "Mia", "zoo": zoo_id})).await;
    let refused = t.delete(&format!("/api/tables/zoos/rows/{zoo_id}")).await;
    assert_error(&refused, StatusCode::CONFLICT, "row_referenced");
    assert_eq!(refused.1["error"]["details"], json!([{"table": "animals", "field": "zoo", "rows": 2}]));
    assert_eq!(t.all_rows("zoos").await.len(), 1);

    // cascade: the animals go with their zoo.
    let change = json!({"alter_fields": {"zoo": {"type": "relation", "target": "zoos", "on_delete": "cascade"}}});
    let (status, body) = t.patch("/api/tables/animals", change).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(t.all_rows("animals").await.len(), 2, "changing on_delete keeps the rows");
    assert_eq!(t.delete(&format!("/api/tables/zoos/rows/{zoo_id}")).await.0, StatusCode::NO_CONTENT);
    assert!(t.all_rows("animals").await.is_empty());

    // set_null: the animals stay, without a zoo.
    let change = json!({"alter_fields": {"zoo": {"type": "relation", "target": "zoos", "on_delete": "set_null"}}});
    assert_eq!(t.patch("/api/tables/animals", change).await.0, StatusCode::OK);
    let zoo = row(&t, "zoos", json!({"name": "Rome"})).await;
    let zoo_id = zoo["id"].as_i64().unwrap();
    let kit = row(&t, "animals", json!({"name": "Kit", "zoo": zoo_id})).await;
    assert_eq!(t.delete(&format!("/api/tables/zoos/rows/{zoo_id}")).await.0, StatusCode::NO_CONTENT);
    let kit = get(&t, &format!("/api/tables/animals/rows/{}", kit["id"])).await;
    assert_eq!(kit["zoo"], Value::Null);
}

async fn many_to_many_reads_and_writes(t: TestApp) {
    t.create_unowned_table("tags", json!({"label": "string"})).await;
    let fields = json!({
        "title": "string",
        "tags": {"type": "relation", "target": "tags", "multiple": true}
    });
    t.create_unowned_table("posts", fields).await;
    let tags = t.insert("tags", json!([{"label": "a"}, {"label": "b"}, {"label": "c"}])).await;
    let post = row(&t, "posts", json!({"title": "P", "tags": [tags[2], tags[0], tags[2]]})).await;
    assert_eq!(post["tags"], json!([tags[2], tags[0]]), "order kept, repeats once");
    let id = post["id"].as_i64().unwrap();
    let path = format!("/api/tables/posts/rows/{id}");
    assert_eq!(get(&t, &path).await["tags"], json!([tags[2], tags[0]]));

    let (status, patched) = t.patch(&path, json!({"tags": [tags[1]]})).await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["tags"], json!([tags[1]]));
    let (status, patched) = t.patch(&path, json!({"title": "Q"})).await;
    assert_eq!((status, &patched["tags"]), (StatusCode::OK, &json!([tags[1]])), "other fields keep the links");
    let (_, replaced) = t.put(&path, json!({"title": "R"})).await;
    assert_eq!(replaced["tags"], json!([]), "a whole-row PUT without the field clears it");
    let (_, patched) = t.patch(&path, json!({"tags": [tags[0], tags[1]]})).await;
    assert_eq!(patched["tags"], json!([tags[0], tags[1]]));

    let missing = t.patch(&path, json!({"tags": [tags[0], 4242]})).await;
    assert_error(&missing, StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(missing.1["error"]["details"][0]["field"], "tags");
    assert_eq!(get(&t, &path).await["tags"], json!([tags[0], tags[1]]), "a refused write changes nothing");

    // A linked tag cannot be deleted (restrict is the default); an unlinked one can.
    let refused = t.delete(&format!("/api/tables/tags/rows/{}", tags[0])).await;
    assert_error(&refused, StatusCode::CONFLICT, "row_referenced");
    assert_eq!(t.delete(&format!("/api/tables/tags/rows/{}", tags[2])).await.0, StatusCode::NO_CONTENT);

    // The reverse side, and the links going with their post.
    let reverse = t.list("tags", "expand=posts_via_tags").await;
    let linked: Vec<usize> =
        reverse.iter().map(|tag| tag["expand"]["posts_via_tags"].as_array().unwrap().len()).collect();
    assert_eq!(linked, vec![1, 1]);
    assert_eq!(t.delete(&path).await.0, StatusCode::NO_CONTENT);
    let reverse = t.list("tags", "expand=posts_via_tags").await;
    assert!(reverse.iter().all(|tag| tag["expand"]["posts_via_tags"] == json!([])));
    assert_eq!(t.delete(&format!("/api/tables/tags/rows/{}", tags[0])).await.0, StatusCode::NO_CONTENT);
}

async fn expand_forward_reverse_and_nested(t: TestApp) {
    zoo_model(&t, "restrict").await;
    let berlin = row(&t, "zoos", json!({"name": "Berlin"})).await;
    let rome = row(&t, "zoos", json!({"name": "Rome"})).await;
    for (name, age, zoo) in [("Leo", 3, &berlin), ("Mia", 7, &berlin), ("Kit", 1, &rome), ("Zed", 9, &Value::Null)] {
        row(&t, "animals", json!({"name": name, "age": age, "zoo": zoo["id"]})).await;
    }
    let animals = t.list("animals", "expand=zoo,zoo.owner&sort=name").await;
    let names: Vec<(&str, Value)> =
        animals.iter().map(|a| (a["name"].as_str().unwrap(), a["expand"]["zoo"]["name"].clone())).collect();
    assert_eq!(
        names,
        vec![("Kit", json!("Rome")), ("Leo", json!("Berlin")), ("Mia", json!("Berlin")), ("Zed", Value::Null)]
    );
    // The admin made the zoos: the nested owner is the admin's user row, without a password.
    let owner = &animals[0]["expand"]["zoo"]["expand"]["owner"];
    assert_eq!(owner["id"], json!(t.admin_id), "{owner}");
    assert!(owner.get("password").is_none());
    assert_eq!(animals[0]["zoo"], rome["id"], "the relation keeps its id beside the expansion");

    let zoo = get(&t, &format!("/api/tables/zoos/rows/{}?expand=animals_via_zoo.zoo", berlin["id"])).await;
    let residents = zoo["expand"]["animals_via_zoo"].as_array().unwrap();
    assert_eq!(residents.iter().map(|a| a["name"].clone()).collect::<Vec<_>>(), vec![json!("Leo"), json!("Mia")]);
    assert_eq!(residents[1]["expand"]["zoo"]["name"], "Berlin");
    // Both stores write compact JSON, nested rows included.
    let url = format!("{}/api/tables/zoos/rows/{}?expand=animals_via_zoo.zoo", t.base, berlin["id"]);
    let raw = t.client.get(url).bearer_auth(t.token.as_deref().unwrap_or_default()).send().await.unwrap();
    let raw = raw.text().await.unwrap();
    assert!(!raw.contains(" : ") && !raw.contains(", \""), "{raw}");
    assert!(raw.starts_with(&format!("{{\"id\":{},\"name\":\"Berlin\",", berlin["id"])), "{raw}");
    assert!(raw.contains("\"expand\":{\"animals_via_zoo\":[{\"id\":"), "{raw}");
    let limited = get(&t, &format!("/api/tables/zoos/rows/{}?expand=animals_via_zoo:1", berlin["id"])).await;
    assert_eq!(limited["expand"]["animals_via_zoo"].as_array().unwrap().len(), 1);
    let empty = t.list("zoos", "expand=animals_via_zoo&filter=name%20%3D%20%22Rome%22").await;
    assert_eq!(empty[0]["expand"]["animals_via_zoo"].as_array().unwrap().len(), 1);
    // Without expand the rows have no `expand` key at all.
    assert!(t.list("animals", "").await.iter().all(|a| a.get("expand").is_none()));
}

async fn expanded_rows_obey_the_related_rules(t: TestApp) {
    zoo_model(&t, "restrict").await;
    // Zoos are now visible to their owner only.
    let rules = json!({"rules": {"list": "owner = @request.auth.id", "view": "owner = @request.auth.id"}});
    assert_eq!(t.patch("/api/tables/zoos", rules).await.0, StatusCode::OK);
    let (_, alice) = t.user_token("alice@example.com").await;
    let (_, bob) = t.user_token("bob@example.com").await;
    let (status, zoo) =
        t.call_as(Some(&alice), Method::POST, "/api/tables/zoos/rows", Some(json!({"name": "Alice's"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{zoo}");
    let animal = json!({"name": "Leo", "zoo": zoo["id"]});
    let (status, _) = t.call_as(Some(&alice), Method::POST, "/api/tables/animals/rows", Some(animal)).await;
    assert_eq!(status, StatusCode::CREATED);

    let expanded = |token: Option<&str>| {
        let token = token.map(str::to_string);
        let t = &t;
        async move {
            let (status, body) =
                t.call_as(token.as_deref(), Method::GET, "/api/tables/animals/rows?expand=zoo,owner", None).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body["items"][0]["expand"].clone()
        }
    };
    let as_alice = expanded(Some(&alice)).await;
    assert_eq!(as_alice["zoo"]["name"], "Alice's");
    assert_eq!(as_alice["owner"]["email"], "alice@example.com");
    let as_bob = expanded(Some(&bob)).await;
    assert_eq!(as_bob["zoo"], Value::Null, "bob may not view alice's zoo");
    assert_eq!(as_bob["owner"], Value::Null, "users see only themselves");
    let anonymous = expanded(None).await;
    assert_eq!((anonymous["zoo"].clone(), anonymous["owner"].clone()), (Value::Null, Value::Null));
    // The reverse side follows the list rule of animals (public) but the zoo itself is hidden.
    let (status, _) = t
        .call_as(Some(&bob), Method::GET, &format!("/api/tables/zoos/rows/{}?expand=animals_via_zoo", zoo["id"]), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn expanded_list_is_one_statement(t: TestApp) {
    zoo_model(&t, "restrict").await;
    t.create_unowned_table("tags", json!({"label": "string"})).await;
    let change = json!({"add_fields": {"tags": {"type": "relation", "target": "tags", "multiple": true}}});
    assert_eq!(t.patch("/api/tables/animals", change).await.0, StatusCode::OK);
    let tags = t.insert("tags", json!([{"label": "a"}, {"label": "b"}])).await;
    let zoo = row(&t, "zoos", json!({"name": "Berlin"})).await;
    let store = t.app.store();
    let query = "expand=zoo,zoo.owner,zoo.animals_via_zoo,tags,owner&limit=100";
    let mut counts = Vec::new();
    for total in [2, 20, 60] {
        while t.all_rows("animals").await.len() < total {
            row(&t, "animals", json!({"name": "A", "zoo": zoo["id"], "tags": tags})).await;
        }
        let before = store.statements_executed();
        let rows = t.list("animals", query).await;
        counts.push(store.statements_executed() - before);
        assert_eq!(rows.len(), total);
        assert!(rows
            .iter()
            .all(|r| r["expand"]["zoo"]["expand"]["animals_via_zoo"].as_array().unwrap().len() == total));
        assert!(rows.iter().all(|r| r["expand"]["tags"].as_array().unwrap().len() == 2));
    }
    assert_eq!(counts, vec![1, 1, 1], "an expanded page is one statement whatever its size");
    let before = store.statements_executed();
    get(&t, &format!("/api/tables/zoos/rows/{}?expand=animals_via_zoo.tags,owner", zoo["id"])).await;
    assert_eq!(store.statements_executed() - before, 1);
}

async fn fields_pick_from_expanded_rows(t: TestApp) {
    zoo_model(&t, "restrict").await;
    let berlin = row(&t, "zoos", json!({"name": "Berlin"})).await;
    let leo = row(&t, "animals", json!({"name": "Leo", "age": 3, "zoo": berlin["id"]})).await;
    row(&t, "animals", json!({"name": "Zed", "age": 9})).await;
    let keys = |row: &Value| row.as_object().unwrap().keys().cloned().collect::<Vec<_>>();

    // Only the zoo's name: the animal keeps all its fields.
    let animals = t.list("animals", "expand=zoo&fields=zoo.name&sort=name").await;
    assert_eq!(animals[0]["expand"]["zoo"], json!({"name": "Berlin"}));
    assert_eq!(animals[1]["expand"]["zoo"], Value::Null, "no zoo: still null");
    let mut whole = leo.clone();
    whole["expand"] = json!({"zoo": {"name": "Berlin"}});
    assert_eq!(animals[0], whole);

    // Both levels, in the order named, `*` for all of a level, any case, repeats once.
    let animals =
        t.list("animals", "expand=zoo,zoo.owner&fields=name,ZOO.name,zoo.id,zoo.name,zoo.owner.email&sort=name").await;
    assert_eq!(keys(&animals[0]), ["name", "expand"]);
    assert_eq!(keys(&animals[0]["expand"]["zoo"]), ["name", "id", "expand"]);
    assert_eq!(animals[0]["expand"]["zoo"]["expand"]["owner"], json!({"email": crate::harness::ADMIN_EMAIL}));
    let animals = t.list("animals", "expand=zoo&fields=*,zoo.*&sort=name").await;
    assert_eq!(animals[0]["expand"]["zoo"]["id"], berlin["id"]);
    assert_eq!(animals[0]["expand"]["zoo"]["updated_at"], berlin["updated_at"]);
    assert_eq!(animals[0]["age"], 3);
    assert_eq!(animals[1]["expand"]["zoo"], Value::Null, "no zoo: null with every field");
    let animals = t.list("animals", "expand=zoo&fields=zoo.id,zoo.name&sort=name").await;
    assert_eq!(animals[0]["expand"]["zoo"], json!({"id": berlin["id"], "name": "Berlin"}));
    assert_eq!(animals[1]["expand"]["zoo"], Value::Null, "no zoo: null when id comes first");

    // Reverse (array) expansions pick too, and single rows by id.
    let zoos = t.list("zoos", "expand=animals_via_zoo:1&fields=id,animals_via_zoo.age").await;
    assert_eq!(zoos[0], json!({"id": berlin["id"], "expand": {"animals_via_zoo": [{"age": 3}]}}));
    let zoo = get(
        &t,
        &format!("/api/tables/zoos/rows/{}?expand=animals_via_zoo&fields=name,animals_via_zoo.name", berlin["id"]),
    )
    .await;
    assert_eq!(zoo, json!({"name": "Berlin", "expand": {"animals_via_zoo": [{"name": "Leo"}]}}));
    let animal = get(&t, &format!("/api/tables/animals/rows/{}?fields=age,name", leo["id"])).await;
    assert_eq!(keys(&animal), ["age", "name"]);
    let path = format!("/api/tables/animals/rows/{}", leo["id"]);
    assert_error(&t.get_with(&path, &[("fields", "zoo.name")]).await, StatusCode::BAD_REQUEST, "bad_request");

    // Still one statement.
    let store = t.app.store();
    let before = store.statements_executed();
    t.list("animals", "expand=zoo,zoo.owner&fields=zoo.name,zoo.owner.email").await;
    assert_eq!(store.statements_executed() - before, 1);

    // Paths that are not expanded, unknown or hidden fields, and empty entries are 400s.
    for (expand, fields) in [
        ("", "zoo.name"),
        ("zoo", "zoo.owner.email"),
        ("zoo", "owner.email"),
        ("zoo", "zoo.nope"),
        ("zoo", "zoo."),
        ("zoo", "name,,age"),
        ("zoo.owner", "zoo.owner.password"),
        ("zoo", "zoo.name.x"),
    ] {
        let result = t.get_with("/api/tables/animals/rows", &[("expand", expand), ("fields", fields)]).await;
        assert_error(&result, StatusCode::BAD_REQUEST, "bad_request");
        assert_eq!(result.1["error"]["details"][0]["parameter"], "fields", "{expand} / {fields}: {}", result.1);
    }
}

async fn schema_changes_keep_links(t: TestApp) {
    zoo_model(&t, "cascade").await;
    let zoo = row(&t, "zoos", json!({"name": "Berlin"})).await;
    let leo = row(&t, "animals", json!({"name": "Leo", "zoo": zoo["id"]})).await;

    let refused = t.delete("/api/tables/zoos").await;
    assert_error(&refused, StatusCode::CONFLICT, "table_referenced");
    assert_eq!(refused.1["error"]["details"], json!([{"field": "animals.zoo"}]));

    // A rename: the dry run names the dependent field; the link follows.
    let (status, plan) = t.patch("/api/tables/zoos?dry_run=true", json!({"name": "parks"})).await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert_eq!(plan["dependents"], json!(["animals.zoo will point at 'parks'"]));
    assert_eq!(t.patch("/api/tables/zoos", json!({"name": "parks"})).await.0, StatusCode::OK);
    let (_, animals_schema) = t.get("/api/tables/animals").await;
    assert_eq!(animals_schema["fields"]["zoo"]["target"], "parks");
    let expanded = t.list("animals", "expand=zoo").await;
    assert_eq!(expanded[0]["expand"]["zoo"]["name"], "Berlin");

    // A rebuild of the referenced table (a type change) must not cascade into its dependents.
    let (status, report) = t.patch("/api/tables/parks", json!({"alter_fields": {"name": "text"}})).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["rebuild"], true);
    assert_eq!(t.all_rows("animals").await.len(), 1, "rebuilding the target kept the animals");
    let missing = t.post("/api/tables/animals/rows", json!({"name": "Ghost", "zoo": 99})).await;
    assert_error(&missing, StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(t.delete(&format!("/api/tables/parks/rows/{}", zoo["id"])).await.0, StatusCode::NO_CONTENT);
    assert!(t.all_rows("animals").await.is_empty(), "the cascade still holds after the rebuild");

    // A self-relation, renamed with its table; a rebuild of the referencing table.
    let park = row(&t, "parks", json!({"name": "Rome"})).await;
    let add = json!({"add_fields": {"parent": {"type": "relation", "target": "animals", "on_delete": "set_null"}}});
    assert_eq!(t.patch("/api/tables/animals", add).await.0, StatusCode::OK);
    let mom = row(&t, "animals", json!({"name": "Mom", "zoo": park["id"]})).await;
    let kid = row(&t, "animals", json!({"name": "Kid", "zoo": park["id"], "parent": mom["id"]})).await;
    let (status, report) =
        t.patch("/api/tables/animals", json!({"name": "beasts", "alter_fields": {"name": "text"}})).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["schema"]["fields"]["parent"]["target"], "beasts");
    let kid = get(&t, &format!("/api/tables/beasts/rows/{}?expand=parent", kid["id"])).await;
    assert_eq!(kid["expand"]["parent"]["name"], "Mom");

    // Dropping a relation field removes the key; the rows stay.
    assert_eq!(t.patch("/api/tables/beasts", json!({"drop_fields": ["parent"]})).await.0, StatusCode::OK);
    assert_eq!(t.all_rows("beasts").await.len(), 2);
    assert_eq!(t.delete(&format!("/api/tables/beasts/rows/{}", mom["id"])).await.0, StatusCode::NO_CONTENT);
    let _ = leo;
}

async fn bad_relations_and_expansions_are_refused(t: TestApp) {
    let unknown = json!({"name": "pets", "fields": {"home": {"type": "relation", "target": "nowhere"}}});
    assert_error(&t.post("/api/tables", unknown).await, StatusCode::BAD_REQUEST, "invalid_relation");
    for field in [
        json!({"type": "relation"}),
        json!({"type": "relation", "target": "users", "on_delete": "explode"}),
        json!({"type": "relation", "target": "users", "on_delete": "set_null", "required": true}),
        json!({"type": "integer", "target": "users"}),
    ] {
        let body = json!({"name": "pets", "fields": {"home": field}});
        let (status, answer) = t.post("/api/tables", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}: {answer}");
    }
    assert!(!t.table_names().await.contains(&"pets".to_string()));

    zoo_model(&t, "restrict").await;
    let to_other = json!({"alter_fields": {"zoo": {"type": "relation", "target": "users"}}});
    let (status, body) = t.patch("/api/tables/animals", to_other).await;
    assert_eq!(status.as_u16() / 100, 4, "a relation cannot change its target: {body}");
    let to_int = json!({"alter_fields": {"zoo": "integer"}});
    assert_eq!(t.patch("/api/tables/animals", to_int).await.0.as_u16() / 100, 4);
    for bad in ["nope", "zoo.nope", "zoo.owner.nope", "zoo.animals_via_zoo.zoo.owner", "animals_via_zoo:0", "name"] {
        let result = t.get_with("/api/tables/animals/rows", &[("expand", bad)]).await;
        assert_error(&result, StatusCode::BAD_REQUEST, "bad_request");
    }
}

async fn filters_and_sorts_across_relations(t: TestApp) {
    zoo_model(&t, "restrict").await;
    let berlin = row(&t, "zoos", json!({"name": "Berlin"})).await;
    let rome = row(&t, "zoos", json!({"name": "Rome"})).await;
    for (name, age, zoo) in [("Leo", 3, &berlin), ("Mia", 7, &rome), ("Kit", 1, &rome), ("Zed", 9, &Value::Null)] {
        row(&t, "animals", json!({"name": name, "age": age, "zoo": zoo["id"]})).await;
    }
    let names = |rows: Vec<Value>| rows.iter().map(|r| r["name"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    let query = |filter: &str, sort: &str| {
        let t = &t;
        let (filter, sort) = (filter.to_string(), sort.to_string());
        async move {
            let (status, body) =
                t.list_with("animals", &[("filter", &filter), ("sort", &sort), ("total", "true")]).await;
            assert_eq!(status, StatusCode::OK, "{filter} / {sort}: {body}");
            (body["items"].as_array().unwrap().clone(), body["total"].clone())
        }
    };
    let (rows, total) = query("zoo.name = \"Rome\"", "name").await;
    assert_eq!((names(rows), total), (vec!["Kit".to_string(), "Mia".to_string()], json!(2)));
    let (rows, _) = query("zoo.name ~ \"e\" && age > 1", "-age").await;
    assert_eq!(names(rows), vec!["Mia", "Leo"]);
    let (rows, _) = query("zoo.name = null", "").await;
    assert_eq!(names(rows), vec!["Zed"]);
    // Two levels: the zoo's owner (the admin, who may view every user).
    let (rows, _) = query(&format!("zoo.owner.id = {}", t.admin_id), "zoo.name,-age").await;
    assert_eq!(names(rows), vec!["Leo", "Mia", "Kit"]);
    // Nulls sort as the store sorts them: smallest in SQLite, largest in Postgres.
    let expected = match t.kind {
        crate::harness::StoreKind::Sqlite => ["Kit", "Mia", "Leo", "Zed"],
        crate::harness::StoreKind::Postgres => ["Zed", "Kit", "Mia", "Leo"],
    };
    let (rows, _) = query("", "-zoo.name,name").await;
    assert_eq!(names(rows), expected);
    // A sort by a related field pages by offset: no cursor is offered or accepted.
    let (status, page) = t.list_with("animals", &[("sort", "zoo.name"), ("limit", "2")]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.get("next_cursor").is_none(), "{page}");

    // Paths through tables the caller may not view in full are unknown to them.
    let (_, token) = t.user_token("user@example.com").await;
    let path = "/api/tables/animals/rows?filter=zoo.owner.email%20%3D%20%22admin%40example.com%22";
    let (status, body) = t.call_as(Some(&token), Method::GET, path, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "invalid_filter");
    let (status, body) =
        t.call_as(Some(&token), Method::GET, "/api/tables/animals/rows?filter=zoo.name%20%3D%20%22Rome%22", None).await;
    assert_eq!((status, body["items"].as_array().map(Vec::len)), (StatusCode::OK, Some(2)));
    for bad in ["zoo.nope = 1", "name.x = 1", "zoo.owner.password = \"x\"", "zoo.zoo.zoo.zoo.name = 1"] {
        let result = t.list_with("animals", &[("filter", bad)]).await;
        assert_error(&result, StatusCode::BAD_REQUEST, "invalid_filter");
    }
}
