//! The syntax tree of a filter, as written: names are not resolved and literals are not
//! typed yet. Positions are 0-based character offsets into the text, kept so that
//! compilation can point at the input it refuses.
//!
//! `Display` writes a tree back as filter text that parses to the same tree (positions
//! aside): `&&`/`||` chains are n-ary, and a group the user parenthesized stays a nested
//! node, so the text puts parentheses around a nested `&&` or `||` that would otherwise
//! merge into its parent.

use std::fmt;

/// A filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `left op right`.
    Compare(Comparison),
    /// `operand in (item, ...)`.
    In(InList),
    /// `!( ... )`: matches exactly the rows the inner expression does not.
    Not(Box<Expr>),
    /// `a && b && ...` (two or more parts when parsed).
    And(Vec<Expr>),
    /// `a || b || ...` (two or more parts when parsed).
    Or(Vec<Expr>),
}

/// One binary comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub left: Operand,
    pub op: CompareOp,
    /// Where the operator was written.
    pub op_position: usize,
    pub right: Operand,
}

/// A membership test against a list of literals.
#[derive(Debug, Clone, PartialEq)]
pub struct InList {
    pub operand: Operand,
    /// Where the `in` keyword was written.
    pub in_position: usize,
    pub items: Vec<ListItem>,
}

/// One literal of an `in` list.
#[derive(Debug, Clone, PartialEq)]
pub struct ListItem {
    pub literal: Literal,
    pub position: usize,
}

/// A side of a comparison, with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Operand {
    pub kind: OperandKind,
    pub position: usize,
}

/// What a side of a comparison is.
#[derive(Debug, Clone, PartialEq)]
pub enum OperandKind {
    /// A field name as written (possibly dotted); the resolver decides what it means.
    Field(String),
    /// A macro path without its `@`, e.g. `request.auth.id`.
    Macro(String),
    Literal(Literal),
}

/// A constant written in the filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Null,
    Bool(bool),
    /// A number without fraction or exponent that fits in an i64.
    Integer(i64),
    /// A number with a fraction or an exponent, kept exactly as written (the parser
    /// checked it is a finite f64) so that a decimal field compares it without rounding.
    Fractional(String),
    String(String),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    NotEq,
    Gt,
    Ge,
    Lt,
    Le,
    /// `~`: contains, case-insensitive.
    Contains,
    /// `!~`: does not contain, case-insensitive.
    NotContains,
    /// A SQL `LIKE` pattern (`%` any text, `_` one character), case-sensitive. Not part of
    /// the filter text syntax: GraphQL's `_like` builds it.
    Like,
    /// A `LIKE` pattern, case-insensitive (GraphQL's `_ilike`).
    ILike,
}

impl CompareOp {
    /// Every operator.
    pub const ALL: [CompareOp; 8] = [
        CompareOp::Eq,
        CompareOp::NotEq,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
        CompareOp::Contains,
        CompareOp::NotContains,
    ];

    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            CompareOp::Eq => "=",
            CompareOp::NotEq => "!=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Contains => "~",
            CompareOp::NotContains => "!~",
            CompareOp::Like => "_like",
            CompareOp::ILike => "_ilike",
        }
    }

    /// The operator with its sides swapped (`a < b` is `b > a`); `None` for `~` and
    /// `!~`, which are not symmetric.
    pub fn flipped(self) -> Option<CompareOp> {
        match self {
            CompareOp::Eq | CompareOp::NotEq => Some(self),
            CompareOp::Gt => Some(CompareOp::Lt),
            CompareOp::Ge => Some(CompareOp::Le),
            CompareOp::Lt => Some(CompareOp::Gt),
            CompareOp::Le => Some(CompareOp::Ge),
            CompareOp::Contains | CompareOp::NotContains | CompareOp::Like | CompareOp::ILike => None,
        }
    }

    /// `>`, `>=`, `<` or `<=`.
    pub fn is_ordering(self) -> bool {
        matches!(self, CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le)
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Null => f.write_str("null"),
            Literal::Bool(true) => f.write_str("true"),
            Literal::Bool(false) => f.write_str("false"),
            Literal::Integer(number) => write!(f, "{number}"),
            Literal::Fractional(text) => f.write_str(text),
            Literal::String(text) => {
                f.write_str("\"")?;
                for c in text.chars() {
                    match c {
                        '"' => f.write_str("\\\"")?,
                        '\\' => f.write_str("\\\\")?,
                        '\n' => f.write_str("\\n")?,
                        '\t' => f.write_str("\\t")?,
                        c => write!(f, "{c}")?,
                    }
                }
                f.write_str("\"")
            }
        }
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            OperandKind::Field(name) => f.write_str(name),
            OperandKind::Macro(path) => write!(f, "@{path}"),
            OperandKind::Literal(literal) => write!(f, "{literal}"),
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Compare(comparison) => write!(f, "{} {} {}", comparison.left, comparison.op, comparison.right),
            Expr::In(list) => {
                write!(f, "{} in (", list.operand)?;
                for (index, item) in list.items.iter().enumerate() {
                    if index > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}", item.literal)?;
                }
                f.write_str(")")
            }
            Expr::Not(inner) => write!(f, "!({inner})"),
            Expr::And(parts) => write_chain(f, parts, " && ", |part| matches!(part, Expr::And(_) | Expr::Or(_))),
            Expr::Or(parts) => write_chain(f, parts, " || ", |part| matches!(part, Expr::Or(_))),
        }
    }
}

fn write_chain(
    f: &mut fmt::Formatter<'_>,
    parts: &[Expr],
    separator: &str,
    needs_parentheses: fn(&Expr) -> bool,
) -> fmt::Result {
    for (index, part) in parts.iter().enumerate() {
        if index > 0 {
            f.write_str(separator)?;
        }
        if needs_parentheses(part) {
            write!(f, "({part})")?;
        } else {
            write!(f, "{part}")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str) -> Operand {
        Operand { kind: OperandKind::Field(name.into()), position: 0 }
    }

    fn literal(literal: Literal) -> Operand {
        Operand { kind: OperandKind::Literal(literal), position: 0 }
    }

    fn compare(name: &str, op: CompareOp, value: Literal) -> Expr {
        Expr::Compare(Comparison { left: field(name), op, op_position: 0, right: literal(value) })
    }

    #[test]
    fn flipping_swaps_ordering_and_keeps_equality() {
        assert_eq!(CompareOp::Gt.flipped(), Some(CompareOp::Lt));
        assert_eq!(CompareOp::Ge.flipped(), Some(CompareOp::Le));
        assert_eq!(CompareOp::Lt.flipped(), Some(CompareOp::Gt));
        assert_eq!(CompareOp::Le.flipped(), Some(CompareOp::Ge));
        assert_eq!(CompareOp::Eq.flipped(), Some(CompareOp::Eq));
        assert_eq!(CompareOp::NotEq.flipped(), Some(CompareOp::NotEq));
        assert_eq!(CompareOp::Contains.flipped(), None);
        assert_eq!(CompareOp::NotContains.flipped(), None);
        for op in CompareOp::ALL {
            if let Some(flipped) = op.flipped() {
                assert_eq!(flipped.flipped(), Some(op));
            }
        }
    }

    #[test]
    fn literals_render_as_written() {
        assert_eq!(Literal::Null.to_string(), "null");
        assert_eq!(Literal::Bool(false).to_string(), "false");
        assert_eq!(Literal::Integer(-42).to_string(), "-42");
        assert_eq!(Literal::Fractional("1.50e3".into()).to_string(), "1.50e3");
        assert_eq!(Literal::String("a\"b\\c\nd\te'f".into()).to_string(), r#""a\"b\\c\nd\te'f""#);
    }

    #[test]
    fn nested_chains_keep_their_parentheses() {
        let a = compare("a", CompareOp::Eq, Literal::Integer(1));
        let b = compare("b", CompareOp::Contains, Literal::String("x".into()));
        let c = compare("c", CompareOp::NotEq, Literal::Null);
        let expr = Expr::Or(vec![
            Expr::And(vec![a.clone(), Expr::Or(vec![b.clone(), c.clone()])]),
            Expr::Or(vec![a.clone(), b.clone()]),
            Expr::Not(Box::new(Expr::And(vec![a.clone(), c.clone()]))),
        ]);
        assert_eq!(
            expr.to_string(),
            r#"a = 1 && (b ~ "x" || c != null) || (a = 1 || b ~ "x") || !(a = 1 && c != null)"#
        );
        let list = Expr::In(InList {
            operand: Operand { kind: OperandKind::Macro("request.auth.role".into()), position: 0 },
            in_position: 0,
            items: vec![
                ListItem { literal: Literal::String("admin".into()), position: 0 },
                ListItem { literal: Literal::Integer(2), position: 0 },
            ],
        });
        assert_eq!(list.to_string(), r#"@request.auth.role in ("admin", 2)"#);
    }
}
