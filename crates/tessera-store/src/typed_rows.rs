//! Postgres reads as typed columns, written as JSON by tessera.
//!
//! A list or single-row read on Postgres selects each value as its own column (an
//! integer as `bigint`, text as `text`, a datetime as `timestamptz`, all in the binary
//! protocol) and tessera writes the row's JSON from them, where SQLite builds it with
//! `json_object`. Why: a JSON expression of concatenations was most of what
//! Postgres planned and ran per request (it planned every list anew while the LIMIT was a
//! parameter, see `SqlWriter::push_page`); a select list of plain columns plans and runs in a fraction of that, and
//! writing the same JSON in Rust costs little. Each embedded row of a forward expansion
//! comes the same way from a `LEFT JOIN`; expansions that are arrays (reverse and
//! `multiple`) and nested ones stay JSON text built by the database (one column each), so
//! a read is still one statement.
//!
//! The JSON is byte for byte what Postgres writes on the other paths (the rows a write
//! returns): the same keys in the same order, strings escaped as `to_json` escapes them,
//! datetimes as `YYYY-MM-DDTHH:MM:SS.ffffffZ`; values whose text is subtle (floats,
//! decimals, dates, uuids, JSON) are still rendered by Postgres, as JSON text.

use crate::expand::{push_expansion, Expansion, Join, PendingJoin};
use crate::row_queries::{link_ids_expr, postgres_json_text, selected_columns, Column};
use std::error::Error;
use tessera_query::filter::FilterError;
use tessera_query::{quote_ident, Dialect, SqlWriter};
use tessera_schema::FieldType;
use tokio_postgres::types::{FromSql, Type};
use tokio_postgres::Row;

/// How one selected column is written into JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Render {
    /// `bigint`, written as its digits.
    Integer,
    /// `boolean`, `true` or `false`.
    Boolean,
    /// `text`, written as a JSON string.
    Text,
    /// `timestamptz`, written as `"YYYY-MM-DDTHH:MM:SS.ffffffZ"` in UTC.
    Datetime,
    /// JSON text built by Postgres, written as it is.
    Json,
}

/// What one key of a row's JSON object comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Slot {
    /// One column.
    Column(Render),
    /// A row joined to this one: a column that is null when there is none (the joined
    /// row's id), then the row's own columns.
    Joined(RowLayout),
}

/// The JSON object a row of a typed read becomes: its keys in select-list order, then its
/// expansions under `expand` (absent when there are none).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RowLayout {
    values: Vec<(String, Render)>,
    expand: Vec<(String, Slot)>,
}

impl RowLayout {
    /// How many columns the row takes in the select list.
    fn width(&self) -> usize {
        self.values.len()
            + self
                .expand
                .iter()
                .map(|(_, slot)| match slot {
                    Slot::Column(_) => 1,
                    Slot::Joined(layout) => 1 + layout.width(),
                })
                .sum::<usize>()
    }
}

/// Writes a row's select list (`<col>, <col>, ...`, columns qualified by `qualifier`) with
/// its expansions and returns how to render it. With `joins`, single related rows are read
/// through `LEFT JOIN`s that the caller appends with [`crate::expand::push_joins`]; without,
/// each expansion is one column of JSON text from a correlated subquery.
pub(crate) fn push_select_list<'e, 'a>(
    w: &mut SqlWriter,
    columns: &[Column<'_>],
    qualifier: &str,
    expansions: &'e [Expansion<'a>],
    aliases: &mut usize,
    mut joins: Option<&mut Vec<PendingJoin<'e, 'a>>>,
) -> Result<RowLayout, FilterError> {
    let mut layout = RowLayout::default();
    let mut first = true;
    let mut comma = |w: &mut SqlWriter| {
        if !std::mem::take(&mut first) {
            w.push(", ");
        }
    };
    for column in columns {
        comma(w);
        let (expr, render) = select_expr(column, qualifier);
        w.push(&expr);
        layout.values.push((column.name.to_string(), render));
    }
    for expansion in expansions {
        comma(w);
        let slot = match joins.as_deref_mut() {
            Some(joins) if matches!(expansion.join, Join::Forward { .. }) => {
                *aliases += 1;
                let alias = format!("x{aliases}");
                w.push(&format!("{}.\"id\"", quote_ident(&alias)));
                let columns = selected_columns(expansion.schema, expansion.fields);
                if !columns.is_empty() || !expansion.children.is_empty() {
                    w.push(", ");
                }
                let joined = push_select_list(w, &columns, &alias, &expansion.children, aliases, None)?;
                joins.push(PendingJoin::new(alias, expansion));
                Slot::Joined(joined)
            }
            _ => {
                push_expansion(w, qualifier, expansion, aliases)?;
                Slot::Column(Render::Json)
            }
        };
        layout.expand.push((expansion.name.clone(), slot));
    }
    Ok(layout)
}

/// A column's select expression and how it is rendered: values whose binary form tessera
/// writes exactly as Postgres would (integers, booleans, text, datetimes) as themselves,
/// the others as Postgres's own JSON text of them.
///
/// Each expression states its type (`::int8` on a `bigint` column adds nothing to the
/// plan), so a statement's result types follow from its text: when a migration changes a
/// field's type the text changes and a new statement is prepared, where the old one would
/// fail (Postgres refuses a prepared statement whose result types changed: "cached plan
/// must not change result type").
fn select_expr(column: &Column<'_>, qualifier: &str) -> (String, Render) {
    let col = format!("{}.{}", quote_ident(qualifier), quote_ident(column.name));
    let render = match column.field_type {
        _ if column.junction.is_some() => Render::Json,
        FieldType::Integer | FieldType::Relation => Render::Integer,
        FieldType::Boolean => Render::Boolean,
        FieldType::Datetime => Render::Datetime,
        FieldType::String | FieldType::Text | FieldType::Email | FieldType::Url | FieldType::Enum | FieldType::File => {
            Render::Text
        }
        FieldType::Float | FieldType::Decimal | FieldType::Date | FieldType::Json | FieldType::Uuid => Render::Json,
    };
    match (render, &column.junction) {
        (Render::Json, Some(junction)) => {
            let ids = link_ids_expr(Dialect::Postgres, junction, &format!("{}.\"id\"", quote_ident(qualifier)));
            (format!("({ids})::text"), render)
        }
        // A null stays null: `render_row` writes it as `null`.
        (Render::Json, None) => (postgres_json_text(column.field_type, &col), render),
        (Render::Integer, _) => (format!("{col}::int8"), render),
        (Render::Boolean, _) => (format!("{col}::bool"), render),
        (Render::Text, _) => (format!("{col}::text"), render),
        (Render::Datetime, _) => (format!("{col}::timestamptz"), render),
    }
}

/// The JSON text of one row of a typed read.
pub fn render_row(row: &Row, layout: &RowLayout) -> Result<String, tokio_postgres::Error> {
    let mut out = String::with_capacity(512);
    let mut index = 0;
    write_object(&mut out, row, layout, &mut index)?;
    Ok(out)
}

fn write_object(
    out: &mut String,
    row: &Row,
    layout: &RowLayout,
    index: &mut usize,
) -> Result<(), tokio_postgres::Error> {
    out.push('{');
    for (i, (key, render)) in layout.values.iter().enumerate() {
        write_key(out, i == 0, key);
        write_value(out, row, *index, *render)?;
        *index += 1;
    }
    if !layout.expand.is_empty() {
        write_key(out, layout.values.is_empty(), "expand");
        out.push('{');
        for (i, (key, slot)) in layout.expand.iter().enumerate() {
            write_key(out, i == 0, key);
            match slot {
                Slot::Column(render) => {
                    write_value(out, row, *index, *render)?;
                    *index += 1;
                }
                Slot::Joined(joined) => {
                    let present = row.try_get::<_, Option<i64>>(*index)?.is_some();
                    *index += 1;
                    if present {
                        write_object(out, row, joined, index)?;
                    } else {
                        out.push_str("null");
                        *index += joined.width();
                    }
                }
            }
        }
        out.push('}');
    }
    out.push('}');
    Ok(())
}

/// `"key":` (keys are validated field names: nothing to escape), after a comma unless first.
fn write_key(out: &mut String, first: bool, key: &str) {
    if !first {
        out.push(',');
    }
    out.push('"');
    out.push_str(key);
    out.push_str("\":");
}

fn write_value(out: &mut String, row: &Row, index: usize, render: Render) -> Result<(), tokio_postgres::Error> {
    match render {
        Render::Integer => match row.try_get::<_, Option<i64>>(index)? {
            Some(v) => out.push_str(itoa::Buffer::new().format(v)),
            None => out.push_str("null"),
        },
        Render::Boolean => match row.try_get::<_, Option<bool>>(index)? {
            Some(v) => out.push_str(if v { "true" } else { "false" }),
            None => out.push_str("null"),
        },
        Render::Text => match row.try_get::<_, Option<&str>>(index)? {
            Some(v) => write_json_string(out, v),
            None => out.push_str("null"),
        },
        Render::Datetime => match row.try_get::<_, Option<Micros>>(index)? {
            Some(v) => write_datetime(out, v.0),
            None => out.push_str("null"),
        },
        Render::Json => out.push_str(row.try_get::<_, Option<&str>>(index)?.unwrap_or("null")),
    }
    Ok(())
}

/// A string as JSON, escaped as Postgres's `to_json` escapes it (`escape_json`): `"` and
/// `\`, the control characters with short forms as `\b \f \n \r \t`, the other control
/// characters as `\u00XX` (lower-case hex); everything else, non-ASCII included, as it is.
pub fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, byte) in s.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            out.push_str(&format!("\\u{byte:04x}"));
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Microseconds since 2000-01-01 00:00:00 UTC: a `timestamptz` in the binary protocol.
struct Micros(i64);

impl<'a> FromSql<'a> for Micros {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        let bytes: [u8; 8] = raw.try_into()?;
        Ok(Micros(i64::from_be_bytes(bytes)))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMPTZ
    }
}

/// Days from 0000-03-01 (the start of the proleptic Gregorian 400-year cycle that
/// [`civil_from_days`] counts in) to 2000-01-01, Postgres's epoch.
const POSTGRES_EPOCH_DAYS: i64 = 730_425;

/// `"YYYY-MM-DDTHH:MM:SS.ffffffZ"`, as `to_char(.. AT TIME ZONE 'UTC',
/// 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')` writes it. Written digit by digit: it is on every row
/// (a page of 20 animals with their zoos has 100), and `write!` with padding cost more
/// than the rest of the row. Years outside 0000-9999 (which no write through tessera
/// stores) are written with the digits they have.
fn write_datetime(out: &mut String, micros: i64) {
    let days = micros.div_euclid(86_400_000_000);
    let of_day = micros.rem_euclid(86_400_000_000);
    let (year, month, day) = civil_from_days(days + POSTGRES_EPOCH_DAYS);
    let seconds = of_day / 1_000_000;
    out.push('"');
    match u32::try_from(year) {
        Ok(year) if year < 10_000 => push_digits(out, i64::from(year), 4),
        _ => out.push_str(itoa::Buffer::new().format(year)),
    }
    out.push('-');
    push_digits(out, month, 2);
    out.push('-');
    push_digits(out, day, 2);
    out.push('T');
    push_digits(out, seconds / 3600, 2);
    out.push(':');
    push_digits(out, seconds / 60 % 60, 2);
    out.push(':');
    push_digits(out, seconds % 60, 2);
    out.push('.');
    push_digits(out, of_day % 1_000_000, 6);
    out.push_str("Z\"");
}

/// The `width` last decimal digits of `value` (not negative), zero-padded.
fn push_digits(out: &mut String, value: i64, width: u32) {
    let mut divisor = 10_i64.pow(width - 1);
    while divisor > 0 {
        out.push(char::from(b'0' + (value / divisor % 10) as u8));
        divisor /= 10;
    }
}

/// (year, month, day) of a day counted from 0000-03-01 in the proleptic Gregorian
/// calendar: H. Hinnant's `civil_from_days`, with years starting in March so that the
/// leap day is the last day of a year.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_postgres_escapes_them() {
        let mut out = String::new();
        write_json_string(&mut out, "a\"b\\c\nd\re\tf\u{8}g\u{c}h\u{1}i\u{1f}j\u{7f}k/é😀");
        assert_eq!(out, "\"a\\\"b\\\\c\\nd\\re\\tf\\bg\\fh\\u0001i\\u001fj\u{7f}k/é😀\"");
        // The same as serde_json for every control character.
        for c in (0u8..0x20).map(char::from) {
            let mut out = String::new();
            write_json_string(&mut out, &c.to_string());
            assert_eq!(out, serde_json::to_string(&c.to_string()).unwrap());
        }
    }

    #[test]
    fn datetimes_are_written_in_utc_with_microseconds() {
        let text = |micros: i64| {
            let mut out = String::new();
            write_datetime(&mut out, micros);
            out
        };
        assert_eq!(text(0), "\"2000-01-01T00:00:00.000000Z\"");
        assert_eq!(text(-1), "\"1999-12-31T23:59:59.999999Z\"");
        // Against chrono, at a time of day that varies: every day of 1896-2104 (the leap
        // rules of 1900, 2000 and 2100) and every 13th day from 0001-01-01 to 9999-12-31.
        let epoch = chrono::DateTime::from_timestamp(946_684_800, 0).unwrap();
        let day = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc();
        for (first, last, step) in [(day(1896, 1, 1), day(2104, 12, 31), 1), (day(1, 1, 1), day(9999, 12, 31), 13)] {
            let mut at = first;
            let mut n: i64 = 0;
            while at <= last {
                let micros = (at - epoch).num_microseconds().unwrap() + (n * 7_919_000_123) % 86_400_000_000;
                let expected = (epoch + chrono::Duration::microseconds(micros)).format("\"%Y-%m-%dT%H:%M:%S%.6fZ\"");
                assert_eq!(text(micros), expected.to_string());
                at += chrono::Duration::days(step);
                n += 1;
            }
        }
    }
}
