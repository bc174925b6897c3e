//! The raw driver ceiling of the zoo benchmark.
//!
//! Runs the statement tessera runs for one operation (get, list, expand, graphql, create) straight through
//! the driver — rusqlite on the server's SQLite file, tokio-postgres on the server's
//! Postgres schema — for a fixed time, with no HTTP, and reports queries per second and
//! latency percentiles. The statement text and parameters are written by the same pure
//! functions the server calls (`tessera_store::row_queries`, and `tessera_store::graph` for
//! a GraphQL root field), from the table's schema as
//! the server's catalog holds it, so the SQL is byte-for-byte the server's; the timed
//! loops use only the drivers and the store's `typed_rows::render_row`, which writes a
//! read's typed columns as JSON as the server does. Connections are set up the way the server sets up its own
//! (SQLite: read-only WAL readers with the same pragmas, one writer with
//! `synchronous=FULL` committing groups of inserts, each in a savepoint, as the server's
//! group-committing writer does; Postgres: one prepared statement per connection, a
//! single insert in autocommit).
//!
//! Output (stdout): `SQL ...` and `PARAMS ...` lines, then one result line:
//! `CEILING op=Get store=sqlite workers=4 group=1 seconds=10.000 queries=... qps=... p50_us=... p99_us=...`.
//! With `--sample`, runs the operation once (get: id 1) and prints `SAMPLE [rows...]`
//! instead, so the rows can be compared with what the HTTP API returns.

use anyhow::{anyhow, bail, Context, Result};
use clap::{Parser, ValueEnum};
use serde_json::json;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};
use tessera_query::sort::parse_sort;
use tessera_query::Dialect;
use tessera_schema::validate::{RowValidator, WriteMode};
use tessera_schema::{TableSchema, Value, OWNER_FIELD};
use tessera_store::graph::{self, GraphField, GraphFilter, GraphOrder, GraphRoot, GraphSelect, GraphValue};
use tessera_store::row_queries::{self, ListSpec, Returning};
use tessera_store::typed_rows::{render_row, RowLayout};
use tessera_store::{Expansion, Join, NewRow};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum StoreKind {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OpKind {
    /// `select_by_id` with a random id in 1..=max-id.
    Get,
    /// `list` with the given filter, sort and limit.
    List,
    /// `list` with the given filter, sort and limit, and the single related row of the
    /// relation `--expand` embedded whole (REST `?expand=<relation>`).
    Expand,
    /// The statement of a GraphQL list root field (`tessera_store::graph`): the rows of
    /// the filter, sort and limit with the keys `--fields`, and the relation `--expand` as
    /// an object with the keys `--related-fields` (`{ animals(where: ..., order_by: ...,
    /// limit: ...) { id name age zoo { name } } }`). Public rules: no access condition.
    Graphql,
    /// `insert` of one random animal, returning the row.
    Create,
}

/// Runs tessera's SQL for one operation through the raw driver.
#[derive(Debug, Parser)]
#[command(name = "ceiling")]
struct Args {
    #[arg(long, value_enum)]
    store: StoreKind,
    /// The server's SQLite file (`<data-dir>/tessera.db`).
    #[arg(long, required_if_eq("store", "sqlite"))]
    db: Option<std::path::PathBuf>,
    /// The server's Postgres URL (same search_path).
    #[arg(long, required_if_eq("store", "postgres"))]
    url: Option<String>,
    #[arg(long, value_enum)]
    op: OpKind,
    #[arg(long, default_value = "animals")]
    table: String,
    /// Filter of a list, in tessera's filter language.
    #[arg(long)]
    filter: Option<String>,
    /// Sort of a list, as in `?sort=`.
    #[arg(long)]
    sort: Option<String>,
    #[arg(long, default_value_t = 20)]
    limit: u32,
    /// expand / graphql: the single (many-to-one) relation to read with each row.
    #[arg(long, default_value = "zoo")]
    expand: String,
    /// graphql: the keys of each row, in order (the relation comes last).
    #[arg(long, value_delimiter = ',', default_value = "id,name,age")]
    fields: Vec<String>,
    /// graphql: the keys of the related row.
    #[arg(long, value_delimiter = ',', default_value = "name")]
    related_fields: Vec<String>,
    /// expand: only these fields of the related row (REST `?fields=<relation>.<field>`);
    /// the whole row without it.
    #[arg(long, value_delimiter = ',')]
    expand_fields: Vec<String>,
    /// Largest id a get asks for.
    #[arg(long, default_value_t = 100_000)]
    max_id: i64,
    /// Zoo ids of created animals are drawn from 1..=zoos.
    #[arg(long, default_value_t = 100)]
    zoos: i64,
    /// Creates on a table with an `owner`: the user id the server sets it to (the user
    /// whose token creates the rows). Without it the owner is left empty.
    #[arg(long)]
    owner: Option<i64>,
    /// Concurrent workers: threads with one connection each (SQLite), or connections with
    /// one query in flight each (Postgres). Default: the server's 4 SQLite readers, 1 SQLite
    /// writer, or its 16 Postgres pool connections.
    #[arg(long)]
    workers: Option<usize>,
    /// Measured seconds.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Unmeasured seconds first (statements prepared, caches warm).
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// SQLite creates: inserts committed together, each in its own savepoint, as the
    /// server's writer groups the writes waiting in its queue (at most one per client, so
    /// run.sh passes wrk's connection count). 1: a transaction per insert.
    #[arg(long, default_value_t = 32)]
    group: usize,
    /// Run once and print the rows (`SAMPLE [...]`) instead of measuring.
    #[arg(long)]
    sample: bool,
    /// Experiments: run the statement in this file (no parameters; its one column read as
    /// text) instead of the one `--op` builds — e.g. a variant of a server statement.
    #[arg(long)]
    sql_file: Option<std::path::PathBuf>,
    /// Experiments, SQLite: open every connection with SQLITE_DBCONFIG_ENABLE_QPSG (the query
    /// planner stability guarantee), which the server does not. Without it SQLite re-prepares
    /// a statement whose `LIMIT ?` parameter is bound again, i.e. on every execution.
    #[arg(long)]
    qpsg: bool,
}

/// One prepared operation: the statement and how each execution gets its parameters.
#[derive(Debug, Clone)]
enum Op {
    Get {
        sql: String,
        max_id: i64,
        layout: Option<RowLayout>,
    },
    List {
        sql: String,
        params: Vec<Value>,
        layout: Option<RowLayout>,
    },
    /// `rows` are validated create bodies; each execution binds one of them with the
    /// current time through `row_queries::insert_params`, as the server does.
    Create {
        sql: String,
        dialect: Dialect,
        schema: Arc<TableSchema>,
        rows: Vec<NewRow>,
    },
}

impl Op {
    fn sql(&self) -> &str {
        match self {
            Op::Get { sql, .. } | Op::List { sql, .. } | Op::Create { sql, .. } => sql,
        }
    }

    fn params(&self, rng: &mut Rng, sample: bool) -> Vec<Value> {
        match self {
            Op::Get { max_id, .. } => {
                let id = if sample { 1 } else { rng.range(1, *max_id) };
                vec![Value::Integer(id)]
            }
            Op::List { params, .. } => params.clone(),
            Op::Create { dialect, schema, rows, .. } => {
                let row = rows[rng.below(rows.len() as u64) as usize].clone();
                row_queries::insert_params(*dialect, schema, row, &tessera_store::now_text())
            }
        }
    }

    /// How the rows become JSON on Postgres (`None`: one column of JSON text).
    fn layout(&self) -> Option<&RowLayout> {
        match self {
            Op::Get { layout, .. } | Op::List { layout, .. } => layout.as_ref(),
            Op::Create { .. } => None,
        }
    }

    fn is_write(&self) -> bool {
        matches!(self, Op::Create { .. })
    }
}

/// xorshift64*: enough randomness for ids and sample rows, no dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn range(&mut self, low: i64, high: i64) -> i64 {
        low + self.below((high - low + 1).max(1) as u64) as i64
    }
}

const SPECIES: [&str; 20] = [
    "lion",
    "tiger",
    "bear",
    "wolf",
    "zebra",
    "giraffe",
    "elephant",
    "hippo",
    "rhino",
    "gorilla",
    "chimp",
    "panda",
    "koala",
    "kangaroo",
    "penguin",
    "flamingo",
    "crocodile",
    "cobra",
    "otter",
    "lemur",
];

/// Builds the statement of `args.op` for `schema` with tessera's own SQL writers.
fn build_op(args: &Args, dialect: Dialect, schema: &TableSchema, related: Option<&TableSchema>) -> Result<Op> {
    if let Some(path) = &args.sql_file {
        let sql = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
        return Ok(Op::List { sql: sql.trim().trim_end_matches(';').to_string(), params: Vec::new(), layout: None });
    }
    Ok(match args.op {
        OpKind::Get => {
            let read =
                row_queries::select_by_id(dialect, schema, 1, None, None, &[]).map_err(|e| anyhow!("rule: {e}"))?;
            if read.params != [Value::Integer(1)] {
                bail!("select_by_id no longer takes exactly the id as its parameter: {:?}", read.params);
            }
            Op::Get { sql: read.sql, max_id: args.max_id, layout: Some(read.layout) }
        }
        OpKind::List => {
            // As tessera_core::App::list_rows builds it: trimmed filter and sort, all
            // fields, no cursor, offset 0.
            let filter = args.filter.as_deref().map(str::trim).filter(|f| !f.is_empty()).map(str::to_string);
            let sort = match args.sort.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                Some(spec) => parse_sort(spec, schema).map_err(|e| anyhow!("sort: {e}"))?,
                None => Vec::new(),
            };
            let spec =
                ListSpec { resolver: None, filter, sort, after: None, fields: None, limit: args.limit, offset: 0 };
            let read = row_queries::list(dialect, schema, &spec, None, &[]).map_err(|e| anyhow!("filter: {e}"))?;
            Op::List { sql: read.sql, params: read.params, layout: Some(read.layout) }
        }
        OpKind::Expand => {
            // As tessera_core builds a list with `expand=<relation>` for a caller who may
            // view every related row (public rules): the related table with no condition.
            let related = related.context("expand needs the related table's schema")?;
            let filter = args.filter.as_deref().map(str::trim).filter(|f| !f.is_empty()).map(str::to_string);
            let sort = match args.sort.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                Some(spec) => parse_sort(spec, schema).map_err(|e| anyhow!("sort: {e}"))?,
                None => Vec::new(),
            };
            let spec =
                ListSpec { resolver: None, filter, sort, after: None, fields: None, limit: args.limit, offset: 0 };
            // As tessera_core resolves `fields=zoo.name`: each name to its column and type.
            let picked = args
                .expand_fields
                .iter()
                .map(|name| {
                    let field = tessera_query::FieldResolver::resolve(related, name)
                        .with_context(|| format!("no field {name} in {}", related.name))?;
                    Ok((field.column, field.field_type))
                })
                .collect::<Result<Vec<_>>>()?;
            let expansion = Expansion {
                name: args.expand.clone(),
                schema: related,
                join: Join::Forward { column: args.expand.clone() },
                access: None,
                denied: false,
                limit: 100,
                fields: (!picked.is_empty()).then_some(picked.as_slice()),
                children: Vec::new(),
            };
            let read =
                row_queries::list(dialect, schema, &spec, None, &[expansion]).map_err(|e| anyhow!("filter: {e}"))?;
            Op::List { sql: read.sql, params: read.params, layout: Some(read.layout) }
        }
        OpKind::Graphql => {
            // As tessera-graphql's planner builds `{ animals(where: {age: {_gt: 50}},
            // order_by: {name: asc}, limit: 20) { id name age zoo { name } } }` for a caller
            // under public rules: no access conditions, the where as the filter expression
            // (`age > 50` parses to the same comparison), each order key ascending or
            // descending with the database's default for nulls.
            let related = related.context("graphql needs the related table's schema")?;
            let filter = match args.filter.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
                Some(text) => Some(GraphFilter::Expr {
                    expr: tessera_query::filter::parse(text).map_err(|e| anyhow!("filter: {e:?}"))?,
                    resolver: Box::new(schema.clone()),
                }),
                None => None,
            };
            let order = match args.sort.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                Some(spec) => parse_sort(spec, schema)
                    .map_err(|e| anyhow!("sort: {e}"))?
                    .into_iter()
                    .map(|key| GraphOrder { field: key.field, descending: key.descending, nulls_first: None })
                    .collect(),
                None => Vec::new(),
            };
            let column = |table: &TableSchema, name: &str| -> Result<GraphField<'static>> {
                let field = tessera_query::FieldResolver::resolve(table, name)
                    .with_context(|| format!("no field {name} in {}", table.name))?;
                Ok(GraphField {
                    key: name.to_string(),
                    value: GraphValue::Column { column: field.column, field_type: field.field_type },
                })
            };
            let related_select = GraphSelect {
                schema: related,
                access: Vec::new(),
                denied: false,
                filter: None,
                order: Vec::new(),
                limit: None,
                offset: 0,
                fields: args.related_fields.iter().map(|name| column(related, name)).collect::<Result<_>>()?,
            };
            let mut fields: Vec<GraphField<'_>> =
                args.fields.iter().map(|name| column(schema, name)).collect::<Result<_>>()?;
            fields.push(GraphField {
                key: args.expand.clone(),
                value: GraphValue::Object {
                    join: Join::Forward { column: args.expand.clone() },
                    select: Box::new(related_select),
                },
            });
            let select = GraphSelect {
                schema,
                access: Vec::new(),
                denied: false,
                filter,
                order,
                limit: Some(args.limit),
                offset: 0,
                fields,
            };
            let (sql, params) =
                graph::root_statement(dialect, &GraphRoot::List(select)).map_err(|e| anyhow!("graphql: {e}"))?;
            Op::List { sql, params, layout: None }
        }
        OpKind::Create => {
            let validator = RowValidator::new(schema);
            let mut rng = Rng::new(42);
            let mut rows = Vec::with_capacity(1024);
            for _ in 0..1024 {
                let mut body = json!({
                    "name": format!("Ceiling {}", rng.below(1_000_000)),
                    "species": SPECIES[rng.below(SPECIES.len() as u64) as usize],
                    "age": rng.below(100),
                    "weight": (1 + rng.below(5000)) as f64 / 10.0,
                    "zoo": rng.range(1, args.zoos),
                    "created": format!("2024-{:02}-{:02}T12:00:00Z", 1 + rng.below(12), 1 + rng.below(28)),
                });
                // As the server's create does for an ordinary user: the owner is the caller.
                if let (true, Some(owner)) = (schema.has_owner(), args.owner) {
                    body[OWNER_FIELD] = json!(owner);
                }
                let values = validator
                    .validate(&body, WriteMode::Create)
                    .map_err(|errors| anyhow!("the sample animal is invalid for this schema: {errors:?}"))?;
                rows.push(values);
            }
            // A single create answers with the row: the statement returns its JSON.
            let sql = row_queries::insert_sql(dialect, schema, Returning::Json);
            Op::Create { sql, dialect, schema: Arc::new(schema.clone()), rows }
        }
    })
}

/// Per-worker result: executions and their latencies in microseconds.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
}

fn report(args: &Args, store: &str, workers: usize, group: usize, measured: Duration, tallies: Vec<Tally>) {
    let mut all: Vec<u32> = tallies.into_iter().flat_map(|t| t.latencies_us).collect();
    all.sort_unstable();
    let pct = |p: f64| -> u32 {
        if all.is_empty() {
            return 0;
        }
        let index = ((p / 100.0) * (all.len() - 1) as f64).round() as usize;
        all[index.min(all.len() - 1)]
    };
    let seconds = measured.as_secs_f64();
    println!(
        "CEILING op={:?} store={store} workers={workers} group={group} seconds={seconds:.3} queries={} qps={:.1} p50_us={} p99_us={}",
        args.op,
        all.len(),
        all.len() as f64 / seconds,
        pct(50.0),
        pct(99.0)
    )
}

/// expand / graphql: the table the relation `--expand` points at.
fn related_table(args: &Args, schema: &TableSchema) -> Result<Option<String>> {
    if !matches!(args.op, OpKind::Expand | OpKind::Graphql) {
        return Ok(None);
    }
    let field =
        schema.fields.get(&args.expand).with_context(|| format!("no field {} in {}", args.expand, schema.name))?;
    match (&field.field_type, &field.target, field.multiple) {
        (tessera_schema::FieldType::Relation, Some(target), false) => Ok(Some(target.clone())),
        _ => bail!("{} is not a single relation", args.expand),
    }
}

fn print_sql(op: &Op, params: &[Value]) {
    println!("SQL {}", op.sql());
    println!("PARAMS {params:?}");
}

fn main() -> Result<()> {
    let args = Args::parse();
    match args.store {
        StoreKind::Sqlite => sqlite::run(&args),
        StoreKind::Postgres => {
            // Like the server's #[tokio::main]: one worker thread per core.
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(postgres::run(&args))
        }
    }
}

mod sqlite {
    use super::*;
    use rusqlite::{Connection, OpenFlags};

    use tessera_store::bind::sqlite_params as params;

    /// As tessera-store's `open_connection` (same pragmas, same registered functions),
    /// plus the writer's `synchronous=FULL` for a writer.
    fn open(path: &std::path::Path, write: bool, qpsg: bool) -> Result<Connection> {
        let flags = if write {
            OpenFlags::default()
        } else {
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI
        };
        let conn = Connection::open_with_flags(path, flags).with_context(|| format!("open {}", path.display()))?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update(None, "cache_size", -4096)?;
        conn.pragma_update(None, "foreign_keys", true)?;
        conn.set_prepared_statement_cache_capacity(256);
        if qpsg {
            conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
        }
        // The SQL functions and collation tessera's statements call (tessera_float, ...).
        tessera_store::sqlite_functions::register(&conn)?;
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            bail!("{} is not in WAL mode (journal_mode={mode}): is it a tessera store?", path.display());
        }
        if write {
            conn.pragma_update(None, "synchronous", "FULL")?;
        }
        Ok(conn)
    }

    /// One execution of a read, as the server's `query_rendered` (a typed read) or
    /// `query_strings` (JSON built by SQLite: GraphQL, `--sql-file`) does it.
    fn read(conn: &Connection, op: &Op, values: &[Value]) -> Result<Vec<String>> {
        let mut stmt = conn.prepare_cached(op.sql())?;
        let rows: rusqlite::Result<Vec<String>> = match op.layout() {
            Some(layout) => stmt.query_map(params(values), |row| render_row(row, layout))?.collect(),
            None => stmt.query_map(params(values), |row| row.get::<_, String>(0))?.collect(),
        };
        Ok(rows?)
    }

    /// A group of inserts, as the server's writer commits the writes waiting in its queue:
    /// one IMMEDIATE transaction, each insert in its own savepoint, one commit.
    fn write_group(conn: &Connection, op: &Op, group: &[Vec<Value>]) -> Result<Vec<String>> {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let mut rows = Vec::with_capacity(group.len());
        for values in group {
            conn.execute_batch("SAVEPOINT tessera_write")?;
            let mut stmt = conn.prepare_cached(op.sql())?;
            rows.push(stmt.query_row(params(values), |row| row.get::<_, String>(0))?);
            conn.execute_batch("RELEASE tessera_write")?;
        }
        conn.execute_batch("COMMIT")?;
        Ok(rows)
    }

    pub fn run(args: &Args) -> Result<()> {
        let path = args.db.clone().context("--db is required for sqlite")?;
        let conn = open(&path, false, args.qpsg)?;
        let table = |name: &str| -> Result<TableSchema> {
            let text: String = conn
                .query_row(
                    "SELECT schema FROM _tessera_tables WHERE name_key = ?",
                    [name.to_ascii_lowercase()],
                    |row| row.get(0),
                )
                .with_context(|| format!("table {name} in the catalog"))?;
            Ok(serde_json::from_str(&text)?)
        };
        let schema = table(&args.table)?;
        let related = match related_table(args, &schema)? {
            Some(name) => Some(table(&name)?),
            None => None,
        };
        drop(conn);
        let op = Arc::new(build_op(args, Dialect::Sqlite, &schema, related.as_ref())?);
        let mut rng = Rng::new(7);
        if args.sample {
            let values = op.params(&mut rng, true);
            print_sql(&op, &values);
            let conn = open(&path, op.is_write(), args.qpsg)?;
            let rows = if op.is_write() { write_group(&conn, &op, &[values])? } else { read(&conn, &op, &values)? };
            println!("SAMPLE [{}]", rows.join(","));
            return Ok(());
        }
        print_sql(&op, &op.params(&mut rng, true));
        // The server has one writer and `--sqlite-readers` (4) readers.
        let workers = args.workers.unwrap_or(if op.is_write() { 1 } else { 4 }).max(1);
        let group = if op.is_write() { args.group.max(1) } else { 1 };
        let warmup = Duration::from_secs_f64(args.warmup);
        let measure = Duration::from_secs_f64(args.seconds);
        let barrier = Arc::new(Barrier::new(workers + 1));
        let mut handles = Vec::new();
        for worker in 0..workers {
            let (op, path, barrier, qpsg) = (op.clone(), path.clone(), barrier.clone(), args.qpsg);
            handles.push(std::thread::spawn(move || -> Result<Tally> {
                let conn = open(&path, op.is_write(), qpsg);
                barrier.wait();
                let conn = conn.map_err(|e| anyhow!("{e:#}"))?;
                let mut rng = Rng::new(1000 + worker as u64);
                let start = Instant::now();
                let (warm_end, end) = (start + warmup, start + warmup + measure);
                let mut tally = Tally::default();
                loop {
                    let values: Vec<Vec<Value>> = (0..group).map(|_| op.params(&mut rng, false)).collect();
                    let t0 = Instant::now();
                    if t0 >= end {
                        break;
                    }
                    let rows =
                        if op.is_write() { write_group(&conn, &op, &values)? } else { read(&conn, &op, &values[0])? };
                    std::hint::black_box(rows);
                    if t0 >= warm_end {
                        // Every insert of a group is answered when the group commits.
                        let micros = t0.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
                        tally.latencies_us.extend(std::iter::repeat_n(micros, group));
                    }
                }
                Ok(tally)
            }));
        }
        barrier.wait();
        let mut tallies = Vec::new();
        for handle in handles {
            tallies.push(handle.join().map_err(|_| anyhow!("a worker panicked"))??);
        }
        report(args, "sqlite", workers, group, measure, tallies);
        Ok(())
    }
}

mod postgres {
    use super::*;
    use tokio_postgres::{Client, NoTls, Statement};

    use tessera_store::bind::{postgres_params, postgres_refs};

    async fn connect(url: &str) -> Result<Client> {
        let (client, connection) = tokio_postgres::connect(url, NoTls).await.context("connect to Postgres")?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                eprintln!("ceiling: Postgres connection error: {e}");
            }
        });
        Ok(client)
    }

    /// One execution, as the server's `query_rendered` (rows of typed columns written as
    /// JSON by tessera) / `query_strings` / single-row `insert_rows` do it.
    async fn execute(
        client: &Client,
        stmt: &Statement,
        values: &[Value],
        layout: Option<&RowLayout>,
    ) -> Result<Vec<String>> {
        let params = postgres_params(values);
        let rows = client.query(stmt, &postgres_refs(&params)).await?;
        Ok(match layout {
            Some(layout) => rows.iter().map(|row| render_row(row, layout)).collect::<Result<Vec<_>, _>>()?,
            None => rows.iter().map(|row| row.try_get::<_, String>(0)).collect::<Result<Vec<_>, _>>()?,
        })
    }

    pub async fn run(args: &Args) -> Result<()> {
        let url = args.url.clone().context("--url is required for postgres")?;
        let client = connect(&url).await?;
        let table = async |name: &str| -> Result<TableSchema> {
            let row = client
                .query_one("SELECT schema FROM _tessera_tables WHERE name_key = $1", &[&name.to_ascii_lowercase()])
                .await
                .with_context(|| format!("table {name} in the catalog"))?;
            Ok(serde_json::from_str(row.get::<_, &str>(0))?)
        };
        let schema = table(&args.table).await?;
        let related = match related_table(args, &schema)? {
            Some(name) => Some(table(&name).await?),
            None => None,
        };
        drop(client);
        let op = Arc::new(build_op(args, Dialect::Postgres, &schema, related.as_ref())?);
        let mut rng = Rng::new(7);
        if args.sample {
            let values = op.params(&mut rng, true);
            print_sql(&op, &values);
            let client = connect(&url).await?;
            let stmt = client.prepare(op.sql()).await?;
            let rows = execute(&client, &stmt, &values, op.layout()).await?;
            println!("SAMPLE [{}]", rows.join(","));
            return Ok(());
        }
        print_sql(&op, &op.params(&mut rng, true));
        // The server's pool holds 16 connections, each serving one request at a time.
        let workers = args.workers.unwrap_or(16).max(1);
        let warmup = Duration::from_secs_f64(args.warmup);
        let measure = Duration::from_secs_f64(args.seconds);
        let barrier = Arc::new(tokio::sync::Barrier::new(workers + 1));
        let mut tasks = Vec::new();
        for worker in 0..workers {
            let (op, url, barrier) = (op.clone(), url.clone(), barrier.clone());
            tasks.push(tokio::spawn(async move {
                // Prepared once per connection, as the server's statement cache does.
                let prepared = async {
                    let client = connect(&url).await?;
                    let stmt = client.prepare(op.sql()).await?;
                    Ok::<_, anyhow::Error>((client, stmt))
                }
                .await;
                barrier.wait().await;
                let (client, stmt) = prepared?;
                let mut rng = Rng::new(1000 + worker as u64);
                let start = Instant::now();
                let (warm_end, end) = (start + warmup, start + warmup + measure);
                let mut tally = Tally::default();
                loop {
                    let values = op.params(&mut rng, false);
                    let t0 = Instant::now();
                    if t0 >= end {
                        break;
                    }
                    let rows = execute(&client, &stmt, &values, op.layout()).await?;
                    std::hint::black_box(rows);
                    if t0 >= warm_end {
                        tally.latencies_us.push(t0.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                    }
                }
                Ok::<_, anyhow::Error>(tally)
            }));
        }
        barrier.wait().await;
        let mut tallies = Vec::new();
        for task in tasks {
            tallies.push(task.await??);
        }
        report(args, "postgres", workers, 1, measure, tallies);
        Ok(())
    }
}
