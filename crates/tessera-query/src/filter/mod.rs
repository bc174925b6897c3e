//! The filter language: `?filter=` on row lists today, per-table access rules later.
//!
//! This module is in charge of the whole path from the text a user writes to a SQL
//! condition with bound parameters, for SQLite and Postgres, and of nothing else: it does
//! no I/O and knows tables only through a [`FieldResolver`]. The pipeline is
//! [`parse`] (text -> [`Expr`], syntax only) then [`compile`] (resolve names, check types,
//! write SQL); [`compile_filter`] does both.
//!
//! # Grammar
//!
//! ```text
//! filter     := or_expr END
//! or_expr    := and_expr ( "||" and_expr )*
//! and_expr   := unary ( "&&" unary )*
//! unary      := "!" ( "(" or_expr ")" | unary )      -- "!" must be followed by "(" or "!"
//!             | "(" or_expr ")"
//!             | condition
//! condition  := operand compare_op operand
//!             | operand "in" "(" literal ( "," literal )* ")"
//! compare_op := "=" | "!=" | ">" | ">=" | "<" | "<=" | "~" | "!~"
//! operand    := field | macro | literal
//! field      := name ( "." name )*                  -- e.g. age, zoo.name
//! macro      := "@" name ( "." name )*              -- e.g. @request.auth.id
//! name       := [A-Za-z] [A-Za-z0-9_]*
//! literal    := string | number | "true" | "false" | "null"
//! string     := '"' ... '"' | "'" ... "'"           -- escapes \" \' \\ \n \t
//! number     := "-"? digits ( "." digits )? ( [eE] [+-]? digits )?
//! ```
//!
//! Precedence, tightest first: `!`, comparison, `&&`, `||`; `&&` and `||` group left to
//! right. Keywords (`in`, `true`, `false`, `null`) are case-insensitive, so a field named
//! like one of them cannot be named in a filter. Whitespace between tokens is free.
//!
//! `!` negates a parenthesized group only (`!(age > 5)`); `!age > 5` is refused because
//! it reads both as "not (age > 5)" and as "(not age) > 5" and a filter should have one
//! meaning.
//!
//! # Operators
//!
//! | operator | meaning | field types |
//! |---|---|---|
//! | `=` `!=` | equal, not equal | all but json (json: only `= null`, `!= null`) |
//! | `>` `>=` `<` `<=` | ordering | numbers, text, dates, datetimes, uuids (not booleans) |
//! | `~` `!~` | contains / does not contain, case-insensitive (SQLite folds ASCII letters only) | string, text, email, url, enum, uuid |
//! | `in (…)` | equal to one of 1 to 100 literals | all but json |
//!
//! Literals are checked against the field they are compared with: a number against a
//! numeric field (an integral number binds as an integer, a fractional one as a float, a
//! number compared with a decimal field binds as exact decimal text), a string against a
//! textual, decimal, date, datetime or uuid field (converted to the field's canonical
//! form by [`tessera_schema::validate::coerce`]; enum, email and url fields accept any
//! string so `species != "unicorn"` is allowed), `true`/`false` against a boolean with
//! `=`/`!=`. A literal may stand on either side (`5 < age` is `age > 5`) except for `~`,
//! whose field goes on the left. Two fields may be compared when their types are of one
//! family (numbers; text, email, url and enum; or the same type). A comparison of two
//! constants (literals or macros) is decided at compile time and becomes `1=1` or `1=0`.
//!
//! # Null
//!
//! The language treats null as a value for equality and as "unknown" elsewhere:
//! - `field = null` is `IS NULL`, `field != null` is `IS NOT NULL`; `null = null` holds.
//! - `!=` is the exact complement of `=`: `species != "cat"` matches rows whose species
//!   is null, and `a = b` between two fields holds when both are null.
//! - `>`, `>=`, `<`, `<=`, `~` and `in` never match a null field; `!~` always does
//!   ("null does not contain x").
//! - `!( … )` matches exactly the rows the group does not match, nulls included.
//! - Writing `null` with any operator but `=`/`!=` (or in an `in` list) is an error.
//!
//! # Macros
//!
//! `@name.path` stands for a value supplied by the caller through [`MacroLookup`] (the
//! lookup receives the path without the `@`, e.g. `request.auth.id`), with a declared
//! [`FieldType`]. A macro behaves like a literal of that type, whose value may be null:
//! compared with a field, a null macro acts like `null` does with `=` and `!=`, matches
//! nothing with `>`, `>=`, `<`, `<=` and `~`, and everything with `!~`. Its declared type
//! must be of the compared field's family, checked whatever the value, so a rule is
//! accepted or refused the same way for every caller. Beware that
//! `owner = @request.auth.id` matches rows without an owner when the caller is anonymous;
//! write `@request.auth.id != null && owner = @request.auth.id`.
//!
//! # SQL
//!
//! [`compile`] writes one parenthesized condition, e.g. for SQLite
//! `age > 50 && name ~ "Leo"` becomes `("age" > ? AND "name" LIKE '%' || ? || '%' ESCAPE '\')`
//! with parameters `50` and `Leo`. `!=` is `IS NOT` (SQLite) / `IS DISTINCT FROM`
//! (Postgres); `=` between two fields is `IS` / `IS NOT DISTINCT FROM`; `!(x)` is
//! `NOT COALESCE(x, FALSE)`; `~` is `LIKE` (SQLite) / `::text ILIKE` (Postgres) with `%`,
//! `_` and `\` escaped in the bound text. Values are never part of the SQL text.
//!
//! # Deciding rules
//!
//! An access rule often does not need a row to be answered for a given caller:
//! `@request.auth.id != null && owner = @request.auth.id` matches nothing for an
//! anonymous caller. [`decide`] says so before any SQL runs: [`Decision::Always`],
//! [`Decision::Never`] or [`Decision::Depends`]. It folds comparisons of constants
//! exactly as [`compile`] does (it runs the same code), takes a comparison that names a
//! field as unknown unless compile turns it into a constant too (`owner > @m` for a null
//! `@m`), and combines with three-valued logic: `false && unknown` is false,
//! `true || unknown` is true, `!unknown` is unknown. It refuses exactly what compile
//! refuses, with the same error, whatever the caller. [`references_fields`] tells
//! whether a rule names any field at all, e.g. to refuse such a rule where no row exists
//! yet.
//!
//! # Limits and errors
//!
//! At most [`MAX_INPUT_CHARS`] characters, [`MAX_DEPTH`] levels of nesting (each `(` and
//! each `!` opens one; `!(` opens one), [`MAX_CONDITIONS`] comparisons and
//! [`MAX_IN_ITEMS`] items per `in` list. Every problem is one [`FilterError`] with the
//! 0-based character position of the offending input.

mod ast;
mod compile;
mod lexer;
mod parser;

pub use ast::{CompareOp, Comparison, Expr, InList, ListItem, Literal, Operand, OperandKind};
pub use compile::{compile, compile_filter, decide, references_fields, CompileContext, Decision, MacroLookup};
pub use parser::parse;

#[cfg(doc)]
use crate::resolve::FieldResolver;
#[cfg(doc)]
use tessera_schema::FieldType;

/// Longest filter accepted, in characters.
pub const MAX_INPUT_CHARS: usize = 4096;
/// Deepest nesting of parentheses and `!` accepted.
pub const MAX_DEPTH: usize = 32;
/// Most comparisons (including `in`) in one filter.
pub const MAX_CONDITIONS: usize = 200;
/// Most literals in one `in` list.
pub const MAX_IN_ITEMS: usize = 100;

/// Why a filter was refused: what is wrong and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at position {position}")]
pub struct FilterError {
    /// 0-based offset, in characters (not bytes), of the input the error is about.
    pub position: usize,
    /// What is wrong, quoting the offending input; the position is not repeated here.
    pub message: String,
}

impl FilterError {
    pub(crate) fn new(position: usize, message: impl Into<String>) -> FilterError {
        FilterError { position, message: message.into() }
    }
}

/// Quotes user text for an error message, shortened so a message stays readable.
pub(crate) fn quote_for_message(text: &str) -> String {
    const MAX_QUOTED_CHARS: usize = 40;
    let mut quoted = String::from("\"");
    for (count, c) in text.chars().enumerate() {
        if count == MAX_QUOTED_CHARS {
            quoted.push('…');
            break;
        }
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\t' => quoted.push_str("\\t"),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests_compile;
#[cfg(test)]
mod tests_decide;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_display_names_the_position() {
        let error = FilterError::new(12, "unexpected ')'");
        assert_eq!(error.to_string(), "unexpected ')' at position 12");
    }

    #[test]
    fn quoted_text_is_escaped_and_shortened() {
        assert_eq!(quote_for_message("a\"b\\c\nd\te"), "\"a\\\"b\\\\c\\nd\\te\"");
        let long = "x".repeat(100);
        assert_eq!(quote_for_message(&long), format!("\"{}…\"", "x".repeat(40)));
    }
}
