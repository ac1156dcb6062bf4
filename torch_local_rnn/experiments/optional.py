"""The optional dependencies of the experiments (``--backend ray`` needs ray, ``--tensorboard`` needs
tensorboard), imported only when asked for, with an error that names the option and how to install them.
They are extras of the package: ``pip install 'torch-local-rnn[ray,tensorboard]'``."""
import importlib


class MissingDependencyError(ImportError, ValueError):
    """An option needs a package that is not installed. A ValueError too, so that the command lines report
    it as the bad option it is (exit 2) before anything runs."""


def require(module: str, option: str, extra: str):
    """Imports ``module`` (e.g. "ray", "torch.utils.tensorboard") for ``option`` (e.g. "--backend ray"), or
    raises MissingDependencyError saying how to install the package extra ``extra`` (e.g. "ray")."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingDependencyError(
            f"{option} needs the {extra} package, which is not installed ({error}); install it with "
            f"pip install 'torch-local-rnn[{extra}]' (or pip install {extra})") from error
