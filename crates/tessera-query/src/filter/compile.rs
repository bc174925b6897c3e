//! Turns a parsed filter into a SQL condition for one table: resolves field names and
//! macros, checks every comparison's types, converts literals to the compared field's
//! canonical values, and writes SQL whose values are all bound parameters.
//!
//! Only fixed SQL fragments from this file and quoted identifiers from the resolver reach
//! the SQL text; every literal and macro value goes through [`SqlWriter::push_param`].

use super::ast::{CompareOp, Comparison, Expr, InList, Literal, Operand, OperandKind};
use super::{parse, quote_for_message, FilterError, MAX_DEPTH};
use crate::resolve::{FieldResolver, ResolvedField};
use crate::sql::{Dialect, SqlWriter};
use serde_json::Value as Json;
use std::cmp::Ordering;
use tessera_schema::validate::coerce;
use tessera_schema::{FieldDef, FieldType, Value};

/// Supplies the values of `@` macros, e.g. the caller's id in an access rule.
pub trait MacroLookup {
    /// The value of the macro at `path` (written without its `@`, e.g.
    /// `request.auth.id`) and the type it has, or `None` if there is no such macro. The
    /// value must fit the type: an integer, float or decimal text for numeric types,
    /// canonical text for text, uuid, date and datetime, a boolean, JSON, or null.
    fn lookup(&self, path: &str) -> Option<(Value, FieldType)>;
}

impl<F> MacroLookup for F
where
    F: Fn(&str) -> Option<(Value, FieldType)>,
{
    fn lookup(&self, path: &str) -> Option<(Value, FieldType)> {
        self(path)
    }
}

/// What a filter is compiled against.
#[derive(Clone, Copy)]
pub struct CompileContext<'a> {
    /// Resolves the field names the filter uses.
    pub fields: &'a dyn FieldResolver,
    /// Resolves `@` macros; without it every macro is unknown.
    pub macros: Option<&'a dyn MacroLookup>,
    /// Table alias to qualify columns with (`"t"."age"`), if the query uses one.
    pub qualifier: Option<&'a str>,
}

impl<'a> CompileContext<'a> {
    /// A context with fields only: no macros, unqualified columns.
    pub fn new(fields: &'a dyn FieldResolver) -> CompileContext<'a> {
        CompileContext { fields, macros: None, qualifier: None }
    }

    /// The same context with macros.
    pub fn with_macros(self, macros: &'a dyn MacroLookup) -> CompileContext<'a> {
        CompileContext { macros: Some(macros), ..self }
    }

    /// The same context with columns qualified by a table alias.
    pub fn with_qualifier(self, qualifier: &'a str) -> CompileContext<'a> {
        CompileContext { qualifier: Some(qualifier), ..self }
    }
}

/// Writes `expr` as one parenthesized SQL condition to `w`, binding every value. On
/// error `w` is left exactly as it was.
pub fn compile(expr: &Expr, ctx: &CompileContext<'_>, w: &mut SqlWriter) -> Result<(), FilterError> {
    // Compile into a copy so that a refused filter leaves no half-written SQL or stray
    // parameters behind in the caller's statement.
    let mut out = w.clone();
    Compiler { ctx, w: &mut out }.top(expr)?;
    *w = out;
    Ok(())
}

/// Parses and compiles filter text: [`parse`] then [`compile`].
pub fn compile_filter(input: &str, ctx: &CompileContext<'_>, w: &mut SqlWriter) -> Result<(), FilterError> {
    compile(&parse(input)?, ctx, w)
}

/// What a rule says for one caller before any row is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Every row matches: the rule grants access whatever the row holds.
    Always,
    /// No row matches: the rule refuses access whatever the row holds.
    Never,
    /// Whether a row matches depends on the row: the rule must run as SQL.
    Depends,
}

impl Decision {
    fn known(holds: bool) -> Decision {
        if holds {
            Decision::Always
        } else {
            Decision::Never
        }
    }

    /// `!(x)`: compile writes `NOT COALESCE(x, FALSE)`, the exact complement of `x`, so a
    /// decided `x` flips and an undecided one stays undecided.
    fn negated(self) -> Decision {
        match self {
            Decision::Always => Decision::Never,
            Decision::Never => Decision::Always,
            Decision::Depends => Decision::Depends,
        }
    }

    /// Kleene `&&`: one part that never holds decides the whole.
    fn and(self, other: Decision) -> Decision {
        match (self, other) {
            (Decision::Never, _) | (_, Decision::Never) => Decision::Never,
            (Decision::Always, Decision::Always) => Decision::Always,
            _ => Decision::Depends,
        }
    }

    /// Kleene `||`: one part that always holds decides the whole.
    fn or(self, other: Decision) -> Decision {
        match (self, other) {
            (Decision::Always, _) | (_, Decision::Always) => Decision::Always,
            (Decision::Never, Decision::Never) => Decision::Never,
            _ => Decision::Depends,
        }
    }
}

/// Decides `expr` for the caller the macros of `ctx` describe, as far as constants allow,
/// so that a service can grant or refuse without running SQL when the rule does not need
/// a row.
///
/// Every comparison goes through the very code [`compile`] runs, so both agree on what a
/// comparison means and on what they refuse: a comparison of two constants (literals and
/// macros) is folded to true or false; one that names a field depends on the row, except
/// where compile itself replaces it by a constant (a field ordered against, or searched
/// for, a macro whose value is null). `&&`, `||` and `!` then combine with three-valued
/// (Kleene) logic: `false && x` is false and `true || x` is true whatever `x` is.
///
/// Errors are exactly those [`compile`] reports for the same `expr` and `ctx`, the first
/// in the same order: every part is checked even once the answer is known, so a rule is
/// refused the same way for every caller and by both functions.
pub fn decide(expr: &Expr, ctx: &CompileContext<'_>) -> Result<Decision, FilterError> {
    // Comparisons that depend on the row are compiled into a statement thrown away
    // afterwards: that checks them exactly as compile does. The dialect does not matter,
    // as no check depends on it.
    let mut scratch = SqlWriter::new(Dialect::Sqlite);
    Compiler { ctx, w: &mut scratch }.decision(expr, 0)
}

/// Whether any operand of `expr` names a field (rather than being a literal or a macro):
/// a rule that does not can be decided with [`decide`] without any row.
pub fn references_fields(expr: &Expr) -> bool {
    // An explicit stack rather than recursion: a tree built by hand may be arbitrarily
    // deep.
    let is_field = |operand: &Operand| matches!(operand.kind, OperandKind::Field(_));
    let mut pending = vec![expr];
    while let Some(expr) = pending.pop() {
        match expr {
            Expr::Compare(comparison) => {
                if is_field(&comparison.left) || is_field(&comparison.right) {
                    return true;
                }
            }
            Expr::In(list) => {
                if is_field(&list.operand) {
                    return true;
                }
            }
            Expr::Not(inner) => pending.push(inner),
            Expr::And(parts) | Expr::Or(parts) => pending.extend(parts),
        }
    }
    false
}

/// Deepest tree compiled. A parsed tree is at most about 3 nodes deep per level of
/// nesting; this bound only matters for trees built by hand.
const MAX_TREE_DEPTH: usize = 4 * (MAX_DEPTH + 1);

/// Which values can meet in a comparison. Two sides compare only within one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Number,
    Text,
    Uuid,
    Date,
    Datetime,
    Boolean,
    Json,
}

fn family(field_type: FieldType) -> Family {
    match field_type {
        // A relation compares as the id it holds.
        FieldType::Integer | FieldType::Float | FieldType::Decimal | FieldType::Relation => Family::Number,
        // A file compares as its stored name.
        FieldType::String | FieldType::Text | FieldType::Email | FieldType::Url | FieldType::Enum | FieldType::File => {
            Family::Text
        }
        FieldType::Uuid => Family::Uuid,
        FieldType::Date => Family::Date,
        FieldType::Datetime => Family::Datetime,
        FieldType::Boolean => Family::Boolean,
        FieldType::Json => Family::Json,
    }
}

/// Types `~` and `!~` work on.
fn is_searchable(field_type: FieldType) -> bool {
    matches!(family(field_type), Family::Text | Family::Uuid)
}

/// One side of a comparison, resolved.
enum Side<'e> {
    Column(Column<'e>),
    Constant(Constant<'e>),
}

/// A field of the table.
struct Column<'e> {
    /// As written in the filter.
    name: &'e str,
    field: ResolvedField,
    field_type: FieldType,
}

impl Column<'_> {
    /// How the field is named in an error message.
    fn describe(&self) -> String {
        format!("field '{}' ({})", self.name, self.field_type)
    }
}

/// A value known at compile time.
enum Constant<'e> {
    Literal { literal: &'e Literal, position: usize },
    Macro { path: &'e str, value: Value, field_type: FieldType, position: usize },
}

impl Constant<'_> {
    fn position(&self) -> usize {
        match self {
            Constant::Literal { position, .. } | Constant::Macro { position, .. } => *position,
        }
    }

    /// How the value is named in an error message.
    fn describe(&self) -> String {
        match self {
            Constant::Literal { literal, .. } => describe_literal(literal),
            Constant::Macro { path, field_type, .. } => format!("@{path} ({field_type})"),
        }
    }

    fn is_literal_null(&self) -> bool {
        matches!(self, Constant::Literal { literal: Literal::Null, .. })
    }
}

fn describe_literal(literal: &Literal) -> String {
    match literal {
        Literal::Null => "null".into(),
        Literal::Bool(flag) => flag.to_string(),
        Literal::Integer(number) => format!("the number {number}"),
        Literal::Fractional(text) => format!("the number {text}"),
        Literal::String(text) => format!("the string {}", quote_for_message(text)),
    }
}

/// What one comparison comes to.
#[derive(Debug, Clone, Copy)]
enum Leaf {
    /// Holds (or fails) for every row whatever it holds; nothing was written.
    Known(bool),
    /// Depends on the row; its SQL condition was written.
    Written,
}

/// The type a literal is converted to, and how to name it in errors.
struct Target<'t> {
    field_type: FieldType,
    description: &'t str,
}

struct Compiler<'c, 'a> {
    ctx: &'c CompileContext<'a>,
    w: &'c mut SqlWriter,
}

impl Compiler<'_, '_> {
    fn top(&mut self, expr: &Expr) -> Result<(), FilterError> {
        self.w.push("(");
        self.expr(expr, 0, false)?;
        self.w.push(")");
        Ok(())
    }

    /// Decides `expr` as [`decide`] documents. It visits the tree exactly as
    /// [`Compiler::expr`] does (same order, same depth limit, no short cut once the answer
    /// is known) so that the first error is the one compile would report.
    fn decision(&mut self, expr: &Expr, depth: usize) -> Result<Decision, FilterError> {
        if depth > MAX_TREE_DEPTH {
            return Err(FilterError::new(0, "the filter is nested too deeply"));
        }
        let leaf = match expr {
            Expr::Compare(comparison) => self.comparison(comparison)?,
            Expr::In(list) => self.in_list(list)?,
            Expr::Not(inner) => return Ok(self.decision(inner, depth + 1)?.negated()),
            Expr::And(parts) => {
                let mut decision = Decision::Always;
                for part in parts {
                    decision = decision.and(self.decision(part, depth + 1)?);
                }
                return Ok(decision);
            }
            Expr::Or(parts) => {
                let mut decision = Decision::Never;
                for part in parts {
                    decision = decision.or(self.decision(part, depth + 1)?);
                }
                return Ok(decision);
            }
        };
        Ok(match leaf {
            Leaf::Known(holds) => Decision::known(holds),
            Leaf::Written => Decision::Depends,
        })
    }

    /// Writes what a comparison came to if it is a constant; otherwise its SQL is
    /// already written.
    fn write_leaf(&mut self, leaf: Leaf) {
        match leaf {
            Leaf::Known(true) => {
                self.w.push("1=1");
            }
            Leaf::Known(false) => {
                self.w.push("1=0");
            }
            Leaf::Written => {}
        }
    }

    /// Writes `expr`; `nested` says whether an `AND`/`OR` must parenthesize itself.
    fn expr(&mut self, expr: &Expr, depth: usize, nested: bool) -> Result<(), FilterError> {
        if depth > MAX_TREE_DEPTH {
            return Err(FilterError::new(0, "the filter is nested too deeply"));
        }
        match expr {
            Expr::Compare(comparison) => {
                let leaf = self.comparison(comparison)?;
                self.write_leaf(leaf);
                Ok(())
            }
            Expr::In(list) => {
                let leaf = self.in_list(list)?;
                self.write_leaf(leaf);
                Ok(())
            }
            Expr::Not(inner) => {
                // NOT alone would keep SQL's third value: NOT (age > 5) is unknown for a
                // null age and drops the row. COALESCE makes `!(x)` match exactly the
                // rows `x` does not, which is what a user means by "not".
                self.w.push("NOT COALESCE(");
                self.expr(inner, depth + 1, false)?;
                self.w.push(match self.w.dialect() {
                    Dialect::Sqlite => ", 0)",
                    Dialect::Postgres => ", FALSE)",
                });
                Ok(())
            }
            Expr::And(parts) => self.chain(parts, " AND ", "1=1", depth, nested),
            Expr::Or(parts) => self.chain(parts, " OR ", "1=0", depth, nested),
        }
    }

    fn chain(
        &mut self,
        parts: &[Expr],
        separator: &str,
        empty: &str,
        depth: usize,
        nested: bool,
    ) -> Result<(), FilterError> {
        match parts {
            [] => {
                self.w.push(empty);
                Ok(())
            }
            [only] => self.expr(only, depth + 1, nested),
            _ => {
                if nested {
                    self.w.push("(");
                }
                for (index, part) in parts.iter().enumerate() {
                    if index > 0 {
                        self.w.push(separator);
                    }
                    self.expr(part, depth + 1, true)?;
                }
                if nested {
                    self.w.push(")");
                }
                Ok(())
            }
        }
    }

    fn side<'e>(&self, operand: &'e Operand) -> Result<Side<'e>, FilterError> {
        let position = operand.position;
        match &operand.kind {
            OperandKind::Field(name) => match self.ctx.fields.resolve(name) {
                Some(field) => Ok(Side::Column(Column { name, field_type: field.field_type, field })),
                None => Err(FilterError::new(position, format!("unknown field '{name}'"))),
            },
            OperandKind::Macro(path) => {
                let Some((value, field_type)) = self.ctx.macros.and_then(|m| m.lookup(path)) else {
                    return Err(FilterError::new(position, format!("unknown macro '@{path}'")));
                };
                if !value_fits(&value, field_type) {
                    return Err(FilterError::new(
                        position,
                        format!("macro '@{path}' has a value that does not fit its type, {field_type}"),
                    ));
                }
                Ok(Side::Constant(Constant::Macro { path, value, field_type, position }))
            }
            OperandKind::Literal(literal) => Ok(Side::Constant(Constant::Literal { literal, position })),
        }
    }

    fn comparison(&mut self, comparison: &Comparison) -> Result<Leaf, FilterError> {
        let left = self.side(&comparison.left)?;
        let right = self.side(&comparison.right)?;
        let op = comparison.op;
        let op_position = comparison.op_position;
        match (&left, &right) {
            (Side::Column(left), Side::Column(right)) => self.column_column(left, op, op_position, right),
            (Side::Column(column), Side::Constant(constant)) => {
                self.column_constant(column, op, op, op_position, constant)
            }
            (Side::Constant(constant), Side::Column(column)) => {
                let Some(flipped) = op.flipped() else {
                    return Err(FilterError::new(
                        op_position,
                        format!("'{op}' needs the field on its left, as in name {op} \"abc\""),
                    ));
                };
                self.column_constant(column, flipped, op, op_position, constant)
            }
            (Side::Constant(left), Side::Constant(right)) => Ok(Leaf::Known(fold(left, op, op_position, right)?)),
        }
    }

    fn push_column(&mut self, column: &Column<'_>) {
        self.w.push_field(self.ctx.qualifier, &column.field);
    }

    fn column_column(
        &mut self,
        left: &Column<'_>,
        op: CompareOp,
        op_position: usize,
        right: &Column<'_>,
    ) -> Result<Leaf, FilterError> {
        let (a, b) = (&left.field_type, &right.field_type);
        if matches!(op, CompareOp::Contains | CompareOp::NotContains | CompareOp::Like | CompareOp::ILike) {
            return Err(FilterError::new(
                op_position,
                format!("'{op}' needs a string on its right, not {}", right.describe()),
            ));
        }
        for (side, field_type) in [(left, a), (right, b)] {
            if *field_type == FieldType::Json {
                return Err(json_only_null(op_position, &side.describe()));
            }
        }
        if family(*a) != family(*b) {
            return Err(FilterError::new(
                op_position,
                format!("{} cannot be compared with {}", left.describe(), right.describe()),
            ));
        }
        if op.is_ordering() && *a == FieldType::Boolean {
            return Err(no_boolean_ordering(op, op_position));
        }
        // SQLite keeps decimals as text: against another numeric type compare as REAL.
        let mixed_sqlite_decimal = self.w.dialect() == Dialect::Sqlite && a != b;
        self.push_column_against(left, mixed_sqlite_decimal);
        self.w.push(match (op, self.w.dialect()) {
            // Null is a value for equality: two null fields are equal, and != is the
            // exact complement of =.
            (CompareOp::Eq, Dialect::Sqlite) => " IS ",
            (CompareOp::Eq, Dialect::Postgres) => " IS NOT DISTINCT FROM ",
            (CompareOp::NotEq, Dialect::Sqlite) => " IS NOT ",
            (CompareOp::NotEq, Dialect::Postgres) => " IS DISTINCT FROM ",
            (op, _) => ordering_sql(op),
        });
        self.push_column_against(right, mixed_sqlite_decimal);
        Ok(Leaf::Written)
    }

    /// A column compared with a column of another numeric type: SQLite decimals (text)
    /// are then compared as REAL.
    fn push_column_against(&mut self, column: &Column<'_>, mixed_sqlite_decimal: bool) {
        if mixed_sqlite_decimal && column.field_type == FieldType::Decimal {
            self.w.push("CAST(");
            let as_text = ResolvedField { field_type: FieldType::Text, ..column.field.clone() };
            self.w.push_field(self.ctx.qualifier, &as_text);
            self.w.push(" AS REAL)");
        } else {
            self.push_column(column);
        }
    }

    /// Adjusts a bound value to how SQLite compares it with a column of `column_type`:
    /// decimal columns hold canonical text (ordered by the `tessera_decimal` collation),
    /// so numbers compared with them become canonical decimal text; a decimal value
    /// compared with an integer or float column becomes a float.
    fn sqlite_comparable(&self, value: Value, param_type: FieldType, column_type: FieldType) -> (Value, FieldType) {
        if self.w.dialect() != Dialect::Sqlite {
            return (value, param_type);
        }
        let canonical = |text: String| match coerce(&FieldDef::new(FieldType::Decimal), &Json::String(text.clone())) {
            Ok(Value::Text(canonical)) => canonical,
            _ => text,
        };
        match (column_type == FieldType::Decimal, param_type == FieldType::Decimal, value) {
            (true, _, Value::Integer(i)) => (Value::Text(i.to_string()), FieldType::Decimal),
            (true, _, Value::Float(f)) => (Value::Text(canonical(format!("{f}"))), FieldType::Decimal),
            (true, _, Value::Text(text)) => (Value::Text(canonical(text)), FieldType::Decimal),
            (false, true, Value::Text(text)) => (Value::Float(text.parse().unwrap_or(f64::NAN)), FieldType::Float),
            (_, _, value) => (value, param_type),
        }
    }

    /// `column op constant`, where the constant is a literal or a macro; `written` is
    /// the operator as the user wrote it (before the sides were swapped), for messages.
    fn column_constant(
        &mut self,
        column: &Column<'_>,
        op: CompareOp,
        written: CompareOp,
        op_position: usize,
        constant: &Constant<'_>,
    ) -> Result<Leaf, FilterError> {
        let field_type = column.field_type;
        let literal_null = constant.is_literal_null();
        if field_type == FieldType::Json {
            return match op {
                CompareOp::Eq | CompareOp::NotEq if literal_null => Ok(self.null_test(column, op)),
                CompareOp::Eq | CompareOp::NotEq => Err(json_only_null(constant.position(), &column.describe())),
                _ => Err(json_only_null(op_position, &column.describe())),
            };
        }
        if matches!(op, CompareOp::Contains | CompareOp::NotContains) {
            return self.contains(column, op, op_position, constant);
        }
        if matches!(op, CompareOp::Like | CompareOp::ILike) {
            return self.like(column, op, op_position, constant);
        }
        if literal_null {
            return match op {
                CompareOp::Eq | CompareOp::NotEq => Ok(self.null_test(column, op)),
                _ => Err(null_needs_equality(written, op_position)),
            };
        }
        if op.is_ordering() && field_type == FieldType::Boolean {
            return Err(no_boolean_ordering(written, op_position));
        }
        let description = column.describe();
        let target = Target { field_type, description: &description };
        let (value, param_type) = match constant {
            Constant::Literal { literal, position } => (literal_value(literal, *position, &target)?, field_type),
            Constant::Macro { value, field_type: macro_type, position, .. } => {
                if family(*macro_type) != family(field_type) {
                    return Err(mismatch(*position, &description, constant));
                }
                if value.is_null() {
                    // A macro whose value is null behaves like the literal null for =
                    // and !=; nothing is ordered against null, whatever the row.
                    return Ok(match op {
                        CompareOp::Eq | CompareOp::NotEq => self.null_test(column, op),
                        _ => Leaf::Known(false),
                    });
                }
                // The macro's own type fixes the parameter's type: a decimal macro is
                // text that must be cast as numeric, whatever the column's type.
                (value.clone(), *macro_type)
            }
        };
        self.push_column(column);
        self.w.push(match (op, self.w.dialect()) {
            (CompareOp::Eq, _) => " = ",
            // Null-safe, so `species != "cat"` keeps the rows whose species is null.
            (CompareOp::NotEq, Dialect::Sqlite) => " IS NOT ",
            (CompareOp::NotEq, Dialect::Postgres) => " IS DISTINCT FROM ",
            (op, _) => ordering_sql(op),
        });
        let (value, param_type) = self.sqlite_comparable(value, param_type, field_type);
        self.w.push_param(value, param_type);
        Ok(Leaf::Written)
    }

    fn null_test(&mut self, column: &Column<'_>, op: CompareOp) -> Leaf {
        self.push_column(column);
        self.w.push(if op == CompareOp::Eq { " IS NULL" } else { " IS NOT NULL" });
        Leaf::Written
    }

    /// `column ~ constant` or `column !~ constant`.
    fn contains(
        &mut self,
        column: &Column<'_>,
        op: CompareOp,
        op_position: usize,
        constant: &Constant<'_>,
    ) -> Result<Leaf, FilterError> {
        require_searchable(column, op, op_position)?;
        let needle = match constant {
            Constant::Literal { literal: Literal::String(text), .. } => text.as_str(),
            Constant::Literal { literal: Literal::Null, .. } => return Err(null_needs_equality(op, op_position)),
            Constant::Macro { value, field_type, .. } if is_searchable(*field_type) => match value {
                Value::Text(text) => text.as_str(),
                _ => {
                    // A null macro: nothing contains it, so `!~` holds everywhere.
                    return Ok(Leaf::Known(op == CompareOp::NotContains));
                }
            },
            other => {
                return Err(FilterError::new(
                    other.position(),
                    format!("'{op}' needs a string, not {}", other.describe()),
                ))
            }
        };
        // `!~` holds for a null field: a missing value does not contain anything.
        let negated = op == CompareOp::NotContains;
        if negated {
            self.w.push("(");
            self.push_column(column);
            self.w.push(" IS NULL OR ");
        }
        match self.w.dialect() {
            // LIKE folds only ASCII in SQLite: compare Unicode-lower-cased text instead
            // (`tessera_fold` is registered by the store on every connection).
            Dialect::Sqlite => {
                self.w.push("instr(tessera_fold(");
                self.push_column(column);
                self.w.push("), tessera_fold(");
                self.w.push_param(Value::Text(needle.to_string()), FieldType::String);
                self.w.push(if negated { ")) = 0" } else { ")) > 0" });
            }
            Dialect::Postgres => {
                self.push_column(column);
                self.w.push(if negated { "::text NOT ILIKE '%' || " } else { "::text ILIKE '%' || " });
                self.w.push_param(Value::Text(escape_like(needle)), FieldType::String);
                self.w.push(" || '%' ESCAPE '\\'");
            }
        }
        if negated {
            self.w.push(")");
        }
        Ok(Leaf::Written)
    }

    /// `column LIKE pattern` (case-sensitive) or its case-insensitive form. SQLite's LIKE
    /// ignores ASCII case, so the case-sensitive match there is a GLOB of the same pattern,
    /// and the insensitive one compares Unicode-lower-cased text.
    fn like(
        &mut self,
        column: &Column<'_>,
        op: CompareOp,
        op_position: usize,
        constant: &Constant<'_>,
    ) -> Result<Leaf, FilterError> {
        require_searchable(column, op, op_position)?;
        let Constant::Literal { literal: Literal::String(pattern), .. } = constant else {
            return Err(FilterError::new(constant.position(), format!("'{op}' needs a string pattern")));
        };
        match (self.w.dialect(), op) {
            (Dialect::Sqlite, CompareOp::Like) => {
                self.push_column(column);
                self.w.push(" GLOB ");
                self.w.push_param(Value::Text(like_to_glob(pattern)), FieldType::String);
            }
            (Dialect::Sqlite, _) => {
                self.w.push("tessera_fold(");
                self.push_column(column);
                self.w.push(") LIKE tessera_fold(");
                self.w.push_param(Value::Text(pattern.clone()), FieldType::String);
                self.w.push(") ESCAPE '\\'");
            }
            (Dialect::Postgres, _) => {
                self.push_column(column);
                self.w.push(if op == CompareOp::Like { "::text LIKE " } else { "::text ILIKE " });
                self.w.push_param(Value::Text(pattern.clone()), FieldType::String);
            }
        }
        Ok(Leaf::Written)
    }

    fn in_list(&mut self, list: &InList) -> Result<Leaf, FilterError> {
        let operand = self.side(&list.operand)?;
        if let Side::Constant(Constant::Literal { literal: Literal::Null, .. }) = operand {
            return Err(FilterError::new(
                list.in_position,
                "'in' cannot be used with null; compare with = null instead",
            ));
        }
        for item in &list.items {
            if item.literal == Literal::Null {
                return Err(FilterError::new(
                    item.position,
                    "null cannot be in a list after 'in'; compare with = null instead",
                ));
            }
        }
        if list.items.is_empty() {
            return Err(FilterError::new(list.in_position, "the list after 'in' is empty; give at least one value"));
        }
        let column = match operand {
            Side::Column(column) => column,
            Side::Constant(constant) => {
                let mut holds = false;
                for item in &list.items {
                    let member = Constant::Literal { literal: &item.literal, position: item.position };
                    holds |= fold(&constant, CompareOp::Eq, list.in_position, &member)?;
                }
                return Ok(Leaf::Known(holds));
            }
        };
        let field_type = column.field_type;
        if field_type == FieldType::Json {
            return Err(json_only_null(list.in_position, &column.describe()));
        }
        let description = column.describe();
        let target = Target { field_type, description: &description };
        let values = list
            .items
            .iter()
            .map(|item| literal_value(&item.literal, item.position, &target))
            .collect::<Result<Vec<Value>, FilterError>>()?;
        self.push_column(&column);
        self.w.push(" IN (");
        for (index, value) in values.into_iter().enumerate() {
            if index > 0 {
                self.w.push(", ");
            }
            let (value, param_type) = self.sqlite_comparable(value, field_type, field_type);
            self.w.push_param(value, param_type);
        }
        self.w.push(")");
        Ok(Leaf::Written)
    }
}

fn ordering_sql(op: CompareOp) -> &'static str {
    match op {
        CompareOp::Gt => " > ",
        CompareOp::Ge => " >= ",
        CompareOp::Lt => " < ",
        CompareOp::Le => " <= ",
        // Callers handle the others; `=` is the harmless answer if one slips through.
        _ => " = ",
    }
}

/// `described` (a json field or macro) met anything but `= null` / `!= null`.
fn json_only_null(position: usize, described: &str) -> FilterError {
    FilterError::new(position, format!("{described} can only be compared with null (= null or != null)"))
}

fn null_needs_equality(op: CompareOp, position: usize) -> FilterError {
    FilterError::new(position, format!("'{op}' cannot be used with null; only = null and != null are allowed"))
}

fn no_boolean_ordering(op: CompareOp, position: usize) -> FilterError {
    FilterError::new(position, format!("'{op}' cannot compare booleans; use = or !="))
}

fn mismatch(position: usize, target: &str, other: &Constant<'_>) -> FilterError {
    FilterError::new(position, format!("{target} cannot be compared with {}", other.describe()))
}

/// Whether a macro's value is of the type it claims.
fn value_fits(value: &Value, field_type: FieldType) -> bool {
    match value {
        Value::Null => true,
        Value::Integer(_) | Value::Float(_) => family(field_type) == Family::Number,
        Value::Boolean(_) => field_type == FieldType::Boolean,
        Value::Text(_) => {
            !matches!(field_type, FieldType::Integer | FieldType::Float | FieldType::Boolean | FieldType::Json)
        }
        Value::Json(_) => field_type == FieldType::Json,
    }
}

/// Converts a literal to the canonical value it has when compared with `target`.
fn literal_value(literal: &Literal, position: usize, target: &Target<'_>) -> Result<Value, FilterError> {
    let field_type = target.field_type;
    let refuse = || {
        FilterError::new(
            position,
            format!("{} cannot be compared with {}", target.description, describe_literal(literal)),
        )
    };
    match (literal, family(field_type)) {
        (Literal::Null, _) => Ok(Value::Null),
        (Literal::Bool(flag), Family::Boolean) => Ok(Value::Boolean(*flag)),
        (Literal::Integer(number), Family::Number) => Ok(match field_type {
            FieldType::Integer => Value::Integer(*number),
            FieldType::Decimal => Value::Text(number.to_string()),
            _ => Value::Float(*number as f64),
        }),
        (Literal::Fractional(text), Family::Number) => {
            let number = fractional_value(text, position)?;
            Ok(match field_type {
                // Exact: Postgres casts the text to numeric, SQLite compares as REAL.
                FieldType::Decimal => Value::Text(text.clone()),
                _ => Value::Float(number),
            })
        }
        (Literal::String(text), Family::Text) => {
            // Enum, email and url fields compare with any string: asking whether a field
            // equals a value it can never hold is a fair question with the answer "no".
            coerce_text(text, FieldType::String, position, target)
        }
        (Literal::String(text), Family::Number | Family::Uuid | Family::Date | Family::Datetime)
            if field_type != FieldType::Integer && field_type != FieldType::Float =>
        {
            coerce_text(text, field_type, position, target)
        }
        _ => Err(refuse()),
    }
}

fn coerce_text(text: &str, field_type: FieldType, position: usize, target: &Target<'_>) -> Result<Value, FilterError> {
    let value = coerce(&FieldDef::new(field_type), &Json::String(text.to_string())).map_err(|reason| {
        FilterError::new(
            position,
            format!(
                "the string {} is not a valid {} for {}: {reason}",
                quote_for_message(text),
                target.field_type,
                target.description
            ),
        )
    })?;
    // SQLite compares decimals as REAL, so a decimal must also read as a finite f64.
    let readable = field_type != FieldType::Decimal || number_of(&value).is_some_and(f64::is_finite);
    if readable && value_fits(&value, target.field_type) && !value.is_null() {
        Ok(value)
    } else {
        Err(FilterError::new(
            position,
            format!(
                "the string {} is not a valid {} for {}",
                quote_for_message(text),
                target.field_type,
                target.description
            ),
        ))
    }
}

fn fractional_value(text: &str, position: usize) -> Result<f64, FilterError> {
    match text.parse::<f64>() {
        Ok(number) if number.is_finite() => Ok(number),
        _ => Err(FilterError::new(position, format!("{} is not a valid number", quote_for_message(text)))),
    }
}

/// Escapes LIKE wildcards so the bound text matches literally (with `ESCAPE '\'`).
/// Refuses a text operator on a field that is not text.
fn require_searchable(column: &Column<'_>, op: CompareOp, op_position: usize) -> Result<(), FilterError> {
    let Column { name, field_type, .. } = column;
    if !is_searchable(*field_type) {
        return Err(FilterError::new(
            op_position,
            format!("'{op}' works only on text fields, but field '{name}' is {field_type}"),
        ));
    }
    Ok(())
}

/// A LIKE pattern as the GLOB pattern that matches the same text: `%` is `*`, `_` is
/// `?`, a backslash escapes the next character, and GLOB's own `*`, `?` and `[` are
/// matched literally.
fn like_to_glob(pattern: &str) -> String {
    let mut glob = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' => glob.push('*'),
            '_' => glob.push('?'),
            '\\' => match chars.next() {
                Some(next) => push_glob_literal(&mut glob, next),
                None => push_glob_literal(&mut glob, '\\'),
            },
            other => push_glob_literal(&mut glob, other),
        }
    }
    glob
}

fn push_glob_literal(glob: &mut String, c: char) {
    match c {
        '*' | '?' | '[' => {
            glob.push('[');
            glob.push(c);
            glob.push(']');
        }
        other => glob.push(other),
    }
}

fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// Decides a comparison of two constants (literals and macros) at compile time, with the
/// same typing rules and null semantics as a comparison with a field.
fn fold(left: &Constant<'_>, op: CompareOp, op_position: usize, right: &Constant<'_>) -> Result<bool, FilterError> {
    // Null written as a literal: only = and != are meaningful.
    if left.is_literal_null() || right.is_literal_null() {
        if !matches!(op, CompareOp::Eq | CompareOp::NotEq) {
            return Err(null_needs_equality(op, op_position));
        }
        let both_null = match (left, right) {
            (Constant::Macro { value, .. }, _) | (_, Constant::Macro { value, .. }) => value.is_null(),
            _ => left.is_literal_null() && right.is_literal_null(),
        };
        return Ok(both_null == (op == CompareOp::Eq));
    }
    for side in [left, right] {
        if let Constant::Macro { field_type: FieldType::Json, .. } = side {
            return Err(json_only_null(op_position, &side.describe()));
        }
    }
    if matches!(op, CompareOp::Contains | CompareOp::NotContains) {
        let haystack = searchable_text(left, op)?;
        let needle = searchable_text(right, op)?;
        let contains = match (haystack, needle) {
            (Some(haystack), Some(needle)) => haystack.to_lowercase().contains(&needle.to_lowercase()),
            // A null macro contains nothing and is contained in nothing.
            _ => false,
        };
        return Ok(contains == (op == CompareOp::Contains));
    }
    // Give both sides one type: a macro's declared type, to which a literal on the
    // other side is converted; two literals must be of one kind.
    let (left_value, right_value, numeric) = match (left, right) {
        (Constant::Macro { value: a, field_type: ta, .. }, Constant::Macro { value: b, field_type: tb, .. }) => {
            if family(*ta) != family(*tb) {
                return Err(mismatch(right.position(), &left.describe(), right));
            }
            (a.clone(), b.clone(), family(*ta) == Family::Number)
        }
        (Constant::Macro { value, field_type, .. }, Constant::Literal { literal, position })
        | (Constant::Literal { literal, position }, Constant::Macro { value, field_type, .. }) => {
            let (macro_side, literal_is_left) =
                if matches!(left, Constant::Macro { .. }) { (left, false) } else { (right, true) };
            let description = macro_side.describe();
            let target = Target { field_type: *field_type, description: &description };
            let converted = literal_value(literal, *position, &target)?;
            let numeric = family(*field_type) == Family::Number;
            if literal_is_left {
                (converted, value.clone(), numeric)
            } else {
                (value.clone(), converted, numeric)
            }
        }
        (Constant::Literal { literal: a, .. }, Constant::Literal { literal: b, .. }) => {
            let a_value = plain_literal_value(a, left.position())?;
            let b_value = plain_literal_value(b, right.position())?;
            let same_kind = matches!(
                (&a_value, &b_value),
                (Value::Integer(_) | Value::Float(_), Value::Integer(_) | Value::Float(_))
                    | (Value::Text(_), Value::Text(_))
                    | (Value::Boolean(_), Value::Boolean(_))
            );
            if !same_kind {
                return Err(mismatch(right.position(), &left.describe(), right));
            }
            let numeric = matches!(a_value, Value::Integer(_) | Value::Float(_));
            (a_value, b_value, numeric)
        }
    };
    let booleans = matches!(left_value, Value::Boolean(_)) || matches!(right_value, Value::Boolean(_));
    if op.is_ordering() && booleans {
        return Err(no_boolean_ordering(op, op_position));
    }
    if left_value.is_null() || right_value.is_null() {
        let both = left_value.is_null() && right_value.is_null();
        return Ok(match op {
            CompareOp::Eq => both,
            CompareOp::NotEq => !both,
            _ => false,
        });
    }
    let ordering = compare_values(&left_value, &right_value, numeric);
    Ok(match (op, ordering) {
        (CompareOp::Eq, Some(ordering)) => ordering == Ordering::Equal,
        (CompareOp::NotEq, Some(ordering)) => ordering != Ordering::Equal,
        (CompareOp::Gt, Some(ordering)) => ordering == Ordering::Greater,
        (CompareOp::Ge, Some(ordering)) => ordering != Ordering::Less,
        (CompareOp::Lt, Some(ordering)) => ordering == Ordering::Less,
        (CompareOp::Le, Some(ordering)) => ordering != Ordering::Greater,
        // Incomparable values (a NaN): only "not equal" holds.
        (CompareOp::NotEq, None) => true,
        _ => false,
    })
}

/// The text of a constant that `~` searches in or for; `None` for a null macro.
fn searchable_text<'s>(side: &'s Constant<'_>, op: CompareOp) -> Result<Option<&'s str>, FilterError> {
    match side {
        Constant::Literal { literal: Literal::String(text), .. } => Ok(Some(text)),
        Constant::Macro { value, field_type, .. } if is_searchable(*field_type) => match value {
            Value::Text(text) => Ok(Some(text)),
            _ => Ok(None),
        },
        other => Err(FilterError::new(other.position(), format!("'{op}' needs strings, not {}", other.describe()))),
    }
}

/// A literal's value with no field to compare it with.
fn plain_literal_value(literal: &Literal, position: usize) -> Result<Value, FilterError> {
    Ok(match literal {
        Literal::Null => Value::Null,
        Literal::Bool(flag) => Value::Boolean(*flag),
        Literal::Integer(number) => Value::Integer(*number),
        Literal::Fractional(text) => Value::Float(fractional_value(text, position)?),
        Literal::String(text) => Value::Text(text.clone()),
    })
}

fn compare_values(a: &Value, b: &Value, numeric: bool) -> Option<Ordering> {
    match (a, b) {
        (Value::Integer(a), Value::Integer(b)) => Some(a.cmp(b)),
        (Value::Boolean(a), Value::Boolean(b)) => Some(a.cmp(b)),
        _ if numeric => number_of(a)?.partial_cmp(&number_of(b)?),
        (Value::Text(a), Value::Text(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

fn number_of(value: &Value) -> Option<f64> {
    match value {
        Value::Integer(number) => Some(*number as f64),
        Value::Float(number) => Some(*number),
        Value::Text(text) => text.parse::<f64>().ok(),
        _ => None,
    }
}
