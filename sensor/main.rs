//! `nsm-sensor` binary: parses the command line, runs the command, maps the outcome to an exit
//! code (0 ok, 1 runtime failure, 2 usage error, 78 bad configuration or rules).

mod commands;

use std::process::ExitCode;

use clap::Parser;
use nsm_sensor::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli.log_level);
    let outcome = match cli.command {
        Command::Run(a) => commands::run(a),
        Command::Replay(a) => commands::replay(a),
        Command::Check(a) => commands::check(a),
        Command::Info(a) => commands::info(a),
        Command::Carve(a) => commands::carve(a),
        Command::Investigate(a) => commands::investigate(a),
        Command::Update(a) => commands::update(a),
        Command::Console(a) => commands::console(a),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            for line in e.message.lines() {
                eprintln!("nsm-sensor: {line}");
            }
            ExitCode::from(e.code)
        }
    }
}

/// Diagnostics go to stderr (the journal under systemd); `RUST_LOG` overrides `--log-level`.
fn init_tracing(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only on a terminal: the journal and log files get plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}
