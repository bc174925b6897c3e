//! Arranges tokens into an [`Expr`] by recursive descent, one function per precedence
//! level. Recursion happens only at `(` and `!`, and both count against [`MAX_DEPTH`],
//! so no input can exhaust the stack; `&&` and `||` chains are loops.

use super::ast::{Comparison, Expr, InList, ListItem, Literal, Operand, OperandKind};
use super::lexer::{tokenize, Token, TokenKind};
use super::{quote_for_message, FilterError, MAX_CONDITIONS, MAX_DEPTH, MAX_INPUT_CHARS, MAX_IN_ITEMS};

/// Parses filter text into a syntax tree. Checks syntax and limits only; names and types
/// are checked by [`super::compile`].
pub fn parse(input: &str) -> Result<Expr, FilterError> {
    if input.chars().nth(MAX_INPUT_CHARS).is_some() {
        return Err(FilterError::new(
            MAX_INPUT_CHARS,
            format!("the filter is too long (at most {MAX_INPUT_CHARS} characters)"),
        ));
    }
    let tokens = tokenize(input)?;
    let mut parser = Parser { tokens, index: 0, depth: 0, conditions: 0 };
    if parser.peek().kind == TokenKind::End {
        return Err(FilterError::new(0, "the filter is empty"));
    }
    let expr = parser.or_expr()?;
    let token = parser.peek();
    if token.kind != TokenKind::End {
        let message = if token.kind == TokenKind::RightParen {
            "found ')' without a matching '('".to_string()
        } else {
            format!("expected '&&', '||' or the end of the filter but found {}", token.kind.describe())
        };
        return Err(FilterError::new(token.position, message));
    }
    Ok(expr)
}

struct Parser {
    /// Always ends with an `End` token.
    tokens: Vec<Token>,
    index: usize,
    depth: usize,
    conditions: usize,
}

const END: Token = Token { kind: TokenKind::End, position: 0 };

impl Parser {
    fn peek(&self) -> &Token {
        // The last token is End and is never consumed, so the fallback is unreachable;
        // it keeps this function free of a panic path all the same.
        self.tokens.get(self.index).or(self.tokens.last()).unwrap_or(&END)
    }

    fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if token.kind != TokenKind::End {
            self.index += 1;
        }
        token
    }

    fn enter(&mut self, position: usize) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(FilterError::new(
                position,
                format!("the filter is nested too deeply (at most {MAX_DEPTH} levels of '(' and '!')"),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn or_expr(&mut self) -> Result<Expr, FilterError> {
        let mut parts = vec![self.and_expr()?];
        while self.peek().kind == TokenKind::Or {
            self.advance();
            parts.push(self.and_expr()?);
        }
        Ok(single_or(parts, Expr::Or))
    }

    fn and_expr(&mut self) -> Result<Expr, FilterError> {
        let mut parts = vec![self.unary()?];
        while self.peek().kind == TokenKind::And {
            self.advance();
            parts.push(self.unary()?);
        }
        Ok(single_or(parts, Expr::And))
    }

    fn unary(&mut self) -> Result<Expr, FilterError> {
        let token = self.peek().clone();
        match token.kind {
            TokenKind::Not => {
                self.advance();
                self.enter(token.position)?;
                let next = self.peek().clone();
                let inner = match next.kind {
                    TokenKind::LeftParen => self.group()?,
                    TokenKind::Not => self.unary()?,
                    _ => {
                        return Err(FilterError::new(
                            next.position,
                            format!(
                                "'!' must be followed by '(' (as in !(age > 5)) but found {}",
                                next.kind.describe()
                            ),
                        ))
                    }
                };
                self.leave();
                Ok(Expr::Not(Box::new(inner)))
            }
            TokenKind::LeftParen => {
                self.enter(token.position)?;
                let inner = self.group()?;
                self.leave();
                Ok(inner)
            }
            _ => self.condition(),
        }
    }

    /// `( or_expr )`, at a `(`; the caller accounts for depth.
    fn group(&mut self) -> Result<Expr, FilterError> {
        let open = self.advance();
        let inner = self.or_expr()?;
        let close = self.peek().clone();
        if close.kind != TokenKind::RightParen {
            return Err(FilterError::new(
                close.position,
                format!(
                    "expected ')' to close the '(' at position {} but found {}",
                    open.position,
                    close.kind.describe()
                ),
            ));
        }
        self.advance();
        Ok(inner)
    }

    fn condition(&mut self) -> Result<Expr, FilterError> {
        let left = self.operand("a field, a value or '('")?;
        self.conditions += 1;
        if self.conditions > MAX_CONDITIONS {
            return Err(FilterError::new(
                left.position,
                format!("the filter has too many comparisons (at most {MAX_CONDITIONS})"),
            ));
        }
        let token = self.advance();
        let op = match token.kind {
            TokenKind::Compare(op) => op,
            TokenKind::In => return self.in_list(left, token.position),
            other => {
                return Err(FilterError::new(
                    token.position,
                    format!(
                        "expected an operator (=, !=, >, >=, <, <=, ~, !~ or in) after {} but found {}",
                        describe_operand(&left),
                        other.describe()
                    ),
                ))
            }
        };
        let right = self.operand(&format!("a field or a value after '{op}'"))?;
        Ok(Expr::Compare(Comparison { left, op, op_position: token.position, right }))
    }

    fn in_list(&mut self, operand: Operand, in_position: usize) -> Result<Expr, FilterError> {
        let open = self.advance();
        if open.kind != TokenKind::LeftParen {
            return Err(FilterError::new(
                open.position,
                format!("expected '(' after 'in' but found {}", open.kind.describe()),
            ));
        }
        if self.peek().kind == TokenKind::RightParen {
            return Err(FilterError::new(
                self.peek().position,
                "the list after 'in' is empty; give at least one value",
            ));
        }
        let mut items = Vec::new();
        loop {
            let item = self.operand("a value")?;
            let literal = match item.kind {
                OperandKind::Literal(literal) => literal,
                OperandKind::Field(name) => {
                    return Err(FilterError::new(
                        item.position,
                        format!("a list after 'in' may hold only values, not the field '{name}'"),
                    ))
                }
                OperandKind::Macro(path) => {
                    return Err(FilterError::new(
                        item.position,
                        format!("a list after 'in' may hold only values, not the macro '@{path}'"),
                    ))
                }
            };
            if items.len() == MAX_IN_ITEMS {
                return Err(FilterError::new(
                    item.position,
                    format!("a list after 'in' may hold at most {MAX_IN_ITEMS} values"),
                ));
            }
            items.push(ListItem { literal, position: item.position });
            let separator = self.advance();
            match separator.kind {
                TokenKind::Comma => continue,
                TokenKind::RightParen => break,
                other => {
                    return Err(FilterError::new(
                        separator.position,
                        format!(
                            "expected ',' or ')' in the list after 'in' (opened at position {}) but found {}",
                            open.position,
                            other.describe()
                        ),
                    ))
                }
            }
        }
        Ok(Expr::In(InList { operand, in_position, items }))
    }

    /// A field, macro or literal; `expected` says what the caller wanted, for errors.
    fn operand(&mut self, expected: &str) -> Result<Operand, FilterError> {
        let token = self.peek().clone();
        let kind = match token.kind {
            TokenKind::Name(name) => OperandKind::Field(name),
            TokenKind::Macro(path) => OperandKind::Macro(path),
            TokenKind::String(text) => OperandKind::Literal(Literal::String(text)),
            TokenKind::Integer(number) => OperandKind::Literal(Literal::Integer(number)),
            TokenKind::Fractional(text) => OperandKind::Literal(Literal::Fractional(text)),
            TokenKind::True => OperandKind::Literal(Literal::Bool(true)),
            TokenKind::False => OperandKind::Literal(Literal::Bool(false)),
            TokenKind::Null => OperandKind::Literal(Literal::Null),
            other => {
                return Err(FilterError::new(
                    token.position,
                    format!("expected {expected} but found {}", other.describe()),
                ))
            }
        };
        self.advance();
        Ok(Operand { kind, position: token.position })
    }
}

/// How an operand is named in an error message.
fn describe_operand(operand: &Operand) -> String {
    match &operand.kind {
        OperandKind::Field(name) => format!("'{name}'"),
        OperandKind::Macro(path) => format!("'@{path}'"),
        OperandKind::Literal(Literal::String(text)) => quote_for_message(text),
        OperandKind::Literal(literal) => literal.to_string(),
    }
}

/// The only part itself, or the parts joined by `join`.
fn single_or(mut parts: Vec<Expr>, join: fn(Vec<Expr>) -> Expr) -> Expr {
    if parts.len() == 1 {
        if let Some(only) = parts.pop() {
            return only;
        }
    }
    join(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tree as filter text, for compact assertions on its shape.
    fn shape(input: &str) -> String {
        match parse(input) {
            Ok(expr) => sexpr(&expr),
            Err(error) => panic!("{input}: {error}"),
        }
    }

    fn sexpr(expr: &Expr) -> String {
        match expr {
            Expr::Compare(c) => format!("[{} {} {}]", c.left, c.op, c.right),
            Expr::In(list) => format!("[{}]", Expr::In(list.clone())),
            Expr::Not(inner) => format!("(not {})", sexpr(inner)),
            Expr::And(parts) => format!("(and {})", parts.iter().map(sexpr).collect::<Vec<_>>().join(" ")),
            Expr::Or(parts) => format!("(or {})", parts.iter().map(sexpr).collect::<Vec<_>>().join(" ")),
        }
    }

    fn error(input: &str) -> (usize, String) {
        match parse(input) {
            Ok(expr) => panic!("{input} parsed as {expr}"),
            Err(error) => (error.position, error.message),
        }
    }

    #[test]
    fn precedence_and_associativity() {
        assert_eq!(shape("a = 1"), "[a = 1]");
        assert_eq!(shape("a = 1 || b = 2 && c = 3"), "(or [a = 1] (and [b = 2] [c = 3]))");
        assert_eq!(shape("a = 1 && b = 2 || c = 3"), "(or (and [a = 1] [b = 2]) [c = 3])");
        assert_eq!(shape("a = 1 && b = 2 && c = 3"), "(and [a = 1] [b = 2] [c = 3])");
        assert_eq!(shape("a = 1 || b = 2 || c = 3"), "(or [a = 1] [b = 2] [c = 3])");
        assert_eq!(shape("(a = 1 || b = 2) && c = 3"), "(and (or [a = 1] [b = 2]) [c = 3])");
        // Parentheses keep a group as a node of its own.
        assert_eq!(shape("(a = 1 && b = 2) && c = 3"), "(and (and [a = 1] [b = 2]) [c = 3])");
        assert_eq!(shape("((a = 1))"), "[a = 1]");
        assert_eq!(shape("!(a = 1) && b = 2"), "(and (not [a = 1]) [b = 2])");
        assert_eq!(shape("!(a = 1 || b = 2)"), "(not (or [a = 1] [b = 2]))");
        assert_eq!(shape("!!(a = 1)"), "(not (not [a = 1]))");
        assert_eq!(
            shape(r#"age > 50 && (species = "cat" || name ~ "Leo")"#),
            r#"(and [age > 50] (or [species = "cat"] [name ~ "Leo"]))"#
        );
    }

    #[test]
    fn operands_and_operators() {
        assert_eq!(shape("name !~ 'x'"), r#"[name !~ "x"]"#);
        assert_eq!(shape("zoo = null"), "[zoo = null]");
        assert_eq!(shape("zoo.name=NULL"), "[zoo.name = null]");
        assert_eq!(shape("5 < age"), "[5 < age]");
        assert_eq!(shape("a >= -1.5e3"), "[a >= -1.5e3]");
        assert_eq!(shape("a <= b"), "[a <= b]");
        assert_eq!(shape("active = TRUE"), "[active = true]");
        assert_eq!(
            shape("@request.auth.id != null && owner = @request.auth.id"),
            "(and [@request.auth.id != null] [owner = @request.auth.id])"
        );
        assert_eq!(shape("!(age in (1, 2, 3))"), "(not [age in (1, 2, 3)])");
        assert_eq!(shape("age IN (1,'a',null,true)"), r#"[age in (1, "a", null, true)]"#);
    }

    #[test]
    fn positions_are_recorded() {
        let Ok(Expr::And(parts)) = parse("age > 5 && 'x' ~ @m") else {
            panic!("not an and");
        };
        let [Expr::Compare(first), Expr::Compare(second)] = parts.as_slice() else {
            panic!("not two comparisons");
        };
        assert_eq!((first.left.position, first.op_position, first.right.position), (0, 4, 6));
        assert_eq!((second.left.position, second.op_position, second.right.position), (11, 15, 17));
        let Ok(Expr::In(list)) = parse("a in (1, 'ü', 3)") else {
            panic!("not an in");
        };
        assert_eq!(list.in_position, 2);
        let positions: Vec<usize> = list.items.iter().map(|item| item.position).collect();
        assert_eq!(positions, vec![6, 9, 14]);
    }

    #[test]
    fn syntax_errors_point_at_the_bad_token() {
        let cases: &[(&str, usize, &str)] = &[
            ("", 0, "the filter is empty"),
            ("   ", 0, "the filter is empty"),
            ("a = 1)", 5, "found ')' without a matching '('"),
            ("a = 1 b = 2", 6, "expected '&&', '||' or the end of the filter but found 'b'"),
            ("(a = 1", 6, "expected ')' to close the '(' at position 0 but found the end of the filter"),
            ("()", 1, "expected a field, a value or '(' but found ')'"),
            ("a = 1 &&", 8, "expected a field, a value or '(' but found the end of the filter"),
            ("&& a = 1", 0, "expected a field, a value or '(' but found '&&'"),
            ("a = 1 || || b = 2", 9, "expected a field, a value or '(' but found '||'"),
            (
                "a",
                1,
                "expected an operator (=, !=, >, >=, <, <=, ~, !~ or in) after 'a' but found the end of the filter",
            ),
            ("a = = 1", 4, "expected a field or a value after '=' but found '='"),
            ("a b", 2, "expected an operator (=, !=, >, >=, <, <=, ~, !~ or in) after 'a' but found 'b'"),
            (
                "'x' 'y'",
                4,
                "expected an operator (=, !=, >, >=, <, <=, ~, !~ or in) after \"x\" but found the string \"y\"",
            ),
            ("a = (1)", 4, "expected a field or a value after '=' but found '('"),
            ("!a = 1", 1, "'!' must be followed by '(' (as in !(age > 5)) but found 'a'"),
            ("!", 1, "'!' must be followed by '(' (as in !(age > 5)) but found the end of the filter"),
            ("a in 1", 5, "expected '(' after 'in' but found the number 1"),
            ("a in ()", 6, "the list after 'in' is empty; give at least one value"),
            ("a in (1,)", 8, "expected a value but found ')'"),
            (
                "a in (1 2)",
                8,
                "expected ',' or ')' in the list after 'in' (opened at position 5) but found the number 2",
            ),
            (
                "a in (1",
                7,
                "expected ',' or ')' in the list after 'in' (opened at position 5) but found the end of the filter",
            ),
            ("a in (b)", 6, "a list after 'in' may hold only values, not the field 'b'"),
            ("a in (@m.x)", 6, "a list after 'in' may hold only values, not the macro '@m.x'"),
            ("a in (1) in (2)", 9, "expected '&&', '||' or the end of the filter but found 'in'"),
            ("a = 1 = 2", 6, "expected '&&', '||' or the end of the filter but found '='"),
        ];
        for (input, position, message) in cases {
            assert_eq!(error(input), (*position, message.to_string()), "{input}");
        }
    }

    #[test]
    fn input_length_is_limited() {
        let padding = " ".repeat(MAX_INPUT_CHARS - 5);
        assert!(parse(&format!("a = 1{padding}")).is_ok());
        assert_eq!(
            error(&format!("a = 1{padding} ")),
            (MAX_INPUT_CHARS, "the filter is too long (at most 4096 characters)".to_string())
        );
        // Characters, not bytes: 4096 two-byte characters are fine.
        let text = "é".repeat(MAX_INPUT_CHARS - 6);
        assert!(parse(&format!("a = '{text}'")).is_ok());
    }

    #[test]
    fn nesting_is_limited() {
        let nested = |depth: usize| format!("{}a = 1{}", "(".repeat(depth), ")".repeat(depth));
        assert!(parse(&nested(MAX_DEPTH)).is_ok());
        assert_eq!(
            error(&nested(MAX_DEPTH + 1)),
            (MAX_DEPTH, "the filter is nested too deeply (at most 32 levels of '(' and '!')".to_string())
        );
        // `!(` is one level; a bare `!` another.
        let negated = |depth: usize| format!("{}a = 1{}", "!(".repeat(depth), ")".repeat(depth));
        assert!(parse(&negated(MAX_DEPTH)).is_ok());
        assert_eq!(error(&negated(MAX_DEPTH + 1)).0, 2 * MAX_DEPTH);
        let bangs = format!("{}(a = 1)", "!".repeat(MAX_DEPTH + 1));
        assert_eq!(error(&bangs).0, MAX_DEPTH);
        // Far past the limit is still an error, not a stack overflow.
        let deep = "(".repeat(MAX_INPUT_CHARS);
        assert_eq!(error(&deep).0, MAX_DEPTH);
        let deep = "!".repeat(MAX_INPUT_CHARS);
        assert_eq!(error(&deep).0, MAX_DEPTH);
    }

    #[test]
    fn comparisons_are_limited() {
        let many = |count: usize| vec!["a = 1"; count].join(" && ");
        assert!(parse(&many(MAX_CONDITIONS)).is_ok());
        let error = error(&many(MAX_CONDITIONS + 1));
        assert_eq!(error, (MAX_CONDITIONS * 9, "the filter has too many comparisons (at most 200)".to_string()));
    }

    #[test]
    fn in_lists_are_limited() {
        let list = |count: usize| {
            let items: Vec<String> = (0..count).map(|i| i.to_string()).collect();
            format!("a in ({})", items.join(","))
        };
        let Ok(Expr::In(full)) = parse(&list(MAX_IN_ITEMS)) else {
            panic!("a full list should parse");
        };
        assert_eq!(full.items.len(), MAX_IN_ITEMS);
        let (position, message) = error(&list(MAX_IN_ITEMS + 1));
        assert_eq!(message, "a list after 'in' may hold at most 100 values");
        assert_eq!(position, list(MAX_IN_ITEMS).len());
    }
}
