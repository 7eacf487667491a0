//! `backprop train` and `bench` under `mpirun` (feature `mpi`): the model of
//! P processes is byte for byte the one-process model, checkpoints move
//! between process counts, and a failing or killed rank ends the job.
//!
//! Needs Open MPI's `mpirun` on the PATH (Debian: `openmpi-bin`); the
//! launcher and its flags can be replaced with `BACKPROP_MPIRUN` (e.g.
//! `"mpiexec"` for MPICH). Every run has a timeout: a hang fails the test.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use backprop::model_io;

const BIN: &str = env!("CARGO_BIN_EXE_backprop");

fn data(name: &str) -> String {
    format!("{}/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The launcher: `BACKPROP_MPIRUN`, or Open MPI's `mpirun` allowed to run as
/// root and to put more ranks than cores on this machine.
fn launcher(np: usize) -> Command {
    let words = std::env::var("BACKPROP_MPIRUN")
        .unwrap_or_else(|_| "mpirun --allow-run-as-root --oversubscribe".to_string());
    let mut words = words.split_whitespace();
    let mut cmd = Command::new(words.next().expect("a launcher"));
    cmd.args(words).args(["-np", &np.to_string(), BIN]);
    cmd
}

/// Waits for `child` at most `limit`; kills it and fails on a hang.
fn wait(mut child: Child, limit: Duration, what: &str) -> Output {
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "{what} hung for {limit:?}; stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn spawn(mut cmd: Command) -> Child {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e} (is Open MPI's mpirun installed?)"))
}

/// `backprop args` on `np` ranks (`np == 0`: one process, no launcher).
fn run(np: usize, args: &[&str]) -> Output {
    let mut cmd = if np == 0 {
        Command::new(BIN)
    } else {
        launcher(np)
    };
    cmd.args(args);
    let what = format!("{np} ranks: backprop {}", args.join(" "));
    wait(spawn(cmd), Duration::from_secs(120), &what)
}

fn ok(np: usize, args: &[&str]) -> Output {
    let out = run(np, args);
    assert!(
        out.status.success(),
        "{np} ranks: backprop {}\nstderr:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn path(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

/// Trains on digits with `extra` flags on `np` ranks and returns the model
/// file's bytes.
fn model_bytes(dir: &Path, np: usize, extra: &[&str]) -> Vec<u8> {
    let out = path(dir, &format!("model-{np}.safetensors"));
    let (train, test) = (data("digits.train.csv"), data("digits.test.csv"));
    let mut args = vec![
        "train",
        "--data",
        &train,
        "--test-data",
        &test,
        "--epochs",
        "3",
        "--batch-size",
        "96",
        "--shard-rows",
        "16",
        "--threads",
        "1",
        "--layers",
        "48,24",
        "--quiet",
        "--out",
        &out,
    ];
    args.extend_from_slice(extra);
    ok(np, &args);
    std::fs::read(&out).expect("model written")
}

#[test]
fn every_optimizer_gives_the_one_process_bytes_on_1_to_4_ranks() {
    let dir = tempfile::tempdir().unwrap();
    let runs: [&[&str]; 5] = [
        &["--optimizer", "sgd", "--lr", "0.05"],
        &[
            "--optimizer",
            "sgd",
            "--lr",
            "0.02",
            "--momentum",
            "0.9",
            "--nesterov",
            "--clip-norm",
            "0.5",
        ],
        &[
            "--optimizer",
            "adam",
            "--dropout",
            "0.2",
            "--class-weight",
            "balanced",
        ],
        &[
            "--optimizer",
            "adamw",
            "--weight-decay",
            "0.01",
            "--lr-schedule",
            "cosine",
        ],
        &[
            "--optimizer",
            "rmsprop",
            "--validation-split",
            "0.2",
            "--early-stopping",
            "--patience",
            "1",
        ],
    ];
    for extra in runs {
        let alone = model_bytes(dir.path(), 0, extra);
        for np in 1..=4 {
            let job = model_bytes(dir.path(), np, extra);
            assert!(
                job == alone,
                "{np} ranks with {extra:?}: the model differs from one process's"
            );
        }
    }
}

#[test]
fn a_checkpoint_of_three_ranks_resumes_on_two_and_alone() {
    let dir = tempfile::tempdir().unwrap();
    let train = data("digits.train.csv");
    let base = |epochs: &'static str| {
        vec![
            "train",
            "--data",
            &train,
            "--epochs",
            epochs,
            "--batch-size",
            "64",
            "--shard-rows",
            "16",
            "--threads",
            "1",
            "--optimizer",
            "adam",
            "--dropout",
            "0.1",
            // constant: 3 epochs resumed to 6 is then the run of 6
            "--lr-schedule",
            "constant",
            "--quiet",
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>()
    };
    let with = |mut v: Vec<String>, more: &[&str]| {
        v.extend(more.iter().map(|s| s.to_string()));
        v
    };
    let call = |np: usize, v: &[String]| {
        let v: Vec<&str> = v.iter().map(String::as_str).collect();
        ok(np, &v);
    };
    let (whole, ck1, ck3) = (
        path(dir.path(), "whole.safetensors"),
        path(dir.path(), "alone.ckpt"),
        path(dir.path(), "three.ckpt"),
    );
    call(0, &with(base("6"), &["--out", &whole]));
    call(0, &with(base("3"), &["--checkpoint", &ck1]));
    call(3, &with(base("3"), &["--checkpoint", &ck3]));
    assert!(
        std::fs::read(&ck1).unwrap() == std::fs::read(&ck3).unwrap(),
        "the checkpoint of 3 ranks differs from one process's"
    );
    for np in [2, 0] {
        let out = path(dir.path(), &format!("resumed-{np}.safetensors"));
        call(np, &with(base("6"), &["--resume", &ck3, "--out", &out]));
        assert!(
            std::fs::read(&out).unwrap() == std::fs::read(&whole).unwrap(),
            "3 ranks' checkpoint resumed on {np} ranks differs from the straight run"
        );
    }
}

/// A job that trains long enough to be hurt while it runs, checkpointing
/// every epoch into `dir`.
fn long_job(dir: &Path, np: usize) -> (Child, PathBuf) {
    let ck = dir.join("long.ckpt");
    let mut cmd = launcher(np);
    cmd.args([
        "train",
        "--data",
        &data("digits.train.csv"),
        "--epochs",
        "100000",
        "--batch-size",
        "64",
        "--shard-rows",
        "16",
        "--threads",
        "1",
        "--quiet",
        "--checkpoint",
        &ck.display().to_string(),
    ]);
    (spawn(cmd), ck)
}

fn wait_for(file: &Path, child: &mut Child) {
    let start = Instant::now();
    while !file.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the job ended ({status}) before writing {}", file.display());
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no checkpoint after 60 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_write_failing_on_rank_0_ends_every_rank_with_its_message() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("run");
    std::fs::create_dir(&dir).unwrap();
    let (mut child, ck) = long_job(&dir, 3);
    wait_for(&ck, &mut child);
    // only rank 0 writes: its next checkpoint fails, the others wait for it.
    // The directory is moved away in one step (removing it races with a
    // write in progress: "directory not empty").
    std::fs::rename(&dir, root.path().join("gone")).unwrap();
    let out = wait(
        child,
        Duration::from_secs(60),
        "the job after a failed write",
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "exit {}", out.status);
    assert!(
        err.contains("error (rank 0 of 3)") && err.contains("long.ckpt"),
        "stderr:\n{err}"
    );
}

#[test]
fn a_diverging_run_ends_every_rank_with_the_batch_named() {
    let train = data("digits.train.csv");
    let out = run(
        3,
        &[
            "train",
            "--data",
            &train,
            "--epochs",
            "3",
            "--optimizer",
            "sgd",
            "--lr",
            "1e4",
            "--shard-rows",
            "8",
            "--threads",
            "1",
            "--quiet",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr:\n{err}");
    assert!(
        err.contains("training diverged: batch") && err.contains(" of 3)"),
        "stderr:\n{err}"
    );
}

/// The pids of the processes whose parent is `parent` (Linux `/proc`).
fn children(parent: u32) -> Vec<u32> {
    let mut kids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid …": comm may hold spaces, so split after ')'
        let after = &stat[stat.rfind(')').map_or(0, |i| i + 1)..];
        let ppid = after.split_whitespace().nth(1).and_then(|p| p.parse().ok());
        if ppid == Some(parent) && stat.contains("(backprop)") {
            kids.push(pid);
        }
    }
    kids
}

#[test]
fn a_rank_killed_by_sigkill_ends_the_job_and_the_checkpoint_survives() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, ck) = long_job(dir.path(), 3);
    wait_for(&ck, &mut child);
    let start = Instant::now();
    let ranks = loop {
        let r = children(child.id());
        if r.len() == 3 || start.elapsed() > Duration::from_secs(10) {
            break r;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(ranks.len(), 3, "the ranks under mpirun: {ranks:?}");
    let victim = ranks.iter().max().unwrap().to_string();
    let killed = Command::new("kill").args(["-9", &victim]).status().unwrap();
    assert!(killed.success());
    let killed_at = Instant::now();
    let out = wait(child, Duration::from_secs(30), "the job after kill -9");
    assert!(!out.status.success());
    eprintln!("the job ended {:?} after kill -9", killed_at.elapsed());
    // the last checkpoint is whole: it loads and training goes on from it
    let c = model_io::load_checkpoint(&ck).expect("the checkpoint loads");
    let resumed = dir.path().join("resumed.safetensors");
    ok(
        0,
        &[
            "train",
            "--data",
            &data("digits.train.csv"),
            "--resume",
            &ck.display().to_string(),
            "--epochs",
            &(c.state.epochs_done + 1).to_string(),
            "--quiet",
            "--out",
            &resumed.display().to_string(),
        ],
    );
    assert!(resumed.exists());
}

#[test]
fn bench_runs_as_a_job_and_rank_0_alone_reports() {
    let out = ok(
        2,
        &[
            "bench",
            "--config",
            "T",
            "--threads",
            "1",
            "--seconds",
            "0.2",
            "--json",
        ],
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "one report, from rank 0: {text}");
    let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(v["ranks"], 2);
    assert!(v["samples_per_sec"].as_f64().unwrap() > 0.0);
}

#[test]
fn eval_predict_and_info_refuse_to_run_as_a_job() {
    let out = run(2, &["info", "--model", "no-such-model.safetensors"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr:\n{err}");
    assert!(
        err.contains("only train and bench run as an MPI job"),
        "{err}"
    );
}

/// Ctrl-C reaches every rank through mpirun (SIGINT); the ranks vote, stop
/// after the same batch, and rank 0's checkpoint (of the unfinished epoch,
/// or of the last whole one) resumes in one process to the bits of a run that never stopped.
#[test]
fn an_interrupted_job_resumes_alone_bit_for_bit() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let train = data("digits.train.csv");
    let ck = path(dir.path(), "int.ckpt");
    let common = [
        "train",
        "--data",
        &train,
        "--batch-size",
        "32",
        "--shard-rows",
        "8",
        "--threads",
        "1",
        "--optimizer",
        "adam",
        // a constant rate: the job's total (below) is not the resumed run's
        // (a schedule over the run's length, the default flat-cos, would
        // follow it)
        "--lr-schedule",
        "constant",
        // Epochs of ~0.1 s: mpirun stops reading its ranks' output when it
        // is interrupted, and rank 0 must not fill that pipe (and block in a
        // write) in the second before the ranks receive SIGTERM.
        "--layers",
        "512,512",
    ];
    // The job's total is out of reach, so that it cannot end before the
    // signal; at a constant rate Adam's steps do not depend on the total.
    let mut cmd = launcher(3);
    cmd.args(common).args([
        "--epochs",
        "1000000",
        "--checkpoint",
        &ck,
        "--checkpoint-every",
        "1000000",
    ]);
    let mut child = spawn(cmd);
    // wait for the second epoch's line: every rank is in its training loop
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let start = Instant::now();
    loop {
        let line = lines
            .next()
            .expect("the job printed its epochs")
            .expect("utf-8");
        if line.starts_with("epoch   2") {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no epoch 2");
    }
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    // drain stdout so that no rank blocks on a full pipe
    std::thread::spawn(move || lines.for_each(drop));
    let out = wait(child, Duration::from_secs(60), "the interrupted job");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "it ran to the end: {err}");
    // The signal lands inside an epoch or, when it arrives during the
    // epoch's end (metrics, output), just after one: both stops write a
    // checkpoint that must resume to the straight run's bits.
    assert!(
        err.contains("interrupted in epoch") || err.contains("interrupted after epoch"),
        "stderr:\n{err}"
    );
    let (resumed, straight) = (
        path(dir.path(), "resumed.safetensors"),
        path(dir.path(), "straight.safetensors"),
    );
    // both runs end two epochs after the one the job stopped in or after
    let stopped: usize = err
        .split("interrupted")
        .nth(1)
        .and_then(|rest| rest.split("epoch ").nth(1))
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no epoch in the message:\n{err}"));
    let total = (stopped + 2).to_string();
    let mut args: Vec<&str> = common.to_vec();
    args.extend([
        "--epochs", &total, "--quiet", "--resume", &ck, "--out", &resumed,
    ]);
    ok(0, &args);
    let mut args: Vec<&str> = common.to_vec();
    args.extend(["--epochs", &total, "--quiet", "--out", &straight]);
    ok(0, &args);
    assert!(
        std::fs::read(&resumed).unwrap() == std::fs::read(&straight).unwrap(),
        "the resumed model differs from the straight run's"
    );
}
