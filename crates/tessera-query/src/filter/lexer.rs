//! Splits filter text into tokens, each with the character offset it starts at.
//!
//! The lexer works on characters, not bytes, so positions in errors count what a user
//! sees. It decides everything that is local to one token: escapes, number ranges,
//! malformed names; the parser only arranges tokens.

use super::ast::CompareOp;
use super::{quote_for_message, FilterError};

/// A token and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub position: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TokenKind {
    /// A field name, possibly dotted.
    Name(String),
    /// A macro path, without its `@`.
    Macro(String),
    String(String),
    Integer(i64),
    /// A number with a fraction or exponent, as written; known to be a finite f64.
    Fractional(String),
    True,
    False,
    Null,
    In,
    /// A comparison operator (`=`, `!=`, `>`, `>=`, `<`, `<=`, `~`, `!~`).
    Compare(CompareOp),
    And,
    Or,
    Not,
    LeftParen,
    RightParen,
    Comma,
    End,
}

impl TokenKind {
    /// How the token is named in an error message.
    pub fn describe(&self) -> String {
        match self {
            TokenKind::Name(name) => format!("'{name}'"),
            TokenKind::Macro(path) => format!("'@{path}'"),
            TokenKind::String(text) => format!("the string {}", quote_for_message(text)),
            TokenKind::Integer(number) => format!("the number {number}"),
            TokenKind::Fractional(text) => format!("the number {text}"),
            TokenKind::True => "'true'".into(),
            TokenKind::False => "'false'".into(),
            TokenKind::Null => "'null'".into(),
            TokenKind::In => "'in'".into(),
            TokenKind::End => "the end of the filter".into(),
            other => format!("'{}'", other.symbol()),
        }
    }

    fn symbol(&self) -> &'static str {
        match self {
            TokenKind::Compare(op) => op.symbol(),
            TokenKind::And => "&&",
            TokenKind::Or => "||",
            TokenKind::Not => "!",
            TokenKind::LeftParen => "(",
            TokenKind::RightParen => ")",
            TokenKind::Comma => ",",
            _ => "",
        }
    }
}

/// Splits `input` into tokens, ending with [`TokenKind::End`]. The caller has checked
/// the input's length.
pub(crate) fn tokenize(input: &str) -> Result<Vec<Token>, FilterError> {
    let chars: Vec<char> = input.chars().collect();
    let mut lexer = Lexer { chars: &chars, index: 0 };
    let mut tokens = Vec::new();
    loop {
        let token = lexer.next_token()?;
        let end = token.kind == TokenKind::End;
        tokens.push(token);
        if end {
            return Ok(tokens);
        }
    }
}

struct Lexer<'a> {
    chars: &'a [char],
    index: usize,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.index).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.index + offset).copied()
    }

    fn next_token(&mut self) -> Result<Token, FilterError> {
        while self.peek().is_some_and(char::is_whitespace) {
            self.index += 1;
        }
        let start = self.index;
        let Some(c) = self.peek() else {
            return Ok(Token { kind: TokenKind::End, position: start });
        };
        let next = self.peek_at(1);
        let (kind, width) = match (c, next) {
            ('(', _) => (TokenKind::LeftParen, 1),
            (')', _) => (TokenKind::RightParen, 1),
            (',', _) => (TokenKind::Comma, 1),
            ('=', Some('=')) => return Err(FilterError::new(start, "'==' is not an operator; write '=' to compare")),
            ('=', _) => (TokenKind::Compare(CompareOp::Eq), 1),
            ('~', _) => (TokenKind::Compare(CompareOp::Contains), 1),
            ('!', Some('=')) => (TokenKind::Compare(CompareOp::NotEq), 2),
            ('!', Some('~')) => (TokenKind::Compare(CompareOp::NotContains), 2),
            ('!', _) => (TokenKind::Not, 1),
            ('>', Some('=')) => (TokenKind::Compare(CompareOp::Ge), 2),
            ('>', _) => (TokenKind::Compare(CompareOp::Gt), 1),
            ('<', Some('=')) => (TokenKind::Compare(CompareOp::Le), 2),
            ('<', _) => (TokenKind::Compare(CompareOp::Lt), 1),
            ('&', Some('&')) => (TokenKind::And, 2),
            ('|', Some('|')) => (TokenKind::Or, 2),
            ('&', _) | ('|', _) => {
                return Err(FilterError::new(start, format!("'{c}' is not an operator; write '{c}{c}'")))
            }
            ('"', _) | ('\'', _) => return self.string(c),
            ('@', _) => return self.macro_path(),
            ('-', _) => return self.number(),
            (c, _) if c.is_ascii_digit() => return self.number(),
            (c, _) if c.is_ascii_alphabetic() => return self.name(),
            (c, _) => {
                return Err(FilterError::new(
                    start,
                    format!("unexpected character {}", quote_for_message(&c.to_string())),
                ))
            }
        };
        self.index += width;
        Ok(Token { kind, position: start })
    }

    /// A string literal; `quote` is the opening quote, at the current position.
    fn string(&mut self, quote: char) -> Result<Token, FilterError> {
        let start = self.index;
        self.index += 1;
        let mut text = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(FilterError::new(start, format!("the string {} is not closed", quote_for_message(&text))));
            };
            self.index += 1;
            if c == quote {
                return Ok(Token { kind: TokenKind::String(text), position: start });
            }
            if c == '\0' {
                // No store keeps NUL in text (Postgres refuses it), so no comparison
                // with it can mean anything.
                return Err(FilterError::new(self.index - 1, "a string cannot contain the NUL character"));
            }
            if c != '\\' {
                text.push(c);
                continue;
            }
            let escaped = match self.peek() {
                Some('"') => '"',
                Some('\'') => '\'',
                Some('\\') => '\\',
                Some('n') => '\n',
                Some('t') => '\t',
                Some(other) => {
                    return Err(FilterError::new(
                        self.index - 1,
                        format!(
                            "unknown escape {} in a string (known: \\\" \\' \\\\ \\n \\t)",
                            quote_for_message(&format!("\\{other}"))
                        ),
                    ))
                }
                None => {
                    return Err(FilterError::new(
                        start,
                        format!("the string {} is not closed", quote_for_message(&text)),
                    ))
                }
            };
            self.index += 1;
            text.push(escaped);
        }
    }

    /// `name(.name)*` starting at the current position.
    fn path(&mut self) -> Result<String, FilterError> {
        let mut path = String::new();
        loop {
            match self.peek() {
                Some(c) if c.is_ascii_alphabetic() => {}
                _ => {
                    return Err(FilterError::new(
                        self.index,
                        if path.is_empty() {
                            "expected a name starting with a letter".to_string()
                        } else {
                            format!("expected a name starting with a letter after '{path}'")
                        },
                    ))
                }
            }
            while let Some(c) = self.peek() {
                if !(c.is_ascii_alphanumeric() || c == '_') {
                    break;
                }
                path.push(c);
                self.index += 1;
            }
            if self.peek() != Some('.') {
                return Ok(path);
            }
            path.push('.');
            self.index += 1;
        }
    }

    fn name(&mut self) -> Result<Token, FilterError> {
        let start = self.index;
        let name = self.path()?;
        let kind = match name.to_ascii_lowercase().as_str() {
            "true" => TokenKind::True,
            "false" => TokenKind::False,
            "null" => TokenKind::Null,
            "in" => TokenKind::In,
            _ => TokenKind::Name(name),
        };
        Ok(Token { kind, position: start })
    }

    fn macro_path(&mut self) -> Result<Token, FilterError> {
        let start = self.index;
        self.index += 1;
        if !self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
            return Err(FilterError::new(start, "'@' must be followed by a macro name, as in @request.auth.id"));
        }
        let path = self.path()?;
        Ok(Token { kind: TokenKind::Macro(path), position: start })
    }

    fn number(&mut self) -> Result<Token, FilterError> {
        let start = self.index;
        let mut text = String::new();
        if self.peek() == Some('-') {
            text.push('-');
            self.index += 1;
            if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
                return Err(FilterError::new(start, "'-' must be followed by digits to make a negative number"));
            }
        }
        self.digits(&mut text);
        let mut fractional = false;
        if self.peek() == Some('.') && self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
            fractional = true;
            text.push('.');
            self.index += 1;
            self.digits(&mut text);
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            let sign = matches!(self.peek_at(1), Some('+' | '-'));
            let digit_at = if sign { 2 } else { 1 };
            if self.peek_at(digit_at).is_some_and(|c| c.is_ascii_digit()) {
                fractional = true;
                for _ in 0..digit_at {
                    if let Some(c) = self.peek() {
                        text.push(c);
                    }
                    self.index += 1;
                }
                self.digits(&mut text);
            }
        }
        if self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
            while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
                if let Some(c) = self.peek() {
                    text.push(c);
                }
                self.index += 1;
            }
            return Err(FilterError::new(start, format!("malformed number {}", quote_for_message(&text))));
        }
        let kind = if fractional {
            match text.parse::<f64>() {
                Ok(value) if value.is_finite() => TokenKind::Fractional(text),
                _ => return Err(FilterError::new(start, format!("the number {text} is too large"))),
            }
        } else {
            match text.parse::<i64>() {
                Ok(value) => TokenKind::Integer(value),
                Err(_) => {
                    return Err(FilterError::new(
                        start,
                        format!(
                            "the integer {text} is out of range (integers are 64-bit, from {} to {})",
                            i64::MIN,
                            i64::MAX
                        ),
                    ))
                }
            }
        };
        Ok(Token { kind, position: start })
    }

    fn digits(&mut self, text: &mut String) {
        while let Some(c) = self.peek() {
            if !c.is_ascii_digit() {
                break;
            }
            text.push(c);
            self.index += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(input: &str) -> Vec<TokenKind> {
        tokenize(input).unwrap().into_iter().map(|token| token.kind).collect()
    }

    fn error(input: &str) -> FilterError {
        tokenize(input).unwrap_err()
    }

    #[test]
    fn operators() {
        use TokenKind::*;
        let mut expected: Vec<TokenKind> = CompareOp::ALL.into_iter().map(Compare).collect();
        expected.extend([And, Or, Not, LeftParen, RightParen, Comma, End]);
        assert_eq!(kinds("= != > >= < <= ~ !~ && || ! ( ) ,"), expected);
        // No spaces needed; `!` followed by `(` stays a `!`.
        assert_eq!(
            kinds("a>=1&&!(b!~'x')"),
            vec![
                Name("a".into()),
                Compare(CompareOp::Ge),
                Integer(1),
                And,
                Not,
                LeftParen,
                Name("b".into()),
                Compare(CompareOp::NotContains),
                String("x".into()),
                RightParen,
                End
            ]
        );
    }

    #[test]
    fn names_macros_and_keywords() {
        use TokenKind::*;
        assert_eq!(
            kinds("zoo.name @request.auth.id In NULL True false a_1"),
            vec![
                Name("zoo.name".into()),
                Macro("request.auth.id".into()),
                In,
                Null,
                True,
                False,
                Name("a_1".into()),
                End
            ]
        );
        // A keyword is a whole name: these are field names.
        assert_eq!(
            kinds("nullable inx true_"),
            vec![Name("nullable".into()), Name("inx".into()), Name("true_".into()), End]
        );
    }

    #[test]
    fn strings_and_escapes() {
        use TokenKind::*;
        assert_eq!(
            kinds(r#""a\"b" 'c\'d' "\\ \n \t" 'say "hi"' "it's""#),
            vec![
                String("a\"b".into()),
                String("c'd".into()),
                String("\\ \n \t".into()),
                String("say \"hi\"".into()),
                String("it's".into()),
                End
            ]
        );
        assert_eq!(kinds("'' \"\" 'ünï ✓'"), vec![String("".into()), String("".into()), String("ünï ✓".into()), End]);
    }

    #[test]
    fn numbers() {
        use TokenKind::*;
        assert_eq!(
            kinds("0 42 -7 1.5 -0.25 1e3 2.5E-2 7e+1 007"),
            vec![
                Integer(0),
                Integer(42),
                Integer(-7),
                Fractional("1.5".into()),
                Fractional("-0.25".into()),
                Fractional("1e3".into()),
                Fractional("2.5E-2".into()),
                Fractional("7e+1".into()),
                Integer(7),
                End
            ]
        );
        assert_eq!(kinds("9223372036854775807 -9223372036854775808"), vec![Integer(i64::MAX), Integer(i64::MIN), End]);
    }

    #[test]
    fn positions_count_characters() {
        let tokens = tokenize("'ü' = x && 'é'").unwrap();
        let positions: Vec<usize> = tokens.iter().map(|t| t.position).collect();
        assert_eq!(positions, vec![0, 4, 6, 8, 11, 14]);
    }

    #[test]
    fn errors_point_at_the_bad_input() {
        let cases: &[(&str, usize, &str)] = &[
            ("a & b", 2, "'&' is not an operator; write '&&'"),
            ("a | b", 2, "'|' is not an operator; write '||'"),
            ("a = 'abc", 4, "the string \"abc\" is not closed"),
            ("a = 'abc\\", 4, "the string \"abc\" is not closed"),
            (
                "a = 'x\\q'",
                6,
                "unknown escape \"\\\\q\" in a string (known: \\\" \\' \\\\ \\n \\t)",
            ),
            ("a = @", 4, "'@' must be followed by a macro name, as in @request.auth.id"),
            ("a = @1", 4, "'@' must be followed by a macro name, as in @request.auth.id"),
            ("zoo. = 1", 4, "expected a name starting with a letter after 'zoo.'"),
            ("@request. = 1", 9, "expected a name starting with a letter after 'request.'"),
            ("a = -", 4, "'-' must be followed by digits to make a negative number"),
            ("a = -x", 4, "'-' must be followed by digits to make a negative number"),
            ("a = 5abc", 4, "malformed number \"5abc\""),
            ("a = 1.2.3", 4, "malformed number \"1.2.3\""),
            ("a = 1.", 4, "malformed number \"1.\""),
            ("a = 1e", 4, "malformed number \"1e\""),
            ("a = 1e999", 4, "the number 1e999 is too large"),
            (
                "a = 9223372036854775808",
                4,
                "the integer 9223372036854775808 is out of range (integers are 64-bit, from -9223372036854775808 to 9223372036854775807)",
            ),
            ("a == 1", 2, "'==' is not an operator; write '=' to compare"),
            ("a = 'x\0'", 6, "a string cannot contain the NUL character"),
            ("a # 1", 2, "unexpected character \"#\""),
            ("_a = 1", 0, "unexpected character \"_\""),
            ("a = 1 ; drop", 6, "unexpected character \";\""),
            ("ä = 1", 0, "unexpected character \"ä\""),
        ];
        for (input, position, message) in cases {
            let error = error(input);
            assert_eq!((error.position, error.message.as_str()), (*position, *message), "{input}");
        }
    }
}
