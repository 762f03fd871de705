"""The `minibert` command line: one subcommand per task, each living in its own module.

Each module listed in COMMANDS defines `add_arguments(parser)` and `run(args) -> int`; it is
imported only when its subcommand runs, so `minibert params` never pays for matplotlib.
`main` then runs every command the same way, so that bad input never costs work or files:

  1. parse (options and positionals in any order: `predict DIR --max-length 64 "text"`);
     every number is checked against the range declared with its flag (`train/cli/flags.py`)
     and a bad one is refused in one line;
  2. `--device`, where a command has it, is checked to exist on this machine; then
     `validate(args)`, if the module has one: every flag checked before a model loads;
  3. claim the folders `output_dirs(args)` names and check the files `output_files(args)`
     names (`train/outdir.py`): refused if they are, hold or lie inside an input that
     `input_paths(args)` names, or hold files minibert did not write or another command's
     output (unless `--overwrite`, which `main` adds to such commands); folders are created,
     test-written and locked against a second run;
  4. `run(args)`. An expected error (bad data, a bad config, a missing file) is printed as
     one line `minibert: error: ...` with exit code 2 (`train/cli/errors.py`); a traceback
     only with `--debug` or MINIBERT_DEBUG=1, or for an unexpected exception (a bug).
     A run that diverged (a NaN loss) is such an error too: exit code 2, never 0.
A missing or unknown command name is refused before any of this by argparse itself: its usage
line, then `minibert: error: ...`, exit code 2.
SIGTERM is Ctrl-C for every command (`train/interrupts.py`); once a run has been interrupted,
further Ctrl-Cs are ignored while the process exits, so its clean-up ends without a traceback.
When the reader of the output goes away (`minibert params ... | head`), the command stops
silently with exit code 141, as a shell reports a program ended by a closed pipe.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys

PIPE_CLOSED = 141  # what a shell reports for a program ended by SIGPIPE (128 + 13)

# name -> (module, one-line help)
COMMANDS = {
    "params": ("train.cli.cmd_params", "print a model's per-tensor parameter table and total"),
    "train-tokenizer": ("train.cli.cmd_tokenizer", "train a WordPiece or byte-level BPE tokenizer"),
    "prepare-data": ("train.cli.cmd_prepare_data", "tokenize text files into shards for pretrain"),
    "pretrain": ("train.cli.cmd_pretrain", "pretrain a BERT/RoBERTa (MLM, MLM+NSP, or causal LM)"),
    "fill-mask": ("train.cli.cmd_fill_mask", "top-k predictions for a masked token"),
    "generate": ("train.cli.cmd_generate", "sample text from a causal RoBERTa"),
    "finetune": ("train.cli.cmd_finetune", "fine-tune a pretrained model on CoLA or your own CSV"),
    "predict": ("train.cli.cmd_predict", "classify sentences with a fine-tuned model"),
    "explain": ("train.cli.cmd_explain", "write an HTML page exploring attention and predictions"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minibert", description=__doc__.splitlines()[0],
        epilog="--debug (anywhere) or MINIBERT_DEBUG=1 shows a traceback with every error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    as_program = argv is None  # the console script / `python -m train.cli`, not a caller
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("MINIBERT_DEBUG") == "1"
    argv = [a for a in argv if a != "--debug"]
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        build_parser().parse_args(argv)  # prints help or the "invalid choice" error and exits
        return 2
    name, rest = argv[0], argv[1:]
    module = importlib.import_module(COMMANDS[name][0])
    parser = command_parser(name, module)
    args = parser.parse_intermixed_args(rest)
    rc = _run_reporting_errors(name, module, args, debug)
    if rc == PIPE_CLOSED and as_program:
        # stdout still holds unwritten bytes for the closed pipe: point it at /dev/null so
        # the interpreter's final flush does not fail again on the way out
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    if rc == 130 and as_program:
        # the process is exiting after an interrupt: another Ctrl-C (or SIGTERM) must not
        # break the interpreter's own clean-up (atexit, worker processes) with a traceback
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return rc


def command_parser(name: str, module) -> argparse.ArgumentParser:
    """The parser of one subcommand, its numeric flags' ranges shown in --help."""
    from train.cli import flags

    parser = flags.Parser(prog=f"minibert {name}", description=COMMANDS[name][1])
    module.add_arguments(parser)
    if hasattr(module, "output_dirs"):
        parser.add_argument("--overwrite", action="store_true",
                            help="write into an --out folder that holds other files or another "
                                 "command's output (files with the names this command writes "
                                 "are replaced; every other file is kept)")
    elif hasattr(module, "output_files"):
        parser.add_argument("--overwrite", action="store_true",
                            help="--out: replace an existing file")
    flags.show_ranges(parser)
    return parser


def _run_reporting_errors(name: str, module, args: argparse.Namespace, debug: bool) -> int:
    """`_run`, with an expected error as one line and exit code 2, Ctrl-C as 130, a closed
    output pipe as PIPE_CLOSED (silently)."""
    from train.cli.errors import end_progress_bars, one_line

    try:
        return _run(name, module, args)
    except BrokenPipeError:
        # whoever read the output stopped (`minibert params ... | head`): not an error of ours
        # or the user's, so stop quietly with the shell's code for a closed pipe
        return PIPE_CLOSED
    except KeyboardInterrupt:
        end_progress_bars()
        print("minibert: interrupted", file=sys.stderr)
        return 130
    except SystemExit as e:
        if not isinstance(e.code, str):
            raise
        print(f"minibert: error: {e.code}", file=sys.stderr)
        return 2
    except Exception as e:
        end_progress_bars()
        line = None if debug else one_line(e)
        if line is None:
            if not debug:
                print("minibert: internal error, a bug in minibert; please report it with the "
                      "traceback below", file=sys.stderr)
            raise
        print(line, file=sys.stderr)
        return 2


def _run(name: str, module, args: argparse.Namespace) -> int:
    """Validate, check the outputs against the inputs, claim the output folders, run; the
    claims end when the command does."""
    from train.device import pick_device
    from train.interrupts import sigterm_as_ctrl_c
    from train.outdir import check_output_file, output_dir

    if getattr(args, "device", None) is not None:
        pick_device(args.device)  # a device this machine lacks: refused before any work
    if hasattr(module, "validate"):
        module.validate(args)
    inputs = module.input_paths(args) if hasattr(module, "input_paths") else []
    for path, flag in module.output_files(args) if hasattr(module, "output_files") else []:
        check_output_file(path, flag, args.overwrite, inputs)
    # under torchrun only rank 0 writes, so only it claims the folders
    claims = module.output_dirs(args) if hasattr(module, "output_dirs") else []
    if os.environ.get("RANK", "0") != "0":
        claims = []
    with contextlib.ExitStack() as stack:
        stack.enter_context(sigterm_as_ctrl_c())
        for path, flag, kind in claims:
            stack.enter_context(output_dir(path, flag, args.overwrite, command=name, kind=kind,
                                           inputs=inputs))
        return int(module.run(args) or 0)
