//! HTTP scenario tests: every scenario runs against SQLite and against Postgres, through
//! a real socket.

mod cluster;
#[allow(dead_code)] // shared by every scenario module; not each uses all of it
mod harness;
mod tables;

mod admin_cli;
mod auth;
mod browser;
mod cli;
mod crash;
mod docs;
mod errors;
mod files;
mod graphql;
mod graphql_clients;
mod graphql_direct;
mod legacy;
mod migrations;
mod query;
mod relations;
mod rows;
mod rules;
