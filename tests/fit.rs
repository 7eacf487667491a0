//! The training session of `backprop::fit` on a small CSV: the history and
//! the model it records, the same bits for any thread count, an interrupt
//! inside an epoch (the stop flag set from a callback) whose checkpoint
//! resumes to the bits of a run that never stopped, early stopping, and
//! errors that name the spec's fields.

mod common;

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use backprop::data::{csv, LoadOptions, RawTable};
use backprop::fit::{
    self, DataSource, EpochReport, FitCallbacks, FitEnd, FitSpec, HeldOut, RunInfo,
};
use backprop::{model_io, Activation, Error, Head, Mlp};

/// 300 rows of 3 features in 0..1 and a 0/1 label (`a + b > 1`).
fn csv_text() -> String {
    let rows = (0..300u32).map(|i| {
        let [a, b, c] = [1u32, 2, 3].map(|k| ((i * 7919 + k * 104_729) % 1000) as f32 / 1000.0);
        format!("{a},{b},{c},{}\n", u8::from(a + b > 1.0))
    });
    std::iter::once("a,b,c,y\n".to_string())
        .chain(rows)
        .collect()
}

fn write_csv(dir: &Path) -> PathBuf {
    let path = dir.join("data.csv");
    std::fs::write(&path, csv_text()).unwrap();
    path
}

/// 4 epochs of 240 training rows (60 held out) in batches of 16: 15 batches.
fn spec(data: &Path) -> FitSpec {
    FitSpec {
        data: DataSource::File(data.to_path_buf()),
        validation_split: Some(0.2),
        hidden_layers: Some(vec![8]),
        activation: Some(Activation::Tanh),
        epochs: 4,
        batch_size: Some(16),
        lr: Some(0.2),
        threads: 1,
        seed: Some(5),
        ..FitSpec::default()
    }
}

/// [`spec`] writing checkpoints to `ckpt` only after the last epoch and on
/// a stop.
fn checkpointed(data: &Path, ckpt: &Path) -> FitSpec {
    FitSpec {
        checkpoint: Some(ckpt.to_path_buf()),
        checkpoint_every: 100,
        ..spec(data)
    }
}

fn bits(mlp: &Mlp) -> Vec<u32> {
    mlp.params().iter().map(|v| v.to_bits()).collect()
}

fn option_of(e: Error) -> &'static str {
    match e {
        Error::Config { option, .. } => option,
        e => panic!("not a configuration error: {e}"),
    }
}

#[test]
fn a_run_trains_every_epoch_and_records_itself() {
    let dir = tempfile::tempdir().unwrap();
    let run = spec(&write_csv(dir.path())).fit().unwrap();
    assert_eq!(run.end, FitEnd::Finished);
    assert_eq!((run.epochs, run.history.len()), (4, 4));
    assert_eq!(
        run.history.iter().map(|r| r.epoch).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    assert_eq!(run.samples, 4 * 240);
    assert_eq!(run.held_out, HeldOut::Validation);
    assert_eq!(run.mlp.sizes(), [3, 8, 1]);
    assert_eq!(run.mlp.hidden(), [Activation::Tanh]);
    assert_eq!(run.mlp.head(), Head::SigmoidBce);
    let (first, last) = (run.history[0], run.history[3]);
    assert!(last.train_loss < first.train_loss, "{:?}", run.history);
    assert!(last.val_loss.is_some() && last.val_accuracy.is_some());
    assert!(last.train_accuracy.unwrap() > 0.8, "{last:?}");
    let extra = &run.meta.extra;
    for (k, v) in [
        ("train.epochs", "4"),
        ("train.batch_size", "16"),
        ("train.lr", "0.2"),
        ("train.optimizer", "adam"), // the default on a data file
        // the default on a data file
        (
            "train.lr_schedule",
            "flat-cos (flat, then cosine to 0 from half way)",
        ),
        ("train.seed", "5"),
        ("train.shuffle", "true"),
    ] {
        assert_eq!(extra.get(k).map(String::as_str), Some(v), "{k}: {extra:?}");
    }
    assert_eq!(
        extra["train.final_validation_loss"],
        last.val_loss.unwrap().to_string()
    );
    assert_eq!(extra["train.final_train_loss"], last.train_loss.to_string());
    // the model's preprocessing and names come along
    assert_eq!(run.meta.feature_names, ["a", "b", "c"]);
    assert!(run.meta.standardizer.is_some());
    assert_eq!(
        run.meta.class_names.as_deref(),
        Some(&["0".into(), "1".into()][..])
    );
    // and it saves and loads
    let bytes = model_io::to_bytes(&run.mlp, &run.meta).unwrap();
    assert_eq!(model_io::from_bytes(&bytes, "m").unwrap().mlp, run.mlp);
}

#[test]
fn thread_counts_give_the_same_bits() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_csv(dir.path());
    let one = spec(&data).fit().unwrap();
    let two = FitSpec {
        threads: 2,
        shard_rows: Some(4), // several shards per batch, so two threads share the work
        ..spec(&data)
    }
    .fit()
    .unwrap();
    let two_again = FitSpec {
        threads: 1,
        shard_rows: Some(4),
        ..spec(&data)
    }
    .fit()
    .unwrap();
    assert_eq!(two.threads, 2);
    assert_eq!(bits(&two.mlp), bits(&two_again.mlp));
    assert_eq!(two.history, two_again.history);
    assert_eq!(two.meta, two_again.meta);
    // the default shard size is one shard of 16 rows here
    let one_two = FitSpec {
        threads: 2,
        ..spec(&data)
    }
    .fit()
    .unwrap();
    assert_eq!(bits(&one.mlp), bits(&one_two.mlp));
    assert_eq!(one.history, one_two.history);
}

/// Sets the stop flag once `epoch` has `rows` rows done, and keeps what it saw.
struct StopAt<'a> {
    stop: &'a AtomicBool,
    epoch: usize,
    rows: usize,
    started: Option<RunInfo>,
    epochs_started: Vec<usize>,
    reported: Vec<usize>,
    loaded: Vec<String>,
}

impl<'a> StopAt<'a> {
    fn new(stop: &'a AtomicBool, epoch: usize, rows: usize) -> Self {
        StopAt {
            stop,
            epoch,
            rows,
            started: None,
            epochs_started: Vec::new(),
            reported: Vec::new(),
            loaded: Vec::new(),
        }
    }
}

impl FitCallbacks for StopAt<'_> {
    fn on_load_start(&mut self, path: &Path) {
        self.loaded.push(format!("reading {}", path.display()));
    }
    fn on_load(&mut self, table: &RawTable, _: &LoadOptions) {
        self.loaded.push(table.source_name.clone());
    }
    fn on_start(&mut self, info: &RunInfo) {
        self.started = Some(info.clone());
    }
    fn on_epoch_start(&mut self, epoch: usize) {
        self.epochs_started.push(epoch);
    }
    fn on_batch(&mut self, epoch: usize, rows_done: usize, mean_loss: f64) {
        assert!(mean_loss.is_finite());
        if epoch == self.epoch && rows_done >= self.rows {
            self.stop.store(true, Ordering::Relaxed);
        }
    }
    fn on_epoch(&mut self, report: &EpochReport) -> ControlFlow<()> {
        assert!(report.samples_per_sec > 0.0 && report.seconds >= 0.0);
        self.reported.push(report.record.epoch);
        ControlFlow::Continue(())
    }
}

#[test]
fn an_interrupt_mid_epoch_resumes_to_the_bits_of_a_run_that_never_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let (data, ckpt) = (write_csv(dir.path()), dir.path().join("run.ckpt"));
    let full = spec(&data).fit().unwrap();
    let stop = AtomicBool::new(false);
    let mut cb = StopAt::new(&stop, 2, 64);
    let part = fit::prepare(&checkpointed(&data, &ckpt), &mut cb)
        .unwrap()
        .run(&stop, &mut cb)
        .unwrap();
    // each file is announced before it is read (a front end names it when
    // interrupted there), then reported
    let name = data.display().to_string();
    assert_eq!(cb.loaded, [format!("reading {name}"), name]);
    let info = cb.started.as_ref().unwrap();
    assert_eq!((info.train_rows, info.held_out_rows), (240, Some(60)));
    assert_eq!((info.first_epoch, info.resume_in_epoch), (0, None));
    assert_eq!(info.sizes, [3, 8, 1]);
    assert_eq!(
        (cb.epochs_started.as_slice(), cb.reported.as_slice()),
        (&[1, 2][..], &[1][..])
    );
    // stopped after the 4th batch of epoch 2
    let at = part.interruption().expect("interrupted");
    let progress = at.in_epoch.expect("inside an epoch");
    assert_eq!(progress.batches_done, 4);
    assert_eq!(at.checkpoint.as_deref(), Some(ckpt.as_path()));
    assert_eq!((part.epochs, part.history.len()), (1, 1));
    assert_eq!(part.history[0], full.history[0]);
    // no record, but the rule that drew the weights, kept from the start,
    // and the loss of each epoch completed
    let kept: Vec<&String> = part
        .meta
        .extra
        .keys()
        .filter(|k| k.starts_with("train."))
        .collect();
    assert_eq!(kept, ["train.init", fit::LOSS_CURVE_KEY]);
    assert_eq!(
        part.meta.extra[fit::LOSS_CURVE_KEY],
        full.history[0].train_loss.to_string()
    );
    let saved = model_io::load_checkpoint(&ckpt).unwrap();
    assert_eq!(
        (saved.state.epochs_done, saved.in_epoch),
        (1, Some(progress))
    );
    assert_eq!(saved.model.mlp, part.mlp);

    // resumed on two threads: the rest of epoch 2, then 3 and 4
    let stop = AtomicBool::new(false);
    let mut cb = StopAt::new(&stop, 0, 0);
    let resumed = fit::prepare(
        &FitSpec {
            resume: Some(ckpt.clone().into()),
            threads: 2,
            seed: None, // the checkpoint's
            ..spec(&data)
        },
        &mut cb,
    )
    .unwrap()
    .run(&stop, &mut cb)
    .unwrap();
    let info = cb.started.as_ref().unwrap();
    assert_eq!(
        (info.first_epoch, info.resume_in_epoch),
        (1, Some(progress))
    );
    assert_eq!(resumed.end, FitEnd::Finished);
    assert_eq!(resumed.epochs, 4);
    assert_eq!(bits(&resumed.mlp), bits(&full.mlp));
    assert_eq!(resumed.history, full.history[1..]);
    assert_eq!(resumed.meta, full.meta);
    // the record's curve: every epoch's training loss, the resumed ones too
    let curve: Vec<f64> = full.meta.extra[fit::LOSS_CURVE_KEY]
        .split(',')
        .map(|v| v.parse().unwrap())
        .collect();
    let losses: Vec<f64> = full.history.iter().map(|r| r.train_loss).collect();
    assert_eq!(curve, losses);
    assert_eq!(
        model_io::to_bytes(&resumed.mlp, &resumed.meta).unwrap(),
        model_io::to_bytes(&full.mlp, &full.meta).unwrap()
    );
}

/// Stops after an epoch: sets the stop flag, or asks to stop.
struct AfterEpoch<'a> {
    stop: Option<&'a AtomicBool>,
    epoch: usize,
}

impl FitCallbacks for AfterEpoch<'_> {
    fn on_epoch(&mut self, report: &EpochReport) -> ControlFlow<()> {
        if report.record.epoch < self.epoch {
            return ControlFlow::Continue(());
        }
        match self.stop {
            Some(stop) => {
                stop.store(true, Ordering::Relaxed);
                ControlFlow::Continue(())
            }
            None => ControlFlow::Break(()),
        }
    }
}

#[test]
fn stops_between_epochs_interrupted_or_asked_by_a_callback() {
    let dir = tempfile::tempdir().unwrap();
    let (data, ckpt) = (write_csv(dir.path()), dir.path().join("c"));
    let full = spec(&data).fit().unwrap();
    let s = checkpointed(&data, &ckpt);

    // the flag set after epoch 2's last batch: a checkpoint between epochs
    let stop = AtomicBool::new(false);
    let mut cb = AfterEpoch {
        stop: Some(&stop),
        epoch: 2,
    };
    let part = fit::prepare(&s, &mut cb)
        .unwrap()
        .run(&stop, &mut cb)
        .unwrap();
    let at = part.interruption().unwrap();
    assert_eq!((part.epochs, at.in_epoch), (2, None));
    let saved = model_io::load_checkpoint(&ckpt).unwrap();
    assert_eq!((saved.state.epochs_done, saved.in_epoch), (2, None));
    let resumed = FitSpec {
        resume: Some(ckpt.clone().into()),
        ..spec(&data)
    }
    .fit()
    .unwrap();
    assert_eq!(bits(&resumed.mlp), bits(&full.mlp));

    // a callback's Break: early stopping, recorded as a finished run of 2 epochs
    let never = AtomicBool::new(false);
    let mut cb = AfterEpoch {
        stop: None,
        epoch: 2,
    };
    let early = fit::prepare(&s, &mut cb)
        .unwrap()
        .run(&never, &mut cb)
        .unwrap();
    assert_eq!((early.end.clone(), early.epochs), (FitEnd::Stopped, 2));
    assert_eq!(early.history, full.history[..2]);
    assert_eq!(early.meta.extra["train.epochs"], "2");
    assert_eq!(
        model_io::load_checkpoint(&ckpt).unwrap().state.epochs_done,
        2
    );
}

#[test]
fn tables_in_memory_with_a_test_table() {
    let text = csv_text();
    let (train_text, test_text) = text.split_at(text.match_indices('\n').nth(240).unwrap().0 + 1);
    let opts = LoadOptions::default();
    let train = csv::parse(train_text, "train rows", &opts).unwrap();
    let test = csv::parse(&format!("a,b,c,y\n{test_text}"), "test rows", &opts).unwrap();
    let run = FitSpec {
        data: DataSource::Tables {
            train: Box::new(train),
            test: Some(Box::new(test)),
        },
        epochs: 2,
        threads: 1,
        ..FitSpec::default()
    }
    .fit()
    .unwrap();
    assert_eq!(run.held_out, HeldOut::Test);
    assert_eq!(run.mlp.sizes(), [3, 64, 1]); // a file's defaults
    assert!(run.meta.extra.contains_key("train.final_test_accuracy"));
}

#[test]
fn errors_name_the_fields_of_the_spec() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_csv(dir.path());
    let field = |s: &FitSpec| option_of(fit::prepare(s, &mut ()).unwrap_err());
    let base = spec(&data);
    let e = fit::prepare(
        &FitSpec {
            epochs: 0,
            ..base.clone()
        },
        &mut (),
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "invalid option epochs: must be at least 1");

    // an initial model, and a checkpoint that has done 2 epochs
    let model = dir.path().join("m.st");
    let first = FitSpec {
        epochs: 1,
        ..base.clone()
    }
    .fit()
    .unwrap();
    model_io::save_model(&model, &first.mlp, &first.meta).unwrap();
    let ckpt = dir.path().join("c");
    FitSpec {
        epochs: 2,
        checkpoint: Some(ckpt.clone()),
        ..base.clone()
    }
    .fit()
    .unwrap();
    let init = FitSpec {
        init_model: Some(model.clone().into()),
        ..base.clone()
    };
    let resume = FitSpec {
        resume: Some(ckpt.clone().into()),
        ..base.clone()
    };
    fit::prepare(&init, &mut ()).unwrap();
    fit::prepare(
        &FitSpec {
            epochs: 3,
            ..resume.clone()
        },
        &mut (),
    )
    .unwrap();

    let mut bad = vec![
        (
            FitSpec {
                epochs: 0,
                ..base.clone()
            },
            "epochs",
        ),
        (
            FitSpec {
                shard_rows: Some(0),
                ..base.clone()
            },
            "shard_rows",
        ),
        (
            FitSpec {
                batch_size: Some(0),
                ..base.clone()
            },
            "batch_size",
        ),
        (
            FitSpec {
                validation_split: Some(1.5),
                ..base.clone()
            },
            "validation_split",
        ),
        (
            FitSpec {
                head: Some(Head::Mse),
                ..init.clone()
            },
            "head",
        ),
        (
            FitSpec {
                hidden_layers: Some(vec![5]),
                ..init.clone()
            },
            "hidden_layers",
        ),
        (
            FitSpec {
                activation: Some(Activation::Relu),
                ..init.clone()
            },
            "activation",
        ),
        (
            FitSpec {
                resume: Some(ckpt.clone().into()),
                ..init.clone()
            },
            "init_model",
        ),
        (
            FitSpec {
                epochs: 2,
                ..resume.clone()
            },
            "epochs",
        ),
    ];
    bad.push((
        FitSpec {
            checkpoint: Some(ckpt.clone()),
            checkpoint_every: 0,
            ..base.clone()
        },
        "checkpoint_every",
    ));
    bad.push((
        FitSpec {
            checkpoint: Some(dir.path().to_path_buf()), // a folder
            ..base.clone()
        },
        "checkpoint",
    ));
    bad.push((
        FitSpec {
            data: DataSource::BreastCancer,
            test_data: Some(data.clone()),
            ..FitSpec::default()
        },
        "data",
    ));
    for (s, expected) in &bad {
        assert_eq!(field(s), *expected, "{s:?}");
    }
}

/// Early stopping returns the weights of the best epoch: the model scores
/// exactly that epoch's validation loss, with any thread count.
#[test]
fn early_stopping_returns_the_best_epochs_weights() {
    use backprop::stopping::{EarlyStopping, Monitor};
    let dir = tempfile::tempdir().unwrap();
    let data = write_csv(dir.path());
    let run = |threads: usize| {
        let s = FitSpec {
            epochs: 40,
            lr: Some(0.3),
            hidden_layers: Some(vec![64]),
            threads,
            early_stopping: Some(EarlyStopping {
                patience: 3,
                min_delta: 0.0,
                monitor: Monitor::Loss,
            }),
            ..spec(&data)
        };
        let prepared = fit::prepare(&s, &mut ()).unwrap();
        let val = prepared.held_out_data().unwrap().clone();
        let out = prepared.run(&AtomicBool::new(false), &mut ()).unwrap();
        (val, out)
    };
    let (val, out) = run(1);
    let best: usize = out.meta.extra["train.best_epoch"].parse().unwrap();
    let best_loss = out.history[best - 1].val_loss.unwrap();
    let loss = out
        .mlp
        .loss(val.x().as_slice(), val.y().as_slice(), val.rows())
        .unwrap();
    assert_eq!(loss.to_bits(), best_loss.to_bits());
    assert!(out.history.iter().all(|r| r.val_loss.unwrap() >= best_loss));
    if let fit::FitEnd::EarlyStopped { best_epoch } = out.end {
        assert_eq!((best_epoch, out.epochs), (best, best + 3));
    }
    let (_, two) = run(2);
    assert_eq!(bits(&out.mlp), bits(&two.mlp));
}

/// With early stopping, the training record (what `info` shows) holds the
/// figures of the best epoch, whose weights are kept, not the last
/// epoch's; a run resumed from a checkpoint written after the best epoch
/// records the same (issue 20).
#[test]
fn early_stopping_records_the_best_epochs_figures_through_a_resume() {
    use backprop::stopping::{EarlyStopping, Monitor};
    let dir = tempfile::tempdir().unwrap();
    let data = write_csv(dir.path());
    // a constant rate: a run-length schedule would make the shorter first
    // run another run (its loss curve shows it)
    let es = |epochs: usize| FitSpec {
        epochs,
        lr: Some(0.3),
        schedule: Some(backprop::schedule::LrSchedule::Constant),
        hidden_layers: Some(vec![64]),
        early_stopping: Some(EarlyStopping {
            patience: 3,
            min_delta: 0.0,
            monitor: Monitor::Loss,
        }),
        ..spec(&data)
    };
    let full = es(40).fit().unwrap();
    let extra = &full.meta.extra;
    let best: usize = extra["train.best_epoch"].parse().unwrap();
    assert_eq!(full.epochs, best + 3, "stopped early");
    let (at_best, last) = (&full.history[best - 1], full.history.last().unwrap());
    for (key, value) in [
        ("train.final_train_loss", at_best.train_loss),
        ("train.final_validation_loss", at_best.val_loss.unwrap()),
        (
            "train.final_validation_accuracy",
            at_best.val_accuracy.unwrap(),
        ),
        (
            "train.final_train_accuracy",
            at_best.train_accuracy.unwrap(),
        ),
    ] {
        assert_eq!(extra[key], value.to_string(), "{key}");
    }
    assert_ne!(
        extra["train.final_validation_loss"],
        last.val_loss.unwrap().to_string(),
        "the last epoch's loss is not the kept weights'"
    );
    // stop one epoch after the best, resume from there: the same record
    let ckpt = dir.path().join("es.ckpt");
    let first = FitSpec {
        checkpoint: Some(ckpt.clone()),
        ..es(best + 1)
    };
    first.fit().unwrap();
    let resumed = FitSpec {
        resume: Some(ckpt.into()),
        ..es(40)
    }
    .fit()
    .unwrap();
    assert!(resumed.history.iter().all(|r| r.epoch > best));
    assert_eq!(resumed.meta.extra, full.meta.extra);
    assert_eq!(bits(&resumed.mlp), bits(&full.mlp));
}

/// [`spec`] with dropout, class weights and early stopping.
fn regularised(data: &Path) -> FitSpec {
    FitSpec {
        dropout: Some(0.3),
        class_weight: Some("1=3".parse().unwrap()),
        early_stopping: Some(backprop::stopping::EarlyStopping {
            patience: 10,
            ..Default::default()
        }),
        shard_rows: Some(4),
        ..spec(data)
    }
}

#[test]
fn dropout_and_class_weights_keep_thread_identity_and_resume() {
    let dir = tempfile::tempdir().unwrap();
    let (data, ckpt) = (write_csv(dir.path()), dir.path().join("run.ckpt"));
    let full = regularised(&data).fit().unwrap();
    // each of them changes the result
    for (what, other) in [
        (
            "dropout",
            FitSpec {
                dropout: None,
                ..regularised(&data)
            },
        ),
        (
            "class weights",
            FitSpec {
                class_weight: None,
                ..regularised(&data)
            },
        ),
    ] {
        let other = other.fit().unwrap();
        assert_ne!(bits(&other.mlp), bits(&full.mlp), "{what} changed nothing");
    }
    assert_eq!(full.meta.extra["train.dropout"], "0.3");
    assert_eq!(full.meta.extra["train.class_weight"], "1=3");
    for threads in [2, 3, 8] {
        let again = FitSpec {
            threads,
            ..regularised(&data)
        }
        .fit()
        .unwrap();
        assert_eq!(bits(&again.mlp), bits(&full.mlp), "{threads} threads");
        assert_eq!(again.history, full.history, "{threads} threads");
    }

    // interrupted inside epoch 3, resumed on 3 threads
    let stop = AtomicBool::new(false);
    let mut cb = StopAt::new(&stop, 3, 100);
    let part = fit::prepare(
        &FitSpec {
            checkpoint: Some(ckpt.clone()),
            checkpoint_every: 100,
            ..regularised(&data)
        },
        &mut cb,
    )
    .unwrap()
    .run(&stop, &mut cb)
    .unwrap();
    let progress = part.interruption().unwrap().in_epoch.unwrap();
    // a weighted epoch: the weights of the rows done, not their count
    assert_ne!(progress.weight_sum, (progress.batches_done * 16) as f64);
    let saved = model_io::load_checkpoint(&ckpt).unwrap();
    assert_eq!(saved.in_epoch, Some(progress));
    assert_eq!(saved.config.train.dropout, 0.3);
    let stop = AtomicBool::new(false);
    let resumed = fit::prepare(
        &FitSpec {
            resume: Some(ckpt.clone().into()),
            threads: 3,
            dropout: None,      // the checkpoint's
            class_weight: None, // the checkpoint's
            ..regularised(&data)
        },
        &mut (),
    )
    .unwrap()
    .run(&stop, &mut ())
    .unwrap();
    assert_eq!(bits(&resumed.mlp), bits(&full.mlp));
    assert_eq!(resumed.history, full.history[2..]);
    assert_eq!(
        model_io::to_bytes(&resumed.mlp, &resumed.meta).unwrap(),
        model_io::to_bytes(&full.mlp, &full.meta).unwrap()
    );
    // other settings than the checkpoint's are refused, naming the field
    for (field, spec) in [
        (
            "dropout",
            FitSpec {
                resume: Some(ckpt.clone().into()),
                dropout: Some(0.5),
                ..regularised(&data)
            },
        ),
        (
            "class_weight",
            FitSpec {
                resume: Some(ckpt.clone().into()),
                class_weight: Some(backprop::data::ClassWeight::Balanced),
                ..regularised(&data)
            },
        ),
    ] {
        let e = fit::prepare(&spec, &mut ()).unwrap_err();
        assert_eq!(option_of(e), field);
    }
}

/// Class weights need classes; bad weights name the field.
#[test]
fn class_weight_errors_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_csv(dir.path());
    for (cw, head, want) in [
        ("2=1", None, "'2' is not a class; the classes are 0, 1"),
        ("1=1", Some(Head::Mse), "class weights need a classifier"),
        ("0=0,1=0", None, "gives every training row a weight of 0"),
    ] {
        let e = fit::prepare(
            &FitSpec {
                class_weight: Some(cw.parse().unwrap()),
                head,
                ..spec(&data)
            },
            &mut (),
        )
        .unwrap_err();
        let text = e.to_string();
        assert_eq!(option_of(e), "class_weight", "{text}");
        assert!(text.contains(want), "{text}");
    }
}

/// A weight column: the rows' weights change the result, are recorded, and
/// a resumed run must read them again.
#[test]
fn a_weight_column_weighs_rows_and_is_checked_on_resume() {
    let dir = tempfile::tempdir().unwrap();
    // the CSV of [`csv_text`] with a weight column `w` in front of the label
    let text: String = csv_text()
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let (x, y) = l.rsplit_once(',').unwrap();
            let w = if i == 0 {
                "w".to_string()
            } else {
                ((i % 4) as f32 * 0.5).to_string()
            };
            format!("{x},{w},{y}\n")
        })
        .collect();
    let data = dir.path().join("weighted.csv");
    std::fs::write(&data, text).unwrap();
    let ckpt = dir.path().join("w.ckpt");
    let weighted = |epochs: usize, resume: Option<&Path>, column: Option<&str>| FitSpec {
        read: backprop::pipeline::ReadOverrides {
            weight_column: column.map(str::to_string),
            ..Default::default()
        },
        epochs,
        checkpoint: Some(ckpt.clone()),
        resume: resume.map(|p| p.to_path_buf().into()),
        ..spec(&data)
    };
    let run = weighted(4, None, Some("w")).fit().unwrap();
    assert_eq!(run.meta.feature_names, ["a", "b", "c"]);
    assert_eq!(run.meta.extra["train.row_weights"], "column:w");
    let ignored = FitSpec {
        read: backprop::pipeline::ReadOverrides {
            ignore_columns: vec!["w".into()],
            ..Default::default()
        },
        ..spec(&data)
    }
    .fit()
    .unwrap();
    assert_ne!(
        bits(&ignored.mlp),
        bits(&run.mlp),
        "the weights changed nothing"
    );
    // interrupted in epoch 3, then resumed: the same bits; without the
    // column: refused
    common::fit_interrupted(&weighted(4, None, Some("w")), 3);
    let e = fit::prepare(&weighted(4, Some(&ckpt), None), &mut ()).unwrap_err();
    assert!(e.to_string().contains("column:w"), "{e}");
    assert_eq!(option_of(e), "weight_column");
    let resumed = weighted(4, Some(&ckpt), Some("w")).fit().unwrap();
    assert_eq!(bits(&resumed.mlp), bits(&run.mlp));
    // the same bits on 2 and 3 threads, with several shards per batch
    let sharded = |threads: usize| FitSpec {
        threads,
        shard_rows: Some(4),
        checkpoint: None,
        ..weighted(4, None, Some("w"))
    };
    let one = sharded(1).fit().unwrap();
    for threads in [2, 3] {
        assert_eq!(bits(&sharded(threads).fit().unwrap().mlp), bits(&one.mlp));
    }
}

/// Records each epoch's held-out R².
struct R2s(Vec<Option<f64>>);

impl FitCallbacks for R2s {
    fn on_epoch(&mut self, report: &EpochReport) -> ControlFlow<()> {
        self.0.push(report.record.val_r2);
        ControlFlow::Continue(())
    }
}

/// An `mse` run reports the held-out R² of every epoch: the last one is
/// the final model's `1 - SSE/SST` on the validation rows; a classifier
/// reports none.
#[test]
fn epoch_reports_carry_the_held_out_r2_of_regressions() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_csv(dir.path());
    let s = FitSpec {
        head: Some(Head::Mse),
        lr: Some(0.05),
        ..spec(&data)
    };
    let mut r2s = R2s(Vec::new());
    let prepared = fit::prepare(&s, &mut r2s).unwrap();
    let val = prepared.held_out_data().unwrap().clone();
    let out = prepared.run(&AtomicBool::new(false), &mut r2s).unwrap();
    assert_eq!(r2s.0.len(), 4);
    assert!(r2s
        .0
        .iter()
        .all(|r| r.is_some_and(|v| v.is_finite() && v <= 1.0)));
    let pred = out.mlp.predict(val.x().as_slice(), val.rows()).unwrap();
    let y = val.y();
    let y = y.as_slice();
    let mean = y.iter().map(|&v| f64::from(v)).sum::<f64>() / y.len() as f64;
    let sst: f64 = y.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum();
    let sse: f64 = y
        .iter()
        .zip(pred.as_slice())
        .map(|(&t, &p)| (f64::from(t) - f64::from(p)).powi(2))
        .sum();
    let last = r2s.0[3].unwrap();
    assert!(
        (last - (1.0 - sse / sst)).abs() < 1e-9,
        "{last} vs {}",
        1.0 - sse / sst
    );

    let mut r2s = R2s(Vec::new());
    fit::prepare(&spec(&data), &mut r2s)
        .unwrap()
        .run(&AtomicBool::new(false), &mut r2s)
        .unwrap();
    assert_eq!(r2s.0, vec![None; 4]);
}

/// Declines the training accuracy.
struct NoTrainAccuracy;

impl FitCallbacks for NoTrainAccuracy {
    fn wants_train_accuracy(&self) -> bool {
        false
    }
}

/// A run that skips the training accuracy records none and trains the same
/// bits.
#[test]
fn the_training_accuracy_can_be_skipped_without_changing_a_bit() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_csv(dir.path());
    let with = spec(&data).fit().unwrap();
    let mut cb = NoTrainAccuracy;
    let without = fit::prepare(&spec(&data), &mut cb)
        .unwrap()
        .run(&AtomicBool::new(false), &mut cb)
        .unwrap();
    assert!(with.history.iter().all(|r| r.train_accuracy.is_some()));
    assert!(without.history.iter().all(|r| r.train_accuracy.is_none()));
    assert_eq!(bits(&with.mlp), bits(&without.mlp));
    let val = |h: &[fit::EpochRecord]| h.iter().map(|r| r.val_loss).collect::<Vec<_>>();
    assert_eq!(val(&with.history), val(&without.history));
}

/// Every schedule over the run's length, and the weight decay following a
/// weight column: the same bits on 1 and 3 threads, and a run interrupted
/// in its third epoch resumes to the uninterrupted run's bits.
#[test]
fn every_schedule_is_thread_free_and_resumes_when_interrupted() {
    use backprop::optim::{OptimizerConfig, OptimizerKind};
    use backprop::schedule::LrSchedule;
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("a,b,w,y\n");
    for i in 0..160u32 {
        let (a, b) = ((i * 37 % 100) as f32 / 100.0, (i * 61 % 100) as f32 / 100.0);
        text.push_str(&format!("{a},{b},{},{}\n", 1 + i % 3, u8::from(a > b)));
    }
    let data = dir.path().join("w.csv");
    std::fs::write(&data, text).unwrap();
    let sgd = OptimizerConfig {
        kind: OptimizerKind::Sgd,
        weight_decay: 0.01,
        ..OptimizerConfig::default()
    };
    for (i, schedule) in [
        LrSchedule::FlatCos,
        LrSchedule::CosLog4,
        LrSchedule::OneCycle,
        LrSchedule::InvScaling {
            power_t: 0.5,
            rows: 0,
        },
    ]
    .into_iter()
    .enumerate()
    {
        let ckpt = dir.path().join(format!("s{i}.ckpt"));
        let run = |threads: usize| FitSpec {
            read: backprop::pipeline::ReadOverrides {
                weight_column: Some("w".into()),
                ..Default::default()
            },
            schedule: Some(schedule),
            optimizer: Some(sgd),
            decay_by_weight: Some(i % 2 == 0),
            shard_rows: Some(4),
            threads,
            ..spec(&data)
        };
        let one = run(1).fit().unwrap();
        assert_eq!(
            bits(&run(3).fit().unwrap().mlp),
            bits(&one.mlp),
            "{schedule}"
        );
        common::fit_interrupted(
            &FitSpec {
                checkpoint: Some(ckpt.clone()),
                ..run(2)
            },
            3,
        );
        let resumed = FitSpec {
            resume: Some(ckpt.into()),
            ..run(3)
        }
        .fit()
        .unwrap();
        assert_eq!(bits(&resumed.mlp), bits(&one.mlp), "{schedule}: resumed");
    }
}
