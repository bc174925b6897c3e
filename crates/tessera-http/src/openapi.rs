//! The OpenAPI 3.1 document, generated from the live catalog on each request: one path
//! set and one component schema per table, with types, required fields, enums and limits.

use serde_json::{json, Map, Value};
use tessera_core::Catalog;
use tessera_schema::{FieldDef, FieldType, TableSchema};

/// Which component schema of a table.
enum Kind {
    Row,
    Input,
    Patch,
}

/// The component name of a table's schema. The `.` cannot appear in a table name, so
/// these never collide with each other or with the fixed components (`Error`,
/// `TableDefinition`), whatever a table is called. Likewise, fixed operationIds are
/// camelCase and per-table ones are `verb_table`, so they never collide either.
fn component(table: &str, kind: Kind) -> String {
    let kind = match kind {
        Kind::Row => "row",
        Kind::Input => "input",
        Kind::Patch => "patch",
    };
    format!("{kind}.{table}")
}

/// The JSON Schema of one field's values.
fn field_schema(def: &FieldDef) -> Value {
    let mut schema = match def.field_type {
        FieldType::String | FieldType::Text => json!({"type": "string"}),
        FieldType::Integer => json!({"type": "integer", "format": "int64"}),
        FieldType::Float => json!({"type": "number", "format": "double"}),
        FieldType::Decimal => {
            json!({"type": "string", "format": "decimal", "pattern": "^-?[0-9]+(\\.[0-9]+)?$"})
        }
        FieldType::Boolean => json!({"type": "boolean"}),
        FieldType::Date => json!({"type": "string", "format": "date"}),
        FieldType::Datetime => json!({"type": "string", "format": "date-time"}),
        FieldType::Json => json!({}),
        FieldType::Uuid => json!({"type": "string", "format": "uuid"}),
        FieldType::Email => json!({"type": "string", "format": "email"}),
        FieldType::Url => json!({"type": "string", "format": "uri"}),
        FieldType::Enum => {
            json!({"type": "string", "enum": def.values.clone().unwrap_or_default()})
        }
        FieldType::Relation if def.multiple => {
            json!({"type": "array", "items": {"type": "integer", "format": "int64", "minimum": 1}})
        }
        FieldType::Relation => json!({"type": "integer", "format": "int64", "minimum": 1}),
        FieldType::File if def.multiple => json!({"type": "array", "items": {"type": "string"}}),
        FieldType::File => json!({"type": "string"}),
    };
    let object = schema.as_object_mut().expect("schemas are objects");
    if let Some(max_length) = def.max_length {
        object.insert("maxLength".into(), json!(max_length));
    }
    if let Some(pattern) = &def.pattern {
        object.insert("pattern".into(), json!(format!("^(?:{pattern})$")));
    }
    if def.field_type != FieldType::Decimal {
        if let Some(min) = def.min {
            object.insert("minimum".into(), json!(min));
        }
        if let Some(max) = def.max {
            object.insert("maximum".into(), json!(max));
        }
    }
    if let Some(default) = &def.default {
        object.insert("default".into(), default.clone());
    }
    if !def.required && def.field_type != FieldType::Json {
        // 3.1 is JSON Schema: an optional field may be null.
        if let Some(Value::String(t)) = object.get("type").cloned() {
            object.insert("type".into(), json!([t, "null"]));
        }
        if let Some(Value::Array(values)) = object.get_mut("enum") {
            values.push(Value::Null);
        }
    }
    schema
}

fn row_schemas(table: &TableSchema) -> (Value, Value) {
    let mut properties = Map::new();
    properties.insert("id".into(), json!({"type": "integer", "format": "int64", "readOnly": true}));
    let mut input_properties = Map::new();
    let mut required = Vec::new();
    for (name, def) in &table.fields {
        let schema = field_schema(def);
        if def.hidden {
            // A password: written, never read back.
            let mut write_only = schema;
            write_only["writeOnly"] = json!(true);
            input_properties.insert(name.clone(), write_only);
            continue;
        }
        properties.insert(name.clone(), schema.clone());
        input_properties.insert(name.clone(), schema);
        if def.required && def.default.is_none() && !def.system {
            required.push(json!(name));
        }
    }
    properties.insert("created_at".into(), json!({"type": "string", "format": "date-time", "readOnly": true}));
    properties.insert("updated_at".into(), json!({"type": "string", "format": "date-time", "readOnly": true}));
    properties.insert(
        "expand".into(),
        json!({"type": "object", "readOnly": true, "description": "Related rows asked for with ?expand="}),
    );
    let row = json!({"type": "object", "properties": properties});
    let input =
        json!({"type": "object", "properties": input_properties, "required": required, "additionalProperties": false});
    (row, input)
}

/// A row write with files: file parts named after their field, an `@json` part with the
/// other values, or one text part per field.
fn multipart_body() -> Value {
    json!({"schema": {"type": "object", "description": "File parts named after their file field (repeat a part for a multiple field); other fields as an `@json` part holding a JSON object, or one text part each", "additionalProperties": true}})
}

/// An optional query parameter.
fn query(param: &str, description: &str, schema: Value) -> Value {
    json!({"name": param, "in": "query", "required": false, "description": description, "schema": schema})
}

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn json_content(schema: Value) -> Value {
    json!({"application/json": {"schema": schema}})
}

fn table_paths(table: &TableSchema, paths: &mut Map<String, Value>) {
    let name = &table.name;
    let row_ref = json!({"$ref": format!("#/components/schemas/{}", component(name, Kind::Row))});
    let input_ref = json!({"$ref": format!("#/components/schemas/{}", component(name, Kind::Input))});
    paths.insert(
        format!("/api/tables/{name}/rows"),
        json!({
            "get": {
                "operationId": format!("list_{name}"),
                "tags": [name],
                "summary": format!("List {name} rows"),
                "parameters": [
                    query("filter", "Filter expression, e.g. `age > 50 && name ~ \"Leo\"`", json!({"type": "string"})),
                    query("sort", "Comma-separated fields, `-` for descending, e.g. `-age,name`", json!({"type": "string"})),
                    query("limit", "Page size (1..1000, default 30)", json!({"type": "integer", "minimum": 1, "maximum": 1000})),
                    query("offset", "Rows to skip", json!({"type": "integer", "minimum": 0})),
                    query("cursor", "Keyset cursor from a previous page's next_cursor", json!({"type": "string"})),
                    fields_param(),
                    query("total", "Also count all matching rows", json!({"type": "boolean"})),
                    expand_param(),
                ],
                "responses": {
                    "200": {"description": "A page of rows", "content": json_content(json!({
                        "type": "object",
                        "properties": {
                            "items": {"type": "array", "items": row_ref},
                            "limit": {"type": "integer"},
                            "offset": {"type": "integer"},
                            "total": {"type": "integer"},
                            "next_cursor": {"type": "string"}
                        }
                    }))},
                    "400": error_response("Invalid filter, sort or paging"),
                    "404": error_response("No such table")
                }
            },
            "post": {
                "operationId": format!("create_{name}"),
                "tags": [name],
                "summary": format!("Create one {name} row (object) or many (array or NDJSON)"),
                "requestBody": {"required": true, "content": {
                    "application/json": {"schema": {"oneOf": [input_ref.clone(), {"type": "array", "items": input_ref}]}},
                    "application/x-ndjson": {"schema": {"type": "string"}},
                    "multipart/form-data": multipart_body()
                }},
                "responses": {
                    "201": {"description": "The created row, or {created, ids} for many", "content": json_content(json!({"oneOf": [row_ref.clone(), {
                        "type": "object", "properties": {"created": {"type": "integer"}, "ids": {"type": "array", "items": {"type": "integer"}}}
                    }]}))},
                    "400": error_response("Invalid row"),
                    "409": error_response("Duplicate value of a unique field")
                }
            }
        }),
    );
    let id_param =
        json!({"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "format": "int64"}});
    let partial = json!({"$ref": format!("#/components/schemas/{}", component(name, Kind::Patch))});
    paths.insert(
        format!("/api/tables/{name}/rows/{{id}}"),
        json!({
            "parameters": [id_param],
            "get": {"operationId": format!("get_{name}"), "tags": [name], "parameters": [expand_param(), fields_param()], "responses": {"200": {"description": "The row", "content": json_content(row_ref.clone())}, "404": error_response("No such row")}},
            "patch": {"operationId": format!("update_{name}"), "tags": [name], "requestBody": {"required": true, "content": {"application/json": {"schema": partial}, "multipart/form-data": multipart_body()}},
                      "responses": {"200": {"description": "The updated row", "content": json_content(row_ref.clone())}, "400": error_response("Invalid values"), "404": error_response("No such row")}},
            "put": {"operationId": format!("replace_{name}"), "tags": [name], "requestBody": {"required": true, "content": {"application/json": {"schema": input_ref.clone()}, "multipart/form-data": multipart_body()}},
                    "responses": {"200": {"description": "The replaced row", "content": json_content(row_ref)}, "400": error_response("Invalid values"), "404": error_response("No such row")}},
            "delete": {"operationId": format!("delete_{name}"), "tags": [name], "responses": {"204": {"description": "Deleted"}, "404": error_response("No such row"), "409": error_response("Still referenced by rows of a relation with on_delete restrict")}}
        }),
    );
}

/// `?fields=`: the fields to return, of the rows and of the rows `expand` embeds.
fn fields_param() -> Value {
    query(
        "fields",
        "Comma-separated fields to return; `zoo.name` picks a field of the expanded `zoo` rows, `*` all fields of a level",
        json!({"type": "string"}),
    )
}

/// `?expand=`: related rows to embed under each row's `expand` key.
fn expand_param() -> Value {
    query(
        "expand",
        "Comma-separated relations to embed: fields (`zoo`), nested (`zoo.owner`), reverse (`animals_via_zoo`, `:N` for at most N rows)",
        json!({"type": "string"}),
    )
}

/// `/api/auth/...`: sessions and API tokens.
fn auth_paths(paths: &mut Map<String, Value>) {
    let session = json!({"$ref": "#/components/schemas/Session"});
    let credentials = json!({"type": "object", "required": ["identity", "password"], "properties": {
        "identity": {"type": "string", "description": "Email or username (`email` and `username` are accepted as names of this member)"},
        "password": {"type": "string", "writeOnly": true}
    }});
    let refresh =
        json!({"type": "object", "required": ["refresh_token"], "properties": {"refresh_token": {"type": "string"}}});
    let user =
        json!({"$ref": format!("#/components/schemas/{}", component(tessera_core::auth::USERS_TABLE, Kind::Row))});
    let new_user =
        json!({"$ref": format!("#/components/schemas/{}", component(tessera_core::auth::USERS_TABLE, Kind::Input))});
    let token_info = json!({"type": "object", "properties": {
        "id": {"type": "integer"}, "user_id": {"type": "integer"}, "name": {"type": "string"},
        "scopes": {"type": "array", "items": {"type": "string"}},
        "expires_at": {"type": ["string", "null"], "format": "date-time"}, "created_at": {"type": "string", "format": "date-time"},
        "revoked": {"type": "boolean"}, "token": {"type": "string", "description": "Only in the answer to a create"}
    }});
    paths.insert("/api/auth/register".into(), json!({"post": {"operationId": "register", "tags": ["auth"], "security": [],
        "requestBody": {"required": true, "content": json_content(new_user)},
        "responses": {"201": {"description": "The new user", "content": json_content(user.clone())}, "400": error_response("Invalid email, username or password"),
                      "403": error_response("Setting a role needs an admin"), "409": error_response("Email or username taken")}}}));
    paths.insert("/api/auth/login".into(), json!({"post": {"operationId": "login", "tags": ["auth"], "security": [],
        "requestBody": {"required": true, "content": json_content(credentials)},
        "responses": {"200": {"description": "A session", "content": json_content(session.clone())}, "401": error_response("Invalid identity or password"),
                      "429": error_response("Too many attempts; see Retry-After")}}}));
    paths.insert("/api/auth/refresh".into(), json!({"post": {"operationId": "refresh", "tags": ["auth"], "security": [],
        "requestBody": {"required": true, "content": json_content(refresh.clone())},
        "responses": {"200": {"description": "A new session; the presented refresh token stops working", "content": json_content(session)},
                      "401": error_response("Invalid, expired or reused refresh token")}}}));
    paths.insert(
        "/api/auth/logout".into(),
        json!({"post": {"operationId": "logout", "tags": ["auth"], "security": [],
        "requestBody": {"required": true, "content": json_content(refresh)},
        "responses": {"204": {"description": "The session ended"}, "401": error_response("Invalid refresh token")}}}),
    );
    paths.insert("/api/auth/me".into(), json!({"get": {"operationId": "me", "tags": ["auth"],
        "responses": {"200": {"description": "The caller", "content": json_content(user)}, "401": error_response("Not signed in")}}}));
    paths.insert("/api/auth/tokens".into(), json!({
        "get": {"operationId": "listApiTokens", "tags": ["auth"], "parameters": [{"name": "all", "in": "query", "schema": {"type": "boolean"}, "description": "Admins: everyone's tokens"}],
                "responses": {"200": {"description": "The caller's API tokens", "content": json_content(json!({"type": "object", "properties": {"items": {"type": "array", "items": token_info.clone()}}}))},
                              "401": error_response("Not signed in")}},
        "post": {"operationId": "createApiToken", "tags": ["auth"],
                 "requestBody": {"required": true, "content": json_content(json!({"type": "object", "required": ["name", "scopes"], "properties": {
                     "name": {"type": "string"}, "scopes": {"type": "array", "items": {"type": "string"}, "description": "read, write, read:<table>, write:<table>, admin"},
                     "expires_at": {"type": "string", "format": "date-time"}}}))},
                 "responses": {"201": {"description": "The token, shown once", "content": json_content(token_info)}, "400": error_response("Invalid name, scopes or expiry"),
                               "401": error_response("Not signed in"), "403": error_response("Scope not grantable")}}
    }));
    paths.insert("/api/auth/tokens/{id}".into(), json!({
        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
        "delete": {"operationId": "revokeApiToken", "tags": ["auth"], "responses": {"204": {"description": "Revoked"}, "404": error_response("No such token")}}
    }));
}

/// `/api/files/...`: downloads of file fields and the short-lived tokens `<img>` tags use.
fn file_paths(paths: &mut Map<String, Value>) {
    let path_param = |name: &str, description: &str| json!({"name": name, "in": "path", "required": true, "description": description, "schema": {"type": "string"}});
    paths.insert("/api/files/token".into(), json!({
        "post": {"operationId": "fileToken", "tags": ["files"], "summary": "A short-lived token for downloads (`?token=`)",
                 "responses": {"200": {"description": "The token", "content": json_content(json!({"type": "object", "properties": {
                     "token": {"type": "string"}, "expires_in": {"type": "integer"}}}))},
                               "401": error_response("Not signed in"), "403": error_response("API tokens cannot mint file tokens")}}
    }));
    paths.insert("/api/files/{table}/{id}/{field}/{name}".into(), json!({
        "parameters": [path_param("table", "Table name or numeric id"), path_param("id", "Row id"),
                       path_param("field", "File field"), path_param("name", "Stored file name, as the row lists it")],
        "get": {"operationId": "downloadFile", "tags": ["files"], "summary": "A stored file, under the row's view rule (Range and If-None-Match supported)",
                "parameters": [
                    query("thumb", "Image thumbnail: `WxH` (crop), `Wx0` or `0xH` (fit); ignored for other files", json!({"type": "string", "pattern": "^[0-9]+x[0-9]+$"})),
                    query("download", "Force `Content-Disposition: attachment`", json!({"type": "boolean"})),
                    query("token", "A file token from POST /api/files/token (for protected files)", json!({"type": "string"}))
                ],
                "responses": {"200": {"description": "The file", "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}},
                              "206": {"description": "The requested byte range"},
                              "304": {"description": "Not modified (If-None-Match)"},
                              "401": error_response("A protected file without credentials"),
                              "404": error_response("No such row, field or file, or the row is hidden"),
                              "416": {"description": "The range lies outside the file"}}}
    }));
}

/// The whole document for the current catalog.
pub fn document(catalog: &Catalog) -> Value {
    let mut paths = Map::new();
    auth_paths(&mut paths);
    file_paths(&mut paths);
    let table_param = json!({"name": "table", "in": "path", "required": true, "description": "Table name or numeric id", "schema": {"type": "string"}});
    let any_object = json!({"type": "object"});
    paths.insert("/health".into(), json!({"get": {"operationId": "health", "tags": ["system"], "responses": {"200": {"description": "Alive and the store answers"}, "503": error_response("The store does not answer")}}}));
    paths.insert("/api/tables".into(), json!({
        "get": {"operationId": "listTables", "tags": ["tables"], "responses": {"200": {"description": "All tables", "content": json_content(any_object.clone())}}},
        "post": {"operationId": "createTable", "tags": ["tables"], "requestBody": {"required": true, "content": json_content(json!({"$ref": "#/components/schemas/TableDefinition"}))},
                 "responses": {"201": {"description": "The new table", "content": json_content(any_object.clone())}, "400": error_response("Invalid name or fields"), "409": error_response("Name taken")}}
    }));
    paths.insert("/api/tables/{table}".into(), json!({
        "parameters": [table_param.clone()],
        "get": {"operationId": "showTable", "tags": ["tables"], "responses": {"200": {"description": "The schema", "content": json_content(any_object.clone())}, "404": error_response("No such table")}},
        "put": {"operationId": "replaceTable", "tags": ["tables"], "parameters": [{"name": "dry_run", "in": "query", "schema": {"type": "boolean"}}],
                "requestBody": {"required": true, "content": json_content(json!({"$ref": "#/components/schemas/TableDefinition"}))},
                "responses": {"200": {"description": "Migration report", "content": json_content(any_object.clone())}, "409": error_response("Existing data does not convert")}},
        "patch": {"operationId": "patchTable", "tags": ["tables"], "parameters": [{"name": "dry_run", "in": "query", "schema": {"type": "boolean"}}],
                  "requestBody": {"required": true, "content": json_content(any_object.clone())},
                  "responses": {"200": {"description": "Migration report", "content": json_content(any_object.clone())}, "409": error_response("Existing data does not convert")}},
        "delete": {"operationId": "dropTable", "tags": ["tables"], "responses": {"204": {"description": "Dropped"}, "404": error_response("No such table")}}
    }));
    paths.insert("/api/tables/{table}/history".into(), json!({
        "parameters": [table_param],
        "get": {"operationId": "tableHistory", "tags": ["tables"], "responses": {"200": {"description": "Every schema version", "content": json_content(any_object)}, "404": error_response("No such table")}}
    }));
    let mut schemas = Map::new();
    schemas.insert(
        "Error".into(),
        json!({
            "type": "object", "required": ["error"],
            "properties": {"error": {"type": "object", "required": ["code", "message", "details"], "properties": {
                "code": {"type": "string"}, "message": {"type": "string"}, "details": {"type": "array", "items": {}}
            }}}
        }),
    );
    schemas.insert("TableDefinition".into(), json!({
        "type": "object", "required": ["fields"],
        "properties": {
            "name": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_]{0,62}$"},
            "fields": {"type": "object", "additionalProperties": {}},
            "owner": {"type": "boolean", "description": "Rows get an owner set to the creating user (default true; create only)"},
            "rules": {"type": "object", "description": "Access rule per action (list, view, create, update, delete)", "additionalProperties": {"type": "string"}}
        }
    }));
    schemas.insert("Session".into(), json!({
        "type": "object", "required": ["access_token", "token_type", "expires_in", "refresh_token", "user"],
        "properties": {"access_token": {"type": "string"}, "token_type": {"type": "string"}, "expires_in": {"type": "integer"},
                       "refresh_token": {"type": "string"}, "user": {"type": "object"}}
    }));
    for table in catalog.tables() {
        let schema = &table.schema;
        table_paths(schema, &mut paths);
        let (row, input) = row_schemas(schema);
        let mut patch = input.clone();
        patch.as_object_mut().expect("object").remove("required");
        schemas.insert(component(&schema.name, Kind::Row), row);
        schemas.insert(component(&schema.name, Kind::Input), input);
        schemas.insert(component(&schema.name, Kind::Patch), patch);
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "tessera", "version": env!("CARGO_PKG_VERSION"), "description": "REST API generated from the live schema."},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "An access token (JWT from /api/auth/login) or an API token (tsk_...)"}}
        },
        // Every operation works anonymously as far as the table's rules allow; a token
        // widens what it may do.
        "security": [{}, {"bearer": []}]
    })
}
