"""Every test of this folder (CUDA kernels against CPU kernels) is marked ``cuda``: ``pytest -m cuda`` runs
them, ``-m "not cuda"`` leaves them out; without a GPU they skip either way."""
import pathlib

import pytest

HERE = pathlib.Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in pathlib.Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.cuda)
