"""Numeric flags and their ranges, declared once beside the flag; parse errors in one line.

Every number a command takes is declared with one of the argparse types below, so its range
sits beside the flag, is checked while the command line is parsed (before any file is read
or any folder claimed) and is printed in `--help`:

    p.add_argument("--lr", type=flags.real(0, 1, low_open=True), help="peak learning rate")
    # minibert finetune --help:  --lr LR  peak learning rate (a number in (0, 1])
    # minibert finetune --lr 1e9:
    #   minibert: error: --lr 1e9: expected a number in (0, 1] (see `minibert finetune --help`)

`whole(low, high)` is an int in [low, high] (high None: no upper end); `real(...)` a finite
float in a closed or half-open interval; `seed` the range torch.manual_seed takes.
`tests/test_cli_numbers.py` holds every command to this: a plain `type=int` or `type=float`
fails it, and each declared range is probed at both ends.

`Parser` is argparse's parser with one change: an error is one line, `minibert: error: --flag
VALUE: ...`, exit code 2, like every other refusal of the CLI (`train/cli/errors.py`).
`add_device_flags` declares `--device` and `--precision` for every command that runs a model.
Left out on purpose: units ("32MB"), lists of numbers (`--seeds` is parsed by its command).
"""

from __future__ import annotations

import argparse
import math
import re
import sys


class Number:
    """An argparse `type=`: turns the flag's text into an int or float inside a range."""

    def __init__(self, kind: type, low: float | None, high: float | None = None, *,
                 low_open: bool = False, high_open: bool = False, note: str = ""):
        self.kind, self.low, self.high = kind, low, high
        self.low_open, self.high_open, self.note = low_open, high_open, note
        self.__name__ = "whole number" if kind is int else "number"  # argparse's messages

    def contains(self, value: float) -> bool:
        if self.kind is float and not math.isfinite(value):
            return False
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return self.high is None or not (value > self.high
                                         or (self.high_open and value == self.high))

    def __call__(self, text: str):
        try:
            value = self.kind(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"{text}: expected {self}") from None
        if not self.contains(value):
            raise argparse.ArgumentTypeError(f"{text}: expected {self}")
        return value

    def __str__(self) -> str:
        what = f"a {self.__name__}"
        if self.high is None:
            text = f"{what} {'above' if self.low_open else 'of at least'} {_show(self.low)}"
        else:
            lo, hi = "(" if self.low_open else "[", ")" if self.high_open else "]"
            text = f"{what} in {lo}{_show(self.low)}, {_show(self.high)}{hi}"
        return f"{text}; {self.note}" if self.note else text

    def __repr__(self) -> str:
        return f"Number({self})"


def _show(value: float) -> str:
    if value == SEED_MAX:
        return "2**63 - 1"
    # whole numbers in full (16,777,216, not 1.67772e+07); fractions as short as they go
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def whole(low: int = 1, high: int | None = None, note: str = "") -> Number:
    """An int flag in [low, high] (no upper end when high is None)."""
    return Number(int, low, high, note=note)


def real(low: float, high: float | None = None, *, low_open: bool = False,
         high_open: bool = False, note: str = "") -> Number:
    """A finite float flag in the interval from low to high, ends open as asked."""
    return Number(float, low, high, low_open=low_open, high_open=high_open, note=note)


SEED_MAX = 2**63 - 1  # torch.manual_seed takes a 64-bit value
seed = whole(0, SEED_MAX)


def show_ranges(parser: argparse.ArgumentParser) -> None:
    """Append each numeric flag's range to its --help line."""
    for action in parser._actions:
        if isinstance(action.type, Number):
            rng = str(action.type).replace("%", "%%")
            action.help = f"{action.help} ({rng})" if action.help else rng


class Parser(argparse.ArgumentParser):
    """argparse's parser, with each error printed as one `minibert: error:` line."""

    def error(self, message: str):
        # "argument --lr: 1e9: expected ..." -> "--lr 1e9: expected ..."
        message = re.sub(r"^argument (\S+): (?=\S+: expected )", r"\1 ", message)
        print(f"minibert: error: {message} (see `{self.prog} --help`)", file=sys.stderr)
        sys.exit(2)


def add_device_flags(parser: argparse.ArgumentParser, precision_default: str = "auto") -> None:
    """`--device` and `--precision`, as every command that runs a model takes them (values as
    train/device.py reads them). Training defaults to auto; a command whose numbers must be
    the same on every machine passes precision_default="fp32"."""
    from train.device import PRECISIONS  # torch: only commands that run a model pay for it

    assert precision_default in ("auto", "fp32"), f"no help text for {precision_default!r}"
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N | mps")
    if precision_default == "auto":
        text = ("auto (default): bf16 where the hardware computes it natively (CUDA cards with "
                "bf16; CPUs with AVX512-BF16 or AMX), else fp32; prints what it chose and why. "
                "fp32 gives the same numbers on every CPU")
    else:
        text = (f"compute in this precision (default {precision_default}: the same numbers on "
                "every machine; auto picks bf16 where the hardware computes it natively)")
    parser.add_argument("--precision", default=precision_default, choices=list(PRECISIONS),
                        help=text)
