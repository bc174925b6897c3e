//! The pure model of a tessera table: what a field is, which values it accepts, how a
//! value converts when the field's type changes, and how a schema change becomes a plan.
//!
//! Nothing here does I/O; the store executes what this crate decides. Keeping the rules
//! pure is what lets them be tested exhaustively (every type pair, every option).

pub mod convert;
pub mod field;
pub mod ident;
pub mod plan;
pub mod relations;
pub mod rules;
pub mod table;
pub mod validate;
pub mod value;

pub use field::{FieldDef, FieldType, OnDelete};
pub use ident::{validate_field_name, validate_table_name, IdentError, SYSTEM_FIELDS};
pub use rules::{Action, Rule, Rules};
pub use table::{parse_fields, FieldsError, TableKind, TableSchema, OWNER_FIELD};
pub use value::Value;
