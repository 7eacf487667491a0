//! The `backprop` command line: flags → library calls → output. No math here.
//!
//! Exit codes: 0 success, 2 usage error (bad flags or option values), 1 data
//! or model error. Every error is one message on stderr.

mod cli;

use std::io;
use std::process::ExitCode;

use clap::Parser;

use backprop::dist::Job;
use backprop::Error;

use cli::{error_text, usage, Cli, Command, Interrupted};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // under mpirun: one rank of the job (train and bench share the work;
    // rank 0 alone prints and writes)
    let job = match Job::join() {
        Ok(job) => job,
        Err(e) => {
            eprintln!("error: {}", error_text(&e.into()));
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Train(args) => cli::train(&args, &job),
        Command::Bench(args) => cli::bench(&args, &job),
        _ if job.size() > 1 => Err(usage(
            "mpi",
            format!(
                "started as {} processes: only train and bench run as an MPI job; \
                 run eval, predict, info and export without mpirun",
                job.size()
            ),
        )),
        Command::Cv(args) => cli::cv(&args),
        Command::Search(args) => cli::search(&args),
        Command::Eval(args) => cli::eval(&args),
        Command::Predict(args) => cli::predict(&args),
        Command::Info(args) => cli::info(&args),
        Command::Export(args) => cli::export(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => failure(&e, &job),
    }
}

/// The exit code of a failed command, its message said on stderr.
fn failure(e: &anyhow::Error, job: &Job) -> ExitCode {
    // a closed pipe (`backprop … | head`) is not an error
    if is_broken_pipe(e) {
        return ExitCode::SUCCESS;
    }
    // every rank agreed to stop (the library votes on it)
    if e.downcast_ref::<Interrupted>().is_some() {
        if job.rank() == 0 {
            eprintln!("{e}");
        }
        // rank 0 has written its files: only now may the others exit
        if let Err(e) = job.wait_for_all() {
            eprintln!("error (rank {} of {}): {e}", job.rank(), job.size());
        }
        return ExitCode::from(130);
    }
    let is_usage = e
        .chain()
        .any(|c| matches!(c.downcast_ref::<Error>(), Some(Error::Config { .. })));
    let code = if is_usage { 2 } else { 1 };
    if job.size() > 1 {
        eprintln!(
            "error (rank {} of {}): {}",
            job.rank(),
            job.size(),
            error_text(e)
        );
        // the other ranks may be waiting for this one: end them all
        job.abort(i32::from(code));
    } else {
        eprintln!("error: {}", error_text(e));
    }
    ExitCode::from(code)
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}
