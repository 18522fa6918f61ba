"""``assessor.reference``: the TREC 2024 RAG track's assessors as released, run from their own packages.

``umbrela`` (castorini/umbrela on PyPI) grades relevance; ``nuggetizer`` (castorini/nuggetizer) makes, grades and
assigns nuggets. In reference mode ragsweep does not retype their prompts or parsers: it reads UMBRELA's prompt
file and calls its reply parser, and it runs Nuggetizer's own ``create`` and ``assign`` (windows of 10 documents,
nuggets graded and assigned in lists of 10, its retries and failure labels) with the model calls routed to
ragsweep's backend. Given the same model replies, the labels, nuggets and scores are the reference's.

What cannot come from the packages is stated here and checked by the tests against the installed source:
UMBRELA's system message and reply budget live inside ``GPTJudge``, whose module imports pyserini (a Java search
toolkit) at import time, so the two constants are written below; UMBRELA's few-shot examples are drawn from TREC
DL qrels through pyserini, so the reference mode is zero-shot (``few_shot_count=0``, an empty examples slot).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import threading
from dataclasses import dataclass, field
from importlib import metadata, resources
from typing import Any, Callable, Iterator, Sequence

from ragsweep.errors import ConfigError
from ragsweep.hashing import sha256_text

log = logging.getLogger(__name__)

Messages = list[dict[str, str]]

# The released versions the reference mode was checked against (tests/test_trec_reference.py); another installed
# version runs, is recorded in run.json and logged, and its prompts are in every key of what it labels.
PINNED = {"umbrela": "0.0.7", "nuggetizer": "0.0.5"}
REFERENCES = tuple(PINNED)
INSTALL_HINT = "pip install --no-deps umbrela==0.0.7 nuggetizer==0.0.5 (make install does)"

UMBRELA_PROMPT = "prompts/qrel_fewshot_bing.txt"  # the template GPTJudge and OSLLMJudge load by default
UMBRELA_SYSTEM = "You are a helpful assistant."  # umbrela/gpt_judge.py, run_gpt's system message
UMBRELA_MAX_TOKENS = 100  # umbrela's judge(..., max_new_tokens=100)
NUGGETIZER_MAX_TOKENS = 2048  # nuggetizer/core/llm.py, LLMHandler.run's max_completion_tokens
FAILED = "failed"  # Nuggetizer's label for a nugget whose importance or assignment it could not read


def references(value: Any) -> tuple[str, ...]:
    """``assessor.reference``: null, one name, ``umbrela+nuggetizer`` or a list of names -> the names, in order."""
    if value is None or value == "" or value == []:
        return ()
    names = value.split("+") if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise ConfigError(f"assessor.reference must be null, a name or a list of names from {list(REFERENCES)}, not {value!r}")
    unknown = [n for n in names if n not in REFERENCES]
    if unknown:
        raise ConfigError(f"assessor.reference: unknown reference {unknown[0]!r}; known: {', '.join(REFERENCES)}")
    return tuple(dict.fromkeys(names))


def installed(package: str) -> str:
    """The installed version of a reference package, or one line saying how to install it."""
    try:
        version = metadata.version(package)
    except metadata.PackageNotFoundError:
        raise ConfigError(f"assessor.reference={package} needs the released {package} package, which is not installed: {INSTALL_HINT}") from None
    if version != PINNED[package]:
        log.warning("%s %s is installed; the reference mode was checked against %s", package, version, PINNED[package])
    return version


@dataclass(frozen=True)
class Umbrela:
    """UMBRELA's relevance judge: its prompt file (zero-shot), its message layout and reply budget, the reply
    lowercased as ``GPTJudge.run_gpt`` does and read by ``parse_fewshot_response``; an unreadable reply is grade 0,
    as the reference writes it (counted as invalid by the assessor, and never stored)."""

    version: str
    template: str
    name = "umbrela"

    @classmethod
    def load(cls) -> Umbrela:
        version = installed("umbrela")
        text = (resources.files("umbrela") / UMBRELA_PROMPT).read_text(encoding="utf-8")
        return cls(version, "".join(text.splitlines(keepends=True)).strip())  # LLMJudge reads it this way

    def identity(self) -> dict[str, Any]:
        return {"reference": self.name, "version": self.version, "template": sha256_text(self.template), "few_shot": 0,
                "system": UMBRELA_SYSTEM, "max_tokens": UMBRELA_MAX_TOKENS}

    def conversation(self, query: str, passage: str) -> Messages:
        from umbrela.utils import common_utils

        prompt = common_utils.generate_prompts([(query, passage)], "", self.template)[0]
        return [{"role": "system", "content": UMBRELA_SYSTEM}, {"role": "user", "content": prompt}]

    @staticmethod
    def grade(reply: str) -> int | None:
        """The grade UMBRELA's parser reads from the reply, None where it finds none (the reference then writes 0).
        The parser's own print of an unreadable reply is kept off stdout."""
        from umbrela.utils import common_utils

        with contextlib.redirect_stdout(io.StringIO()):
            grade, valid = common_utils.parse_fewshot_response(reply.lower(), "", "")
        return int(grade) if valid else None


class CallFailed(RuntimeError):
    """The backend failed a call: raised inside Nuggetizer's retry loop, which then labels the window failed."""


@dataclass
class Channel:
    """Stands in for Nuggetizer's ``LLMHandler``: each distinct conversation goes to ragsweep's backend once. The
    reference repeats a conversation only when it could not parse the reply; the backend decodes it the same way
    every time (its configured temperature and seed, where the reference raises the temperature to 0.2), so a
    repeat gets the same reply without a call and the reference's loop runs to its own failure label."""

    ask: Callable[[Messages], str | None]  # conversation -> the reply, None for a failed call
    replies: dict[str, str | None] = field(default_factory=dict)
    repeated: set[str] = field(default_factory=set)  # conversations asked again: their reply was unreadable

    def run(self, messages: Messages, temperature: float = 0) -> tuple[str, int]:
        key = json.dumps(messages, ensure_ascii=False)
        if key in self.replies:
            self.repeated.add(key)
        else:
            self.replies[key] = self.ask(messages)
        reply = self.replies[key]
        if reply is None:
            raise CallFailed("the backend failed this call")
        return reply, 0

    @property
    def failed(self) -> int:
        return sum(1 for reply in self.replies.values() if reply is None)


MAX_WORKERS = 64  # reference calls run side by side (one thread each); their model calls are batched together


def run_batched(tasks: Sequence[Callable[[Channel], Any]], complete: Callable[[list[Messages]], list[str | None]]) -> list[tuple[Any, Channel]]:
    """(result, channel) of each task, one call of the reference's each (one query's ``create`` or ``assign``).
    The reference asks one conversation at a time; run side by side, each task in a thread on its own channel, the
    conversations of all tasks go to ``complete`` as one batch whenever every unfinished task waits for a reply,
    in task order: a batch is the same for the same inputs, so the replies are too."""
    out: list[tuple[Any, Channel]] = []
    for start in range(0, len(tasks), MAX_WORKERS):
        out += _run_group(tasks[start : start + MAX_WORKERS], complete)
    return out


def _run_group(tasks: Sequence[Callable[[Channel], Any]], complete: Callable[[list[Messages]], list[str | None]]) -> list[tuple[Any, Channel]]:
    cond = threading.Condition()
    pending: dict[int, Messages] = {}
    replies: dict[int, str | None] = {}
    state = {"live": len(tasks)}
    results: list[Any] = [None] * len(tasks)
    errors: list[BaseException | None] = [None] * len(tasks)

    def asker(i: int) -> Callable[[Messages], str | None]:
        def ask(messages: Messages) -> str | None:
            with cond:
                pending[i] = messages
                cond.notify_all()
                while i not in replies:
                    cond.wait()
                return replies.pop(i)
        return ask

    channels = [Channel(asker(i)) for i in range(len(tasks))]

    def work(i: int) -> None:
        try:
            results[i] = tasks[i](channels[i])
        except BaseException as err:  # noqa: BLE001 - raised again in the calling thread below
            errors[i] = err
        finally:
            with cond:
                state["live"] -= 1
                cond.notify_all()

    threads = [threading.Thread(target=work, args=(i,), daemon=True, name=f"reference-{i}") for i in range(len(tasks))]
    for thread in threads:
        thread.start()
    failure: BaseException | None = None
    while True:
        with cond:
            while state["live"] and len(pending) < state["live"]:
                cond.wait()
            if not state["live"]:
                break
            batch = sorted(pending.items())
            pending.clear()
        try:
            answered = complete([messages for _, messages in batch]) if failure is None else [None] * len(batch)
        except BaseException as err:  # noqa: BLE001 - the tasks are let finish (every call failed), then it is raised
            failure, answered = err, [None] * len(batch)
        with cond:
            replies.update({i: reply for (i, _), reply in zip(batch, answered)})
            cond.notify_all()
    for thread in threads:
        thread.join()
    for err in (failure, *errors):
        if err is not None:
            raise err
    return list(zip(results, channels))


class _Drop(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return False


@contextlib.contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    """Nuggetizer logs a warning per retry (500 for a failed window) and sets its logger's level itself whenever one
    is built: a filter drops them for the duration instead; ragsweep counts them and logs one line."""
    logger, drop = logging.getLogger(logger_name), _Drop()
    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)


@dataclass
class Nuggetizer:
    """Nuggetizer's ``create`` and ``assign`` with their defaults (atomic nuggets, vital/okay, windows and caps
    of 10/10/10 and 30), ``assign_grades`` 3 (support / partial_support / not_support) or 2."""

    version: str
    source: str  # sha256 of the module that holds its prompts (nuggetizer/models/nuggetizer.py)
    assign_grades: int = 3
    name = "nuggetizer"

    @classmethod
    def load(cls, assign_grades: int = 3) -> Nuggetizer:
        if assign_grades not in (2, 3):
            raise ConfigError(f"assessor.nugget_assign_grades must be 2 or 3, not {assign_grades!r}")
        version = installed("nuggetizer")
        source = resources.files("nuggetizer").joinpath("models", "nuggetizer.py").read_text(encoding="utf-8")
        return cls(version, sha256_text(source), assign_grades)

    def identity(self) -> dict[str, Any]:
        return {"reference": self.name, "version": self.version, "source": self.source, "module": "nuggetizer.models.nuggetizer",
                "assign_grades": self.assign_grades, "max_tokens": NUGGETIZER_MAX_TOKENS}

    def _model(self, channel: Channel) -> Any:
        from nuggetizer.core.types import NuggetAssignMode
        from nuggetizer.models.nuggetizer import Nuggetizer as Reference

        mode = NuggetAssignMode.SUPPORT_GRADE_2 if self.assign_grades == 2 else NuggetAssignMode.SUPPORT_GRADE_3
        model = Reference(model="ragsweep", api_keys="unused", assigner_mode=mode)  # the clients it builds are never called
        model.creator_llm = model.scorer_llm = model.assigner_llm = channel
        return model

    @staticmethod
    def run(tasks: Sequence[Callable[[Channel], Any]], complete: Callable[[list[Messages]], list[str | None]]) -> list[tuple[Any, Channel]]:
        """``run_batched`` with Nuggetizer's per-retry warnings kept out of the log (ragsweep counts them)."""
        with _quiet("nuggetizer.models.nuggetizer"):
            return run_batched(tasks, complete)

    def create(self, query_id: str, question: str, documents: Sequence[str], channel: Channel) -> dict[str, Any]:
        """The reference's scored nuggets of one query, ``{"nuggets": [{text, importance}], "dropped": n}``:
        importance as it wrote it (vital, okay, failed or whatever label the model gave), from ``documents`` in
        their order; ``dropped``, the nuggets it made but lost because the model labelled fewer than asked."""
        from nuggetizer.core.types import Document, Query, Request

        request = Request(Query(query_id, question), [Document(f"{query_id}-{i}", text) for i, text in enumerate(documents)])
        model = self._model(channel)
        sent: list[int] = []  # nuggets sent to be labelled, window by window (each prompt is built once per window)
        score_prompt = model._create_score_prompt
        model._create_score_prompt = lambda query, nuggets: (sent.append(len(nuggets)), score_prompt(query, nuggets))[1]
        nuggets = model.create(request)
        return {"nuggets": [{"text": str(n.text), "importance": str(n.importance)} for n in nuggets], "dropped": sum(sent) - len(nuggets)}

    def assign(self, question: str, answer: str, nuggets: Sequence[dict[str, str]], channel: Channel) -> list[dict[str, str]]:
        """The reference's assignment of one answer ({text, importance, assignment}); it drops a nugget the
        model gave no label for, as the reference does (the caller counts them)."""
        from nuggetizer.core.types import ScoredNugget

        scored = [ScoredNugget(text=n["text"], importance=n["importance"]) for n in nuggets]
        assigned = self._model(channel).assign(question, answer, scored)
        return [{"text": str(n.text), "importance": str(n.importance), "assignment": str(n.assignment)} for n in assigned]
