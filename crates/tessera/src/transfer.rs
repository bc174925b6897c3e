//! `tessera import` and `tessera export`: files in and out, streamed so a file of any size
//! runs in bounded memory. Rows go through the same validation as the HTTP API.

use crate::cli::Format;
use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Map, Value as Json};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use tessera_core::auth::Caller;
use tessera_core::{App, ListParams, WriteResult};
use tessera_schema::validate::FieldChecker;
use tessera_schema::FieldType;

pub fn guess_format(path: &Path) -> Option<Format> {
    match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
        "csv" => Some(Format::Csv),
        "ndjson" | "jsonl" | "json" => Some(Format::Ndjson),
        _ => None,
    }
}

/// Counts bytes read, for the progress bar.
struct Counting<R> {
    inner: R,
    progress: ProgressBar,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.inc(n as u64);
        Ok(n)
    }
}

/// Streams `file` into `table` in transactions of `batch` rows; returns the row count.
/// Each batch is all-or-nothing; an invalid row stops the import and names its line.
pub async fn import(
    app: &App,
    table: &str,
    file: &Path,
    format: Format,
    batch: usize,
    progress: bool,
) -> anyhow::Result<u64> {
    let table_entry = app.table(table)?;
    let size = std::fs::metadata(file).with_context(|| format!("cannot read {}", file.display()))?.len();
    let bar = if progress { ProgressBar::new(size) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {per_sec} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let reader = Counting {
        inner: File::open(file).with_context(|| format!("cannot open {}", file.display()))?,
        progress: bar.clone(),
    };
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<anyhow::Result<(u64, Json)>>(batch.min(10_000) * 2);
    let schema = table_entry.schema.clone();
    // Parsing runs on a blocking thread and feeds the inserting task through a bounded
    // channel, so the file is never held in memory.
    let parser = tokio::task::spawn_blocking(move || {
        let send = |item| sender.blocking_send(item).is_ok();
        match format {
            Format::Ndjson => {
                for (index, line) in BufReader::new(reader).lines().enumerate() {
                    let line_number = index as u64 + 1;
                    let item = line
                        .with_context(|| format!("line {line_number}: cannot read"))
                        .and_then(|line| {
                            if line.trim().is_empty() {
                                return Ok(None);
                            }
                            serde_json::from_str::<Json>(&line)
                                .map(Some)
                                .with_context(|| format!("line {line_number}: not valid JSON"))
                        })
                        .map(|row| row.map(|row| (line_number, row)));
                    match item {
                        Ok(None) => continue,
                        Ok(Some(row)) => {
                            if !send(Ok(row)) {
                                return;
                            }
                        }
                        Err(e) => {
                            send(Err(e));
                            return;
                        }
                    }
                }
            }
            Format::Csv => {
                let mut csv = csv::Reader::from_reader(reader);
                let headers = match csv.headers() {
                    Ok(headers) => headers.clone(),
                    Err(e) => {
                        send(Err(anyhow::anyhow!("cannot read the CSV header: {e}")));
                        return;
                    }
                };
                // One checker per column: patterns compile once, not per cell.
                let mut columns: Vec<Option<(String, FieldChecker)>> = Vec::with_capacity(headers.len());
                for column in headers.iter() {
                    if matches!(column, "id" | "created_at" | "updated_at") {
                        columns.push(None);
                        continue;
                    }
                    match schema.field(column) {
                        Some((name, def)) => columns.push(Some((name.to_string(), FieldChecker::new(def)))),
                        None => {
                            send(Err(anyhow::anyhow!(
                                "the CSV header names '{column}', which is not a field of {}",
                                schema.name
                            )));
                            return;
                        }
                    }
                }
                for record in csv.records() {
                    let item = record.context("cannot read a CSV record").and_then(|record| {
                        let line = record.position().map_or(0, |p| p.line());
                        let mut row = Map::new();
                        for (column, text) in columns.iter().zip(record.iter()) {
                            let Some((name, checker)) = column else { continue };
                            let value = checker
                                .coerce_text(text)
                                .map_err(|e| anyhow::anyhow!("line {line}, field '{name}': {}", e.message))?;
                            row.insert(name.clone(), value.to_json());
                        }
                        Ok((line, Json::Object(row)))
                    });
                    let failed = item.is_err();
                    if !send(item) || failed {
                        return;
                    }
                }
            }
        }
    });
    let mut imported = 0u64;
    let mut rows = Vec::with_capacity(batch);
    let mut lines = Vec::with_capacity(batch);
    loop {
        let next = receiver.recv().await;
        let done = next.is_none();
        if let Some(item) = next {
            let (line, row) = item?;
            rows.push(row);
            lines.push(line);
        }
        if rows.len() >= batch || (done && !rows.is_empty()) {
            let count = rows.len() as u64;
            match app.create_rows(table, std::mem::take(&mut rows).into_iter().map(Ok), false, &Caller::System).await {
                Ok(WriteResult::Many { .. } | WriteResult::One(_)) => imported += count,
                Err(tessera_core::CoreError::InvalidRow { errors, row_index }) => {
                    let line = row_index.and_then(|i| lines.get(i)).copied().unwrap_or(0);
                    let detail =
                        errors.first().map_or(String::new(), |e| format!("field '{}': {}", e.field, e.message));
                    bail!("line {line}: {detail} ({imported} rows were imported before it)");
                }
                Err(e) => bail!("{e} ({imported} rows were imported before this batch)"),
            }
            lines.clear();
            bar.set_message(format!("{imported} rows"));
        }
        if done {
            break;
        }
    }
    parser.await.context("the file reader failed")?;
    bar.finish_with_message(format!("{imported} rows"));
    Ok(imported)
}

/// Writes every row of `table` to stdout, page by page with a keyset cursor.
pub async fn export(app: &App, table: &str, format: Format) -> anyhow::Result<()> {
    let schema = app.table(table)?.schema.clone();
    let out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut columns = vec!["id".to_string()];
    columns.extend(schema.fields.keys().cloned());
    columns.extend(["created_at".to_string(), "updated_at".to_string()]);
    let json_columns: Vec<bool> = columns
        .iter()
        .map(|column| schema.fields.get(column).is_some_and(|def| def.field_type == FieldType::Json))
        .collect();
    let mut sink = match format {
        Format::Ndjson => Sink::Ndjson(out),
        Format::Csv => {
            let mut writer = csv::Writer::from_writer(out);
            writer.write_record(&columns)?;
            Sink::Csv(Box::new(writer))
        }
    };
    let mut params = ListParams { limit: Some("1000".into()), ..ListParams::default() };
    loop {
        let page = app.list_rows(table, &params, &Caller::System).await?;
        for item in &page.items {
            match &mut sink {
                Sink::Ndjson(out) => {
                    out.write_all(item.as_bytes())?;
                    out.write_all(b"\n")?;
                }
                Sink::Csv(writer) => {
                    let row: Json = serde_json::from_str(item)?;
                    writer.write_record(columns.iter().zip(&json_columns).map(|(column, is_json)| {
                        match row.get(column) {
                            None | Some(Json::Null) => String::new(),
                            // A json cell is JSON text, so "42" (a string) stays a string.
                            Some(value) if *is_json => value.to_string(),
                            Some(Json::String(s)) => s.clone(),
                            Some(other) => other.to_string(),
                        }
                    }))?;
                }
            }
        }
        match page.next_cursor {
            Some(cursor) => params.cursor = Some(cursor),
            None => break,
        }
    }
    match &mut sink {
        Sink::Ndjson(out) => out.flush()?,
        Sink::Csv(writer) => writer.flush()?,
    }
    Ok(())
}

/// Where exported rows go.
enum Sink<W: Write> {
    Ndjson(W),
    Csv(Box<csv::Writer<W>>),
}
