//! Reads as typed columns, written as JSON by tessera.
//!
//! A list or single-row read selects each value as its own column and tessera writes the
//! row's JSON from them ([`render_row`]), where the rows a write returns are JSON built by
//! the database (`json_object` on SQLite, concatenation on Postgres). Why: building JSON
//! in SQL was most of what a read cost. On Postgres a JSON expression of concatenations
//! was most of what it planned and ran per request (it planned every list anew while the
//! LIMIT was a parameter, see `SqlWriter::push_page`); on SQLite `json_object` escaped
//! every key of every row and turned every integer into text through a malloc'd buffer
//! (callgrind on the zoo benchmark, BENCHMARKS.md). A select list of plain columns costs
//! a fraction of that, and writing the same JSON in Rust costs little.
//!
//! Each embedded row of a forward expansion comes the same way from a `LEFT JOIN`;
//! expansions that are arrays (reverse and `multiple`) and nested ones stay JSON text
//! built by the database (one column each), so a read is still one statement.
//!
//! The JSON is byte for byte what the database writes on the other paths: the same keys in
//! the same order, strings escaped as both `to_json` and `json_object` escape them,
//! Postgres datetimes as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (SQLite keeps that text), floats on
//! SQLite as `tessera_float` writes them; values whose text is subtle on Postgres (floats,
//! decimals, dates, uuids, JSON) are still rendered by Postgres, as JSON text. Each driver
//! reads its rows in [`postgres`] and [`sqlite`].

mod postgres;
mod sqlite;

use crate::expand::{push_expansion, Expansion, Join, PendingJoin};
use crate::row_queries::{json_value_sql, link_ids_expr, postgres_json_text, qualified, selected_columns, Column};
use tessera_query::filter::FilterError;
use tessera_query::{Dialect, SqlWriter};
use tessera_schema::FieldType;

/// How one selected column is written into JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Render {
    /// An integer, written as its digits.
    Integer,
    /// `true` or `false` (on SQLite an integer 1 or 0; any other value is `null`, as the
    /// `CASE` of the JSON path makes it).
    Boolean,
    /// Text, written as a JSON string.
    Text,
    /// A Postgres `timestamptz`, written as `"YYYY-MM-DDTHH:MM:SS.ffffffZ"` in UTC (SQLite
    /// stores datetimes as that text: [`Render::Text`]).
    Datetime,
    /// A float, written as the shortest text that reads back as it (SQLite; Postgres
    /// writes its own floats as [`Render::Json`]).
    Float,
    /// JSON text built by the database, written as it is.
    Json,
}

/// What one key of a row's JSON object comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Slot {
    /// One column.
    Column(Render),
    /// A row joined to this one: its columns, null when there is none. Whether there is
    /// one is told by its `id`: its first column when the row's values start with it (they
    /// do unless `fields=` picks others), else a column of its own before them (`marker`).
    Joined { layout: RowLayout, marker: bool },
}

/// The JSON object a row of a typed read becomes: its keys in select-list order, then its
/// expansions under `expand` (absent when there are none).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RowLayout {
    /// Each value's key as it is written (`"name":`, see [`json_key`]) and its rendering.
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
                    Slot::Joined { layout, marker } => usize::from(*marker) + layout.width(),
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
        let (expr, render) = select_expr(w.dialect(), column, qualifier);
        w.push(&expr);
        layout.values.push((json_key(column.name), render));
    }
    for expansion in expansions {
        comma(w);
        let slot = match joins.as_deref_mut() {
            Some(joins) if matches!(expansion.join, Join::Forward { .. }) => {
                *aliases += 1;
                let alias = format!("x{aliases}");
                let columns = selected_columns(expansion.schema, expansion.fields);
                // One column fewer to read per row when the row's own `id` tells.
                let marker = columns.first().is_none_or(|column| column.name != "id");
                if marker {
                    w.push(&qualified(Some(&alias), "id"));
                    if !columns.is_empty() || !expansion.children.is_empty() {
                        w.push(", ");
                    }
                }
                let layout = push_select_list(w, &columns, &alias, &expansion.children, aliases, None)?;
                joins.push(PendingJoin::new(alias, expansion));
                Slot::Joined { layout, marker }
            }
            _ => {
                push_expansion(w, qualifier, expansion, aliases)?;
                Slot::Column(Render::Json)
            }
        };
        layout.expand.push((json_key(&expansion.name), slot));
    }
    Ok(layout)
}

/// A column's select expression and how it is rendered.
///
/// On SQLite every column is selected as it is (tables are STRICT, so a column's values
/// have its type) except JSON, which SQLite minifies as the JSON path does. On Postgres,
/// values whose binary form tessera writes exactly as Postgres would (integers, booleans,
/// text, datetimes) are selected as themselves, the others as Postgres's own JSON text of
/// them, and each expression states its type (`::int8` on a `bigint` column adds nothing to the
/// plan), so a statement's result types follow from its text: when a migration changes a
/// field's type the text changes and a new statement is prepared, where the old one would
/// fail (Postgres refuses a prepared statement whose result types changed: "cached plan
/// must not change result type").
fn select_expr(dialect: Dialect, column: &Column<'_>, qualifier: &str) -> (String, Render) {
    let col = qualified(Some(qualifier), column.name);
    let render = match (dialect, column.field_type) {
        _ if column.junction.is_some() => Render::Json,
        (_, FieldType::Integer | FieldType::Relation) => Render::Integer,
        (_, FieldType::Boolean) => Render::Boolean,
        (_, FieldType::String | FieldType::Text | FieldType::Email | FieldType::Url | FieldType::Enum)
        | (_, FieldType::File) => Render::Text,
        (_, FieldType::Json) => Render::Json,
        (Dialect::Sqlite, FieldType::Float) => Render::Float,
        // Stored as their canonical text.
        (Dialect::Sqlite, FieldType::Decimal | FieldType::Date | FieldType::Uuid | FieldType::Datetime) => Render::Text,
        (Dialect::Postgres, FieldType::Datetime) => Render::Datetime,
        (Dialect::Postgres, FieldType::Float | FieldType::Decimal | FieldType::Date | FieldType::Uuid) => Render::Json,
    };
    let expr = match (render, &column.junction) {
        (Render::Json, Some(junction)) => {
            let ids = link_ids_expr(dialect, junction, &qualified(Some(qualifier), "id"));
            match dialect {
                Dialect::Sqlite => ids,
                Dialect::Postgres => format!("({ids})::text"),
            }
        }
        // A null stays null: `render_row` writes it as `null`.
        (Render::Json, None) => match dialect {
            Dialect::Sqlite => json_value_sql(dialect, column.field_type, col),
            Dialect::Postgres => postgres_json_text(column.field_type, &col),
        },
        _ if dialect == Dialect::Sqlite => col,
        (Render::Integer, _) => col + "::int8",
        (Render::Boolean, _) => col + "::bool",
        (Render::Text, _) => col + "::text",
        (Render::Datetime, _) => col + "::timestamptz",
        (Render::Float, _) => col + "::float8",
    };
    (expr, render)
}

/// A row of a typed read as its driver returns it: what [`render_row`] needs of it.
pub trait TypedRow {
    type Error;

    /// Whether the column at `index` is null (how an absent joined row shows).
    fn is_null(&self, index: usize) -> Result<bool, Self::Error>;

    /// Writes the column at `index` as JSON (`null` when it is null).
    fn write_value(&self, out: &mut String, index: usize, render: Render) -> Result<(), Self::Error>;
}

/// The JSON text of one row of a typed read.
pub fn render_row<R: TypedRow>(row: &R, layout: &RowLayout) -> Result<String, R::Error> {
    let mut out = String::with_capacity(512);
    let mut index = 0;
    write_object(&mut out, row, layout, &mut index)?;
    Ok(out)
}

fn write_object<R: TypedRow>(out: &mut String, row: &R, layout: &RowLayout, index: &mut usize) -> Result<(), R::Error> {
    out.push('{');
    for (i, (key, render)) in layout.values.iter().enumerate() {
        write_key(out, i == 0, key);
        row.write_value(out, *index, *render)?;
        *index += 1;
    }
    if !layout.expand.is_empty() {
        write_key(out, layout.values.is_empty(), "\"expand\":");
        out.push('{');
        for (i, (key, slot)) in layout.expand.iter().enumerate() {
            write_key(out, i == 0, key);
            match slot {
                Slot::Column(render) => {
                    row.write_value(out, *index, *render)?;
                    *index += 1;
                }
                Slot::Joined { layout: joined, marker } => {
                    let present = !row.is_null(*index)?;
                    *index += usize::from(*marker);
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

/// `"key":`, as a key is written before its value: once per read, not once per row. Keys
/// are validated field names: nothing to escape.
fn json_key(name: &str) -> String {
    let mut key = String::with_capacity(name.len() + 3);
    key.push('"');
    key.push_str(name);
    key.push_str("\":");
    key
}

/// A key written by [`json_key`], after a comma unless first.
fn write_key(out: &mut String, first: bool, key: &str) {
    if !first {
        out.push(',');
    }
    out.push_str(key);
}

/// A string as JSON, escaped as Postgres's `to_json` (`escape_json`) and SQLite's
/// `json_object` (`jsonAppendString`) escape it: `"` and `\`, the control characters with
/// short forms as `\b \f \n \r \t`, the other control characters as `\u00XX` (lower-case
/// hex); everything else, non-ASCII included, as it is.
///
/// Most strings need no escape, and finding that out is checked eight bytes at a time:
/// this runs for every string of every row read (a tenth of a SQLite list's instructions
/// when it went byte by byte).
pub fn write_json_string(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    if needs_escape(s.as_bytes()) {
        write_escaped(out, s);
    } else {
        out.push_str(s);
    }
    out.push('"');
}

/// Whether any byte of `bytes` must be escaped: whole words, the last one overlapping the
/// one before it, and a string shorter than a word padded with a letter.
fn needs_escape(bytes: &[u8]) -> bool {
    if bytes.len() < 8 {
        let mut word = [b'a'; 8];
        word[..bytes.len()].copy_from_slice(bytes);
        return any_needs_escape(u64::from_le_bytes(word));
    }
    let word_at = |i: usize| bytes.get(i..i + 8).and_then(|chunk| <[u8; 8]>::try_from(chunk).ok());
    let mut i = 0;
    while i + 8 < bytes.len() {
        if word_at(i).is_some_and(|word| any_needs_escape(u64::from_le_bytes(word))) {
            return true;
        }
        i += 8;
    }
    word_at(bytes.len() - 8).is_some_and(|word| any_needs_escape(u64::from_le_bytes(word)))
}

/// The body of [`write_json_string`] for a string with something to escape.
fn write_escaped(out: &mut String, s: &str) {
    // Escapes are ASCII, so both ends of every slice copied as it is are on character
    // boundaries.
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
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
}

/// Whether any of the eight bytes of `word` must be escaped in a JSON string: a control
/// character (below 0x20), `"` or `\`. Exact for every byte value (the "has less than" and
/// "has zero byte" tests of Bit Twiddling Hacks, S. E. Anderson).
fn any_needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x;
    let control = below(word, 0x20);
    let quote = below(word ^ (ONES * u64::from(b'"')), 1);
    let backslash = below(word ^ (ONES * u64::from(b'\\')), 1);
    (control | quote | backslash) & HIGH_BITS != 0
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
    fn any_needs_escape_is_exact() {
        let needs = |b: u8| b < 0x20 || b == b'"' || b == b'\\';
        // Every pair of byte values, side by side at both ends of a word (a borrow from one
        // byte is what could fool the test about its neighbour).
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                for word in [[a, b, b'x', b'x', b'x', b'x', b'x', b'x'], [b'x', b'x', b'x', b'x', b'x', b'x', a, b]] {
                    assert_eq!(any_needs_escape(u64::from_le_bytes(word)), needs(a) || needs(b), "{word:?}");
                }
            }
        }
    }

    #[test]
    fn needs_escape_sees_every_position_of_every_length() {
        for len in 0..26 {
            assert!(!needs_escape(&vec![b'x'; len]));
            for at in 0..len {
                for byte in 0..=255u8 {
                    let mut bytes = vec![b'x'; len];
                    bytes[at] = byte;
                    let expected = byte < 0x20 || byte == b'"' || byte == b'\\';
                    assert_eq!(needs_escape(&bytes), expected, "{bytes:?}");
                }
            }
        }
    }

    #[test]
    fn escapes_land_anywhere_in_a_word() {
        for special in ["\"", "\\", "\n", "\u{1}", "\u{1f}", "é", "😀", "\u{7f}"] {
            for before in 0..20 {
                for after in [0, 1, 7, 8, 9, 17] {
                    let text = format!("{}{special}{}", "a".repeat(before), "é".repeat(after));
                    let mut out = String::new();
                    write_json_string(&mut out, &text);
                    assert_eq!(out, serde_json::to_string(&text).unwrap(), "{text:?}");
                }
            }
        }
    }
}
