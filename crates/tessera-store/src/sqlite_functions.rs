//! SQL functions tessera's SQLite statements rely on, registered on every connection.
//! SQLite lacks three things the API promises:
//! - `tessera_float(x)`: the shortest text that reads back as the same float
//!   (`json_object` prints only 15 significant digits, so `0.30000000000000004` came
//!   back as `0.3`);
//! - the collation `tessera_decimal`: exact numeric order of canonical decimal text
//!   (decimals are stored as text; comparing them as REAL loses digits);
//! - `tessera_fold(x)`: Unicode lower case, for `~` (LIKE folds only ASCII).
//!
//! Tools that open the database file without these see plain data; only tessera's
//! generated statements call them.

use rusqlite::functions::FunctionFlags;
use rusqlite::Connection;
use tessera_schema::value::{compare_decimal_text, float_json_text};

/// Registers the functions and the collation on `conn`.
pub fn register(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC | FunctionFlags::SQLITE_INNOCUOUS;
    conn.create_scalar_function("tessera_float", 1, flags, |ctx| {
        Ok(match ctx.get_raw(0) {
            rusqlite::types::ValueRef::Real(f) => Some(float_json_text(f)),
            rusqlite::types::ValueRef::Integer(i) => Some(float_json_text(i as f64)),
            _ => None,
        })
    })?;
    conn.create_scalar_function("tessera_fold", 1, flags, |ctx| {
        Ok(match ctx.get_raw(0) {
            rusqlite::types::ValueRef::Text(bytes) => Some(String::from_utf8_lossy(bytes).to_lowercase()),
            _ => None,
        })
    })?;
    conn.create_collation("tessera_decimal", compare_decimal_text)?;
    Ok(())
}
