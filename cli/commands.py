"""The headless command line: ``python main.py <subcommand>`` (or ``explainable-cnn``).

Every subcommand turns bad input into one line on stderr and exit status 2;
a traceback means a bug.
"""
import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from cli import explain_cmd, landscape_cmd
from cnn_core import paths
from cnn_core.errors import ConfigError, DataError, UserError

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad option in one line with exit status 2."""

    def error(self, message):
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def _seed(text):
    value = int(text)
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be between 0 and 4294967295, not {value}")
    return value


def _build_parser():
    from cnn_core.trainer import TrainConfig
    d = TrainConfig()
    parser = _Parser(prog="explainable-cnn",
                     description="Train, evaluate and explain a small CNN written in pure NumPy. "
                                 "Run with no subcommand to open the app.")
    sub = parser.add_subparsers(dest="command", metavar="<subcommand>", parser_class=_Parser)

    train = sub.add_parser("train", help="train a network and save it")
    train.add_argument("--epochs", type=int, default=d.epochs, help=f"passes over the data (default {d.epochs})")
    train.add_argument("--batch-size", type=int, default=d.batch_size,
                       help=f"images per SGD step (default {d.batch_size})")
    train.add_argument("--lr", type=float, default=d.lr, help=f"peak learning rate (default {d.lr})")
    train.add_argument("--momentum", type=float, default=d.momentum, help=f"default {d.momentum}")
    train.add_argument("--weight-decay", type=float, default=d.weight_decay, help=f"default {d.weight_decay}")
    train.add_argument("--schedule", default=d.schedule, help="onecycle or constant (default onecycle)")
    train.add_argument("--augment", action=argparse.BooleanOptionalAction, default=d.augment,
                       help="random small shifts, rotations and scalings (default on)")
    train.add_argument("--train-size", type=int, default=None,
                       help="how many training images to use (default: all of the data set)")
    train.add_argument("--dataset", choices=["sample", "mnist"], default=d.dataset,
                       help="bundled 5,000-image sample, or full MNIST (downloaded on first use)")
    train.add_argument("--seed", type=int, default=d.seed, help=f"random seed (default {d.seed})")
    train.add_argument("--out", type=Path, default=Path("model.npz"), help="where to save the model")
    train.add_argument("--save-epochs", type=Path, metavar="DIR",
                       help="also save every epoch's model in DIR as epoch_000.npz (the "
                            "initial weights), epoch_001.npz, ...: the path for `landscape`")

    evaluate = sub.add_parser("evaluate", help="accuracy, confusion matrix and per-class metrics")
    evaluate.add_argument("--model", type=Path, default=paths.SHIPPED_MODEL)
    evaluate.add_argument("--images", type=Path, help="IDX images (default: the validation split)")
    evaluate.add_argument("--labels", type=Path, help="IDX labels matching --images")
    evaluate.add_argument("--json", action="store_true", help="one JSON object on stdout")

    predict = sub.add_parser("predict", help="classify image files")
    predict.add_argument("--model", type=Path, default=paths.SHIPPED_MODEL)
    predict.add_argument("--json", action="store_true", help="a JSON list on stdout")
    predict.add_argument("images", nargs="+", type=Path, metavar="IMAGE")

    gradcheck = sub.add_parser("gradcheck", help="check every backward pass against numerical differences")
    gradcheck.add_argument("--seed", type=_seed, default=0)

    sub.add_parser("download", help="download the full MNIST data set into the user's data folder")
    explain_cmd.add_parser(sub)
    landscape_cmd.add_parser(sub)
    sub.add_parser("install-desktop",
                   help="add the app to the Linux applications menu (a .desktop launcher and icons)")
    sub.add_parser("gui", help="open the app (the same as no subcommand)")
    return parser


def _progress(done, total, width=30):
    filled = int(width * done / total)
    sys.stderr.write(f"\r  [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    sys.stderr.flush()


def _download_progress(name, done, total):
    of_total = f" of {total / 1e6:.1f}" if total else ""
    sys.stderr.write(f"\r  {name}: {done / 1e6:.1f}{of_total} MB   ")
    sys.stderr.flush()


def _download_mnist():
    """Download MNIST with a progress line on a terminal; return the cache folder."""
    from cnn_core.download import download_mnist
    show = sys.stderr.isatty()
    try:
        return download_mnist(progress=_download_progress if show else None)
    except KeyboardInterrupt:
        raise KeyboardInterrupt(f"nothing partial was kept in {paths.mnist_cache_dir()}") from None
    finally:
        if show:        # end the progress line, so what follows starts on its own
            sys.stderr.write("\n")


def cmd_download(args):
    folder = _download_mnist()
    print(f"MNIST is in {folder}", file=sys.stderr)
    return 0


def _check_out(path):
    """Refuse an --out that cannot be written, before training rather than after."""
    if path.suffix != ".npz":
        raise ConfigError(f"--out {path}: a model file's name ends in .npz")
    target = Path(os.path.realpath(path))      # a symlink is saved through to its target
    if target.is_dir():
        raise ConfigError(f"--out {path} is a folder; give a file name such as {path / 'model.npz'}")
    if target.exists() and not target.is_file():
        raise ConfigError(f"--out {path} exists and is not a regular file")
    folder = next(p for p in (target.parent, *target.parents) if p.exists())
    # Creating a file is the only sure test: os.access says yes to root on /proc.
    probe = folder / f".{target.name}.probe.tmp"
    try:
        probe.open("xb").close()
        probe.unlink()
    except OSError:
        raise ConfigError(f"--out {path}: {folder} is not a folder that can be written to") from None


def _check_epochs_folder(folder):
    """Refuse a --save-epochs folder that cannot be made or written, before training."""
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"--save-epochs {folder} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".probe-{os.getpid()}.tmp"
        probe.open("xb").close()
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"--save-epochs {folder}: cannot write there "
                          f"({exc.strerror or exc})") from None


def _failed_run_path(out):
    """Where a run that failed keeps its weights: beside --out, never over it."""
    return out.with_name(f"{out.stem}.failed.npz")


def _dead(network, val):
    """True when the network gives every validation image the very same logits.

    A rate that is high but not high enough to diverge can kill every ReLU:
    the loss stays finite, and what comes out is the last layer's bias alone,
    whatever goes in.  (A network that merely answers one class for everything,
    as after a few steps on four images, still depends on its input.)
    """
    logits = network.predict_logits(val.as_float())
    return bool((logits == logits[0]).all())


def cmd_train(args):
    from cnn_core.data import load_dataset
    from cnn_core.download import is_mnist_downloaded
    from cnn_core.model_files import save_model
    from cnn_core.network import Network
    from cnn_core.trainer import TrainConfig, Trainer
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                         momentum=args.momentum, weight_decay=args.weight_decay,
                         augment=args.augment, schedule=args.schedule,
                         train_size=1 if args.train_size is None else args.train_size,
                         dataset=args.dataset, seed=args.seed)
    # Options first: a typo should not cost a download or a training run.
    config.validate()
    _check_out(args.out)
    if args.save_epochs is not None:
        _check_epochs_folder(args.save_epochs)
    if args.dataset == "mnist" and not is_mnist_downloaded():
        print("full MNIST is not downloaded yet; downloading it now", file=sys.stderr)
        _download_mnist()
    train, val = load_dataset(args.dataset, seed=0)
    if args.train_size is None:
        config.train_size = len(train)
    config.validate(len(train))
    images, labels = train.as_float(), train.labels
    if config.train_size < len(train):
        images, labels = images[:config.train_size], labels[:config.train_size]
    network = Network(seed=config.seed)
    trainer = Trainer(network, images, labels, val.as_float(), val.labels, config)
    print(f"training on {len(labels)} {args.dataset} images, validating on {len(val)}; "
          f"{network.num_params():,} parameters", file=sys.stderr)
    show_bar = sys.stderr.isatty()

    def epoch_meta(status):
        return {"training": vars(config), "history": trainer.history_as_dicts(),
                "val_accuracy": trainer.history[-1].val_accuracy if trainer.history else None,
                "status": status, "epoch": trainer.epoch}

    def save_epoch():
        if args.save_epochs is not None:
            save_model(args.save_epochs / f"epoch_{trainer.epoch:03d}.npz", network,
                       epoch_meta("epoch"))

    save_epoch()

    def on_batch(record):
        if show_bar:
            _progress(record.batch, record.batches_per_epoch)

    output_error = []

    def on_epoch(r):
        if show_bar:
            sys.stderr.write("\r" + " " * 60 + "\r")
        save_epoch()
        try:
            print(f"epoch {r.epoch:3d}/{config.epochs}  loss {r.train_loss:.4f}  "
                  f"train acc {r.train_accuracy:.2%}  val loss {r.val_loss:.4f}  "
                  f"val acc {r.val_accuracy:.2%}  {r.seconds:.1f}s", flush=True)
        except OutputError as exc:
            # The model is what this command makes; the lines are only progress.
            # So a reader that went away (`| head`) or a full disk ends the lines,
            # not the training.
            if not output_error:
                output_error.append(exc)
                _silence_stdout()

    try:
        result = trainer.run(on_batch=on_batch, on_epoch=on_epoch)
    except KeyboardInterrupt:
        if show_bar:
            sys.stderr.write("\n")
        print(f"interrupted during epoch {trainer.epoch + 1}: nothing was saved to {args.out}",
              file=sys.stderr)
        return 130
    status, message = result.status, result.message
    if status == "finished" and _dead(network, val):
        status = "dead"
        message = (f"the network died: it gives every image the same output, whatever the "
                   f"image shows; learning rate {config.lr:g} is too high.")
    meta = epoch_meta(status)
    if status in ("diverged", "dead"):
        # Not bad input (the rate is within range) and not a crash: exit 1, a failed
        # run, whose weights never replace what --out holds.
        kept = _failed_run_path(args.out)
        save_model(kept, network, meta)
        untouched = f"{args.out} is unchanged" if args.out.exists() else f"{args.out} was not written"
        print(f"error: {message} Its weights are in {kept}; {untouched}.", file=sys.stderr)
        return 1
    save_model(args.out, network, meta)
    print(f"saved {args.out}", file=sys.stderr)
    if output_error and not output_error[0].broken_pipe:
        print(f"error: cannot write the output: {output_error[0]}; the model was saved all "
              f"the same", file=sys.stderr)
        return 1
    return 0


def _evaluation_data(args):
    from cnn_core.data import load_images_and_labels, load_sample
    if (args.images is None) != (args.labels is None):
        raise UserError("give both --images and --labels, or neither")
    if args.images is None:
        return load_sample()[1]
    images, labels = load_images_and_labels(args.images, args.labels)
    if len(labels) == 0:
        raise DataError(f"{args.images.name}: holds no images, so there is nothing to evaluate")
    return images.astype(np.float32)[:, None] / 255.0, labels


def _unsure_flag(network):
    """The network's unsure flag (:mod:`cnn_core.explain.novelty`), or None with a line on
    stderr when it cannot be fitted (a diverged model): the answers still come."""
    from cnn_core.explain.novelty import fit_on_sample
    try:
        return fit_on_sample(network)
    except UserError as exc:
        print(f"note: no unsure flag: {exc}", file=sys.stderr)
        return None


def cmd_evaluate(args):
    from cnn_core.metrics import classification_report
    from cnn_core.model_files import load_model
    network, _ = load_model(args.model)
    data = _evaluation_data(args)
    if isinstance(data, tuple):
        images, labels = data
    else:
        images, labels = data.as_float(), data.labels
    probabilities = network.predict_proba(images)
    report = classification_report(labels, probabilities.argmax(axis=1))
    detector = _unsure_flag(network)
    report["unsure_rate"] = None if detector is None else float(np.mean(
        [v.unsure for v in detector.judge(images, probabilities)]))
    # By default these are the very digits the flag's threshold was set on.
    report["unsure_calibrated_on_these"] = args.images is None
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"accuracy {report['accuracy']:.2%} on {report['n']} images")
    if detector is not None:
        where = " (the digits its threshold was set on)" if args.images is None else ""
        print(f"unsure on {report['unsure_rate']:.2%} of them{where}")
    print("confusion matrix (rows: true digit, columns: predicted)")
    print("      " + "".join(f"{d:>6}" for d in range(10)))
    for digit, row in enumerate(report["confusion"]):
        print(f"{digit:>6}" + "".join(f"{v:>6}" for v in row))
    print(f"{'digit':>6}{'precision':>11}{'recall':>9}{'f1':>8}{'support':>9}")
    for digit, m in enumerate(report["per_class"]):
        print(f"{digit:>6}{m['precision']:>11.3f}{m['recall']:>9.3f}{m['f1']:>8.3f}{m['support']:>9}")
    return 0


def cmd_predict(args):
    from digit_files import load_digit, native_stderr_silenced
    from cnn_core.model_files import load_model
    network, _ = load_model(args.model)
    # Read every file first, so a bad one fails the command before any output.
    with native_stderr_silenced():
        inputs = np.stack([load_digit(path) for path in args.images])[:, None]
    probabilities = network.predict_proba(inputs)
    detector = _unsure_flag(network)
    verdicts = detector.judge(inputs, probabilities) if detector is not None \
        else [None] * len(inputs)
    results = [{"file": str(path), "digit": int(p.argmax()),
                "probabilities": [round(float(v), 6) for v in p],
                "unsure": None if v is None else v.unsure,
                "novelty": None if v is None else round(v.novelty, 4),
                "reason": None if v is None else v.reason}
               for path, p, v in zip(args.images, probabilities, verdicts)]
    if args.json:
        print(json.dumps(results))
    else:
        for r in results:
            note = f"  not sure: {r['reason']}" if r["unsure"] else ""
            print(f"{r['file']}: {r['digit']} ({r['probabilities'][r['digit']]:.1%}){note}")
    return 0


def cmd_gradcheck(args):
    from cnn_core.gradcheck import check_layers, check_network, format_table
    results = check_layers(args.seed) + check_network(seed=args.seed)
    print(format_table(results))
    failed = [r for r in results if not r.ok]
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


def cmd_install_desktop(args):
    from cli.desktop_entry import install_desktop_entry
    launcher = install_desktop_entry()
    print(f"installed {launcher}; look for Explainable CNN in your applications menu")
    return 0


def open_app():
    """Open the desktop app; a missing Qt library is one line, not a traceback."""
    try:
        from gui.app import run_app
    except ImportError as exc:
        print(f"error: the app cannot start: {exc}; see README (Qt needs a few system "
              f"libraries) or use the command line: explainable-cnn --help", file=sys.stderr)
        return EXIT_BAD_INPUT
    return run_app()


COMMANDS = {"download": cmd_download, "train": cmd_train, "evaluate": cmd_evaluate,
            "predict": cmd_predict, "gradcheck": cmd_gradcheck, "explain": explain_cmd.run,
            "landscape": landscape_cmd.run,
            "install-desktop": cmd_install_desktop}


class OutputError(Exception):
    """Standard output could not be written: a full disk, a reader that went away."""

    def __init__(self, cause):
        super().__init__(cause.strerror or str(cause))
        self.broken_pipe = isinstance(cause, BrokenPipeError)


class _CheckedStdout:
    """``sys.stdout`` whose write errors are raised as :class:`OutputError`, so they
    are told apart from the errors of the files a command reads and writes."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        try:
            return self._stream.write(text)
        except OSError as exc:
            raise OutputError(exc) from None

    def flush(self):
        try:
            self._stream.flush()
        except OSError as exc:
            raise OutputError(exc) from None

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _silence_stdout():
    """Point standard output's file at /dev/null, so neither the rest of the command
    nor the interpreter's last flush trips over the same error again."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, ValueError, OSError):
        return                  # not a real file (a test's capture): nothing to trip over
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def main(argv=None):
    """Run a subcommand; with none (or ``gui``) open the app. Returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    stdout = sys.stdout
    sys.stdout = _CheckedStdout(stdout)
    try:
        args = _build_parser().parse_args(argv)    # imports the engine: Ctrl+C may land here
        if args.command not in (None, "gui"):
            code = COMMANDS[args.command](args)
            sys.stdout.flush()
            return code
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt as exc:
        print(f"interrupted: {exc}" if str(exc) else "interrupted", file=sys.stderr)
        return 130
    except OutputError as exc:
        _silence_stdout()
        if exc.broken_pipe:     # piped into `head` and the like: the reader has gone
            return 0
        print(f"error: cannot write the output: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        sys.stderr.close()      # stderr's reader has gone: nothing more can be said
        return 0
    finally:
        sys.stdout = stdout
    return open_app()
