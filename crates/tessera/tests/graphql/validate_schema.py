#!/usr/bin/env python3
"""tessera's GraphQL API as a third-party client sees it, checked with graphql-core
(PyPI `graphql-core`, the Python port of the reference implementation GraphQL.js).

    TESSERA_TOKEN=<admin access token> python3 validate_schema.py http://127.0.0.1:8000

The server must hold the model graphql_clients.rs creates over REST, with no rows in
`zoos` and `animals` yet:
    zoos      {name string, city string}
    animals   {name string, age integer, zoo relation -> zoos}
    specimens {label string (required), price decimal, born date, seen_at datetime,
               meta json, tag uuid, alive boolean, weight float,
               kind enum (mammal, bird, fish), visited relation -> zoos (multiple),
               photo file}, with one row labelled "with-photo" holding a photo.

What it checks:
  1. the standard introspection query (graphql-core's get_introspection_query(), and the
     same with every optional part asked for) answers without errors, and
     build_client_schema() + validate_schema() accept the result;
  2. GET /graphql/schema.graphql builds with build_schema(), is a valid schema, and
     prints the same as the introspected schema (both lexicographically sorted);
  3. the schema has the names a Hasura client expects for this model, with the right
     types (relations, reverse relations, aggregates, mutations, auth, custom scalars);
  4. realistic documents (nested queries, where/order_by through relations, aggregates,
     every mutation, the auth mutations, fragments, variables, aliases) pass validate()
     against the introspected schema, and EXECUTE on the server without errors; each
     answer is checked against the document and the schema (every selected key present,
     no other key, nulls only where the type allows, scalar values of the right kind and
     format) and against the data the documents wrote;
  5. invalid documents are rejected by graphql-core (parse or validate) AND by the server
     (an `errors` list, no data).

Exit: 0 when every check passes; 1 with every failure on stderr; 2 on bad usage or a
missing graphql-core.
"""

import difflib
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from decimal import Decimal

try:
    from graphql import (
        GraphQLEnumType,
        GraphQLError,
        GraphQLList,
        GraphQLNonNull,
        GraphQLObjectType,
        GraphQLScalarType,
        build_client_schema,
        build_schema,
        get_introspection_query,
        lexicographic_sort_schema,
        parse,
        print_schema,
        validate,
        validate_schema,
    )
    from graphql.language import FieldNode, FragmentSpreadNode, InlineFragmentNode, OperationDefinitionNode
except ImportError as error:  # pragma: no cover - depends on the machine
    print(f"validate_schema.py: graphql-core is needed (python3 -m pip install graphql-core): {error}", file=sys.stderr)
    sys.exit(2)


FAILURES = []


def fail(message):
    FAILURES.append(message)
    print(f"FAIL: {message}", file=sys.stderr)


def ok(message):
    print(f"ok: {message}")


class Abort(Exception):
    """A failure after which the later checks cannot run."""


# ---------------------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------------------

BASE = ""
ADMIN = ""
TIMEOUT = 60


def http(method, path, body=None, token=None, accept="application/json"):
    """(status, content type, text) of one request."""
    data = None
    headers = {"Accept": accept}
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(BASE + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, response.headers.get("content-type", ""), response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("content-type", ""), error.read().decode(errors="replace")


def graphql_post(query, variables=None, operation_name=None, token="admin"):
    """POSTs a GraphQL request; returns (HTTP status, parsed JSON or None, raw text)."""
    token = ADMIN if token == "admin" else token
    body = {"query": query}
    if variables is not None:
        body["variables"] = variables
    if operation_name is not None:
        body["operationName"] = operation_name
    status, _, text = http("POST", "/graphql", body, token)
    try:
        return status, json.loads(text), text
    except ValueError:
        return status, None, text


# ---------------------------------------------------------------------------------------
# Answers checked against the document and the schema
# ---------------------------------------------------------------------------------------

DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")


def check_scalar(type_, value, path, problems):
    name = type_.name
    if name == "Int":
        good = isinstance(value, int) and not isinstance(value, bool) and -(2**31) <= value < 2**31
    elif name == "Float":
        good = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif name in ("String", "ID"):
        good = isinstance(value, str)
    elif name == "Boolean":
        good = isinstance(value, bool)
    elif name == "DateTime":
        good = isinstance(value, str) and DATETIME.match(value)
    elif name == "Date":
        good = isinstance(value, str) and DATE.match(value)
    elif name == "UUID":
        good = isinstance(value, str) and UUID.match(value)
    elif name == "Decimal":
        good = isinstance(value, str) and DECIMAL.match(value)
    elif name == "JSON":
        good = True
    else:
        good = True
    if not good:
        problems.append(f"{path}: {json.dumps(value)} is not a valid {name}")


def check_value(type_, value, selection_set, path, fragments, problems):
    if isinstance(type_, GraphQLNonNull):
        if value is None:
            problems.append(f"{path}: null for the non-null type {type_}")
            return
        type_ = type_.of_type
    if value is None:
        return
    if isinstance(type_, GraphQLList):
        if not isinstance(value, list):
            problems.append(f"{path}: {type(value).__name__} where the type is the list {type_}")
            return
        for index, item in enumerate(value):
            check_value(type_.of_type, item, selection_set, f"{path}[{index}]", fragments, problems)
    elif isinstance(type_, GraphQLScalarType):
        check_scalar(type_, value, path, problems)
    elif isinstance(type_, GraphQLEnumType):
        if value not in type_.values:
            problems.append(f"{path}: {value!r} is not a value of the enum {type_.name}")
    elif isinstance(type_, GraphQLObjectType):
        if not isinstance(value, dict):
            problems.append(f"{path}: {type(value).__name__} where the type is the object {type_.name}")
            return
        check_object(type_, value, selection_set, path, fragments, problems)


def collect_fields(type_, selection_set, fragments, out):
    """The fields a selection set asks of an object type, by response key, in order."""
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            key = (selection.alias or selection.name).value
            out.setdefault(key, []).append(selection)
        elif isinstance(selection, InlineFragmentNode):
            if selection.type_condition is None or selection.type_condition.name.value == type_.name:
                collect_fields(type_, selection.selection_set, fragments, out)
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments[selection.name.value]
            if fragment.type_condition.name.value == type_.name:
                collect_fields(type_, fragment.selection_set, fragments, out)
    return out


def check_object(type_, value, selection_set, path, fragments, problems):
    fields = collect_fields(type_, selection_set, fragments, {})
    if list(value.keys()) != list(fields.keys()):
        problems.append(f"{path}: keys {list(value.keys())}, the selection asks {list(fields.keys())} (in this order)")
    for key, nodes in fields.items():
        if key not in value:
            continue
        name = nodes[0].name.value
        if name == "__typename":
            if value[key] != type_.name:
                problems.append(f"{path}.{key}: __typename {value[key]!r}, expected {type_.name!r}")
            continue
        definition = type_.fields.get(name)
        if definition is None:
            problems.append(f"{path}.{key}: {type_.name} has no field {name}")
            continue
        merged = None
        for node in nodes:
            if node.selection_set is not None:
                if merged is None:
                    merged = node.selection_set
                else:
                    merged = type(merged)(selections=tuple(merged.selections) + tuple(node.selection_set.selections))
        check_value(definition.type, value[key], merged, f"{path}.{key}", fragments, problems)


def check_answer(schema, document, answer, operation_name=None):
    """Problems of an answer's `data` against the document and the schema."""
    fragments = {d.name.value: d for d in document.definitions if d.kind == "fragment_definition"}
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    operation = operations[0]
    root = schema.mutation_type if operation.operation.value == "mutation" else schema.query_type
    problems = []
    check_object(root, answer["data"], operation.selection_set, "data", fragments, problems)
    return problems


# ---------------------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------------------


def introspect(query, what):
    status, answer, text = graphql_post(query)
    if status != 200 or answer is None or answer.get("errors") or not (answer.get("data") or {}).get("__schema"):
        raise Abort(f"{what}: POST /graphql answered {status}: {text[:2000]}")
    try:
        schema = build_client_schema(answer["data"])
    except Exception as error:  # graphql-core raises TypeError/GraphQLError on bad results
        raise Abort(f"{what}: build_client_schema() refused the result: {error}")
    errors = validate_schema(schema)
    if errors:
        raise Abort(f"{what}: the introspected schema is not valid: " + "; ".join(e.message for e in errors))
    ok(f"{what}: answered, built with build_client_schema(), valid ({len(schema.type_map)} types)")
    return schema


def sorted_sdl(schema):
    return print_schema(lexicographic_sort_schema(schema))


def compare_sdl(left, right, left_name, right_name):
    a, b = sorted_sdl(left), sorted_sdl(right)
    if a == b:
        return True
    diff = "".join(
        list(difflib.unified_diff(a.splitlines(True), b.splitlines(True), left_name, right_name, n=2))[:120]
    )
    fail(f"{left_name} and {right_name} differ (sorted, printed by graphql-core):\n{diff}")
    return False


def check_sdl(client_schema):
    status, content_type, sdl = http("GET", "/graphql/schema.graphql", accept="*/*")
    if status != 200:
        fail(f"GET /graphql/schema.graphql answered {status}: {sdl[:500]}")
        return
    if not content_type.startswith("text/"):
        fail(f"GET /graphql/schema.graphql has content type {content_type!r}")
    try:
        sdl_schema = build_schema(sdl)
    except GraphQLError as error:
        fail(f"build_schema() refused the SDL of /graphql/schema.graphql: {error}")
        return
    errors = validate_schema(sdl_schema)
    if errors:
        fail("the SDL of /graphql/schema.graphql is not a valid schema: " + "; ".join(e.message for e in errors))
        return
    ok("GET /graphql/schema.graphql builds with build_schema() and is valid")
    if compare_sdl(client_schema, sdl_schema, "introspection", "schema.graphql"):
        ok("the SDL and the introspection describe the same schema")


def field_type(schema, type_name, field_name):
    type_ = schema.type_map.get(type_name)
    if type_ is None or not hasattr(type_, "fields"):
        return None
    field = type_.fields.get(field_name)
    return None if field is None else str(field.type)


def argument_types(schema, type_name, field_name):
    field = schema.type_map[type_name].fields.get(field_name)
    return {} if field is None else {name: str(arg.type) for name, arg in field.args.items()}


def check_names(schema):
    """The names and types a Hasura client expects for the model."""
    expected = {
        ("animals", "id"): "Int!",
        ("animals", "name"): "String",
        ("animals", "age"): "Int",
        ("animals", "zoo"): "zoos",
        ("animals", "zoo_id"): "Int",
        ("animals", "created_at"): "DateTime!",
        ("animals", "updated_at"): "DateTime!",
        ("zoos", "name"): "String",
        ("zoos", "city"): "String",
        ("zoos", "animals"): "[animals!]!",
        ("zoos", "animals_aggregate"): "animals_aggregate!",
        ("zoos", "specimens"): "[specimens!]!",
        ("specimens", "label"): "String",
        ("specimens", "price"): "Decimal",
        ("specimens", "born"): "Date",
        ("specimens", "seen_at"): "DateTime",
        ("specimens", "meta"): "JSON",
        ("specimens", "tag"): "UUID",
        ("specimens", "alive"): "Boolean",
        ("specimens", "weight"): "Float",
        ("specimens", "kind"): "String",
        ("specimens", "visited"): "[zoos!]!",
        ("specimens", "visited_ids"): "[Int!]!",
        ("specimens", "visited_aggregate"): "zoos_aggregate!",
        ("specimens", "photo"): "File",
        ("File", "name"): "String!",
        ("File", "url"): "String!",
        ("animals_aggregate", "aggregate"): "animals_aggregate_fields",
        ("animals_aggregate", "nodes"): "[animals!]!",
        ("animals_aggregate_fields", "count"): "Int!",
        ("animals_aggregate_fields", "sum"): "animals_sum_fields",
        ("animals_aggregate_fields", "avg"): "animals_avg_fields",
        ("animals_aggregate_fields", "min"): "animals_min_fields",
        ("animals_aggregate_fields", "max"): "animals_max_fields",
        ("animals_sum_fields", "age"): "Int",
        ("animals_avg_fields", "age"): "Float",
        ("animals_mutation_response", "affected_rows"): "Int!",
        ("animals_mutation_response", "returning"): "[animals!]!",
        ("AuthPayload", "access_token"): "String!",
        ("AuthPayload", "refresh_token"): "String!",
        ("AuthPayload", "user"): "users!",
    }
    query = schema.query_type.name
    mutation = schema.mutation_type.name if schema.mutation_type else None
    if mutation is None:
        fail("the schema has no mutation type")
        return
    for table in ["zoos", "animals", "specimens", "users"]:
        # Root fields are nullable (unlike Hasura's): one failing root field is null
        # beside its error and leaves the others' answers in place.
        expected[(query, table)] = f"[{table}!]"
        expected[(query, f"{table}_by_pk")] = table
        expected[(query, f"{table}_aggregate")] = f"{table}_aggregate"
        for prefix in ["insert_", "update_", "delete_"]:
            expected[(mutation, f"{prefix}{table}")] = f"{table}_mutation_response"
        expected[(mutation, f"insert_{table}_one")] = table
        expected[(mutation, f"update_{table}_by_pk")] = table
        expected[(mutation, f"delete_{table}_by_pk")] = table
    expected[(query, "me")] = "users"
    expected[(mutation, "register")] = "users"
    expected[(mutation, "login")] = "AuthPayload"
    expected[(mutation, "refresh")] = "AuthPayload"
    expected[(mutation, "logout")] = "Boolean"
    wrong = []
    for (type_name, field_name), want in expected.items():
        got = field_type(schema, type_name, field_name)
        if got != want:
            wrong.append(f"{type_name}.{field_name}: {got or 'missing'}, expected {want}")
    arguments = {
        (query, "animals"): {
            "where": "animals_bool_exp",
            "order_by": "[animals_order_by!]",
            "limit": "Int",
            "offset": "Int",
        },
        (query, "animals_by_pk"): {"id": "Int!"},
        (mutation, "insert_animals"): {"objects": "[animals_insert_input!]!"},
        (mutation, "insert_animals_one"): {"object": "animals_insert_input!"},
        (mutation, "update_animals"): {
            "where": "animals_bool_exp!",
            "_set": "animals_set_input",
            "_inc": "animals_inc_input",
        },
        (mutation, "update_animals_by_pk"): {
            "pk_columns": "animals_pk_columns_input!",
            "_set": "animals_set_input",
            "_inc": "animals_inc_input",
        },
        (mutation, "delete_animals"): {"where": "animals_bool_exp!"},
        (mutation, "delete_animals_by_pk"): {"id": "Int!"},
        (mutation, "register"): {"object": "users_insert_input!"},
        (mutation, "login"): {"identity": "String!", "password": "String!"},
        (mutation, "refresh"): {"refresh_token": "String!"},
        (mutation, "logout"): {"refresh_token": "String!"},
    }
    for (type_name, field_name), want in arguments.items():
        got = argument_types(schema, type_name, field_name)
        if got != want:
            wrong.append(f"arguments of {type_name}.{field_name}: {got}, expected {want}")
    for scalar in ["DateTime", "Date", "JSON", "Decimal", "UUID"]:
        if not isinstance(schema.type_map.get(scalar), GraphQLScalarType):
            wrong.append(f"the custom scalar {scalar} is missing")
    # Inputs reach through relations: where and order_by on animals take the zoo's.
    for type_name, field_name, want in [
        ("animals_bool_exp", "zoo", "zoos_bool_exp"),
        ("animals_order_by", "zoo", "zoos_order_by"),
        ("animals_bool_exp", "_and", "[animals_bool_exp!]"),
        ("animals_bool_exp", "_not", "animals_bool_exp"),
        ("specimens_bool_exp", "price", "Decimal_comparison_exp"),
        ("specimens_bool_exp", "tag", "UUID_comparison_exp"),
        ("specimens_bool_exp", "meta", "JSON_comparison_exp"),
        ("specimens_insert_input", "visited", "[Int!]"),
        ("animals_insert_input", "zoo", "Int"),
        ("animals_pk_columns_input", "id", "Int!"),
    ]:
        input_type = schema.type_map.get(type_name)
        got = str(input_type.fields[field_name].type) if input_type and field_name in input_type.fields else None
        if got != want:
            wrong.append(f"{type_name}.{field_name}: {got or 'missing'}, expected {want}")
    if wrong:
        fail("the schema does not have the expected names and types:\n  " + "\n  ".join(wrong))
    else:
        ok(f"the schema has the {len(expected) + len(arguments)} expected root fields, types and arguments")


class Documents:
    """Runs valid documents: graphql-core validates, the server executes, the answer is
    checked; keeps what later documents need (ids, tokens)."""

    def __init__(self, schema):
        self.schema = schema
        self.count = 0

    def run(self, name, source, variables=None, token="admin", operation_name=None, expect=None, via_get=False):
        """Returns the answer's data (None on failure). `expect(data)` returns a problem
        string or None."""
        self.count += 1
        try:
            document = parse(source)
        except GraphQLError as error:
            fail(f"[{name}] graphql-core cannot parse the document: {error}")
            return None
        errors = validate(self.schema, document)
        if errors:
            fail(f"[{name}] graphql-core's validate() refuses the document: " + "; ".join(e.message for e in errors))
            return None
        if via_get:
            params = {"query": source}
            if variables is not None:
                params["variables"] = json.dumps(variables)
            status, _, text = http("GET", "/graphql?" + urllib.parse.urlencode(params), token=ADMIN)
            try:
                answer = json.loads(text)
            except ValueError:
                answer = None
        else:
            status, answer, text = graphql_post(source, variables, operation_name, token)
        if status != 200 or answer is None:
            fail(f"[{name}] the server answered {status}: {text[:1000]}")
            return None
        if answer.get("errors"):
            fail(f"[{name}] the server answered errors: {json.dumps(answer['errors'])[:1500]}")
            return None
        if not isinstance(answer.get("data"), dict):
            fail(f"[{name}] the answer has no data: {text[:1000]}")
            return None
        passed = True
        problems = check_answer(self.schema, document, answer, operation_name)
        if problems:
            fail(f"[{name}] the answer does not match the document and the schema:\n  " + "\n  ".join(problems[:20]))
            passed = False
        if expect is not None:
            try:
                problem = expect(answer["data"])
            except Exception as error:  # a shape the expectation did not foresee
                problem = f"{type(error).__name__}: {error}"
            if problem:
                fail(f"[{name}] unexpected data: {problem}\n  answer: {json.dumps(answer['data'])[:1500]}")
                passed = False
        if not passed:
            return None
        ok(f"[{name}] valid for graphql-core, executed without errors")
        return answer["data"]

    def error(self, name, source, variables=None, token="admin", code=None):
        """A document graphql-core accepts whose execution must fail on the server (an
        error with a path, the field null)."""
        self.count += 1
        document = parse(source)
        errors = validate(self.schema, document)
        if errors:
            fail(f"[{name}] graphql-core's validate() refuses the document: " + "; ".join(e.message for e in errors))
            return
        status, answer, text = graphql_post(source, variables, None, token)
        if answer is None or not answer.get("errors"):
            fail(f"[{name}] expected an error from the server, got {status}: {text[:1000]}")
            return
        if code is not None and not any((e.get("extensions") or {}).get("code") == code for e in answer["errors"]):
            fail(f"[{name}] expected an error with extensions.code {code!r}, got {json.dumps(answer['errors'])}")
            return
        ok(f"[{name}] valid for graphql-core, refused by the server as it should be")


def expect_equal(want):
    def check(data):
        return None if data == want else f"expected {json.dumps(want)}"

    return check


def run_documents(schema):
    docs = Documents(schema)

    # --- Mutations that build the data the queries read ---------------------------------
    data = docs.run(
        "insert_zoos",
        """mutation AddZoos($zoos: [zoos_insert_input!]!) {
             insert_zoos(objects: $zoos) { affected_rows returning { id name city } }
           }""",
        {
            "zoos": [
                {"name": "Berlin Zoo", "city": "Berlin"},
                {"name": "Tierpark", "city": "Berlin"},
                {"name": "Bioparco", "city": "Rome"},
            ]
        },
        expect=lambda d: None
        if d["insert_zoos"]["affected_rows"] == 3
        and [z["name"] for z in d["insert_zoos"]["returning"]] == ["Berlin Zoo", "Tierpark", "Bioparco"]
        else "three zoos, returned in insertion order",
    )
    if data is None:
        raise Abort("the zoos could not be inserted: the later documents need them")
    zoo = {z["name"]: z["id"] for z in data["insert_zoos"]["returning"]}

    data = docs.run(
        "insert_animals",
        """mutation AddAnimals($animals: [animals_insert_input!]!) {
             insert_animals(objects: $animals) {
               affected_rows
               returning { id name age zoo_id zoo { name } }
             }
           }""",
        {
            "animals": [
                {"name": "Leo", "age": 7, "zoo": zoo["Berlin Zoo"]},
                {"name": "Mia", "age": 3, "zoo": zoo["Berlin Zoo"]},
                {"name": "Kit", "age": 12, "zoo": zoo["Tierpark"]},
                {"name": "Temp", "age": 99, "zoo": zoo["Bioparco"]},
            ]
        },
        expect=lambda d: None
        if d["insert_animals"]["affected_rows"] == 4
        and [(a["name"], a["zoo"]["name"]) for a in d["insert_animals"]["returning"]]
        == [("Leo", "Berlin Zoo"), ("Mia", "Berlin Zoo"), ("Kit", "Tierpark"), ("Temp", "Bioparco")]
        else "four animals with their zoos",
    )
    if data is None:
        raise Abort("the animals could not be inserted: the later documents need them")
    animal = {a["name"]: a["id"] for a in data["insert_animals"]["returning"]}

    data = docs.run(
        "insert_animals_one",
        """mutation AddOne($zoo: Int!) {
             insert_animals_one(object: {name: "Ugo", age: 5, zoo: $zoo}) { id name age zoo_id }
           }""",
        {"zoo": zoo["Bioparco"]},
        expect=lambda d: None
        if d["insert_animals_one"]["name"] == "Ugo" and d["insert_animals_one"]["zoo_id"] == zoo["Bioparco"]
        else "Ugo in Bioparco",
    )
    if data:
        animal["Ugo"] = data["insert_animals_one"]["id"]

    # --- Queries ------------------------------------------------------------------------
    def nested(d):
        got = [
            (z["name"], [(a["name"], a["zoo"]["name"]) for a in z["animals"]], z["animals_aggregate"]["aggregate"]["count"])
            for z in d["zoos"]
        ]
        want = [
            ("Berlin Zoo", [("Leo", "Berlin Zoo"), ("Mia", "Berlin Zoo")], 2),
            ("Bioparco", [("Temp", "Bioparco"), ("Ugo", "Bioparco")], 2),
            ("Tierpark", [("Kit", "Tierpark")], 1),
        ]
        return None if got == want else f"expected {want}, got {got}"

    docs.run(
        "three levels: zoos -> animals -> zoo",
        """query ZoosWithAnimals {
             zoos(order_by: {name: asc}) {
               id name city
               animals(order_by: [{name: asc}]) {
                 id name age
                 zoo { id name city }
               }
               animals_aggregate { aggregate { count } }
             }
           }""",
        expect=nested,
    )
    docs.run(
        "where and order_by through the relation",
        """query AnimalsInCity($city: String!) {
             animals(
               where: {zoo: {city: {_eq: $city}}, age: {_lt: 50}}
               order_by: [{zoo: {name: desc}}, {age: asc}]
               limit: 10
               offset: 0
             ) { name zoo { name } }
           }""",
        {"city": "Berlin"},
        expect=expect_equal(
            {
                "animals": [
                    {"name": "Kit", "zoo": {"name": "Tierpark"}},
                    {"name": "Mia", "zoo": {"name": "Berlin Zoo"}},
                    {"name": "Leo", "zoo": {"name": "Berlin Zoo"}},
                ]
            }
        ),
    )
    docs.run(
        "_or, _not, _in, _ilike, _is_null",
        """{
             animals(
               where: {_or: [{name: {_ilike: "l%"}}, {age: {_in: [12]}}], _not: {zoo_id: {_is_null: true}}}
               order_by: {name: asc}
             ) { name }
           }""",
        expect=expect_equal({"animals": [{"name": "Kit"}, {"name": "Leo"}]}),
    )
    docs.run(
        "aggregates with a where through the relation",
        """query Stats {
             animals_aggregate(where: {zoo: {city: {_eq: "Berlin"}}}) {
               aggregate {
                 count
                 zoos: count(columns: [zoo_id], distinct: true)
                 sum { age } avg { age } min { age name } max { age name }
               }
               nodes { name }
             }
           }""",
        expect=lambda d: None
        if d["animals_aggregate"]["aggregate"]["count"] == 3
        and d["animals_aggregate"]["aggregate"]["zoos"] == 2
        and d["animals_aggregate"]["aggregate"]["sum"]["age"] == 22
        and abs(d["animals_aggregate"]["aggregate"]["avg"]["age"] - 22 / 3) < 1e-9
        and d["animals_aggregate"]["aggregate"]["min"] == {"age": 3, "name": "Kit"}
        and d["animals_aggregate"]["aggregate"]["max"] == {"age": 12, "name": "Mia"}
        and sorted(n["name"] for n in d["animals_aggregate"]["nodes"]) == ["Kit", "Leo", "Mia"]
        else "count 3, 2 distinct zoos, sum 22, avg 7.33, min {3, Kit}, max {12, Mia}, nodes Kit Leo Mia",
    )
    docs.run(
        "reverse aggregate per zoo, with arguments",
        """{
             zoos(where: {city: {_eq: "Berlin"}}, order_by: {name: asc}) {
               name
               old: animals_aggregate(where: {age: {_gt: 4}}) { aggregate { count max { age } } }
             }
           }""",
        expect=expect_equal(
            {
                "zoos": [
                    {"name": "Berlin Zoo", "old": {"aggregate": {"count": 1, "max": {"age": 7}}}},
                    {"name": "Tierpark", "old": {"aggregate": {"count": 1, "max": {"age": 12}}}},
                ]
            }
        ),
    )
    docs.run(
        "by_pk, fragments, aliases, __typename",
        """query One($id: Int!) {
             leo: animals_by_pk(id: $id) { ...Bits zoo { __typename name animals(order_by: {name: asc}) { ...Bits } } }
             nobody: animals_by_pk(id: 999999) { id }
           }
           fragment Bits on animals { __typename id name }""",
        {"id": animal["Leo"]},
        expect=lambda d: None
        if d["leo"]["name"] == "Leo"
        and d["leo"]["zoo"]["__typename"] == "zoos"
        and [a["name"] for a in d["leo"]["zoo"]["animals"]] == ["Leo", "Mia"]
        and d["nobody"] is None
        else "Leo in Berlin Zoo with Leo and Mia; null for a missing id",
    )
    docs.run(
        "several operations, one chosen by operationName",
        """query First { zoos(limit: 1, order_by: {name: asc}) { name } }
           query Second { zoos(limit: 1, offset: 1, order_by: {name: asc}) { name } }""",
        operation_name="Second",
        expect=expect_equal({"zoos": [{"name": "Bioparco"}]}),
    )
    docs.run(
        "a query sent with GET",
        "query ($n: Int) { zoos(order_by: {name: desc}, limit: $n) { name } }",
        {"n": 1},
        via_get=True,
        expect=expect_equal({"zoos": [{"name": "Tierpark"}]}),
    )
    docs.run(
        "me (the admin)",
        "{ me { id email } }",
        expect=lambda d: None if d["me"] and "@" in (d["me"]["email"] or "") else "the admin's row",
    )

    # --- Every column type ----------------------------------------------------------------
    tag = "0b5a8a4e-6f3c-4c1e-9d7a-2f1e8c9b7a61"
    specimen = {
        "label": "all-types",
        "price": "12.50",
        "born": "2020-02-29",
        "seen_at": "2024-05-01T12:30:00Z",
        "meta": {"colors": ["red", "green"], "n": 2, "ok": True},
        "tag": tag,
        "alive": True,
        "weight": 1.5,
        "kind": "bird",
        "visited": [zoo["Berlin Zoo"], zoo["Bioparco"]],
    }

    def round_trip(d):
        row = d["insert_specimens_one"]
        problems = []
        if Decimal(row["price"]) != Decimal("12.50"):
            problems.append(f"price {row['price']!r}")
        if row["born"] != "2020-02-29":
            problems.append(f"born {row['born']!r}")
        if not row["seen_at"].startswith("2024-05-01T12:30:00"):
            problems.append(f"seen_at {row['seen_at']!r}")
        for key in ["meta", "tag", "alive", "weight", "kind", "label"]:
            if row[key] != specimen[key]:
                problems.append(f"{key} {row[key]!r}")
        if sorted(row["visited_ids"]) != sorted(specimen["visited"]):
            problems.append(f"visited_ids {row['visited_ids']}")
        if sorted(z["name"] for z in row["visited"]) != ["Berlin Zoo", "Bioparco"]:
            problems.append(f"visited {row['visited']}")
        if row["photo"] is not None:
            problems.append(f"photo {row['photo']} (none was uploaded)")
        return "; ".join(problems) or None

    data = docs.run(
        "insert_specimens_one with every column type",
        """mutation AddSpecimen($object: specimens_insert_input!) {
             insert_specimens_one(object: $object) {
               id label price born seen_at meta tag alive weight kind visited_ids
               visited(order_by: {name: asc}) { name }
               photo { name url }
             }
           }""",
        {"object": specimen},
        expect=round_trip,
    )
    specimen_id = data["insert_specimens_one"]["id"] if data else None

    docs.run(
        "where on every comparable type",
        """query Typed($tag: UUID!) {
             specimens(where: {
               price: {_gte: "10", _lt: "12.51"}
               born: {_lt: "2021-01-01"}
               seen_at: {_gt: "2024-01-01T00:00:00Z"}
               tag: {_eq: $tag}
               alive: {_eq: true}
               weight: {_lte: 2}
               kind: {_in: ["bird", "fish"]}
               meta: {_is_null: false}
               visited: {name: {_eq: "Bioparco"}}
             }) { label }
           }""",
        {"tag": tag},
        expect=expect_equal({"specimens": [{"label": "all-types"}]}),
    )
    docs.run(
        "aggregates of every ordered type",
        """{
             specimens_aggregate(where: {label: {_eq: "all-types"}}) {
               aggregate {
                 count
                 sum { weight } avg { weight }
                 min { born seen_at kind } max { born seen_at label }
               }
             }
           }""",
        expect=lambda d: None
        if d["specimens_aggregate"]["aggregate"]["count"] == 1
        and d["specimens_aggregate"]["aggregate"]["sum"]["weight"] == 1.5
        and d["specimens_aggregate"]["aggregate"]["max"]["born"] == "2020-02-29"
        else "count 1, sum of weight 1.5, max born 2020-02-29",
    )

    def photo(d):
        rows = d["specimens"]
        if len(rows) != 1 or not rows[0]["photo"]:
            return "one specimen with a photo"
        url = rows[0]["photo"]["url"]
        path = url[len(BASE) :] if url.startswith(BASE) else url
        if not path.startswith("/"):
            return f"the photo's url {url!r} is neither absolute on this server nor a path"
        status, content_type, _ = http("GET", path, token=ADMIN, accept="*/*")
        if status != 200:
            return f"GET {path} (the photo's url) answered {status}"
        return None

    docs.run(
        "a file field: {name url}, and the url serves the file",
        """{ specimens(where: {label: {_eq: "with-photo"}}) { label photo { name url } } }""",
        expect=photo,
    )
    docs.run(
        "reverse of a multiple relation on zoos",
        """{ zoos(where: {name: {_eq: "Bioparco"}}) { name specimens { label } specimens_aggregate { aggregate { count } } } }""",
        expect=expect_equal(
            {"zoos": [{"name": "Bioparco", "specimens": [{"label": "all-types"}], "specimens_aggregate": {"aggregate": {"count": 1}}}]}
        ),
    )

    # --- Updates and deletes ------------------------------------------------------------
    docs.run(
        "update_animals with _inc",
        """mutation Older {
             update_animals(where: {name: {_in: ["Leo", "Mia"]}}, _inc: {age: 1}) {
               affected_rows returning { id age }
             }
           }""",
        expect=lambda d: None
        if d["update_animals"]["affected_rows"] == 2
        and sorted(a["age"] for a in d["update_animals"]["returning"]) == [4, 8]
        else "two animals a year older (4 and 8)",
    )
    docs.run(
        "update_animals_by_pk",
        """mutation Rename($id: Int!, $zoo: Int) {
             update_animals_by_pk(pk_columns: {id: $id}, _set: {name: "Leonard", zoo: $zoo}, _inc: {age: 2}) {
               id name age zoo { name }
             }
           }""",
        {"id": animal["Leo"], "zoo": zoo["Tierpark"]},
        expect=lambda d: None
        if d["update_animals_by_pk"] == {"id": animal["Leo"], "name": "Leonard", "age": 10, "zoo": {"name": "Tierpark"}}
        else "Leonard, 10, moved to Tierpark",
    )
    docs.run(
        "update_specimens_by_pk with every column type",
        """mutation Retype($id: Int!) {
             update_specimens_by_pk(pk_columns: {id: $id}, _set: {
               price: "0.10", born: "1999-12-31", seen_at: "2000-01-01T00:00:00Z", meta: [1, "two", null],
               tag: "00000000-0000-4000-8000-000000000000", alive: false, weight: -0.25, kind: "fish", visited: []
             }) { price born meta tag alive weight kind visited_ids }
           }""",
        {"id": specimen_id},
        expect=lambda d: None
        if d["update_specimens_by_pk"]
        and Decimal(d["update_specimens_by_pk"]["price"]) == Decimal("0.10")
        and d["update_specimens_by_pk"]["meta"] == [1, "two", None]
        and d["update_specimens_by_pk"]["alive"] is False
        and d["update_specimens_by_pk"]["visited_ids"] == []
        else "the new values",
    )
    docs.run(
        "delete_animals",
        """mutation Prune { delete_animals(where: {age: {_gte: 99}}) { affected_rows returning { name } } }""",
        expect=expect_equal({"delete_animals": {"affected_rows": 1, "returning": [{"name": "Temp"}]}}),
    )
    docs.run(
        "delete_animals_by_pk",
        """mutation Drop($id: Int!) { delete_animals_by_pk(id: $id) { id name } }""",
        {"id": animal.get("Ugo", 0)},
        expect=lambda d: None if (d["delete_animals_by_pk"] or {}).get("name") == "Ugo" else "Ugo, deleted",
    )
    docs.run(
        "after the writes",
        """{ animals(order_by: {name: asc}) { name age zoo { name } } }""",
        expect=expect_equal(
            {
                "animals": [
                    {"name": "Kit", "age": 12, "zoo": {"name": "Tierpark"}},
                    {"name": "Leonard", "age": 10, "zoo": {"name": "Tierpark"}},
                    {"name": "Mia", "age": 4, "zoo": {"name": "Berlin Zoo"}},
                ]
            }
        ),
    )

    # --- More rows than a page: aggregates count them all, as in Hasura ----------------
    bulk = [{"name": f"Bulk {n}", "age": 1, "zoo": zoo["Bioparco"]} for n in range(120)]
    docs.run(
        "insert_animals of 120 rows",
        """mutation Bulk($animals: [animals_insert_input!]!) { insert_animals(objects: $animals) { affected_rows } }""",
        {"animals": bulk},
        expect=expect_equal({"insert_animals": {"affected_rows": 120}}),
    )
    docs.run(
        "aggregates without a limit count every row (not a default page of them)",
        """{
             all: animals_aggregate { aggregate { count } }
             bulk: animals_aggregate(where: {name: {_like: "Bulk %"}}) { aggregate { count sum { age } } }
             zoos(where: {name: {_eq: "Bioparco"}}) { animals_aggregate { aggregate { count } } }
           }""",
        expect=expect_equal(
            {
                "all": {"aggregate": {"count": 123}},
                "bulk": {"aggregate": {"count": 120, "sum": {"age": 120}}},
                "zoos": [{"animals_aggregate": {"aggregate": {"count": 120}}}],
            }
        ),
    )
    docs.run(
        "delete_animals of 120 rows",
        """mutation { delete_animals(where: {name: {_like: "Bulk %"}}) { affected_rows } }""",
        expect=expect_equal({"delete_animals": {"affected_rows": 120}}),
    )

    # --- Auth, anonymously ------------------------------------------------------------
    email, password = "graphql-client@example.com", "a long passphrase"
    docs.run(
        "register",
        """mutation SignUp($user: users_insert_input!) { register(object: $user) { id email } }""",
        {"user": {"email": email, "password": password}},
        token=None,
        expect=lambda d: None if (d["register"] or {}).get("email") == email else f"the new user {email}",
    )
    session = docs.run(
        "login",
        """mutation SignIn($identity: String!, $password: String!) {
             login(identity: $identity, password: $password) {
               access_token refresh_token token_type expires_in user { id email }
             }
           }""",
        {"identity": email, "password": password},
        token=None,
        expect=lambda d: None if d["login"] and d["login"]["user"]["email"] == email else "a session for the user",
    )
    if session and session["login"]:
        access, refresh = session["login"]["access_token"], session["login"]["refresh_token"]
        docs.run(
            "me (the new user)",
            "{ me { email } }",
            token=access,
            expect=expect_equal({"me": {"email": email}}),
        )
        docs.run("me (anonymous)", "{ me { email } }", token=None, expect=expect_equal({"me": None}))
        renewed = docs.run(
            "refresh",
            """mutation Renew($token: String!) { refresh(refresh_token: $token) { access_token refresh_token user { email } } }""",
            {"token": refresh},
            token=None,
            expect=lambda d: None if d["refresh"] and d["refresh"]["user"]["email"] == email else "a new session",
        )
        if renewed and renewed["refresh"]:
            new_refresh = renewed["refresh"]["refresh_token"]
            docs.run(
                "logout",
                """mutation Out($token: String!) { logout(refresh_token: $token) }""",
                {"token": new_refresh},
                token=None,
                expect=expect_equal({"logout": True}),
            )
            docs.error(
                "refresh after logout",
                """mutation Renew($token: String!) { refresh(refresh_token: $token) { access_token } }""",
                {"token": new_refresh},
                token=None,
            )
    docs.error(
        "login with a wrong password",
        """mutation { login(identity: "graphql-client@example.com", password: "wrong password") { access_token } }""",
        token=None,
    )
    return docs.count


INVALID = [
    ("an unknown field", "{ animals { id wings } }"),
    ("an unknown argument", "{ animals(first: 3) { id } }"),
    ("an argument of the wrong type", '{ animals(limit: "ten") { id } }'),
    ("a missing required argument", "{ animals_by_pk { id } }"),
    ("an object field without a selection", "{ zoos { animals } }"),
    ("a selection on a scalar", "{ animals { name { length } } }"),
    ("an unknown field in where", "{ animals(where: {wings: {_eq: 2}}) { id } }"),
    ("an unknown operator", "{ animals(where: {age: {_between: [1, 2]}}) { id } }"),
    ("a relation compared as a scalar", "{ animals(where: {zoo: {_eq: 1}}) { id } }"),
    ("an unknown order_by value", "{ animals(order_by: {name: upwards}) { id } }"),
    ("an Int given a float", "{ animals_by_pk(id: 1.5) { id } }"),
    ("an insert of the wrong types", 'mutation { insert_animals_one(object: {name: 5, age: "x"}) { id } }'),
    ("an insert of an unknown column", 'mutation { insert_animals_one(object: {wings: 2}) { id } }'),
    ("update without where", "mutation { update_animals(_set: {age: 1}) { affected_rows } }"),
    ("a mutation field in a query", "{ insert_animals_one(object: {name: \"x\"}) { id } }"),
    ("a variable of the wrong type", "query ($n: String) { animals(limit: $n) { id } }"),
    ("an undefined variable", "{ animals(limit: $n) { id } }"),
    ("a fragment on the wrong type", "{ zoos { ...F } } fragment F on animals { id }"),
    ("an unknown type", "{ zoos { ... on penguins { id } } }"),
    ("conflicting aliases", "{ zoos { x: name x: city } }"),
    ("login without a password", 'mutation { login(identity: "a@b.c") { access_token } }'),
    ("a syntax error", "{ animals { id "),
]


def check_invalid(schema):
    for name, source in INVALID:
        try:
            errors = validate(schema, parse(source))
        except GraphQLError as error:
            errors = [error]
        if not errors:
            fail(f"[invalid: {name}] graphql-core accepts the document: {source}")
            continue
        status, answer, text = graphql_post(source)
        if answer is None or not answer.get("errors"):
            fail(f"[invalid: {name}] the server answered no errors ({status}): {text[:500]}; graphql-core says: {errors[0].message}")
            continue
        if answer.get("data") is not None:
            fail(f"[invalid: {name}] the server answered data beside its errors: {text[:500]}")
            continue
        if not all(isinstance(e.get("message"), str) and e["message"] for e in answer["errors"]):
            fail(f"[invalid: {name}] an error without a message: {text[:500]}")
            continue
        first = " ".join(str(answer["errors"][0]["message"]).split())
        ok(f"[invalid: {name}] refused by graphql-core ({errors[0].message}) and by the server ({first})")
    return len(INVALID)


def main():
    global BASE, ADMIN
    if len(sys.argv) not in (2, 3):
        print("usage: validate_schema.py BASE_URL [ADMIN_TOKEN]   (or TESSERA_TOKEN in the environment)", file=sys.stderr)
        return 2
    BASE = sys.argv[1].rstrip("/")
    ADMIN = sys.argv[2] if len(sys.argv) == 3 else os.environ.get("TESSERA_TOKEN", "")
    if not ADMIN:
        print("validate_schema.py: an admin access token is needed (argv[2] or TESSERA_TOKEN)", file=sys.stderr)
        return 2
    import graphql

    print(f"validate_schema.py: graphql-core {graphql.__version__} against {BASE}")
    try:
        schema = introspect(get_introspection_query(), "the standard introspection query")
        options = dict(
            descriptions=True,
            specified_by_url=True,
            directive_is_repeatable=True,
            schema_description=True,
            input_value_deprecation=True,
            input_object_one_of=True,
        )
        try:
            full_query = get_introspection_query(**options)
        except TypeError:  # a graphql-core without @oneOf
            del options["input_object_one_of"]
            full_query = get_introspection_query(**options)
        full = introspect(full_query, "the introspection query with every optional part")
        compare_sdl(schema, full, "standard introspection", "full introspection")
        check_sdl(schema)
        check_names(schema)
        valid = run_documents(schema)
        invalid = check_invalid(schema)
    except Abort as error:
        fail(str(error))
        valid = invalid = 0
    if FAILURES:
        print(f"validate_schema.py: {len(FAILURES)} check(s) failed", file=sys.stderr)
        return 1
    print(f"validate_schema.py: all checks passed ({valid} valid documents executed, {invalid} invalid ones refused)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
