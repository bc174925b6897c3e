//! Subcommands: `serve`, `admin create`, `tables list|show`, `import`, `export`.

use crate::config::{AuthArgs, FilesArgs, ServeArgs, StoreArgs};
use crate::transfer;
use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use tessera_core::{App, AppOptions};
use tessera_http::HttpConfig;
use tessera_store::Store;

#[derive(Debug, Parser)]
#[command(name = "tessera", version, about = "A backend shaped at run time: tables over HTTP on SQLite or Postgres")]
pub struct Cli {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub auth: AuthArgs,
    #[command(flatten)]
    pub files: FilesArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server.
    Serve(ServeArgs),
    /// Manage admins.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Inspect tables.
    Tables {
        #[command(subcommand)]
        command: TablesCommand,
    },
    /// Load rows from a CSV or NDJSON file into a table (streamed, one transaction per batch).
    Import {
        table: String,
        file: PathBuf,
        /// File format; guessed from the extension when omitted.
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// Rows per transaction.
        #[arg(long, default_value_t = 5000)]
        batch: usize,
        /// Hide the progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Write every row of a table to stdout.
    Export {
        table: String,
        #[arg(long, value_enum, default_value = "ndjson")]
        format: Format,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an admin user. The password comes from `--password`, else
    /// `TESSERA_ADMIN_PASSWORD`, else the first line of stdin.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TablesCommand {
    /// One line per table.
    List,
    /// A table's schema as JSON.
    Show { table: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Csv,
    Ndjson,
}

async fn open_app(store_args: &StoreArgs, auth_args: &AuthArgs, files_args: &FilesArgs) -> anyhow::Result<App> {
    let storage = tessera_files::FileStorage::open(&files_args.storage_config(&store_args.data_dir))
        .context("cannot open the file storage")?;
    let options = AppOptions { auth: auth_args.auth_config()?, files: Some(storage), ..AppOptions::default() };
    let store = Store::open(&store_args.store_config()).await.context("cannot open the store")?;
    Ok(App::with_options(store, options).await?)
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let app = open_app(&cli.store, &cli.auth, &cli.files).await?;
    let result = match cli.command {
        Command::Serve(args) => serve(app.clone(), args).await,
        Command::Admin { command: AdminCommand::Create { email, password } } => {
            let password = match password.or_else(|| cli.auth.admin_password.clone()) {
                Some(password) => password,
                None => {
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line).context("cannot read the password from stdin")?;
                    line.trim_end_matches(['\r', '\n']).to_string()
                }
            };
            let id = app.create_admin(&email, &password).await?;
            println!("created admin {} (user {id})", email.trim().to_lowercase());
            Ok(())
        }
        Command::Tables { command: TablesCommand::List } => {
            for table in app.catalog().tables() {
                let schema = &table.schema;
                println!("{}\t{}\tv{}\t{} fields", schema.id, schema.name, schema.version, schema.fields.len());
            }
            Ok(())
        }
        Command::Tables { command: TablesCommand::Show { table } } => {
            println!("{}", serde_json::to_string_pretty(&app.table(&table)?.schema)?);
            Ok(())
        }
        Command::Import { table, file, format, batch, quiet } => {
            let format = format
                .or_else(|| transfer::guess_format(&file))
                .context("cannot tell the file format: use --format csv|ndjson")?;
            let count = transfer::import(&app, &table, &file, format, batch.max(1), !quiet).await?;
            eprintln!("imported {count} rows into {table}");
            Ok(())
        }
        Command::Export { table, format } => transfer::export(&app, &table, format).await,
    };
    app.store().close().await;
    result
}

async fn serve(app: App, args: ServeArgs) -> anyhow::Result<()> {
    let addr = args.listen_addr();
    let listener = tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    let config = HttpConfig {
        max_body_bytes: args.max_body_bytes,
        cors_origins: args.cors_origins.clone(),
        max_upload_bytes: args.max_upload_bytes,
        graphql: tessera_graphql::Limits {
            max_depth: args.graphql_max_depth,
            max_complexity: args.graphql_max_complexity,
            max_nodes: args.graphql_max_nodes,
            introspection: !args.graphql_no_introspection,
            ..tessera_graphql::Limits::default()
        },
    };
    let router = tessera_http::router(app, &config);
    tracing::info!("tessera listening on http://{}", listener.local_addr()?);
    tessera_http::serve(listener, router, shutdown_signal()).await?;
    tracing::info!("stopped; requests in flight finished");
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
