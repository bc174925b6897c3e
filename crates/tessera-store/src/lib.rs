//! tessera's stores. One API over two backends — an embedded SQLite file and Postgres —
//! that keeps the catalog in system tables, runs DDL and migrations in one transaction
//! each, and reads and writes user rows. All SQL over user tables is written here, from
//! the plans the pure crates produce.

pub mod atomic;
mod auth;
mod auth_queries;
mod error;
pub mod expand;
mod file_queries;
pub mod graph;
pub mod migrate;
mod pg_arrays;
mod postgres;
pub mod row_queries;
mod sqlite;
pub mod sqlite_functions;
pub mod table_queries;
pub mod typed_rows;

pub use auth::{ApiTokenRecord, Credentials, RefreshTokenRecord};
pub use error::{FailingRow, StoreError};

/// How values are bound as parameters on each driver (public so tools such as the
/// benchmark's raw-driver ceiling bind exactly as the store does).
pub mod bind {
    pub use crate::postgres::{params as postgres_params, refs as postgres_refs, Param as PostgresParam};
    pub use crate::sqlite::{params as sqlite_params, Param as SqliteParam};
}
pub use expand::{Expansion, Join};
pub use migrate::MigrationReport;
pub use row_queries::{AccessFilter, Increment, ListSpec, Returning};

use serde::Serialize;
use std::path::PathBuf;
use tessera_query::Dialect;
use tessera_schema::plan::Plan;
use tessera_schema::{TableSchema, Value};

/// Where the data lives.
#[derive(Debug, Clone)]
pub enum StoreConfig {
    /// Embedded SQLite database file.
    Sqlite { path: PathBuf, readers: usize },
    /// A Postgres server (`postgres://...`).
    Postgres { url: String, pool_size: usize },
}

/// One entry of a table's schema history.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub version: i64,
    /// `create`, `migrate` or `drop`.
    pub action: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub steps: serde_json::Value,
    pub at: String,
}

/// A validated row ready to insert: values for every field, in schema order.
pub type NewRow = Vec<(String, Value)>;

/// One row write with junction-table links: a statement that writes the row and returns
/// its id (nothing if no row matched), then the new lists of its `multiple` relations.
pub struct LinkedWrite {
    pub(crate) row_sql: String,
    pub(crate) row_params: Vec<Value>,
    pub(crate) links: Vec<row_queries::LinkWrite>,
}

/// The result of a bulk insert.
#[derive(Debug, Clone)]
pub enum Inserted {
    /// The created rows as JSON text (when asked to return rows).
    Rows(Vec<String>),
    /// Only the new ids.
    Ids(Vec<i64>),
}

/// A handle to the store; cheap to clone.
#[derive(Clone)]
pub enum Store {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PostgresStore),
}

/// Dispatches a call to the backend.
macro_rules! backend {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        match $self {
            Store::Sqlite(store) => store.$method($($arg),*).await,
            Store::Postgres(store) => store.joined(store.$method($($arg),*)).await,
        }
    };
}

impl Store {
    /// Opens (and if needed initializes) the store.
    pub async fn open(config: &StoreConfig) -> Result<Store, StoreError> {
        Ok(match config {
            StoreConfig::Sqlite { path, readers } => {
                Store::Sqlite(sqlite::SqliteStore::open(path.clone(), *readers).await?)
            }
            StoreConfig::Postgres { url, pool_size } => {
                Store::Postgres(postgres::PostgresStore::open(url, *pool_size).await?)
            }
        })
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Store::Sqlite(_) => Dialect::Sqlite,
            Store::Postgres(_) => Dialect::Postgres,
        }
    }

    /// How many row statements (reads, single-statement writes) this store has sent to the
    /// database: tests use it to show that a request's statement count does not grow with
    /// the rows it returns.
    pub fn statements_executed(&self) -> u64 {
        match self {
            Store::Sqlite(store) => store.statements_executed(),
            Store::Postgres(store) => store.statements.load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// Runs `work` with every store call it makes on its task in ONE transaction (see
    /// [`atomic`]): committed if `commit` says so of the outcome, rolled back otherwise.
    /// Work registered with [`Store::after_commit`] inside it runs after the commit.
    /// Called inside another `atomic` (a GraphQL mutation deleting a row), `work` joins the
    /// outer transaction, whose own outcome decides.
    pub async fn atomic<T>(
        &self,
        work: impl std::future::Future<Output = T>,
        commit: impl FnOnce(&T) -> bool,
    ) -> Result<T, StoreError> {
        if atomic::current().is_some() {
            return Ok(work.await);
        }
        match self {
            Store::Sqlite(store) => store.atomic(work, commit).await,
            Store::Postgres(store) => store.atomic(work, commit).await,
        }
    }

    /// Runs `job` now, or — inside [`Store::atomic`] — once its transaction has committed
    /// (never if it rolls back): what must not happen before a change is durable, such as
    /// deleting the files of a deleted row.
    pub async fn after_commit(&self, job: atomic::AfterCommit) {
        if let Some(job) = atomic::defer(job) {
            job.await;
        }
    }

    /// Checks the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        backend!(self.ping())
    }

    /// Every table of the catalog.
    pub async fn load_tables(&self) -> Result<Vec<TableSchema>, StoreError> {
        backend!(self.load_tables())
    }

    /// Creates a table (catalog entry, table, indexes, history) in one transaction, from
    /// a draft whose `id` and `version` are ignored (the store assigns them).
    pub async fn create_table(&self, draft: TableSchema) -> Result<TableSchema, StoreError> {
        backend!(self.create_table(draft))
    }

    /// Drops a table and its catalog entry in one transaction.
    pub async fn drop_table(&self, schema: &TableSchema) -> Result<(), StoreError> {
        backend!(self.drop_table(schema.clone()))
    }

    /// Checks a plan against the data and, unless `dry_run`, applies it in one
    /// transaction. A refused migration changes nothing.
    pub async fn migrate(&self, plan: &Plan, dry_run: bool) -> Result<MigrationReport, StoreError> {
        backend!(self.migrate(plan.clone(), dry_run))
    }

    /// The schema history of a table, oldest first.
    pub async fn history(&self, table_id: i64) -> Result<Vec<HistoryEntry>, StoreError> {
        backend!(self.history(table_id))
    }

    /// One row as JSON text (`fields`: only those columns); `None` if it does not exist
    /// or `access` hides it.
    pub async fn get_row(
        &self,
        schema: &TableSchema,
        id: i64,
        fields: Option<&[(String, tessera_schema::FieldType)]>,
        access: Option<&AccessFilter<'_>>,
        expand: &[Expansion<'_>],
    ) -> Result<Option<String>, StoreError> {
        let read =
            row_queries::select_by_id(self.dialect(), schema, id, fields, access, expand).map_err(rule_rejected)?;
        Ok(self.read_rows(read).await?.into_iter().next())
    }

    /// The rows of a read statement as JSON text, written by tessera from their typed
    /// columns ([`typed_rows`]).
    async fn read_rows(&self, read: row_queries::Read) -> Result<Vec<String>, StoreError> {
        backend!(self.query_rendered(read.sql, read.params, read.layout))
    }

    /// The JSON text of one GraphQL root field, read in one statement (`None`: a row by id
    /// that does not exist or that the caller may not see).
    pub async fn graph_query(&self, root: &graph::GraphRoot<'_>) -> Result<Option<String>, StoreError> {
        let (sql, params) = graph::root_statement(self.dialect(), root).map_err(rule_rejected)?;
        Ok(backend!(self.query_strings(sql, params))?.into_iter().next())
    }

    /// Inserts rows in one transaction; any failure writes none of them. A relation
    /// naming a missing row fails with [`StoreError::MissingReference`].
    pub async fn insert_rows(
        &self,
        schema: &TableSchema,
        rows: Vec<NewRow>,
        return_rows: bool,
    ) -> Result<Inserted, StoreError> {
        // Kept only to name the culprit if the database refuses a link.
        let kept = if has_relations(schema) { rows.clone() } else { Vec::new() };
        let result = if row_queries::has_links(schema) {
            self.insert_linked(schema, rows, return_rows).await
        } else {
            backend!(self.insert_rows(schema.clone(), rows, return_rows))
        };
        match result {
            Err(StoreError::ForeignKey { row_index }) => {
                let row = kept.get(row_index.unwrap_or(0)).cloned().unwrap_or_default();
                Err(self.missing_reference(schema, &row, row_index).await)
            }
            other => other,
        }
    }

    async fn insert_linked(
        &self,
        schema: &TableSchema,
        rows: Vec<NewRow>,
        return_rows: bool,
    ) -> Result<Inserted, StoreError> {
        let dialect = self.dialect();
        let now = now_text();
        let row_sql = row_queries::insert_sql(dialect, schema, row_queries::Returning::Id);
        let writes = rows
            .into_iter()
            .map(|row| {
                let (columns, links) = row_queries::split_links(schema, row);
                let row_params = row_queries::insert_params(dialect, schema, columns, &now);
                LinkedWrite { row_sql: row_sql.clone(), row_params, links }
            })
            .collect();
        let written = backend!(self.write_linked(schema.clone(), writes, return_rows))?;
        let mut ids = Vec::with_capacity(written.len());
        let mut json_rows = Vec::new();
        for row in written {
            // The version guard held the row back: the table changed meanwhile.
            let (id, json) = row.ok_or_else(|| StoreError::Stale(schema.name.clone()))?;
            ids.push(id);
            json_rows.extend(json);
        }
        Ok(if return_rows { Inserted::Rows(json_rows) } else { Inserted::Ids(ids) })
    }

    /// Names the relation of `row` that points at a missing row, after the database
    /// refused a link (the refusal itself does not say which, on SQLite).
    async fn missing_reference(&self, schema: &TableSchema, row: &NewRow, row_index: Option<usize>) -> StoreError {
        for (field, target, id) in row_queries::referenced_ids(schema, row) {
            let sql = row_queries::exists_sql(self.dialect(), &target);
            match backend!(self.query_count(sql, vec![Value::Integer(id)])) {
                Ok(0) => return StoreError::MissingReference { field, target, id, row_index },
                Ok(_) => {}
                Err(e) => return e,
            }
        }
        StoreError::ForeignKey { row_index }
    }

    /// Updates the given fields of a row; `None` if it does not exist or `access` hides
    /// it, `Stale` if the table changed version since `schema` was read.
    pub async fn update_row(
        &self,
        schema: &TableSchema,
        id: i64,
        values: NewRow,
        access: Option<&AccessFilter<'_>>,
    ) -> Result<Option<String>, StoreError> {
        // Kept only to name the culprit if the database refuses a link.
        let kept = if has_relations(schema) { values.clone() } else { Vec::new() };
        let updated = match self.update_once(schema, id, values, access).await {
            Err(StoreError::ForeignKey { .. }) => return Err(self.missing_reference(schema, &kept, None).await),
            other => other?,
        };
        if updated.is_none() {
            let (sql, params) = row_queries::table_version(self.dialect(), schema.id);
            let current = backend!(self.query_strings(sql, params))?.into_iter().next();
            if current != Some(schema.version.to_string()) {
                return Err(StoreError::Stale(schema.name.clone()));
            }
        }
        Ok(updated)
    }

    /// The UPDATE of [`Store::update_row`]: one statement, or with new links a linked write.
    async fn update_once(
        &self,
        schema: &TableSchema,
        id: i64,
        values: NewRow,
        access: Option<&AccessFilter<'_>>,
    ) -> Result<Option<String>, StoreError> {
        let dialect = self.dialect();
        let (values, links) = row_queries::split_links(schema, values);
        if links.is_empty() {
            let (sql, params) = row_queries::update(dialect, schema, id, values, &now_text(), access, Returning::Json)
                .map_err(rule_rejected)?;
            return Ok(backend!(self.write_strings(sql, params))?.into_iter().next());
        }
        let (row_sql, row_params) =
            row_queries::update(dialect, schema, id, values, &now_text(), access, Returning::Id)
                .map_err(rule_rejected)?;
        let writes = vec![LinkedWrite { row_sql, row_params, links }];
        let written = backend!(self.write_linked(schema.clone(), writes, true))?;
        Ok(written.into_iter().next().flatten().and_then(|(_, json)| json))
    }

    /// How many rows point at one of the rows `ids` through a relation: the relation's
    /// column on `table`, or the `target_id` of its junction table.
    pub async fn count_links(&self, link: &tessera_schema::relations::Link, ids: &[i64]) -> Result<i64, StoreError> {
        let (table, column) = match link.junction() {
            Some(junction) => (junction, "target_id"),
            None => (link.table.clone(), link.field.as_str()),
        };
        let (sql, params) = row_queries::count_links_sql(self.dialect(), &table, column, ids);
        backend!(self.query_count(sql, params))
    }

    /// Deletes a row; false if it did not exist or `access` hides it.
    pub async fn delete_row(
        &self,
        schema: &TableSchema,
        id: i64,
        access: Option<&AccessFilter<'_>>,
    ) -> Result<bool, StoreError> {
        let (sql, params) = row_queries::delete(self.dialect(), schema, id, access).map_err(rule_rejected)?;
        match backend!(self.execute(sql, params)) {
            Err(StoreError::ForeignKey { .. }) => Err(StoreError::Referenced),
            other => Ok(other? > 0),
        }
    }

    /// The rows of `schema` whose `column` holds one of `ids`, as JSON text with their id
    /// and file fields; inside [`Store::atomic`] they stay locked until it ends, so no
    /// write slips a file or a referencing row in before the delete that follows.
    pub async fn file_rows(&self, schema: &TableSchema, column: &str, ids: &[i64]) -> Result<Vec<String>, StoreError> {
        let (sql, params) = file_queries::file_rows(self.dialect(), schema, column, ids);
        backend!(self.query_strings(sql, params))
    }

    /// The ids of the rows [`Store::delete_where`] deletes with the same arguments, read
    /// first (and locked inside [`Store::atomic`]) when the delete cascades to files.
    pub async fn ids_where(
        &self,
        schema: &TableSchema,
        filter: Option<&graph::GraphFilter<'_>>,
        access: Option<&AccessFilter<'_>>,
    ) -> Result<Vec<i64>, StoreError> {
        let (sql, params) = row_queries::ids_where(self.dialect(), schema, filter, access).map_err(rule_rejected)?;
        let ids = backend!(self.query_strings(sql, params))?;
        Ok(ids.iter().filter_map(|id| id.parse().ok()).collect())
    }

    /// Updates every row `filter` and `access` match, in one statement: sets `values` and
    /// adds `increments`. `Ok(None)`: an increment would take a matching row out of its
    /// field's bounds, so nothing changed. Otherwise the ids of the changed rows.
    pub async fn update_where(
        &self,
        schema: &TableSchema,
        filter: Option<&graph::GraphFilter<'_>>,
        access: Option<&AccessFilter<'_>>,
        values: NewRow,
        increments: &[row_queries::Increment],
    ) -> Result<Option<Vec<i64>>, StoreError> {
        let dialect = self.dialect();
        // Kept only to name the culprit if the database refuses a link.
        let kept = if has_relations(schema) { values.clone() } else { Vec::new() };
        let (sql, params) = row_queries::update_where(dialect, schema, filter, access, values, increments, &now_text())
            .map_err(rule_rejected)?;
        let ids: Vec<i64> = match backend!(self.write_strings(sql, params)) {
            Err(StoreError::ForeignKey { .. }) => return Err(self.missing_reference(schema, &kept, None).await),
            other => other?.iter().filter_map(|id| id.parse().ok()).collect(),
        };
        if ids.is_empty() && increments.iter().any(|i| i.min.is_some() || i.max.is_some()) {
            let (sql, params) =
                row_queries::count_out_of_bounds(dialect, schema, filter, access, increments).map_err(rule_rejected)?;
            if backend!(self.query_count(sql, params))? > 0 {
                return Ok(None);
            }
        }
        Ok(Some(ids))
    }

    /// Deletes every row `filter` and `access` match, in one statement; the deleted rows
    /// as JSON text. A row others still point at with `restrict` fails all of it.
    pub async fn delete_where(
        &self,
        schema: &TableSchema,
        filter: Option<&graph::GraphFilter<'_>>,
        access: Option<&AccessFilter<'_>>,
    ) -> Result<Vec<String>, StoreError> {
        let (sql, params) = row_queries::delete_where(self.dialect(), schema, filter, access).map_err(rule_rejected)?;
        match backend!(self.write_strings(sql, params)) {
            Err(StoreError::ForeignKey { .. }) => Err(StoreError::Referenced),
            other => other,
        }
    }

    /// One page of a list, each row as JSON text, in one statement.
    pub async fn list_rows(
        &self,
        schema: &TableSchema,
        spec: &ListSpec<'_>,
        access: Option<&AccessFilter<'_>>,
        expand: &[Expansion<'_>],
    ) -> Result<Vec<String>, StoreError> {
        let read = row_queries::list(self.dialect(), schema, spec, access, expand).map_err(rule_rejected)?;
        self.read_rows(read).await
    }

    /// How many rows match a filter (and `access`); `resolver` as in [`ListSpec`].
    pub async fn count_rows(
        &self,
        schema: &TableSchema,
        filter: Option<&str>,
        resolver: Option<&(dyn tessera_query::FieldResolver + Sync)>,
        access: Option<&AccessFilter<'_>>,
    ) -> Result<i64, StoreError> {
        let (sql, params) =
            row_queries::count(self.dialect(), schema, filter, resolver, access).map_err(rule_rejected)?;
        backend!(self.query_count(sql, params))
    }

    /// Calls `on_change` whenever another process commits a catalog change (Postgres:
    /// LISTEN/NOTIFY), until it returns false. SQLite has one server process, so nothing
    /// arrives there and this returns at once.
    pub async fn watch_catalog(&self, on_change: impl FnMut() -> bool + Send) {
        match self {
            Store::Sqlite(_) => {}
            Store::Postgres(store) => store.watch_catalog(on_change).await,
        }
    }

    /// Closes connections cleanly (checkpoints the SQLite WAL).
    pub async fn close(&self) {
        match self {
            Store::Sqlite(store) => store.close().await,
            Store::Postgres(store) => store.close().await,
        }
    }
}

fn has_relations(schema: &TableSchema) -> bool {
    schema.fields.values().any(|def| def.field_type == tessera_schema::FieldType::Relation)
}

/// A filter or rule that the service checked but the store could not compile: the
/// catalog changed in between, or a bug.
fn rule_rejected(error: tessera_query::filter::FilterError) -> StoreError {
    StoreError::Corrupt(format!("filter or rule rejected after validation: {error}"))
}

/// The current time in the canonical datetime form tessera stores and returns.
pub fn now_text() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}
