"""Command line: ``python -m torch_local_rnn <command> [flags]``.

Commands:
  compare   train the same network with each learning rule side by side on the Add task
            (``python -m torch_local_rnn compare --help``)
"""
import argparse
import sys
from typing import Optional, Sequence


def main(argv: Optional[Sequence[str]] = None) -> int:
    from . import compare

    parser = argparse.ArgumentParser(prog="python -m torch_local_rnn", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", metavar="command")
    sub = commands.add_parser("compare", help="train the same network with each rule on the Add task",
                              description=compare.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    compare.add_arguments(sub)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    args.argv = argv[1:]
    return compare.run(args)


if __name__ == "__main__":
    sys.exit(main())
