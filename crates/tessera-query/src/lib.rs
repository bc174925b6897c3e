//! The query side of tessera, pure: the filter language (shared by `?filter=` and access
//! rules), sort specifications, and the SQL writer that renders identifiers and bound
//! parameters for either dialect. The store decides what to run; this crate only says
//! how to write it.

pub mod filter;
pub mod resolve;
pub mod sort;
pub mod sql;

pub use filter::{compile_filter, CompileContext, Expr, FilterError, MacroLookup};
pub use resolve::{FieldResolver, Hop, ResolvedField};
pub use sql::{push_quoted_ident, quote_ident, Dialect, SqlWriter};
