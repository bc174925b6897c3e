//! Postgres rows of a typed read: values in the binary protocol.

use super::{write_json_string, Render, TypedRow};
use std::error::Error;
use tessera_schema::value::push_float_json_text;
use tokio_postgres::types::{FromSql, Type};
use tokio_postgres::Row;

impl TypedRow for Row {
    type Error = tokio_postgres::Error;

    fn is_null(&self, index: usize) -> Result<bool, Self::Error> {
        Ok(self.try_get::<_, Option<i64>>(index)?.is_none())
    }

    fn write_value(&self, out: &mut String, index: usize, render: Render) -> Result<(), Self::Error> {
        match render {
            Render::Integer => match self.try_get::<_, Option<i64>>(index)? {
                Some(v) => out.push_str(itoa::Buffer::new().format(v)),
                None => out.push_str("null"),
            },
            Render::Boolean => match self.try_get::<_, Option<bool>>(index)? {
                Some(v) => out.push_str(if v { "true" } else { "false" }),
                None => out.push_str("null"),
            },
            Render::Text => match self.try_get::<_, Option<&str>>(index)? {
                Some(v) => write_json_string(out, v),
                None => out.push_str("null"),
            },
            Render::Datetime => match self.try_get::<_, Option<Micros>>(index)? {
                Some(v) => write_datetime(out, v.0),
                None => out.push_str("null"),
            },
            // Not chosen on Postgres (see `select_expr`); written as SQLite's would be.
            Render::Float => match self.try_get::<_, Option<f64>>(index)? {
                Some(v) => push_float_json_text(out, v),
                None => out.push_str("null"),
            },
            Render::Json => out.push_str(self.try_get::<_, Option<&str>>(index)?.unwrap_or("null")),
        }
        Ok(())
    }
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
