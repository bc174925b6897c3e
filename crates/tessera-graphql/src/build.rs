//! The GraphQL schema of one catalog snapshot, in the naming Hasura made familiar.
//!
//! Root fields resolve in `resolve.rs` (one SQL statement each); every field below them
//! reads its value from the JSON the statement built, by response key.

use crate::model::{Model, OutField, TableModel};
use crate::resolve;
use crate::Limits;
use async_graphql::dynamic::{
    Enum, Field, FieldFuture, FieldValue, InputObject, InputValue, Object, ResolverContext, Scalar, Schema,
    SchemaBuilder, SchemaError, TypeRef,
};
use async_graphql::Value as GqlValue;
use std::sync::Arc;
use tessera_schema::FieldType;

/// The GraphQL type of a column's value.
pub fn scalar_type(field_type: FieldType) -> &'static str {
    match field_type {
        FieldType::Integer | FieldType::Relation => TypeRef::INT,
        FieldType::Float => TypeRef::FLOAT,
        FieldType::Boolean => TypeRef::BOOLEAN,
        FieldType::Decimal => "Decimal",
        FieldType::Date => "Date",
        FieldType::Datetime => "DateTime",
        FieldType::Json => "JSON",
        FieldType::Uuid => "UUID",
        FieldType::String | FieldType::Text | FieldType::Email | FieldType::Url | FieldType::Enum | FieldType::File => {
            TypeRef::STRING
        }
    }
}

/// Scalars that may be summed and averaged.
fn is_numeric(field_type: FieldType) -> bool {
    matches!(field_type, FieldType::Integer | FieldType::Float)
}

/// Scalars with min and max: numbers, texts and dates (decimals and uuids have no
/// aggregate order on both stores).
fn is_ordered(field_type: FieldType) -> bool {
    !matches!(
        field_type,
        FieldType::Boolean
            | FieldType::Json
            | FieldType::Relation
            | FieldType::File
            | FieldType::Decimal
            | FieldType::Uuid
    )
}

/// Reads the field's value from its parent's JSON, by response key (the statement built
/// the JSON with the client's aliases as keys).
pub fn by_response_key(ctx: ResolverContext<'_>) -> FieldFuture<'_> {
    let field = ctx.ctx.field();
    let key = field.alias().unwrap_or_else(|| field.name());
    FieldFuture::Value(child(ctx.parent_value, key))
}

fn child<'a>(parent: &FieldValue<'_>, key: &str) -> Option<FieldValue<'a>> {
    match parent.as_value() {
        Some(GqlValue::Object(map)) => match map.get(key) {
            None | Some(GqlValue::Null) => None,
            Some(value) => Some(FieldValue::value(value.clone())),
        },
        _ => None,
    }
}

/// A root field's resolver for table `base`.
fn root(
    base: &str,
    resolver: fn(ResolverContext<'_>, Arc<str>) -> FieldFuture<'_>,
) -> impl for<'a> Fn(ResolverContext<'a>) -> FieldFuture<'a> + Send + Sync + 'static {
    let base: Arc<str> = Arc::from(base);
    move |ctx| resolver(ctx, base.clone())
}

fn output(name: &str, ty: TypeRef) -> Field {
    Field::new(name, ty, by_response_key)
}

/// Arguments of a field that returns rows.
fn list_arguments(field: Field, base: &str) -> Field {
    field
        .argument(InputValue::new("where", TypeRef::named(format!("{base}_bool_exp"))))
        .argument(InputValue::new("order_by", TypeRef::named_nn_list(format!("{base}_order_by"))))
        .argument(InputValue::new("limit", TypeRef::named(TypeRef::INT)))
        .argument(InputValue::new("offset", TypeRef::named(TypeRef::INT)))
}

/// The whole schema for a catalog snapshot.
pub fn build_schema(model: Arc<Model>, limits: &Limits) -> Result<Schema, SchemaError> {
    let mut query = Object::new("Query");
    let mut mutation = Object::new("Mutation");
    let mut builder = Schema::build("Query", Some("Mutation"), None);
    builder = register_fixed(builder);
    for table in model.tables.values() {
        builder = register_table(builder, table);
        query = add_query_fields(query, table);
        mutation = add_mutation_fields(mutation, table);
    }
    let users = users_base(&model);
    query = query.field(Field::new("me", TypeRef::named(users.as_str()), root(&users, resolve::query)));
    builder = builder.register(auth_payload(&users));
    mutation = add_auth_mutations(mutation, &model);
    builder = builder.register(query).register(mutation);
    builder = builder
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
        .extension(crate::direct::DirectPath);
    if !limits.introspection {
        builder = builder.disable_introspection();
    }
    builder.data(model).finish()
}

/// The object type of the users table.
pub fn users_base(model: &Model) -> String {
    model.tables.values().find(|t| t.table.is_users()).map(|t| t.base.clone()).unwrap_or_else(|| "users".to_string())
}

fn register_fixed(mut builder: SchemaBuilder) -> SchemaBuilder {
    let scalars = [
        ("DateTime", "An instant in UTC, `YYYY-MM-DDTHH:MM:SS.ffffffZ` (RFC 3339 accepted on input)."),
        ("Date", "A calendar date, `YYYY-MM-DD`."),
        ("JSON", "Any JSON value."),
        ("Decimal", "An exact decimal number, as a string so no precision is lost."),
        ("UUID", "A UUID in its canonical text form."),
    ];
    for (name, description) in scalars {
        builder = builder.register(Scalar::new(name).description(description));
    }
    builder = builder.register(
        Object::new("File")
            .description("A stored file: its name and the URL that serves it (`?token=` for protected files).")
            .field(Field::new("name", TypeRef::named_nn(TypeRef::STRING), by_response_key))
            .field(Field::new("url", TypeRef::named_nn(TypeRef::STRING), by_response_key)),
    );
    builder = builder.register(Enum::new("order_by").description("Sort direction, with where nulls go.").items([
        "asc",
        "asc_nulls_first",
        "asc_nulls_last",
        "desc",
        "desc_nulls_first",
        "desc_nulls_last",
    ]));
    for scalar in
        [TypeRef::INT, TypeRef::FLOAT, TypeRef::STRING, TypeRef::BOOLEAN, "DateTime", "Date", "Decimal", "UUID"]
    {
        let mut exp = InputObject::new(format!("{scalar}_comparison_exp"))
            .description(format!("Conditions on a {scalar} value."));
        for op in ["_eq", "_neq", "_gt", "_gte", "_lt", "_lte"] {
            exp = exp.field(InputValue::new(op, TypeRef::named(scalar)));
        }
        exp = exp
            .field(InputValue::new("_in", TypeRef::named_nn_list(scalar)))
            .field(InputValue::new("_nin", TypeRef::named_nn_list(scalar)))
            .field(InputValue::new("_is_null", TypeRef::named(TypeRef::BOOLEAN)));
        if scalar == TypeRef::STRING || scalar == "UUID" {
            for op in ["_like", "_nlike", "_ilike", "_nilike"] {
                exp = exp.field(InputValue::new(op, TypeRef::named(TypeRef::STRING)));
            }
        }
        builder = builder.register(exp);
    }
    builder.register(
        InputObject::new("JSON_comparison_exp")
            .description("JSON values compare only with null.")
            .field(InputValue::new("_is_null", TypeRef::named(TypeRef::BOOLEAN))),
    )
}

/// The comparison input of a column type.
fn comparison_type(field_type: FieldType) -> String {
    format!("{}_comparison_exp", scalar_type(field_type))
}

fn register_table(builder: SchemaBuilder, table: &TableModel) -> SchemaBuilder {
    let base = &table.base;
    let schema = &table.table.schema;
    let mut object = Object::new(base.as_str()).description(format!("A row of table '{}'.", schema.name));
    let mut bool_exp = InputObject::new(format!("{base}_bool_exp"))
        .description(format!("Conditions on rows of '{}'; fields combine with AND.", schema.name))
        .field(InputValue::new("_and", TypeRef::named_nn_list(format!("{base}_bool_exp"))))
        .field(InputValue::new("_or", TypeRef::named_nn_list(format!("{base}_bool_exp"))))
        .field(InputValue::new("_not", TypeRef::named(format!("{base}_bool_exp"))));
    let mut order_by =
        InputObject::new(format!("{base}_order_by")).description("Order of rows: keys apply in the order written.");
    let mut select_column = Enum::new(format!("{base}_select_column"));
    let (mut sum, mut avg, mut min, mut max) = (
        Object::new(format!("{base}_sum_fields")),
        Object::new(format!("{base}_avg_fields")),
        Object::new(format!("{base}_min_fields")),
        Object::new(format!("{base}_max_fields")),
    );
    for (name, field) in &table.fields {
        match field {
            OutField::Column { field_type, .. } => {
                let nullable = !matches!(name.as_str(), "id" | "created_at" | "updated_at");
                let ty = scalar_type(*field_type);
                object = object.field(output(name, if nullable { TypeRef::named(ty) } else { TypeRef::named_nn(ty) }));
                bool_exp = bool_exp.field(InputValue::new(name.as_str(), TypeRef::named(comparison_type(*field_type))));
                if *field_type != FieldType::Json {
                    order_by = order_by.field(InputValue::new(name.as_str(), TypeRef::named("order_by")));
                }
                select_column = select_column.item(name.as_str());
                if is_numeric(*field_type) {
                    sum = sum.field(output(name, TypeRef::named(ty)));
                    avg = avg.field(output(name, TypeRef::named(TypeRef::FLOAT)));
                }
                if is_ordered(*field_type) {
                    min = min.field(output(name, TypeRef::named(ty)));
                    max = max.field(output(name, TypeRef::named(ty)));
                }
            }
            OutField::File { multiple, .. } => {
                let ty = if *multiple { TypeRef::named_nn_list_nn("File") } else { TypeRef::named("File") };
                object = object.field(output(name, ty));
            }
            OutField::LinkIds { .. } => {
                object = object.field(output(name, TypeRef::named_nn_list_nn(TypeRef::INT)));
            }
            OutField::Object { target, .. } => {
                object = object.field(output(name, TypeRef::named(target.as_str())));
                bool_exp = bool_exp.field(InputValue::new(name.as_str(), TypeRef::named(format!("{target}_bool_exp"))));
                order_by = order_by.field(InputValue::new(name.as_str(), TypeRef::named(format!("{target}_order_by"))));
            }
            OutField::Array { target, .. } => {
                let field = output(name, TypeRef::named_nn_list_nn(target.as_str()));
                object = object.field(list_arguments(field, target));
                // Some related row matches.
                bool_exp = bool_exp.field(InputValue::new(name.as_str(), TypeRef::named(format!("{target}_bool_exp"))));
            }
            OutField::Aggregate { target, .. } => {
                let field = output(name, TypeRef::named_nn(format!("{target}_aggregate")));
                object = object.field(list_arguments(field, target));
            }
        }
    }
    let aggregate_fields = Object::new(format!("{base}_aggregate_fields"))
        .field(
            output("count", TypeRef::named_nn(TypeRef::INT))
                .argument(InputValue::new("columns", TypeRef::named_nn_list(format!("{base}_select_column"))))
                .argument(InputValue::new("distinct", TypeRef::named(TypeRef::BOOLEAN))),
        )
        .field(output("sum", TypeRef::named(format!("{base}_sum_fields"))))
        .field(output("avg", TypeRef::named(format!("{base}_avg_fields"))))
        .field(output("min", TypeRef::named(format!("{base}_min_fields"))))
        .field(output("max", TypeRef::named(format!("{base}_max_fields"))));
    let aggregate = Object::new(format!("{base}_aggregate"))
        .field(output("aggregate", TypeRef::named(format!("{base}_aggregate_fields"))))
        .field(output("nodes", TypeRef::named_nn_list_nn(base.as_str())));
    let response = Object::new(format!("{base}_mutation_response"))
        .description("What a mutation changed: how many rows, and those rows as the caller may see them.")
        .field(output("affected_rows", TypeRef::named_nn(TypeRef::INT)))
        .field(output("returning", TypeRef::named_nn_list_nn(base.as_str())));
    let (insert_input, set_input, inc_input) = write_inputs(table);
    let pk = InputObject::new(format!("{base}_pk_columns_input"))
        .field(InputValue::new("id", TypeRef::named_nn(TypeRef::INT)));
    builder
        .register(object)
        .register(bool_exp)
        .register(order_by)
        .register(select_column)
        .register(sum)
        .register(avg)
        .register(min)
        .register(max)
        .register(aggregate_fields)
        .register(aggregate)
        .register(response)
        .register(insert_input)
        .register(set_input)
        .register(inc_input)
        .register(pk)
}

/// The inputs of inserts and updates: a table's writable fields, with the values REST
/// takes (a relation's id, a `multiple` relation's list of ids). Files are uploaded through
/// REST, not GraphQL.
fn write_inputs(table: &TableModel) -> (InputObject, InputObject, InputObject) {
    let base = &table.base;
    let mut insert = InputObject::new(format!("{base}_insert_input"));
    let mut set = InputObject::new(format!("{base}_set_input"));
    let mut inc = InputObject::new(format!("{base}_inc_input"))
        .description("Amounts to add to numeric fields.")
        // An input object needs a field even when the table has no numeric one.
        .field(InputValue::new("id", TypeRef::named(TypeRef::INT)).description("Ignored; numbers only."));
    for (name, def) in &table.table.schema.fields {
        if def.field_type == FieldType::File || (def.hidden && !table.table.is_users()) {
            continue;
        }
        let ty = match def.field_type {
            FieldType::Relation if def.multiple => TypeRef::named_nn_list(TypeRef::INT),
            other => TypeRef::named(scalar_type(other)),
        };
        insert = insert.field(InputValue::new(name.as_str(), ty.clone()));
        set = set.field(InputValue::new(name.as_str(), ty));
        if is_numeric(def.field_type) {
            inc = inc.field(InputValue::new(name.as_str(), TypeRef::named(scalar_type(def.field_type))));
        }
    }
    (insert, set, inc)
}

fn add_query_fields(query: Object, table: &TableModel) -> Object {
    let base = table.base.clone();
    let name = table.table.schema.name.clone();
    query
        .field(
            list_arguments(
                Field::new(base.as_str(), TypeRef::named_nn_list(base.as_str()), root(&base, resolve::query)),
                &base,
            )
            .description(format!("Rows of '{name}' the caller may list.")),
        )
        .field(
            Field::new(format!("{base}_by_pk"), TypeRef::named(base.as_str()), root(&base, resolve::query))
                .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::INT)))
                .description(format!("One row of '{name}' by id, or null.")),
        )
        .field(
            list_arguments(
                Field::new(
                    format!("{base}_aggregate"),
                    TypeRef::named(format!("{base}_aggregate")),
                    root(&base, resolve::query),
                ),
                &base,
            )
            .description(format!("Aggregates over rows of '{name}'.")),
        )
}

fn add_mutation_fields(mutation: Object, table: &TableModel) -> Object {
    let base = table.base.clone();
    let response = format!("{base}_mutation_response");
    mutation
        .field(
            Field::new(format!("insert_{base}"), TypeRef::named(response.as_str()), root(&base, resolve::insert))
                .argument(InputValue::new("objects", TypeRef::named_nn_list_nn(format!("{base}_insert_input")))),
        )
        .field(
            Field::new(format!("insert_{base}_one"), TypeRef::named(base.as_str()), root(&base, resolve::insert_one))
                .argument(InputValue::new("object", TypeRef::named_nn(format!("{base}_insert_input")))),
        )
        .field(
            Field::new(format!("update_{base}"), TypeRef::named(response.as_str()), root(&base, resolve::update))
                .argument(InputValue::new("where", TypeRef::named_nn(format!("{base}_bool_exp"))))
                .argument(InputValue::new("_set", TypeRef::named(format!("{base}_set_input"))))
                .argument(InputValue::new("_inc", TypeRef::named(format!("{base}_inc_input")))),
        )
        .field(
            Field::new(
                format!("update_{base}_by_pk"),
                TypeRef::named(base.as_str()),
                root(&base, resolve::update_by_pk),
            )
            .argument(InputValue::new("pk_columns", TypeRef::named_nn(format!("{base}_pk_columns_input"))))
            .argument(InputValue::new("_set", TypeRef::named(format!("{base}_set_input"))))
            .argument(InputValue::new("_inc", TypeRef::named(format!("{base}_inc_input")))),
        )
        .field(
            Field::new(format!("delete_{base}"), TypeRef::named(response.as_str()), root(&base, resolve::delete))
                .argument(InputValue::new("where", TypeRef::named_nn(format!("{base}_bool_exp")))),
        )
        .field(
            Field::new(
                format!("delete_{base}_by_pk"),
                TypeRef::named(base.as_str()),
                root(&base, resolve::delete_by_pk),
            )
            .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::INT))),
        )
}

fn add_auth_mutations(mutation: Object, model: &Model) -> Object {
    let users = users_base(model);
    let payload = "AuthPayload";
    mutation
        .field(
            Field::new("register", TypeRef::named(users.as_str()), root(&users, resolve::register))
                .argument(InputValue::new("object", TypeRef::named_nn(format!("{users}_insert_input"))))
                .description("Creates a user (the users table's create rule applies); log in next."),
        )
        .field(
            Field::new("login", TypeRef::named(payload), root(&users, resolve::login))
                .argument(InputValue::new("identity", TypeRef::named_nn(TypeRef::STRING)))
                .argument(InputValue::new("password", TypeRef::named_nn(TypeRef::STRING))),
        )
        .field(
            Field::new("refresh", TypeRef::named(payload), root(&users, resolve::refresh))
                .argument(InputValue::new("refresh_token", TypeRef::named_nn(TypeRef::STRING))),
        )
        .field(
            Field::new("logout", TypeRef::named(TypeRef::BOOLEAN), root(&users, resolve::logout))
                .argument(InputValue::new("refresh_token", TypeRef::named_nn(TypeRef::STRING))),
        )
}

/// The tokens of a login or refresh, as REST returns them.
pub fn auth_payload(users: &str) -> Object {
    Object::new("AuthPayload")
        .field(output("access_token", TypeRef::named_nn(TypeRef::STRING)))
        .field(output("token_type", TypeRef::named_nn(TypeRef::STRING)))
        .field(output("expires_in", TypeRef::named_nn(TypeRef::INT)))
        .field(output("refresh_token", TypeRef::named_nn(TypeRef::STRING)))
        .field(output("user", TypeRef::named_nn(users)))
}
