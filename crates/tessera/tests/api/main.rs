//! HTTP scenario tests: every scenario runs against SQLite and against Postgres, through
//! a real socket.

mod cluster;
mod harness;
mod tables;
