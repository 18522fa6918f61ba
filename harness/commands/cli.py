"""``ragsweep``: one command for every job of the harness.

    ragsweep run task=span_mini chunker=recursive retriever=dense   one run (Hydra overrides)
    ragsweep run -m chunker=fixed_tokens,recursive retriever=bm25   a sweep over the listed choices
    ragsweep sweep default                                          a sweep preset (configs/sweep/<name>.yaml)
    ragsweep report [--csv F]                                       leaderboard (Markdown, HTML, CSV)
    ragsweep gate --sweep ci                                        regression gate against a baseline
    ragsweep check +sweep=default                                   what a run needs and whether it is here
    ragsweep list                                                   components, suites and presets by name
    ragsweep bench bm25                                             a benchmark (results/bench/<name>.json)

Each subcommand's ``--help`` says more; ``run`` and ``sweep`` take Hydra's options (``--config-dir DIR``
adds a folder of your own task / component / sweep YAML files, ``--cfg job`` prints the composed config).
Outputs go under ``./results`` of the working directory, or ``--results DIR`` / ``$RAGSWEEP_RESULTS``;
the cache may live apart (``$RAGSWEEP_CACHE``). Hub downloads are off unless RAGSWEEP_ALLOW_DOWNLOADS=1.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from importlib.metadata import PackageNotFoundError, version
from typing import Callable, Iterator

from ragsweep.offline import configure_environment
from ragsweep.logs import LEVEL_ENV, LEVELS, hydra_overrides, setup_logging
from ragsweep.paths import CONFIG_DIR
from ragsweep.help_text import plain_doc

# Subcommand -> (module whose ``main(argv)`` serves it, one-line help).
COMMANDS: dict[str, tuple[str, str]] = {
    "report": ("ragsweep.analysis.report", "leaderboard of the runs: Markdown, HTML page and CSV"),
    "gate": ("ragsweep.analysis.gate", "compare a sweep's latest runs with its baseline; exit 1 on a drop"),
    "check": ("ragsweep.commands.check", "list every model and data file a run or sweep needs, and whether it is here"),
    "search": ("ragsweep.commands.search", "search numeric settings (chunk size, top k, ...) with Optuna; the best re-scored on held-out questions"),
    "plan": ("ragsweep.commands.plan", "what a sweep will ask of language models (calls, tokens, USD, time) before it runs"),
    "list": ("ragsweep.commands.listing", "suites (with whether their data is here), components, metrics and sweep presets, described"),
    "pairwise": ("ragsweep.analysis.pairwise", "LLM judge: which of two runs answers better, per query"),
    "judge-eval": ("ragsweep.analysis.judge_eval", "how well a judge agrees with human labels on a calibration set"),
    "judge-card": ("ragsweep.analysis.judge_card", "one place per judge: agreement with base rates, validity, consistency, position bias, cost"),
    "label": ("ragsweep.labelling.server", "a labelling page (127.0.0.1) for a sweep's judged answers; labels feed PPI estimates"),
    "judge-invariance": ("ragsweep.analysis.judge_invariance", "do two judges rank a sweep's configurations alike (Kendall's tau)"),
    "trec-export": ("ragsweep.analysis.trec_export", "a run as TREC run and qrels files, checked against the run's own scores"),
    "keywords": ("ragsweep.annotate.keywords", "annotate a suite with CoFE-RAG keywords (Hydra overrides)"),
    "synthetic": ("ragsweep.annotate.synthetic", "write a synthetic span-referenced suite from a folder of text (Hydra overrides)"),
    "study": ("ragsweep.analysis.study", "the chunking study's table and plot from a sweep"),
    "serve-vllm": ("ragsweep.commands.serve_vllm", "an OpenAI-compatible vLLM server for a sweep (vLLM environment)"),
    "export-model": ("ragsweep.models.export", "write a bundled GGUF model as a transformers / vLLM folder"),
}
HYDRA_COMMANDS = {"keywords", "synthetic"}  # their main() reads sys.argv through @hydra.main
CONFIG_COMMANDS = {"check", "list", "judge-eval", "pairwise", "keywords", "synthetic"}  # they read configs/: checked first
OVERRIDE_COMMANDS = {"check", "keywords", "synthetic"}  # their arguments are Hydra overrides


def package_version() -> str:
    try:
        return version("ragsweep")
    except PackageNotFoundError:
        return "unknown (not installed)"


def sweep_presets() -> list[str]:
    return sorted(p.stem for p in (CONFIG_DIR / "sweep").glob("*.yaml"))


def bench_names() -> list[str]:
    import pkgutil

    import ragsweep.bench as bench

    return sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name != "common")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ragsweep", description=plain_doc(__doc__), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"ragsweep {package_version()}", help="print the version and exit")
    p.add_argument("--results", metavar="DIR", help="where runs, reports and the cache go (default ./results)")
    loudness = p.add_mutually_exclusive_group()
    loudness.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only (a sweep still ends with its results table)")
    loudness.add_argument("-v", "--verbose", action="store_true", help="also ragsweep's debug lines")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser("run", help="one run, or a sweep with -m (Hydra overrides; `ragsweep run --help` shows Hydra's)", add_help=False)
    sweep = sub.add_parser("sweep", help="run a sweep preset: ragsweep sweep NAME [overrides]", add_help=False)
    sweep.add_argument("preset", nargs="?", help="the preset: configs/sweep/NAME.yaml (ragsweep list sweep)")
    for budget, kind, text in (("--max-usd", float, "USD"), ("--max-tokens", int, "prompt + completion tokens")):
        sweep.add_argument(budget, type=kind, default=None, help=f"plan the sweep first (ragsweep plan) and refuse it when its {text} would be more")
    sweep.add_argument("--no-plan", action="store_true", help="start without the opening plan line (ragsweep plan --brief)")
    sweep.add_argument("--race", action="store_true", help="race the configurations: drop each as soon as it is shown worse "
                       "(--alpha, --batch, --metric, --seed; docs/racing.md)")
    for runner in (run, sweep):
        runner.add_argument("--rerun", action="store_true", help="run every job of a sweep even when it is up to date")
    for name, (_, text) in COMMANDS.items():
        sub.add_parser(name, help=text, add_help=False)
    sub.add_parser("bench", help=f"run a benchmark: one of {', '.join(bench_names())}", add_help=False)
    return p


def call_hydra(entry: Callable[[], object], prog: str, argv: list[str]) -> None:
    """Hydra's decorated mains read sys.argv: hand them ours."""
    saved = sys.argv
    sys.argv = [prog, *argv]
    try:
        entry()
    finally:
        sys.argv = saved


def sweep_fingerprint(argv: list[str], rerun: bool) -> tuple[bool, str | None]:
    """(up to date, fingerprint) of ``argv`` (ragsweep.engine.uptodate). Up to date: a sweep that finished with
    nothing it depends on changed since, so nothing is run. Otherwise the fingerprint (None for a single run or
    a command line the check does not model) goes to the sweep's summary callback, which writes the manifest."""
    from ragsweep.engine import uptodate

    parsed = uptodate.parse_command_line(argv)
    if parsed is None or not (parsed[2] or any(o.startswith("+sweep=") for o in parsed[0])):
        return False, None
    fp = uptodate.fingerprint(argv)
    if fp is None:
        return False, None
    path = uptodate.manifest_path(argv, fp)
    setup_logging("[%(asctime)s][%(name)s][%(levelname)s] - %(message)s")
    runs = None if rerun else uptodate.up_to_date_runs(path, fp)
    if runs is not None:
        from ragsweep.store.run_folder import record_latest

        record_latest(Path(runs[0]).parent, [Path(r) for r in runs])  # the gate judges these runs
        logging.getLogger("ragsweep.sweep").info(
            "sweep up to date: its %d runs were written with the same configs, code, packages and data (%s); "
            "nothing to do (--rerun runs it again)", len(runs), path,
        )
        return True, fp
    return False, fp


def results_root_problem(rest: list[str]) -> str | None:
    """Why the results root of a run or sweep cannot be written (read-only, or not a folder), checked before
    Hydra creates its output folders there; None when it can."""
    import tempfile

    from ragsweep.paths import results_root

    root = results_root(rest)
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=root):
            pass
    except OSError as err:
        return f"cannot write to {root} ({err.strerror or err}): point results_root (or RAGSWEEP_RESULTS, or --results) at a writable folder"
    return None


def config_problem(rest: list[str], choices: bool = True) -> str | None:
    """What stops a command that composes configs before Hydra starts: a config file that does not parse, and (with
    ``choices``) an override choosing a config no folder has."""
    from ragsweep.engine import uptodate
    from ragsweep.engine.config_names import unknown_choice, unknown_parameter, unreadable_yaml

    parsed = uptodate.parse_command_line(rest)
    overrides, folders = (parsed[0], parsed[1]) if parsed is not None else ([], [])
    if problem := unreadable_yaml(folders):
        return problem
    return (unknown_choice(overrides, folders) or unknown_parameter(overrides, folders)) if choices else None


def run_command_problem(rest: list[str]) -> str | None:
    """What stops a run or sweep before Hydra starts: a config file that does not parse, an unknown config choice,
    an unwritable results root."""
    return config_problem(rest) or results_root_problem(rest)


def interrupted_message(rest: list[str]) -> str:
    """What Ctrl-C leaves: finished runs are written whole (a run folder appears only complete), and the same
    command resumes."""
    from ragsweep.paths import results_root

    return (f"ragsweep: interrupted. Every run that finished is written under {results_root(rest) / 'runs'}; no half-written run is left.\n"
            "Run the same command again to resume: finished runs and cached stages are reused, only the rest is computed.")


def verbosity_flags(argv: list[str]) -> tuple[list[str], str | None]:
    """``-q``/``-v`` anywhere before ``--`` (``ragsweep sweep default -q`` as well as ``ragsweep -q sweep default``):
    (argv without them, the level they choose or None)."""
    level, out = None, []
    for i, arg in enumerate(argv):
        if arg == "--":
            return out + argv[i:], level
        if arg in ("-q", "--quiet", "-v", "--verbose"):
            chosen = LEVELS["quiet" if arg in ("-q", "--quiet") else "verbose"]
            if level not in (None, chosen):
                raise SystemExit("ragsweep: -q and -v cannot be combined")
            level = chosen
        else:
            out.append(arg)
    return out, level


@contextmanager
def command_environment() -> Iterator[None]:
    """The environment as it was before the command, back when it ends. A command's settings reach the processes
    Hydra's launchers start for it (loky workers, submitit and Slurm jobs) through their environment, the one channel
    all of them pass on: the verbosity, the results folder, which process answers Ctrl-C, libraries' switches
    (offline, no bars). They are set for the command's span only, so a second command in the same process (a test,
    a notebook) starts from the same environment as the first; so is the package logger's level (``-q`` sets it)."""
    import logging

    saved = dict(os.environ)
    package_logger = logging.getLogger("ragsweep")
    level = package_logger.level
    try:
        yield
    finally:
        for name in set(os.environ) - set(saved):
            del os.environ[name]
        os.environ.update(saved)
        package_logger.setLevel(level)


def main(argv: list[str] | None = None) -> int:
    with command_environment():
        return command(list(sys.argv[1:] if argv is None else argv))


def command(argv: list[str]) -> int:
    if "-h" not in argv[:1] and "--help" not in argv[:1]:  # the top-level help lists -q and -v itself
        argv, level = verbosity_flags(argv)
        if level:
            os.environ[LEVEL_ENV] = level  # sweep workers and Hydra's logging read it too
    args, rest = parser().parse_known_args(argv)
    if args.results:
        os.environ["RAGSWEEP_RESULTS"] = args.results
    configure_environment()
    if args.command is None:
        parser().print_help()
        return 0
    if args.command in ("run", "sweep"):
        from ragsweep.commands.run import main as run_main, quiet_known_warnings

        quiet_known_warnings()
        overrides = rest  # the command line's Hydra overrides, a preset's aside
        if args.command == "sweep":
            if not args.preset or args.preset.startswith("-"):
                print(f"usage: ragsweep sweep NAME [overrides]; presets: {', '.join(sweep_presets())}", file=sys.stderr)
                return 2
            rest = [f"+sweep={args.preset}", *overrides]
            if args.race:
                from ragsweep.commands.race import main as race_main, parser as race_parser

                hydra_args = race_parser().parse_known_args([args.preset, *overrides])[1]
                if problem := run_command_problem([f"+sweep={args.preset}", *hydra_args]):
                    print(problem, file=sys.stderr)
                    return 2
                return run_command_main("sweep --race", race_main, [args.preset, *overrides])
        problem = run_command_problem(rest)
        if problem:
            print(problem, file=sys.stderr)
            return 2
        up_to_date, fp = sweep_fingerprint(rest, args.rerun)
        if up_to_date:
            return 0
        if args.command == "sweep" and not args.no_plan and (code := open_with_plan(args, overrides)) != 0:
            return code  # over budget, or the plan could not be made: nothing was asked of a model
        from ragsweep.commands.sweep_status import MAIN_PID

        os.environ[MAIN_PID] = str(os.getpid())  # sweep workers leave Ctrl-C to this process (commands/run.py)
        if any(a in ("-m", "--multirun") or a.startswith("+sweep=") for a in rest):
            # A sweep logs its own progress; libraries' bars (a GGUF model's conversion, weight loading) from parallel
            # workers would interleave on one terminal. tqdm reads this when it is imported, in each worker.
            os.environ["TQDM_DISABLE"] = "1"
        # loky's resource tracker warns of "leaked semaphores" when Ctrl-C stops the workers: expected, not shown
        os.environ["PYTHONWARNINGS"] = ",".join(filter(None, (os.environ.get("PYTHONWARNINGS"), "ignore:resource_tracker:UserWarning")))
        try:
            from ragsweep.plugins import with_search_path

            call_hydra(run_main, "ragsweep run", [*with_search_path(rest), *hydra_overrides(), *([f"hydra.callbacks.sweep_summary.fingerprint={fp}"] if fp else [])])
        except KeyboardInterrupt:
            print(interrupted_message(rest), file=sys.stderr)
            return 130
        return 0
    if args.command == "bench":
        names = bench_names()
        if not rest or rest[0] not in names:
            print(f"usage: ragsweep bench NAME [options]; benchmarks: {', '.join(names)}", file=sys.stderr)
            return 2
        module = importlib.import_module(f"ragsweep.bench.{rest[0]}")
        return run_command_main(f"bench {rest[0]}", module.main, rest[1:])
    if args.command in CONFIG_COMMANDS and (problem := config_problem(rest, choices=args.command in OVERRIDE_COMMANDS)):
        print(f"ragsweep {args.command}: {problem}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[args.command][0])
    if args.command in HYDRA_COMMANDS:
        call_hydra(module.main, f"ragsweep {args.command}", [*rest, *hydra_overrides()])
        return 0
    return run_command_main(args.command, module.main, rest)


def open_with_plan(args: argparse.Namespace, overrides: list[str]) -> int:
    """A sweep opens with its plan (ragsweep plan): one line, or with a budget the whole table and the check."""
    from ragsweep.commands.plan import main as plan_main

    budget = [*(["--max-usd", str(args.max_usd)] if args.max_usd is not None else []),
              *(["--max-tokens", str(args.max_tokens)] if args.max_tokens is not None else [])]
    return run_command_main("plan", plan_main, [args.preset, *overrides, *(budget or ["--brief"])])


def run_command_main(name: str, entry: Callable[[list[str]], object], argv: list[str]) -> int:
    """A subcommand's (or bench's) ``main(argv)``: bad input, an unwritable folder or a config Hydra cannot compose is
    one line and exit 2, never a traceback."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from ragsweep.errors import RagsweepError

    try:
        return int(entry(argv) or 0)  # type: ignore[call-overload]
    except RagsweepError as err:
        print(f"ragsweep {name}: {err}", file=sys.stderr)
        return 2
    except (HydraException, OmegaConfBaseException) as err:  # its first line
        print(f"ragsweep {name}: {str(err).strip().splitlines()[0]}", file=sys.stderr)
        return 2

