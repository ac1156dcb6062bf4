"""The experiments behind ``python -m torch_local_rnn compare`` and ``align``, one job per module:

    config   CompareConfig, AlignConfig: what a run depends on, validated; rule and task builders
    store    run files, checkpoints, resuming, the configuration check (ConfigMismatchError)
    train    one (rule, seed) run: its network, its training loop and test curve (run_one)
    runner   every (rule, seed) run of a compare, serial or in parallel (compare, plan_runs)
    parallel many runs at once: a local process pool or Ray tasks, progress through a queue (run_tasks)
    worker   the worker side of a parallel run (RunTask, execute)
    ray_backend  the Ray tasks of --backend ray (RayPool, require_ray)
    optional the optional dependencies (ray, tensorboard) and the error naming the option that needs one
    tensorboard_log  --tensorboard: each run's curves as TensorBoard scalars (write_tensorboard)
    report   summaries, tables, CSV / JSON and plots of both commands
    align    the gradient-alignment analysis (align, window_gradient, online_estimate, true_credit)
    cli      the flags and commands (``python -m torch_local_rnn compare --help``)

Import what you need from its module (``from torch_local_rnn.experiments.runner import compare``); nothing
is imported here, so the core package never loads these.
"""
