"""``sweeps.run_sweep``: a sweep from a Python script, returning the run directory and Ray Tune's ``ResultGrid`` as
``Tuner.fit()`` does. ``sweeps/run.py`` is a thin command line over the same path (options, plan, checks, run).

    import sweeps
    run_dir, results = sweeps.run_sweep("lsid_lr", profile="smoke", search="optuna", num_samples=4)
    print(results.get_best_result().metrics["val/psnr"])
"""

from __future__ import annotations

import sys
from typing import Any, NamedTuple

from ray import tune

from restore_core.errors import UserError
from restore_core.plugins import importing
from restore_core.registry import PROJECT_PACKAGES
from search_spaces import SPACES, SearchSpace, get_space
from sweeps.driver.describe import describe_plan
from sweeps.driver.runner import check_sweep, execute, plan_sweep
from sweeps.settings.options import SweepOptions


class SweepResult(NamedTuple):
    """What a sweep leaves: its run directory (``runs/<space>/<name>``, with the tables when analysed) and Ray Tune's
    results (one ``Result`` per trial: its config, last metrics, checkpoint and errors)."""

    run_dir: str
    results: tune.ResultGrid


def run_sweep(space_or_name: str | SearchSpace | None = None, *, argv: list[str] | None = None,
              **options: Any) -> SweepResult:
    """Run (or resume) a sweep and write its results, as ``sweeps/run.py`` does.

    Args:
        space_or_name: a registered space's name, ``FILE.py:NAME`` or ``module:NAME``, or a
            :class:`~search_spaces.SearchSpace` defined at the top level of a module or of the calling script (a
            resume or ``python -m analysis`` imports it again from there, so guard the script's sweep with
            ``if __name__ == "__main__":``). None with ``resume=True``: the run's own.
        argv: the command line to record in the manifest (default: a call of run_sweep).
        **options: any option of :class:`~sweeps.settings.options.SweepOptions`, named as ``sweeps/run.py``'s
            without the dashes (``profile="smoke"``, ``search="optuna"``, ``num_samples=20``, ``seeds=3``,
            ``sets={"train.steps": 600}``, ``plugins=["my_models.py"]``,
            ``objectives=["val/psnr:max", "cost/macs:min"]``, ``storage="runs"``, ``name="r1"``,
            ``resume=True``, ``analyze=False``, ...). Left out: the space's or the platform's default.

    Returns:
        The run directory and the ``ResultGrid``.

    Raises:
        UserError: bad input, as the command line reports it (an unknown space, key or value; missing data).
        restore_core.cli.Interrupted: Ctrl-C or SIGTERM stopped the sweep (``resume=True`` continues it).
    """
    if importing():
        raise UserError(f"sweeps.run_sweep was called while {importing()} was imported as a plugin (by a resume, an "
                        "analysis or a Ray worker): start the sweep under if __name__ == '__main__': in that file")
    unknown = sorted(set(options) - set(SweepOptions.__dataclass_fields__) - {"space"})
    if unknown:
        raise UserError(f"run_sweep() has no option {unknown[0]!r}; known: "
                        f"{', '.join(sorted(set(SweepOptions.__dataclass_fields__) - {'space'}))}")
    if isinstance(space_or_name, SearchSpace):
        space_or_name = space_reference(space_or_name)
    sets = dict(options.pop("sets", None) or {})
    plugins = tuple(options.pop("plugins", None) or ())
    if isinstance(options.get("objectives"), (str, list)):  # one "val/psnr:max", or a list of them: as the CLI's tuple
        given = options["objectives"]
        options["objectives"] = (given,) if isinstance(given, str) else tuple(given)
    options = SweepOptions(space=space_or_name, sets=sets, plugins=plugins, **options)
    return sweep(options, argv if argv is not None else ["# sweeps.run_sweep", repr(space_or_name)])


def sweep(options: SweepOptions, argv: list[str], stop_own_ray: bool = False) -> SweepResult:
    """The sweep ``options`` ask for (``sweeps/run.py``'s path too): planned, checked, run and analysed.
    ``stop_own_ray``: stop a local Ray this call started once the trials end (see
    :func:`~sweeps.driver.runner.execute`)."""
    if options.dry_run:
        raise UserError("dry_run=True runs nothing: use sweeps.dry_run(...) for the listing")
    return SweepResult(*execute(plan_sweep(options), argv, stop_own_ray))


def dry_run(options: SweepOptions) -> str:
    """Every check of the sweep ``options`` ask for that reads no data and starts nothing; returns the listing of
    ``sweeps/run.py --dry-run`` (the trials or the ranges sampled, ASHA's rungs, the base config)."""
    plan = plan_sweep(options)
    check_sweep(plan)
    return describe_plan(plan)


def space_reference(space: SearchSpace) -> str:
    """How a run finds ``space`` again: its name when the project registered it, else ``module:NAME`` or
    ``FILE.py:NAME`` of where it is defined at the top level (a module of the user's before the calling script).

    Raises:
        UserError: a space defined nowhere a later process could import it from (inside a function).
    """
    if space.name in SPACES and get_space(space.name) is space \
            and SPACES.module_of(space.name).split(".")[0] in PROJECT_PACKAGES:
        return space.name
    main = sys.modules.get("__main__")
    for name, module in list(sys.modules.items()):
        if module is main or module is None or name.split(".")[0] in PROJECT_PACKAGES:
            continue
        attribute = next((key for key, value in list(vars(module).items()) if value is space), None)
        if attribute is not None and getattr(module, "__file__", None):
            return f"{name}:{attribute}"
    attribute = next((key for key, value in vars(main).items() if value is space), None) if main else None
    if attribute is not None and getattr(main, "__file__", None):
        return f"{main.__file__}:{attribute}"
    raise UserError(f"space '{space.name}' is defined nowhere a resume or an analysis could find it again: define "
                    "it at the top level of a module or of your script, or register it with register_space in a "
                    "module passed as plugins=[...]")
