"""Task options of the wrong type are named with the type expected (the command line passes --task-option values
through unchanged when they are not numbers: t1=abc must not end as "invalid literal for int()")."""
import pytest

from torch_local_rnn.tasks import AddTask, make_task


@pytest.mark.parametrize("options,pattern", [
    (dict(t1="abc"), r"AddTask: expected t1 to be an integer, but got 'abc'"),
    (dict(t2=2.5), r"AddTask: expected t2 to be an integer, but got 2.5"),
    (dict(tau=None), r"AddTask: expected tau to be an integer, but got None"),
    (dict(t1=True), r"AddTask: expected t1 to be an integer, but got True"),
    (dict(deterministic="yes"), r"AddTask: expected deterministic to be a bool, but got 'yes'"),
    (dict(deterministic=2), r"AddTask: expected deterministic to be a bool, but got 2"),
    (dict(t1=-1), r"AddTask: expected lags t1, t2 >= 0, but got t1=-1, t2=9"),
    (dict(tau=0), r"AddTask: expected tau >= 1, but got 0"),
])
def test_add_task_option_errors(options, pattern):
    with pytest.raises(ValueError, match=pattern):
        AddTask(**options)
    with pytest.raises(ValueError, match=pattern):
        make_task("add", **options)


def test_add_task_accepts_integral_values():
    assert repr(AddTask(5.0, 9, tau=2, deterministic=0)) == "AddTask(t1=5, t2=9, tau=2, deterministic=False)"
