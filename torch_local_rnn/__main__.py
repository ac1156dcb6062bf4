"""Command line: ``python -m torch_local_rnn <command> [flags]``.

Commands:
  compare   train the same network with each learning rule side by side on a task, over seeds
            (``python -m torch_local_rnn compare --help``)
  align     gradient alignment of each rule with exact BPTT during online training
            (``python -m torch_local_rnn align --help``)
"""
import argparse
import sys
from typing import Optional, Sequence


def main(argv: Optional[Sequence[str]] = None) -> int:
    from .experiments import align, cli, runner

    parser = argparse.ArgumentParser(prog="python -m torch_local_rnn", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", metavar="command")
    sub = commands.add_parser("compare", help="train the same network with each rule on a task, over seeds",
                              description=runner.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_compare_arguments(sub)
    sub = commands.add_parser("align", help="gradient alignment of each rule with exact BPTT during training",
                              description=align.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_align_arguments(sub)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    args.argv = argv[1:]
    return (cli.run_compare if args.command == "compare" else cli.run_align)(args)


if __name__ == "__main__":
    sys.exit(main())
