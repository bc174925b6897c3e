//! The command line, run as the real binary against the store of a running tessera:
//! `tables list|show`, `import` (CSV and NDJSON: typed coercion, errors naming line and
//! field, `--quiet`, large files) and `export` (NDJSON and CSV, round trips).

use crate::harness::{
    bare_tessera_command, free_port, run_tessera, tessera_command, CliOutput, Server, StoreKind, StoreLocation,
    TestApp, ADMIN_EMAIL, ADMIN_PASSWORD,
};
use crate::{both_store_locations, both_stores};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

both_stores!(
    tables_list_and_show,
    import_csv_coerces_text_by_field_type,
    import_ndjson,
    import_errors_name_line_and_field,
    import_error_after_full_batches_keeps_them,
    import_guesses_or_takes_the_format,
    import_quiet_hides_the_progress_bar,
    import_and_export_large_files,
    export_ndjson_round_trip,
    export_csv_round_trip,
    export_csv_round_trip_keeps_json_strings,
    unknown_table_fails_clearly,
);
both_store_locations!(serve_takes_its_settings_from_the_environment);

/// Runs `tessera <store of t> <args>`.
async fn tessera(t: &TestApp, args: &[&str]) -> CliOutput {
    run_tessera(&t.location, args, Duration::from_secs(180)).await
}

fn write_file(dir: &tempfile::TempDir, name: &str, contents: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, contents).expect("write test file");
    path
}

fn path_arg(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// Every row of a table in id order, following keyset cursors.
async fn every_row(t: &TestApp, table: &str) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut params = vec![("limit", "1000"), ("sort", "id")];
        if let Some(cursor) = &cursor {
            params.push(("cursor", cursor));
        }
        let (status, body) = t.list_with(table, &params).await;
        assert_eq!(status, StatusCode::OK, "list {table}: {body}");
        rows.extend(body["items"].as_array().expect("items").iter().cloned());
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return rows,
        }
    }
}

async fn count(t: &TestApp, table: &str) -> i64 {
    let (status, body) = t.list_with(table, &[("limit", "1"), ("total", "true")]).await;
    assert_eq!(status, StatusCode::OK, "count {table}: {body}");
    body["total"].as_i64().unwrap_or_else(|| panic!("total in {body}"))
}

/// A row without the fields tessera maintains.
fn user_fields(row: &Value) -> Value {
    let mut row = row.clone();
    let object = row.as_object_mut().expect("row object");
    for system in ["id", "created_at", "updated_at"] {
        object.remove(system);
    }
    row
}

fn animal_fields() -> Value {
    json!({
        "name": {"type": "string", "required": true, "max_length": 40},
        "age": "integer",
        "weight": "float",
        "vaccinated": "boolean",
        "born": "date",
        "notes": "text",
        "species": {"type": "enum", "values": ["cat", "dog", "bird"]}
    })
}

async fn tables_list_and_show(t: TestApp) {
    // A new store holds only the built-in `users` table (id 1).
    let empty = tessera(&t, &["tables", "list"]).await;
    empty.assert_success();
    let users: Vec<&str> = empty.stdout.lines().filter(|line| !line.trim().is_empty()).collect();
    assert_eq!(users.len(), 1, "no tables but users yet: {empty:?}");
    let tokens: Vec<&str> = users[0].split_whitespace().collect();
    assert!(tokens.contains(&"users") && tokens.contains(&"1"), "the users table, id 1: {empty:?}");

    let zoos = t.create_table("zoos", json!({"city": "string"})).await;
    let animals = t.create_table("animals", json!({"name": "string", "age": "integer"})).await;
    let (status, _) =
        t.put("/api/tables/animals", json!({"fields": {"name": "string", "age": "integer", "kind": "text"}})).await;
    assert_eq!(status, StatusCode::OK);

    let list = tessera(&t, &["tables", "list"]).await;
    list.assert_success();
    let lines: Vec<&str> = list.stdout.lines().filter(|line| !line.trim().is_empty()).collect();
    assert_eq!(lines.len(), 3, "one line per table, users included: {}", list.stdout);
    // The field counts include the managed `owner` field.
    for (table, version, fields) in [(&zoos, "v1", "2 fields"), (&animals, "v2", "4 fields")] {
        let name = table["name"].as_str().unwrap();
        let line = lines
            .iter()
            .find(|line| line.split_whitespace().any(|token| token == name))
            .unwrap_or_else(|| panic!("no line for {name} in {}", list.stdout));
        let tokens: Vec<&str> = line.split_whitespace().collect();
        assert!(tokens.contains(&table["id"].to_string().as_str()), "id of {name} in {line:?}");
        assert!(tokens.contains(&version), "version {version} of {name} in {line:?}");
        assert!(line.contains(fields), "field count ({fields}) of {name} in {line:?}");
    }

    // `show` prints the schema the API shows, by name (any case) or id.
    let (_, api_schema) = t.get("/api/tables/animals").await;
    let id = animals["id"].to_string();
    for reference in ["animals", "ANIMALS", id.as_str()] {
        let show = tessera(&t, &["tables", "show", reference]).await;
        show.assert_success();
        let printed: Value = serde_json::from_str(&show.stdout)
            .unwrap_or_else(|e| panic!("tables show {reference} printed no JSON ({e}): {}", show.stdout));
        assert_eq!(printed, api_schema, "tables show {reference}");
    }
    assert_eq!(api_schema["version"], 2);
    assert_eq!(api_schema["fields"]["kind"]["type"], "text");
}

async fn import_csv_coerces_text_by_field_type(t: TestApp) {
    t.create_table("animals", animal_fields()).await;
    let dir = tempfile::tempdir().unwrap();
    // Columns in any order; quoted commas, quotes and newlines; empty cells are null;
    // booleans as true/false/1/0 in any case; integers and floats in every usual spelling.
    let csv = write_file(
        &dir,
        "animals.csv",
        "name,age,weight,vaccinated,born,notes,species\n\
         Leo,7,190.5,true,2017-03-01,\"big, loud\",cat\n\
         Mia,-2,3,FALSE,,,dog\n\
         Kiwi,,0.25,1,2020-12-31,\"line one\nline two\",\n\
         Rex,0,-1e2,0,2019-01-01,\"say \"\"hi\"\"\",dog\n\
         007,9223372036854775807,,True,,  padded  ,bird\n",
    );
    let output = tessera(&t, &["import", "animals", path_arg(&csv)]).await;
    output.assert_success();
    assert!(output.stderr.contains('5'), "the import reports its row count: {}", output.stderr);

    let rows: Vec<Value> = every_row(&t, "animals").await.iter().map(user_fields).collect();
    let expected = [
        json!({"name": "Leo", "age": 7, "weight": 190.5, "vaccinated": true, "born": "2017-03-01", "notes": "big, loud", "species": "cat"}),
        json!({"name": "Mia", "age": -2, "weight": 3.0, "vaccinated": false, "born": null, "notes": null, "species": "dog"}),
        json!({"name": "Kiwi", "age": null, "weight": 0.25, "vaccinated": true, "born": "2020-12-31", "notes": "line one\nline two", "species": null}),
        json!({"name": "Rex", "age": 0, "weight": -100.0, "vaccinated": false, "born": "2019-01-01", "notes": "say \"hi\"", "species": "dog"}),
        json!({"name": "007", "age": i64::MAX, "weight": null, "vaccinated": true, "born": null, "notes": "  padded  ", "species": "bird"}),
    ];
    assert_eq!(rows.len(), expected.len(), "{rows:?}");
    for (row, expected) in rows.iter().zip(&expected) {
        for (field, value) in expected.as_object().unwrap() {
            match value {
                // Integers stay integers (not 7.0); floats compare as numbers.
                Value::Number(n) if n.is_i64() && field == "age" => {
                    assert_eq!(row[field].as_i64(), n.as_i64(), "{field} in {row}");
                    assert!(row[field].is_i64(), "{field} is an integer in {row}");
                }
                Value::Number(n) => assert_eq!(row[field].as_f64(), n.as_f64(), "{field} in {row}"),
                other => assert_eq!(&row[field], other, "{field} in {row}"),
            }
        }
    }

    // A subset of the columns, in another order: the others are null.
    let partial = write_file(&dir, "partial.csv", "species,name\nbird,Tweety\n");
    tessera(&t, &["import", "animals", path_arg(&partial)]).await.assert_success();
    let tweety = t.list_with("animals", &[("filter", "name = \"Tweety\"")]).await.1["items"][0].clone();
    assert_eq!(tweety["species"], "bird");
    assert_eq!(tweety["age"], Value::Null);
    assert_eq!(tweety["vaccinated"], Value::Null);
}

async fn import_ndjson(t: TestApp) {
    t.create_table("animals", animal_fields()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        &dir,
        "animals.ndjson",
        concat!(
            "{\"name\": \"Leo\", \"age\": 7, \"weight\": 190.5, \"vaccinated\": true, \"born\": \"2017-03-01\", \"species\": \"cat\"}\n",
            "\n",
            "{\"name\": \"Mia\", \"notes\": \"\", \"species\": null}\n",
            "   \n",
            "{\"name\": \"Kiwi\", \"notes\": \"é – 😀\\nsecond line\", \"id\": 999, \"created_at\": \"1999-01-01T00:00:00Z\"}", // no final newline
        ),
    );
    let output = tessera(&t, &["import", "animals", path_arg(&file)]).await;
    output.assert_success();
    assert_eq!(output.stdout, "", "import writes nothing to stdout");
    let rows = every_row(&t, "animals").await;
    assert_eq!(rows.len(), 3, "blank lines are skipped: {rows:?}");
    assert_eq!(
        user_fields(&rows[0]),
        json!({"name": "Leo", "age": 7, "weight": 190.5, "vaccinated": true, "born": "2017-03-01", "notes": null, "species": "cat",
               "owner": null}),
        "the import acts as the system: its rows have no owner"
    );
    assert_eq!(rows[1]["name"], "Mia");
    assert_eq!(rows[1]["notes"], "", "an empty string in JSON stays an empty string");
    assert_eq!(rows[2]["notes"], "é – 😀\nsecond line");
    assert_ne!(rows[2]["id"], 999, "system fields in the file are ignored");
    assert!(!rows[2]["created_at"].as_str().unwrap().starts_with("1999"), "created_at is maintained by tessera");
}

/// Whether an error message names line `n` ("line 3" or "line: 3").
fn names_line(message: &str, n: usize) -> bool {
    [format!("line {n}"), format!("line: {n}")].iter().any(|needle| {
        message
            .match_indices(needle.as_str())
            .any(|(at, _)| !message[at + needle.len()..].starts_with(|c: char| c.is_ascii_digit()))
    })
}

async fn import_errors_name_line_and_field(t: TestApp) {
    t.create_table("animals", animal_fields()).await;
    let dir = tempfile::tempdir().unwrap();
    // (file name, contents, what stderr must name)
    // (file name, contents, the line stderr must name, the words it must contain)
    let cases: [(&str, &str, Option<usize>, &[&str]); 9] = [
        ("bad_integer.csv", "name,age\nA,1\nB,abc\nC,3\n", Some(3), &["age", "abc"]),
        ("bad_boolean.csv", "name,vaccinated\nA,yes\n", Some(2), &["vaccinated"]),
        ("bad_enum.csv", "name,species\nA,cat\nB,cat\nC,fish\n", Some(4), &["species"]),
        // The record spans lines 2-3; the bad one starts on line 4.
        ("multiline.csv", "name,notes,age\nA,\"x\ny\",1\nB,z,1.5\n", Some(4), &["age"]),
        ("ragged.csv", "name,age\nA,1\nB,2,3\n", Some(3), &[]),
        ("unknown_column.csv", "name,colour\nA,red\n", None, &["colour"]),
        ("malformed.ndjson", "{\"name\": \"A\"}\n{\"name\": \n{\"name\": \"C\"}\n", Some(2), &[]),
        (
            "bad_value.ndjson",
            "{\"name\": \"A\"}\n{\"name\": \"B\"}\n{\"name\": \"C\", \"age\": \"old\"}\n",
            Some(3),
            &["age"],
        ),
        ("missing_required.ndjson", "{\"name\": \"A\"}\n{\"age\": 3}\n", Some(2), &["name"]),
    ];
    for (name, contents, line, words) in cases {
        let file = write_file(&dir, name, contents);
        let output = tessera(&t, &["import", "animals", path_arg(&file)]).await;
        let stderr = output.assert_failure();
        if let Some(line) = line {
            assert!(names_line(stderr, line), "{name}: stderr should name line {line}: {stderr}");
        }
        for word in words {
            assert!(stderr.contains(word), "{name}: stderr should name {word:?}: {stderr}");
        }
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        // The whole file fits one batch: nothing of it was written.
        assert_eq!(count(&t, "animals").await, 0, "{name}: a failed one-batch import writes nothing");
    }
    // Unknown fields in NDJSON are refused too, naming the field and the line.
    let file = write_file(&dir, "unknown_field.ndjson", "{\"name\": \"A\"}\n{\"name\": \"B\", \"colour\": \"red\"}\n");
    let output = tessera(&t, &["import", "animals", path_arg(&file)]).await;
    let stderr = output.assert_failure();
    assert!(stderr.contains("colour") && names_line(stderr, 2), "{stderr}");
    assert_eq!(count(&t, "animals").await, 0);
}

async fn import_error_after_full_batches_keeps_them(t: TestApp) {
    t.create_table("animals", animal_fields()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(&dir, "late_error.csv", "name,age\nA,1\nB,2\nC,3\nD,4\nE,x\nF,6\n");
    let output = tessera(&t, &["import", "animals", path_arg(&file), "--batch", "2", "--quiet"]).await;
    let stderr = output.assert_failure();
    assert!(names_line(stderr, 6) && stderr.contains("age"), "{stderr}");
    // Batches are all-or-nothing: the two complete batches before the bad row are kept.
    let names: Vec<Value> = every_row(&t, "animals").await.iter().map(|row| row["name"].clone()).collect();
    assert_eq!(names, vec![json!("A"), json!("B"), json!("C"), json!("D")]);
}

async fn import_guesses_or_takes_the_format(t: TestApp) {
    t.create_table("animals", animal_fields()).await;
    let dir = tempfile::tempdir().unwrap();
    let jsonl = write_file(&dir, "a.jsonl", "{\"name\": \"A\"}\n");
    tessera(&t, &["import", "animals", path_arg(&jsonl)]).await.assert_success();
    let upper = write_file(&dir, "b.CSV", "name\nB\n");
    tessera(&t, &["import", "animals", path_arg(&upper)]).await.assert_success();
    let text = write_file(&dir, "c.txt", "name\nC\n");
    let output = tessera(&t, &["import", "animals", path_arg(&text)]).await;
    let stderr = output.assert_failure();
    assert!(stderr.contains("--format"), "an unknown extension asks for --format: {stderr}");
    tessera(&t, &["import", "animals", path_arg(&text), "--format", "csv"]).await.assert_success();
    let ndjson_txt = write_file(&dir, "d.txt", "{\"name\": \"D\"}\n");
    tessera(&t, &["import", "animals", path_arg(&ndjson_txt), "--format", "ndjson"]).await.assert_success();
    let names: Vec<Value> = every_row(&t, "animals").await.iter().map(|row| row["name"].clone()).collect();
    assert_eq!(names, vec![json!("A"), json!("B"), json!("C"), json!("D")]);

    let missing = dir.path().join("missing.csv");
    let output = tessera(&t, &["import", "animals", path_arg(&missing)]).await;
    let stderr = output.assert_failure();
    assert!(stderr.contains("missing.csv"), "a missing file is named: {stderr}");
}

/// Runs a tessera command in a pseudo-terminal (`script`), where a progress bar draws.
async fn tessera_in_terminal(t: &TestApp, args: &[&str]) -> (std::process::ExitStatus, String) {
    let command = tessera_command(&t.location);
    let quote = |arg: &str| format!("'{}'", arg.replace('\'', "'\\''"));
    let mut line = quote(command.get_program().to_str().unwrap());
    for arg in command.get_args().chain(args.iter().map(std::ffi::OsStr::new)) {
        line.push(' ');
        line.push_str(&quote(arg.to_str().unwrap()));
    }
    let mut script = std::process::Command::new("script");
    script.args(["-q", "-e", "-c", &line, "/dev/null"]);
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => script.env(key, value),
            None => script.env_remove(key),
        };
    }
    script.env("TERM", "xterm");
    let output = tokio::task::spawn_blocking(move || script.output())
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("`script` (util-linux) is needed to run tessera in a terminal: {e}"));
    (output.status, String::from_utf8_lossy(&output.stdout).into_owned())
}

async fn import_quiet_hides_the_progress_bar(t: TestApp) {
    t.create_table("animals", animal_fields()).await;
    let dir = tempfile::tempdir().unwrap();
    let rows: String = (0..2000).map(|i| format!("{{\"name\": \"n{i}\", \"age\": {i}}}\n")).collect();
    let file = write_file(&dir, "rows.ndjson", &rows);

    // In a terminal the progress bar draws; --quiet hides it.
    let (status, shown) = tessera_in_terminal(&t, &["import", "animals", path_arg(&file)]).await;
    assert!(status.success(), "import in a terminal: {shown}");
    assert!(shown.contains('█'), "a progress bar in a terminal: {shown:?}");
    let (status, quiet) = tessera_in_terminal(&t, &["import", "animals", path_arg(&file), "--quiet"]).await;
    assert!(status.success(), "quiet import in a terminal: {quiet}");
    assert!(!quiet.contains('█') && !quiet.contains('░'), "--quiet shows no progress bar: {quiet:?}");

    // Piped (not a terminal), --quiet prints nothing to stdout and no bar to stderr.
    let output = tessera(&t, &["import", "animals", path_arg(&file), "--quiet"]).await;
    output.assert_success();
    assert_eq!(output.stdout, "");
    assert!(!output.stderr.contains('█') && !output.stderr.contains('\r'), "{:?}", output.stderr);
    assert_eq!(count(&t, "animals").await, 6000);
}

async fn import_and_export_large_files(t: TestApp) {
    const ROWS: i64 = 50_000;
    t.create_table("animals", animal_fields()).await;
    t.create_table("animals_csv", animal_fields()).await;
    let dir = tempfile::tempdir().unwrap();
    let species = ["cat", "dog", "bird"];
    let ndjson: String = (0..ROWS)
        .map(|i| {
            format!(
                "{}\n",
                json!({"name": format!("animal {i}"), "age": i, "weight": i as f64 / 4.0, "vaccinated": i % 2 == 0,
                       "notes": format!("note, \"{i}\""), "species": species[(i % 3) as usize]})
            )
        })
        .collect();
    let ndjson_file = write_file(&dir, "big.ndjson", &ndjson);
    let mut csv = String::from("name,age,weight,vaccinated,notes,species\n");
    for i in 0..ROWS {
        csv.push_str(&format!(
            "animal {i},{i},{},{},\"note, \"\"{i}\"\"\",{}\n",
            i as f64 / 4.0,
            i % 2 == 0,
            species[(i % 3) as usize]
        ));
    }
    let csv_file = write_file(&dir, "big.csv", &csv);

    let started = std::time::Instant::now();
    tessera(&t, &["import", "animals", path_arg(&ndjson_file), "--quiet"]).await.assert_success();
    tessera(&t, &["import", "animals_csv", path_arg(&csv_file), "--quiet"]).await.assert_success();
    eprintln!("imported 2 x {ROWS} rows in {:?}", started.elapsed());

    for table in ["animals", "animals_csv"] {
        assert_eq!(count(&t, table).await, ROWS, "{table}");
        for i in [0, 1, ROWS / 2, ROWS - 1] {
            let (_, body) = t.list_with(table, &[("filter", &format!("name = \"animal {i}\""))]).await;
            let row = &body["items"][0];
            assert_eq!(row["age"], i, "{table} row {i}: {body}");
            assert_eq!(row["weight"].as_f64(), Some(i as f64 / 4.0), "{table} row {i}");
            assert_eq!(row["vaccinated"], i % 2 == 0, "{table} row {i}");
            assert_eq!(row["notes"], format!("note, \"{i}\""), "{table} row {i}");
        }
    }

    // Export walks every page: one line per row, in id order, each like the API's row.
    let export = tessera(&t, &["export", "animals"]).await;
    export.assert_success();
    let lines: Vec<&str> = export.stdout.lines().collect();
    assert_eq!(lines.len() as i64, ROWS);
    let mut last_id = 0;
    for (i, line) in lines.iter().enumerate() {
        let row: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("export line {}: {e}: {line}", i + 1));
        let id = row["id"].as_i64().unwrap();
        assert!(id > last_id, "ids increase: {id} after {last_id}");
        last_id = id;
        assert_eq!(row["age"], i as i64, "line {}", i + 1);
    }
    let export_csv = tessera(&t, &["export", "animals_csv", "--format", "csv"]).await;
    export_csv.assert_success();
    let mut reader = csv_records(&export_csv.stdout);
    assert_eq!(reader.len() as i64, ROWS + 1, "a header and one record per row");
    let header = reader.remove(0);
    assert_eq!(header.first().map(String::as_str), Some("id"));
    assert!(header.contains(&"name".to_string()) && header.contains(&"updated_at".to_string()), "{header:?}");
}

/// Parses CSV text into records (a tiny reader: quotes, doubled quotes, newlines in quotes).
fn csv_records(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    records
}

fn everything_fields() -> Value {
    json!({
        "s": {"type": "string", "max_length": 50},
        "t": "text",
        "i": "integer",
        "f": "float",
        "d": "decimal",
        "b": "boolean",
        "day": "date",
        "at": "datetime",
        "doc": "json",
        "u": "uuid",
        "e": "email",
        "link": "url",
        "kind": {"type": "enum", "values": ["cat", "dog"]}
    })
}

/// Rows with every type, tricky text, extremes and nulls (none holds an empty string,
/// which CSV cannot tell from null, nor a JSON string: see the dedicated test).
fn everything_rows() -> Value {
    json!([
        {"s": "abc", "t": "long text, with a comma", "i": 3, "f": 1.5, "d": "10.250", "b": true, "day": "2024-02-29",
         "at": "2024-01-01T10:00:00+01:00", "doc": {"nested": [1, {"x": null}], "q": "a \"quote\""},
         "u": "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "e": "leo@zoo.example", "link": "https://zoo.example/leo?a=1&b=2",
         "kind": "cat"},
        {"s": "007", "t": "line one\nline two\r\n\"quoted\"", "i": -9223372036854775807i64, "f": -0.000001, "d": "-0.5",
         "b": false, "day": "1970-01-01", "at": "1999-12-31T23:59:59.123456Z", "doc": [1, 2.5, "three", true, null],
         "u": "00000000-0000-0000-0000-000000000000", "e": "a.b+c@example.org", "link": "http://x.example", "kind": "dog"},
        {"s": null, "t": null, "i": null, "f": null, "d": null, "b": null, "day": null, "at": null, "doc": null,
         "u": null, "e": null, "link": null, "kind": null},
        {"s": "  spaces  ", "t": "é – 😀 , ; \t tab", "i": 9223372036854775807i64, "f": 1.0e300, "d": "123456789.000001",
         "b": true, "doc": 42, "kind": "cat"},
        {"s": "true", "t": "1", "i": 0, "f": 0.1, "d": "0", "doc": {"a": {"b": {"c": []}}}, "kind": null}
    ])
}

async fn export_ndjson_round_trip(t: TestApp) {
    t.create_table("everything", everything_fields()).await;
    t.create_table("copy", everything_fields()).await;
    let mut rows = everything_rows();
    rows.as_array_mut().unwrap().push(json!({"s": "", "t": "", "doc": {}}));
    t.insert("everything", rows).await;
    let original = every_row(&t, "everything").await;

    let export = tessera(&t, &["export", "everything"]).await;
    export.assert_success();
    let exported: Vec<Value> = export
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    assert_eq!(exported, original, "the export holds exactly the rows the API returns");
    // The default format is NDJSON; --format ndjson says the same.
    let explicit = tessera(&t, &["export", "everything", "--format", "ndjson"]).await;
    assert_eq!(explicit.assert_success().stdout, export.stdout);

    let dir = tempfile::tempdir().unwrap();
    let file = write_file(&dir, "everything.ndjson", &export.stdout);
    tessera(&t, &["import", "copy", path_arg(&file), "--quiet"]).await.assert_success();
    let copy = every_row(&t, "copy").await;
    assert_eq!(
        copy.iter().map(user_fields).collect::<Vec<_>>(),
        original.iter().map(user_fields).collect::<Vec<_>>(),
        "export -> import gives the same rows, in the same order"
    );

    // An empty table exports nothing.
    t.create_table("empty", json!({"x": "string"})).await;
    let empty = tessera(&t, &["export", "empty"]).await;
    assert_eq!(empty.assert_success().stdout, "");
}

async fn export_csv_round_trip(t: TestApp) {
    t.create_table("everything", everything_fields()).await;
    t.create_table("copy", everything_fields()).await;
    t.insert("everything", everything_rows()).await;
    let original = every_row(&t, "everything").await;

    let export = tessera(&t, &["export", "everything", "--format", "csv"]).await;
    export.assert_success();
    let records = csv_records(&export.stdout);
    let mut expected_header = vec!["id".to_string()];
    expected_header.extend(everything_fields().as_object().unwrap().keys().cloned());
    expected_header.extend(["owner".to_string(), "created_at".to_string(), "updated_at".to_string()]);
    assert_eq!(records[0], expected_header, "the header: id, the fields in order, owner, the timestamps");
    assert_eq!(records.len(), original.len() + 1, "{}", export.stdout);
    for (record, row) in records[1..].iter().zip(&original) {
        assert_eq!(record[0], row["id"].to_string());
        assert_eq!(record[1], row["s"].as_str().unwrap_or(""), "strings are written as they are");
    }

    let dir = tempfile::tempdir().unwrap();
    let file = write_file(&dir, "everything.csv", &export.stdout);
    let import = tessera(&t, &["import", "copy", path_arg(&file), "--quiet"]).await;
    import.assert_success();
    let copy = every_row(&t, "copy").await;
    assert_eq!(copy.len(), original.len());
    for (copied, original) in copy.iter().zip(&original) {
        assert_eq!(user_fields(copied), user_fields(original), "CSV export -> import keeps every value");
    }

    // An empty table exports the header alone.
    t.create_table("empty", json!({"x": "string", "y": "integer"})).await;
    let empty = tessera(&t, &["export", "empty", "--format", "csv"]).await;
    assert_eq!(empty.assert_success().stdout.trim_end(), "id,x,y,owner,created_at,updated_at");
}

async fn export_csv_round_trip_keeps_json_strings(t: TestApp) {
    // A json field may hold any JSON value, strings included; its CSV cell must be read
    // back as the same value.
    let fields = json!({"label": "string", "doc": "json"});
    t.create_table("docs", fields.clone()).await;
    t.create_table("copy", fields).await;
    t.insert(
        "docs",
        json!([{"label": "string", "doc": "hello"}, {"label": "numeric string", "doc": "42"},
               {"label": "object", "doc": {"k": "v"}}, {"label": "boolean", "doc": false}]),
    )
    .await;
    let original = every_row(&t, "docs").await;
    let export = tessera(&t, &["export", "docs", "--format", "csv"]).await;
    export.assert_success();
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(&dir, "docs.csv", &export.stdout);
    let import = tessera(&t, &["import", "copy", path_arg(&file), "--quiet"]).await;
    assert!(
        import.status.success(),
        "importing tessera's own CSV export failed: {}\nexport:\n{}",
        import.stderr,
        export.stdout
    );
    let copy = every_row(&t, "copy").await;
    assert_eq!(
        copy.iter().map(user_fields).collect::<Vec<_>>(),
        original.iter().map(user_fields).collect::<Vec<_>>(),
        "json strings survive a CSV round trip"
    );
}

async fn unknown_table_fails_clearly(t: TestApp) {
    t.create_table("animals", animal_fields()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(&dir, "rows.ndjson", "{\"name\": \"A\"}\n");
    let commands: [&[&str]; 5] = [
        &["tables", "show", "nosuch"],
        &["export", "nosuch"],
        &["export", "nosuch", "--format", "csv"],
        &["import", "nosuch", path_arg(&file)],
        &["tables", "show", "999999"],
    ];
    for args in commands {
        let output = tessera(&t, args).await;
        let stderr = output.assert_failure();
        let reference = if args[0] == "tables" { args[2] } else { args[1] };
        assert!(stderr.contains(reference), "{args:?}: the message names the table: {stderr}");
        let lower = stderr.to_lowercase();
        assert!(
            ["does not exist", "no such table", "not found", "unknown table"]
                .iter()
                .any(|phrase| lower.contains(phrase)),
            "{args:?}: a clear message: {stderr}"
        );
        assert!(stderr.lines().count() <= 3, "{args:?}: a short message, not a dump: {stderr}");
        assert_eq!(output.stdout, "", "{args:?}: nothing on stdout");
    }
    // Nothing was imported anywhere.
    assert_eq!(count(&t, "animals").await, 0);
}

async fn serve_takes_its_settings_from_the_environment(location: StoreLocation) {
    // `tessera serve` with no flags at all, in a fresh working directory: the store comes
    // from DATABASE_URL (Postgres) or defaults to ./tessera_data (SQLite), the port from
    // PORT, the body limit from TESSERA_MAX_BODY_BYTES, the first admin from
    // TESSERA_ADMIN_EMAIL and TESSERA_ADMIN_PASSWORD (the harness signs it in).
    let cwd = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut command = bare_tessera_command();
    command
        .current_dir(cwd.path())
        .env("PORT", port.to_string())
        .env("TESSERA_MAX_BODY_BYTES", "2000")
        .env("TESSERA_ADMIN_EMAIL", ADMIN_EMAIL)
        .env("TESSERA_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .arg("serve");
    if location.kind == StoreKind::Postgres {
        command.env("DATABASE_URL", &location.cli_args[1]);
    }
    let mut server = Server::launch(command, port).await.unwrap_or_else(|log| panic!("tessera serve: {log}"));
    let (status, body) = server.post("/api/tables", json!({"name": "from_env", "fields": {"name": "string"}})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let big: Vec<Value> = (0..100).map(|i| json!({"name": format!("a fairly long name number {i}")})).collect();
    let (status, body) = server.post("/api/tables/from_env/rows", Value::Array(big)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "TESSERA_MAX_BODY_BYTES applies: {body}");
    assert_eq!(body["error"]["code"], "payload_too_large", "{body}");
    server.kill();

    let default_dir = cwd.path().join("tessera_data");
    let listed = match location.kind {
        StoreKind::Sqlite => {
            assert!(default_dir.join("tessera.db").is_file(), "the SQLite store defaults to ./tessera_data");
            let mut command = bare_tessera_command();
            command.arg("--data-dir").arg(&default_dir).args(["tables", "list"]);
            command.output().expect("tables list")
        }
        StoreKind::Postgres => {
            assert!(!default_dir.exists(), "with DATABASE_URL no SQLite store is created");
            tessera_command(&location).args(["tables", "list"]).output().expect("tables list")
        }
    };
    assert!(listed.status.success(), "{listed:?}");
    assert!(String::from_utf8_lossy(&listed.stdout).contains("from_env"), "the table is in the store: {listed:?}");
}
