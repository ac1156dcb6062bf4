"""The command line names a bad --task-option (the key and the type expected) instead of passing on a bare
"invalid literal for int()"."""
import pytest

from torch_local_rnn.__main__ import main


@pytest.mark.parametrize("option,pattern", [
    ("t1=abc", "error: compare: AddTask: expected t1 to be an integer, but got 'abc'"),
    ("tau=1.5", "error: compare: AddTask: expected tau to be an integer, but got 1.5"),
    ("deterministic=maybe", "error: compare: AddTask: expected deterministic to be a bool, but got 'maybe'"),
])
def test_compare_names_a_bad_task_option(option, pattern, tmp_path, capsys):
    assert main(["compare", "--task-option", option, "--steps", "10", "--no-progress", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert pattern in err, err
    assert "invalid literal" not in err
