//! The Postgres backend: a deadpool connection pool, statements prepared once per
//! connection, and DDL inside transactions (Postgres DDL is transactional, so a failed
//! migration leaves nothing behind).

use crate::error::{classify_postgres, StoreError};
use crate::migrate::{self, MigrationReport, RowConverter, PAGE_ROWS};
use crate::pg_arrays::{unnest_insert_sql, ColumnArray};
use crate::row_queries::Returning;
use crate::{now_text, row_queries, table_queries, HistoryEntry, Inserted, NewRow};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Transaction};
use std::error::Error;
use std::sync::Arc;
use tessera_query::{quote_ident, Dialect, SqlWriter};
use tessera_schema::plan::{Plan, Step};
use tessera_schema::{FieldType, TableSchema, Value};
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};

/// Rows per bulk-insert statement (arrays bound per column; bounded for memory).
const BULK_CHUNK_ROWS: usize = 5000;

/// The channel on which catalog changes are announced.
const CATALOG_CHANNEL: &str = "tessera_catalog";

#[derive(Clone)]
pub struct PostgresStore {
    pub(crate) pool: Pool,
    config: Arc<tokio_postgres::Config>,
    /// Row statements sent (see [`crate::Store::statements_executed`]).
    pub(crate) statements: Arc<std::sync::atomic::AtomicU64>,
}

/// Binds a [`Value`]; the SQL text casts each placeholder, so the Rust type decides the
/// wire format and any declared type is accepted.
#[derive(Debug)]
pub struct Param<'a>(pub &'a Value);

impl ToSql for Param<'_> {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Integer(i) => i.to_sql(ty, out),
            Value::Float(f) => f.to_sql(ty, out),
            Value::Boolean(b) => b.to_sql(ty, out),
            Value::Text(s) => s.as_str().to_sql(ty, out),
            Value::Json(j) => j.to_string().as_str().to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

pub fn params(values: &[Value]) -> Vec<Param<'_>> {
    values.iter().map(Param).collect()
}

pub fn refs<'a>(params: &'a [Param<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

impl PostgresStore {
    pub async fn open(url: &str, pool_size: usize) -> Result<PostgresStore, StoreError> {
        let config: tokio_postgres::Config =
            url.parse().map_err(|e| StoreError::Pool(format!("invalid database url: {e}")))?;
        let config_for_listen = config.clone();
        let manager = Manager::from_config(
            config,
            tokio_postgres::NoTls,
            ManagerConfig { recycling_method: RecyclingMethod::Fast },
        );
        let pool =
            Pool::builder(manager).max_size(pool_size.max(1)).build().map_err(|e| StoreError::Pool(e.to_string()))?;
        let store = PostgresStore { pool, config: Arc::new(config_for_listen), statements: Default::default() };
        let client = store.pool.get().await?;
        // Several copies of tessera may start at once: serialize the system-table setup.
        client.batch_execute("SELECT pg_advisory_lock(7431001)").await?;
        let mut setup = Ok(());
        for statement in table_queries::system_tables(Dialect::Postgres) {
            if let Err(e) = client.batch_execute(statement).await {
                setup = Err(e);
                break;
            }
        }
        client.batch_execute("SELECT pg_advisory_unlock(7431001)").await?;
        setup?;
        drop(client);
        Ok(store)
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        self.conn().await?.batch_execute("SELECT 1").await?;
        Ok(())
    }

    pub async fn load_tables(&self) -> Result<Vec<TableSchema>, StoreError> {
        let client = self.conn().await?;
        let rows = client.query("SELECT schema FROM _tessera_tables ORDER BY id", &[]).await?;
        rows.iter()
            .map(|row| {
                serde_json::from_str(row.get::<_, &str>(0))
                    .map_err(|e| StoreError::Corrupt(format!("catalog entry: {e}")))
            })
            .collect()
    }

    pub async fn create_table(&self, draft: TableSchema) -> Result<TableSchema, StoreError> {
        let name = draft.name.clone();
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let key = name.to_ascii_lowercase();
        let now = now_text();
        let inserted = tx
            .query_opt(
                "INSERT INTO _tessera_tables (name, name_key, version, schema, created_at, updated_at)
                 VALUES ($1, $2, 1, '{}', $3, $3) ON CONFLICT (name_key) DO NOTHING RETURNING id",
                &[&name, &key, &now],
            )
            .await?;
        let Some(row) = inserted else {
            return Err(StoreError::TableExists(name));
        };
        let schema = TableSchema { id: row.get(0), version: 1, ..draft };
        let schema_json = serde_json::to_string(&schema).expect("schema serializes");
        tx.execute("UPDATE _tessera_tables SET schema = $1 WHERE id = $2", &[&schema_json, &schema.id]).await?;
        tx.batch_execute(&table_queries::create_table(Dialect::Postgres, &schema.name, &schema.fields))
            .await
            .map_err(classify_postgres)?;
        for statement in table_queries::create_indexes(&schema)
            .into_iter()
            .chain(table_queries::create_junctions(Dialect::Postgres, &schema))
        {
            tx.batch_execute(&statement).await?;
        }
        insert_history(&tx, schema.id, schema.version, "create", None, Some(&schema_json), "[]", &now).await?;
        tx.commit().await?;
        Ok(schema)
    }

    pub async fn drop_table(&self, schema: TableSchema) -> Result<(), StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let deleted = tx
            .execute("DELETE FROM _tessera_tables WHERE id = $1 AND version = $2", &[&schema.id, &schema.version])
            .await?;
        if deleted == 0 {
            return Err(StoreError::Stale(schema.name));
        }
        for statement in table_queries::drop_junctions(&schema) {
            tx.batch_execute(&statement).await?;
        }
        tx.batch_execute(&table_queries::drop_table(&schema.name)).await.map_err(classify_postgres)?;
        let before = serde_json::to_string(&schema).expect("schema serializes");
        insert_history(&tx, schema.id, schema.version + 1, "drop", Some(&before), None, "[]", &now_text()).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn history(&self, table_id: i64) -> Result<Vec<HistoryEntry>, StoreError> {
        let client = self.conn().await?;
        let rows = client
            .query(
                "SELECT version, action, before, after, steps, at FROM _tessera_history WHERE table_id = $1 ORDER BY version, id",
                &[&table_id],
            )
            .await?;
        rows.iter()
            .map(|row| history_entry(row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5)))
            .collect()
    }

    /// Rows of one column of JSON text (built by Postgres).
    pub async fn query_strings(&self, sql: String, values: Vec<Value>) -> Result<Vec<String>, StoreError> {
        self.query_rows(sql, values, |row| row.try_get::<_, String>(0)).await
    }

    /// Rows of typed columns, each written as JSON text by [`crate::typed_rows::render_row`].
    pub async fn query_rendered(
        &self,
        sql: String,
        values: Vec<Value>,
        layout: crate::typed_rows::RowLayout,
    ) -> Result<Vec<String>, StoreError> {
        self.query_rows(sql, values, |row| crate::typed_rows::render_row(row, &layout)).await
    }

    /// Every row of one read statement, each turned into a `T`.
    async fn query_rows<T>(
        &self,
        sql: String,
        values: Vec<Value>,
        map: impl Fn(&tokio_postgres::Row) -> Result<T, tokio_postgres::Error>,
    ) -> Result<Vec<T>, StoreError> {
        self.statements.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let client = self.conn().await?;
        let stmt = client.prepare_cached(&sql).await.map_err(classify_postgres)?;
        let params = params(&values);
        let rows = client.query(&stmt, &refs(&params)).await?;
        rows.iter().map(|row| Ok(map(row)?)).collect()
    }

    pub async fn query_count(&self, sql: String, values: Vec<Value>) -> Result<i64, StoreError> {
        self.statements.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let client = self.conn().await?;
        let stmt = client.prepare_cached(&sql).await.map_err(classify_postgres)?;
        let params = params(&values);
        Ok(client.query_one(&stmt, &refs(&params)).await?.try_get(0)?)
    }

    pub async fn write_strings(&self, sql: String, values: Vec<Value>) -> Result<Vec<String>, StoreError> {
        self.statements.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let client = self.conn().await?;
        let stmt = client.prepare_cached(&sql).await.map_err(classify_postgres)?;
        let params = params(&values);
        let rows = client.query(&stmt, &refs(&params)).await.map_err(classify_postgres)?;
        rows.iter().map(|row| Ok(row.try_get::<_, String>(0)?)).collect()
    }

    pub async fn execute(&self, sql: String, values: Vec<Value>) -> Result<u64, StoreError> {
        self.statements.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let client = self.conn().await?;
        let stmt = client.prepare_cached(&sql).await.map_err(classify_postgres)?;
        let params = params(&values);
        client.execute(&stmt, &refs(&params)).await.map_err(classify_postgres)
    }

    pub async fn insert_rows(
        &self,
        schema: TableSchema,
        rows: Vec<NewRow>,
        return_rows: bool,
    ) -> Result<Inserted, StoreError> {
        let mut client = self.conn().await?;
        let now = now_text();
        if rows.len() == 1 {
            // The common single create: one prepared statement, no explicit transaction.
            let row = rows.into_iter().next().expect("one row");
            let returning = if return_rows { Returning::Json } else { Returning::Id };
            let sql = row_queries::insert_sql(Dialect::Postgres, &schema, returning);
            let values = row_queries::insert_params(Dialect::Postgres, &schema, row, &now);
            let stmt = client.prepare_cached(&sql).await.map_err(classify_postgres)?;
            let params = params(&values);
            let result = client.query_opt(&stmt, &refs(&params)).await.map_err(|e| classify_postgres(e).at_row(0))?;
            // The version guard held the row back: the table changed meanwhile.
            let result = result.ok_or_else(|| StoreError::Stale(schema.name.clone()))?;
            return Ok(if return_rows {
                Inserted::Rows(vec![result.try_get(0)?])
            } else {
                Inserted::Ids(vec![result.try_get(0)?])
            });
        }
        let tx = PgTx::begin(&mut client).await?;
        // Hold the catalog row: no migration of this table can commit until this bulk
        // insert does, and one that committed meanwhile is seen here (the version differs).
        let hold = tx.prepare_cached("SELECT version FROM _tessera_tables WHERE id = $1 FOR SHARE").await?;
        let version: Option<i64> = tx.query_opt(&hold, &[&schema.id]).await?.map(|row| row.get(0));
        if version != Some(schema.version) {
            return Err(StoreError::Stale(schema.name.clone()));
        }
        let columns = insert_columns(&schema);
        let returning = if return_rows {
            row_queries::row_json(Dialect::Postgres, &row_queries::all_columns(&schema), Some(&schema.name))
        } else {
            "\"id\"".to_string()
        };
        let stmt = tx.prepare_cached(&unnest_insert_sql(&schema.name, &columns, &returning)).await?;
        let mut json_rows = Vec::new();
        let mut ids = Vec::new();
        let mut first_index = 0;
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<NewRow> = rows.by_ref().take(BULK_CHUNK_ROWS).collect();
            let count = chunk.len();
            let mut arrays: Vec<ColumnArray> = columns.iter().map(|(_, t)| ColumnArray::new(*t, count)).collect();
            for row in &chunk {
                let values = row
                    .iter()
                    .map(|(_, value)| value.clone())
                    .chain([Value::Text(now.clone()), Value::Text(now.clone())]);
                for (array, value) in arrays.iter_mut().zip(values) {
                    array.push(value);
                }
            }
            let params: Vec<&(dyn ToSql + Sync)> = arrays.iter().map(ColumnArray::as_param).collect();
            tx.batch_execute("SAVEPOINT tessera_batch").await?;
            let result = match tx.query(&stmt, &params).await {
                Ok(result) => {
                    // Released at once: piling up savepoints slows Postgres down.
                    tx.batch_execute("RELEASE SAVEPOINT tessera_batch").await?;
                    result
                }
                Err(batch_error) => {
                    // A chunk fails as a whole: replay it row by row to name the culprit.
                    tx.batch_execute("ROLLBACK TO SAVEPOINT tessera_batch").await?;
                    return Err(first_failing_row(&tx, &schema, chunk, &now, first_index)
                        .await
                        .unwrap_or_else(|| classify_postgres(batch_error).at_row(first_index)));
                }
            };
            for row in result {
                if return_rows {
                    json_rows.push(row.try_get(0)?);
                } else {
                    ids.push(row.try_get(0)?);
                }
            }
            first_index += count;
        }
        tx.commit().await?;
        Ok(if return_rows { Inserted::Rows(json_rows) } else { Inserted::Ids(ids) })
    }

    /// See [`crate::sqlite::SqliteStore::write_linked`]; row statements carry the version
    /// guard, so a row that does not come back may also mean the table changed.
    pub async fn write_linked(
        &self,
        schema: TableSchema,
        writes: Vec<crate::LinkedWrite>,
        read_back: bool,
    ) -> Result<Vec<Option<(i64, Option<String>)>>, StoreError> {
        let mut client = self.conn().await?;
        let tx = PgTx::begin(&mut client).await?;
        let mut out = Vec::with_capacity(writes.len());
        for (index, write) in writes.into_iter().enumerate() {
            let stmt = tx.prepare_cached(&write.row_sql).await.map_err(classify_postgres)?;
            let row_params = params(&write.row_params);
            let row = tx.query_opt(&stmt, &refs(&row_params)).await.map_err(|e| classify_postgres(e).at_row(index))?;
            let Some(row) = row else {
                out.push(None);
                continue;
            };
            let id: i64 = row.try_get(0)?;
            for link in &write.links {
                let unlink = tx.prepare_cached(&row_queries::unlink_sql(Dialect::Postgres, &link.junction)).await?;
                tx.execute(&unlink, &[&id]).await?;
                let insert = tx.prepare_cached(&row_queries::link_sql(Dialect::Postgres, &link.junction)).await?;
                for (position, target) in link.ids.iter().enumerate() {
                    tx.execute(&insert, &[&id, target, &(position as i64)])
                        .await
                        .map_err(|e| classify_postgres(e).at_row(index))?;
                }
            }
            let json = if read_back {
                let select = tx.prepare_cached(&row_queries::select_written(Dialect::Postgres, &schema)).await?;
                Some(tx.query_one(&select, &[&id]).await?.try_get(0)?)
            } else {
                None
            };
            out.push(Some((id, json)));
        }
        tx.commit().await?;
        Ok(out)
    }

    pub async fn migrate(&self, plan: Plan, dry_run: bool) -> Result<MigrationReport, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        // Lock the catalog row: concurrent migrations of one table run one after another.
        let current = tx
            .query_opt("SELECT version FROM _tessera_tables WHERE id = $1 FOR UPDATE", &[&plan.before.id])
            .await?
            .map(|row| row.get::<_, i64>(0));
        if current != Some(plan.before.version) {
            return Err(StoreError::Stale(plan.before.name.clone()));
        }
        if !plan.after.name.eq_ignore_ascii_case(&plan.before.name) {
            let taken = tx
                .query_opt(
                    "SELECT id FROM _tessera_tables WHERE name_key = $1 AND id != $2",
                    &[&plan.after.name.to_ascii_lowercase(), &plan.after.id],
                )
                .await?;
            if taken.is_some() {
                return Err(StoreError::TableExists(plan.after.name.clone()));
            }
        }
        // Writers wait while the table is checked and converted; readers keep reading.
        tx.batch_execute(&format!("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE", quote_ident(&plan.before.name))).await?;
        let rows: i64 =
            tx.query_one(&format!("SELECT count(*) FROM {}", quote_ident(&plan.before.name)), &[]).await?.get(0);
        let mut report = MigrationReport::new(Dialect::Postgres, &plan, rows, dry_run);
        let full_plan = plan;
        let plan = full_plan.columns_only();
        if migrate::needs_scan(&plan) && rows > 0 {
            let mut converter = RowConverter::new(&plan);
            let mut last_id = i64::MIN;
            while let Some(page) = read_page(&tx, &plan.before, last_id).await? {
                last_id = page.last().map_or(last_id, |row| row.0);
                for (id, old, _) in page {
                    converter.convert_row(id, &old);
                }
            }
            report.failing_rows = converter.failing;
            report.failures = converter.failures;
        }
        if dry_run {
            return Ok(report);
        }
        if report.failing_rows > 0 {
            return Err(StoreError::MigrationRefused { failing: report.failing_rows, rows: report.failures });
        }
        if full_plan.changes_table() {
            let (junctions_before, junctions_after) = migrate::junction_statements(Dialect::Postgres, &full_plan);
            for statement in table_queries::drop_indexes(&plan.before).into_iter().chain(junctions_before) {
                tx.batch_execute(&statement).await?;
            }
            if migrate::needs_rebuild(Dialect::Postgres, &plan) {
                rebuild(&tx, &plan).await?;
            } else {
                for statement in migrate::alter_statements(Dialect::Postgres, &plan) {
                    tx.batch_execute(&statement).await?;
                }
                fill_defaults(&tx, &plan).await?;
            }
            for statement in table_queries::create_indexes(&plan.after).into_iter().chain(junctions_after) {
                tx.batch_execute(&statement).await.map_err(classify_postgres)?;
            }
        }
        for other in &full_plan.retargeted {
            let json = serde_json::to_string(other).expect("schema serializes");
            tx.execute("UPDATE _tessera_tables SET schema = $1 WHERE id = $2", &[&json, &other.id]).await?;
        }
        let now = now_text();
        let after_json = serde_json::to_string(&full_plan.after).expect("schema serializes");
        tx.execute(
            "UPDATE _tessera_tables SET name = $1, name_key = $2, version = $3, schema = $4, updated_at = $5 WHERE id = $6",
            &[&full_plan.after.name, &full_plan.after.name.to_ascii_lowercase(), &full_plan.after.version, &after_json, &now, &full_plan.after.id],
        )
        .await?;
        let before_json = serde_json::to_string(&full_plan.before).expect("schema serializes");
        let steps = serde_json::to_string(&report.steps).expect("steps serialize");
        insert_history(
            &tx,
            full_plan.after.id,
            full_plan.after.version,
            "migrate",
            Some(&before_json),
            Some(&after_json),
            &steps,
            &now,
        )
        .await?;
        tx.commit().await?;
        report.applied = true;
        Ok(report)
    }

    pub async fn close(&self) {
        self.pool.close();
    }

    /// Calls `on_change` whenever another connection commits a catalog change, and once
    /// after every (re)connection (changes may have been missed while disconnected).
    /// Runs until `on_change` returns false.
    pub async fn watch_catalog(&self, mut on_change: impl FnMut() -> bool + Send) {
        let mut backoff = std::time::Duration::from_millis(100);
        loop {
            match self.config.connect(tokio_postgres::NoTls).await {
                Ok((client, mut connection)) => {
                    backoff = std::time::Duration::from_millis(100);
                    let listen_sql = format!("LISTEN {CATALOG_CHANNEL}");
                    let listen = client.batch_execute(&listen_sql);
                    // The connection must be polled for LISTEN to complete.
                    let mut listen = std::pin::pin!(listen);
                    let listened = loop {
                        tokio::select! {
                            result = &mut listen => break result.is_ok(),
                            message = std::future::poll_fn(|cx| connection.poll_message(cx)) => {
                                if !matches!(message, Some(Ok(_))) { break false; }
                            }
                        }
                    };
                    if listened {
                        if !on_change() {
                            return;
                        }
                        while let Some(Ok(message)) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                            if matches!(message, tokio_postgres::AsyncMessage::Notification(_)) && !on_change() {
                                return;
                            }
                        }
                    }
                    tracing::warn!("catalog listener disconnected; reconnecting");
                }
                Err(e) => tracing::warn!("catalog listener cannot connect: {e}"),
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(std::time::Duration::from_secs(5));
        }
    }
}

/// Inserts `rows` one by one (inside the caller's transaction) and returns the error of
/// the first that fails, tagged with its index in the whole request.
async fn first_failing_row(
    tx: &PgTx<'_>,
    schema: &TableSchema,
    rows: Vec<NewRow>,
    now: &str,
    first_index: usize,
) -> Option<StoreError> {
    let stmt = tx.prepare_cached(&row_queries::insert_sql(Dialect::Postgres, schema, Returning::Id)).await.ok()?;
    for (offset, row) in rows.into_iter().enumerate() {
        let values = row_queries::insert_params(Dialect::Postgres, schema, row, now);
        let params = params(&values);
        if let Err(e) = tx.execute(&stmt, &refs(&params)).await {
            return Some(classify_postgres(e).at_row(first_index + offset));
        }
    }
    None
}

/// The columns of a bulk create, in [`row_queries::insert_params`] order.
fn insert_columns(schema: &TableSchema) -> Vec<(&str, FieldType)> {
    let mut columns: Vec<(&str, FieldType)> =
        schema.fields.iter().filter(|(_, d)| d.is_column()).map(|(n, d)| (n.as_str(), d.field_type)).collect();
    columns.push(("created_at", FieldType::Datetime));
    columns.push(("updated_at", FieldType::Datetime));
    columns
}

#[allow(clippy::too_many_arguments)]
async fn insert_history(
    tx: &Transaction<'_>,
    table_id: i64,
    version: i64,
    action: &str,
    before: Option<&str>,
    after: Option<&str>,
    steps: &str,
    at: &str,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO _tessera_history (table_id, version, action, before, after, steps, at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[&table_id, &version, &action, &before, &after, &steps, &at],
    )
    .await?;
    // Delivered at commit to every tessera on this database, which reload their catalog.
    tx.execute("SELECT pg_notify($1, $2)", &[&CATALOG_CHANNEL, &table_id.to_string()]).await?;
    Ok(())
}

/// Builds a history entry from its stored columns (shared with the SQLite backend).
pub(crate) fn history_entry(
    version: i64,
    action: String,
    before: Option<String>,
    after: Option<String>,
    steps: String,
    at: String,
) -> Result<HistoryEntry, StoreError> {
    let parse = |text: &str| serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("history entry: {e}")));
    Ok(HistoryEntry {
        version,
        action,
        before: before.as_deref().map(parse).transpose()?,
        after: after.as_deref().map(parse).transpose()?,
        steps: parse(&steps)?,
        at,
    })
}

/// A column read back as a value of its field type: types Postgres has natively and
/// tessera keeps as canonical text are read as text in that canonical form.
fn read_expr(column: &str, field_type: FieldType) -> String {
    let col = quote_ident(column);
    match field_type {
        FieldType::Datetime => {
            format!("to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
        }
        FieldType::Decimal | FieldType::Date | FieldType::Uuid | FieldType::Json => {
            format!("{col}::text")
        }
        _ => col,
    }
}

type PageRow = (i64, Vec<Value>, (String, String));

/// One page of rows after `last_id`, in id order; `None` when there are no more.
async fn read_page(
    tx: &Transaction<'_>,
    schema: &TableSchema,
    last_id: i64,
) -> Result<Option<Vec<PageRow>>, StoreError> {
    let mut sql = String::from("SELECT \"id\"");
    for (name, def) in &schema.fields {
        sql.push_str(", ");
        sql.push_str(&read_expr(name, def.field_type));
    }
    sql.push_str(&format!(
        ", {}, {} FROM {} WHERE \"id\" > $1 ORDER BY \"id\" LIMIT {PAGE_ROWS}",
        read_expr("created_at", FieldType::Datetime),
        read_expr("updated_at", FieldType::Datetime),
        quote_ident(&schema.name)
    ));
    let rows = tx.query(&sql, &[&last_id]).await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let n = schema.fields.len();
    let page = rows
        .iter()
        .map(|row| {
            let values = schema
                .fields
                .values()
                .enumerate()
                .map(|(i, def)| read_value(row, i + 1, def.field_type))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((row.get(0), values, (row.get(n + 1), row.get(n + 2))))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Some(page))
}

fn read_value(row: &tokio_postgres::Row, index: usize, field_type: FieldType) -> Result<Value, StoreError> {
    let value = match field_type {
        FieldType::Integer | FieldType::Relation => row.try_get::<_, Option<i64>>(index)?.map(Value::Integer),
        FieldType::Float => row.try_get::<_, Option<f64>>(index)?.map(Value::Float),
        FieldType::Boolean => row.try_get::<_, Option<bool>>(index)?.map(Value::Boolean),
        FieldType::Json => match row.try_get::<_, Option<String>>(index)? {
            Some(text) => Some(Value::Json(
                serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("stored json: {e}")))?,
            )),
            None => None,
        },
        _ => row.try_get::<_, Option<String>>(index)?.map(Value::Text),
    };
    Ok(value.unwrap_or(Value::Null))
}

/// Gives existing rows the default of each new field that has one.
async fn fill_defaults(tx: &Transaction<'_>, plan: &Plan) -> Result<(), StoreError> {
    for step in &plan.steps {
        if let Step::AddField { name, field } = step {
            let default = migrate::default_value(field);
            if !default.is_null() {
                let mut w = SqlWriter::new(Dialect::Postgres);
                w.push("UPDATE ").push_ident(&plan.after.name).push(" SET ").push_ident(name).push(" = ");
                w.push_param(default, field.field_type);
                let (sql, values) = w.finish();
                let params = params(&values);
                tx.execute(&sql, &refs(&params)).await?;
            }
        }
    }
    Ok(())
}

/// Copies the table into a new one with the new layout, converting every row, then swaps
/// it in, inside the caller's transaction.
async fn rebuild(tx: &Transaction<'_>, plan: &Plan) -> Result<(), StoreError> {
    let temp = migrate::rebuild_name(plan.after.id);
    // The new copy's links to its own table point at the old copy for now (the new name
    // does not exist yet); they are moved over with the other inbound keys below.
    let mut fields = plan.after.fields.clone();
    for def in fields.values_mut() {
        if def.target.as_deref() == Some(plan.after.name.as_str()) {
            def.target = Some(plan.before.name.clone());
        }
    }
    tx.batch_execute(&table_queries::create_table(Dialect::Postgres, &temp, &fields)).await?;
    let mut columns: Vec<(&str, FieldType)> = vec![("id", FieldType::Integer)];
    columns.extend(plan.after.fields.iter().map(|(name, def)| (name.as_str(), def.field_type)));
    columns.push(("created_at", FieldType::Datetime));
    columns.push(("updated_at", FieldType::Datetime));
    let stmt = tx.prepare(&unnest_insert_sql(&temp, &columns, "1")).await?;
    let mut converter = RowConverter::new(plan);
    let mut last_id = i64::MIN;
    while let Some(page) = read_page(tx, &plan.before, last_id).await? {
        last_id = page.last().map_or(last_id, |row| row.0);
        let mut arrays: Vec<ColumnArray> = columns.iter().map(|(_, t)| ColumnArray::new(*t, page.len())).collect();
        for (id, old, (created_at, updated_at)) in page {
            let Some(new_row) = converter.convert_row(id, &old) else {
                return Err(StoreError::MigrationRefused {
                    failing: converter.failing,
                    rows: converter.failures.clone(),
                });
            };
            let values = std::iter::once(Value::Integer(id))
                .chain(new_row)
                .chain([Value::Text(created_at), Value::Text(updated_at)]);
            for (array, value) in arrays.iter_mut().zip(values) {
                array.push(value);
            }
        }
        let params: Vec<&(dyn ToSql + Sync)> = arrays.iter().map(ColumnArray::as_param).collect();
        tx.execute(&stmt, &params).await.map_err(classify_postgres)?;
    }
    // Carry the id sequence over so ids of deleted rows are never reused.
    let old_sequence: Option<i64> = tx
        .query_one(
            "SELECT pg_sequence_last_value(pg_get_serial_sequence($1, 'id')::regclass)",
            &[&quote_ident(&plan.before.name)],
        )
        .await?
        .get(0);
    // Foreign keys that point at the old copy (from other tables, junctions, or the new
    // copy's own self-references) would stop the drop: take them off and put them back
    // on the new copy, which holds the same ids.
    let inbound = tx
        .query(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), confrelid::regclass::text FROM pg_constraint WHERE contype = 'f' AND confrelid = $1::text::regclass AND conrelid <> confrelid",
            &[&quote_ident(&plan.before.name)],
        )
        .await?;
    // Each key is put back pointing at the table's new name.
    let new_target = format!("REFERENCES {}(", quote_ident(&plan.after.name));
    let inbound: Vec<(String, String, String)> = inbound
        .iter()
        .map(|row| {
            let old_target = format!("REFERENCES {}(", row.get::<_, String>(3));
            (row.get(0), row.get(1), row.get::<_, String>(2).replacen(&old_target, &new_target, 1))
        })
        .collect();
    for (table, constraint, _) in &inbound {
        tx.batch_execute(&format!("ALTER TABLE {table} DROP CONSTRAINT {}", quote_ident(constraint))).await?;
    }
    tx.batch_execute(&table_queries::drop_table(&plan.before.name)).await?;
    tx.batch_execute(&table_queries::rename_table(&temp, &plan.after.name)).await?;
    for (table, constraint, definition) in &inbound {
        let table =
            if *table == temp || *table == quote_ident(&temp) { quote_ident(&plan.after.name) } else { table.clone() };
        tx.batch_execute(&format!("ALTER TABLE {table} ADD CONSTRAINT {} {definition}", quote_ident(constraint)))
            .await
            .map_err(classify_postgres)?;
    }
    let new_table = quote_ident(&plan.after.name);
    // The copy inserted explicit ids, which do not advance the sequence: catch it up.
    tx.batch_execute(&format!(
        "SELECT setval(pg_get_serial_sequence('{name}', 'id')::regclass, GREATEST((SELECT COALESCE(max(\"id\"), 0) FROM {new_table}), COALESCE({seq}, 0), 1), (SELECT count(*) > 0 FROM {new_table}) OR {called})",
        name = new_table.replace('\'', "''"),
        seq = old_sequence.map_or("NULL".to_string(), |s| s.to_string()),
        called = old_sequence.is_some(),
    ))
    .await?;
    Ok(())
}

/// Prepared statements one pooled connection keeps before its cache starts over (see
/// [`PostgresStore::conn`]).
const MAX_CACHED_STATEMENTS: usize = 512;

/// The connection one call uses: one of the pool's, or the connection holding the
/// transaction of the request the task runs in (see [`crate::Store::atomic`]).
// Lives on the stack for one call; boxing the pooled variant would allocate per call.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Conn {
    Pooled(deadpool_postgres::Object),
    Joined(tokio::sync::OwnedMutexGuard<deadpool_postgres::Object>),
}

impl std::ops::Deref for Conn {
    type Target = deadpool_postgres::Object;

    fn deref(&self) -> &Self::Target {
        match self {
            Conn::Pooled(client) => client,
            Conn::Joined(client) => client,
        }
    }
}

impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut Self::Target {
        match self {
            Conn::Pooled(client) => client,
            Conn::Joined(client) => client,
        }
    }
}

/// The transaction of a multi-statement write: its own, or — inside a request's
/// transaction — that one (the call's savepoint, taken by [`PostgresStore::joined`], undoes
/// it on failure), whose commit is then the request's.
pub(crate) enum PgTx<'a> {
    Own(Transaction<'a>),
    Joined(&'a deadpool_postgres::Object),
}

impl<'a> PgTx<'a> {
    pub async fn begin(client: &'a mut Conn) -> Result<PgTx<'a>, StoreError> {
        Ok(match client {
            Conn::Pooled(client) => PgTx::Own(client.transaction().await?),
            Conn::Joined(client) => PgTx::Joined(client),
        })
    }

    pub async fn prepare_cached(&self, sql: &str) -> Result<tokio_postgres::Statement, tokio_postgres::Error> {
        match self {
            PgTx::Own(tx) => tx.prepare_cached(sql).await,
            PgTx::Joined(client) => client.prepare_cached(sql).await,
        }
    }

    pub async fn query_opt(
        &self,
        statement: &tokio_postgres::Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<tokio_postgres::Row>, tokio_postgres::Error> {
        match self {
            PgTx::Own(tx) => tx.query_opt(statement, params).await,
            PgTx::Joined(client) => client.query_opt(statement, params).await,
        }
    }

    pub async fn query_one(
        &self,
        statement: &tokio_postgres::Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<tokio_postgres::Row, tokio_postgres::Error> {
        match self {
            PgTx::Own(tx) => tx.query_one(statement, params).await,
            PgTx::Joined(client) => client.query_one(statement, params).await,
        }
    }

    pub async fn query(
        &self,
        statement: &tokio_postgres::Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, tokio_postgres::Error> {
        match self {
            PgTx::Own(tx) => tx.query(statement, params).await,
            PgTx::Joined(client) => client.query(statement, params).await,
        }
    }

    pub async fn execute(
        &self,
        statement: &tokio_postgres::Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, tokio_postgres::Error> {
        match self {
            PgTx::Own(tx) => tx.execute(statement, params).await,
            PgTx::Joined(client) => client.execute(statement, params).await,
        }
    }

    pub async fn batch_execute(&self, sql: &str) -> Result<(), tokio_postgres::Error> {
        match self {
            PgTx::Own(tx) => tx.batch_execute(sql).await,
            PgTx::Joined(client) => client.batch_execute(sql).await,
        }
    }

    pub async fn commit(self) -> Result<(), tokio_postgres::Error> {
        match self {
            PgTx::Own(tx) => tx.commit().await,
            PgTx::Joined(_) => Ok(()),
        }
    }
}

impl PostgresStore {
    /// A connection for one call (see [`Conn`]).
    pub(crate) async fn conn(&self) -> Result<Conn, StoreError> {
        let conn = match crate::atomic::postgres_connection() {
            Some(client) => Conn::Joined(client.lock_owned().await),
            None => Conn::Pooled(self.pool.get().await?),
        };
        // deadpool's statement cache never forgets; statements differ by filter shape
        // and page size, so a client could grow it (and the server's prepared plans)
        // without end. Starting over now and then costs one prepare per statement.
        if conn.statement_cache.size() > MAX_CACHED_STATEMENTS {
            conn.statement_cache.clear();
        }
        Ok(conn)
    }

    /// Runs one store call; inside a request's transaction, in a savepoint of its own, so
    /// that a refused statement is undone alone and the transaction stays usable (for the
    /// lookups that name the culprit, as outside one).
    pub(crate) async fn joined<T>(
        &self,
        call: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let Some(client) = crate::atomic::postgres_connection() else { return call.await };
        client.lock().await.batch_execute("SAVEPOINT tessera_call").await?;
        let result = call.await;
        let end = if result.is_ok() {
            "RELEASE SAVEPOINT tessera_call"
        } else {
            "ROLLBACK TO SAVEPOINT tessera_call; RELEASE SAVEPOINT tessera_call"
        };
        client.lock().await.batch_execute(end).await?;
        result
    }

    /// See [`crate::sqlite::SqliteStore::atomic`]: here one pooled connection holds the
    /// transaction, and every call of the scope uses it.
    pub async fn atomic<T>(
        &self,
        work: impl std::future::Future<Output = T>,
        commit: impl FnOnce(&T) -> bool,
    ) -> Result<T, StoreError> {
        use crate::atomic::{Connection as Held, RollbackOnDrop, Scope};
        let client = self.pool.get().await?;
        client.batch_execute("BEGIN").await?;
        let client = Arc::new(tokio::sync::Mutex::new(client));
        let mut abandoned = RollbackOnDrop(Some(client.clone()));
        let scope = Scope::new(Held::Postgres(client.clone()));
        let out = crate::atomic::within(scope.clone(), work).await;
        let keep = commit(&out);
        abandoned.0 = None;
        client.lock().await.batch_execute(if keep { "COMMIT" } else { "ROLLBACK" }).await.map_err(classify_postgres)?;
        if keep {
            for job in scope.take_after_commit() {
                job.await;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection's statement cache starts over past [`MAX_CACHED_STATEMENTS`] (a pool
    /// of one connection, so every statement lands in the same cache), and statements
    /// prepared again after that still answer.
    #[tokio::test]
    async fn statement_cache_starts_over_when_full() {
        let base = std::env::var("TESSERA_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let schema = format!("tc_{}", std::process::id());
        let (admin, connection) = tokio_postgres::connect(&base, tokio_postgres::NoTls).await.expect("Postgres");
        tokio::spawn(connection);
        admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")).await.unwrap();
        let separator = if base.contains('?') { '&' } else { '?' };
        let store =
            PostgresStore::open(&format!("{base}{separator}options=-csearch_path%3D{schema}"), 1).await.unwrap();
        let mut largest = 0;
        for round in 0..2 {
            for n in 0..MAX_CACHED_STATEMENTS as i64 + 50 {
                let sql = format!("SELECT ($1::int8 + {n})::text");
                let answer = store.query_strings(sql, vec![Value::Integer(round)]).await.unwrap();
                assert_eq!(answer, [(n + round).to_string()]);
                largest = largest.max(store.conn().await.unwrap().statement_cache.size());
            }
        }
        drop(store);
        admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).await.unwrap();
        assert!(largest > MAX_CACHED_STATEMENTS / 2, "the test filled the cache: {largest}");
        assert!(largest <= MAX_CACHED_STATEMENTS + 1, "the cache kept {largest} statements");
    }
}
