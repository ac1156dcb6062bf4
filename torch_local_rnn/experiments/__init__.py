"""The experiments behind ``python -m torch_local_rnn compare`` and ``align``, one job per module:

    config   CompareConfig, AlignConfig: what a run depends on, validated; rule and task builders
    store    run files, checkpoints, resuming, the configuration check (ConfigMismatchError)
    train    one (rule, seed) run: its network, its training loop and test curve (run_one)
    runner   every (rule, seed) run of a compare, in parallel processes (compare, plan_runs)
    report   summaries, tables, CSV / JSON and plots of both commands
    align    the gradient-alignment analysis (align, window_gradient, online_estimate, true_credit)
    cli      the flags and commands (``python -m torch_local_rnn compare --help``)

Import what you need from its module (``from torch_local_rnn.experiments.runner import compare``); nothing
is imported here, so the core package never loads these.
"""
