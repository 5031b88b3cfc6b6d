"""The `orkiosk` command line: one sub-command per job, each registered by its own module.

A command module has `register(subparsers)`, which adds its parser and sets `func(args) -> int`.
Any OrkioskError or OSError becomes one clear line on stderr and exit status 2; an unexpected
error one line and status 70. Never a traceback (ORKIOSK_DEBUG=1 prints it).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback

from orkiosk import __version__
from orkiosk.errors import OrkioskError

# Imported lazily by name so that `orkiosk verify` never loads Kivy or the GL stack.
COMMAND_MODULES = (
    "orkiosk.plan.commands",
    "orkiosk.plan.diff_command",
    "orkiosk.edit.commands",
    "orkiosk.bench.command",
    "orkiosk.render.commands",
    "orkiosk.planning.commands",
    "orkiosk.node.commands",
    "orkiosk.app.commands",
    "orkiosk.sync.commands",
    "orkiosk.store.commands",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orkiosk",
        description="Carry a surgical plan from the planning workstation to the operating room.",
    )
    parser.add_argument("--version", action="version", version=f"orkiosk {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except OrkioskError as exc:
        print(f"orkiosk {args.command}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a file or folder the command was pointed at
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"orkiosk {args.command}: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"orkiosk {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line for the user, the traceback only on request
        if os.environ.get("ORKIOSK_DEBUG"):
            traceback.print_exc()
        print(
            f"orkiosk {args.command}: internal error ({type(exc).__name__}: {exc}); "
            "please report it (set ORKIOSK_DEBUG=1 for details)",
            file=sys.stderr,
        )
        return 70
