//! The `latchkey` command: serve | migrate | schema | user set-role.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use latchkey::config::Settings;
use latchkey::domain::Role;
use latchkey::{graphql, startup, store, telemetry};

#[derive(Parser)]
#[command(
    name = "latchkey",
    version,
    about = "A self-hostable identity server with a GraphQL API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Applies pending migrations, then serves HTTP.
    Serve {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Applies pending migrations and exits.
    Migrate {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Prints the SDL that the server serves.
    Schema,
    /// Manages users from the shell.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Gives EMAIL the role ROLE (USER, DEVELOPER or ADMIN): bootstraps the first admin.
    SetRole {
        email: String,
        role: Role,
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    telemetry::init();
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("latchkey: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Schema => {
            print!("{}", graphql::schema::sdl());
            Ok(())
        }
        Command::Migrate { config } => {
            let settings = Settings::load(config.as_deref())?;
            let db = store::connect(&settings).await?;
            store::migrate(&db).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::User {
            command:
                UserCommand::SetRole {
                    email,
                    role,
                    config,
                },
        } => {
            let settings = Settings::load(config.as_deref())?;
            let state = startup::build(settings).await?;
            let user = state
                .idm
                .set_role_by_email(&email, role, latchkey::clock::now())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{} is now {}", user.email.unwrap_or_default(), user.role);
            Ok(())
        }
        Command::Serve { config } => {
            let settings = Settings::load(config.as_deref())?;
            let listen = settings.listen;
            let state = startup::build(settings).await?;
            let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
                anyhow::anyhow!("cannot listen on {listen} (setting `listen`): {e}")
            })?;
            let addr = listener.local_addr()?;
            tracing::info!("latchkey listening on http://{addr}");
            println!("GraphiQL: http://{addr}/graphql");
            if state.idm.settings.console.enabled {
                println!("Sign in:  http://{addr}/login");
            }
            startup::run(state, listener).await
        }
    }
}
