"""The cached stage pipeline: load -> chunk -> index -> retrieve -> rerank -> generate -> judge -> assess.

Each stage's key chains its upstream key, so changing a component invalidates exactly the stages
downstream of it: a new generator reuses chunks, index and retrieval; a new chunker parameter redoes
chunking and everything after it. The index is built only when retrieval is not cached already.
Scoring is cheap and always recomputed (ragsweep.scoring). The assess stage (assessor=llm) keeps its LLM labels
in the assessment store by content instead of one entry per run (ragsweep.assessors.store), so labels are shared
across the configurations of a sweep.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from ragsweep.store.cache import COLUMNS, JSON, PICKLE, Codec, StageCache, stage_key
from ragsweep.engine.brackets import FULL_DOCUMENTS_MAX_TOKENS, bracket_contexts, check_brackets
from ragsweep.engine.code_identity import code_identity, component_code_version
from ragsweep.engine.contracts import check_chunks, check_ranking, check_rankings, check_selection, component_name, named
from ragsweep.errors import ContractError
from ragsweep.store.columns import chunks_from_table, chunks_table, documents_from_table, documents_table
from ragsweep.errors import ConfigError, DataError
from ragsweep.config_keys import without_keys
from ragsweep.hashing import sha256_text, sha256_json, sha256_paths
from ragsweep.assessors.store import AssessmentStore
from ragsweep.registry import ASSESSORS, BY_GROUP, CHUNKERS, GENERATORS, JUDGES, RERANKERS, RETRIEVERS, SELECTORS, with_target_name
from ragsweep.types import Chunk, Document, Generation, LLMCalls, PipelineResult, Query, Retrieved, StageStat
from ragsweep.data_files import missing_file_hint
from ragsweep.tasks.base import build_task, resolve_path
from ragsweep.tasks.keyword_file import apply_keywords, split_task_config
from ragsweep.tasks.qrels_file import apply_qrels

log = logging.getLogger(__name__)

# Bump a stage's version when the pipeline's own handling of that stage changes its output.
STAGE_VERSIONS = {"load": "4", "chunk": "3", "index": "1", "retrieve": "2", "rerank": "1", "select": "1", "generate": "3", "judge": "1", "assess": "1"}


@dataclass
class Components:
    """Every component of a run, built from its config before any work, so a bad name or parameter stops the
    run before the first stage. None where the config says ``none`` (or nothing would use it)."""

    task: Any
    keywords_file: Path | None
    qrels_file: Path | None
    headline_metric: str | None  # the task config's own choice, else the task class's
    chunker: Any
    retriever: Any
    reranker: Any | None
    selector: Any | None
    generator: Any | None
    judge: Any | None
    assessor: Any | None

    @classmethod
    def build(cls, cfg: dict[str, Any]) -> Components:
        task_parts = split_task_config(cfg["task"])
        generator = None if cfg["generator"]["name"] == "none" else GENERATORS.build(cfg["generator"])
        JUDGES.get(cfg["judge"]["name"])  # an unknown judge name fails even where no answer will be judged
        return cls(
            task=build_task(task_parts.own),
            keywords_file=task_parts.keywords,
            qrels_file=task_parts.qrels,
            headline_metric=task_parts.headline_metric,
            chunker=CHUNKERS.build(cfg["chunker"]),
            retriever=RETRIEVERS.build(cfg["retriever"]),
            reranker=None if cfg["reranker"]["name"] == "none" else RERANKERS.build(cfg["reranker"]),
            selector=None if cfg.get("selector", {"name": "none"})["name"] == "none" else SELECTORS.build(cfg["selector"]),
            generator=generator,
            judge=None if cfg["judge"]["name"] == "none" or generator is None else JUDGES.build(cfg["judge"]),
            assessor=None if cfg.get("assessor", {"name": "none"})["name"] == "none" else ASSESSORS.build(cfg["assessor"]),
        )


def plain_config(cfg: Any) -> dict[str, Any]:
    """A resolved config (or any mapping) as plain dicts and lists, the form every stage key hashes."""
    from omegaconf import DictConfig, OmegaConf

    plain = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    return {k: with_target_name(v) if k in BY_GROUP and isinstance(v, dict) else v for k, v in plain.items()}  # type: ignore[union-attr]


class Pipeline:
    """``plan_only`` (``ragsweep plan``): the stages that ask no language model run (and are cached for the run that
    follows); each LLM stage the cache does not hold is counted instead of asked (``planned``: stage -> the calls
    per model, None where its component cannot count them), its stage status "planned".

    ``questions`` (a race's batch: ``ragsweep sweep NAME --race``): only these query ids, in this order, go past the
    load stage. The retrieve stage's key holds the query set, so a batch pays for its own questions only."""

    def __init__(self, cfg: Any, cache: StageCache, progress: bool = True, plan_only: bool = False,
                 questions: Sequence[str] | None = None):
        self.cfg = plain_config(cfg)
        self.cache = cache
        self.progress = progress
        self.plan_only = plan_only
        self.questions = None if questions is None else list(questions)
        self.planned: dict[str, list[LLMCalls] | None] = {}
        self.stages: dict[str, StageStat] = {}
        self.failed_llm_results = 0
        self.code: dict[str, str | None] = {}

    def _code(self, component: object) -> str:
        """The code part of a component's stage key (ragsweep.engine.code_identity), noted for run.json: its class's
        module, and the modules it names in ``code_modules`` (those it loads by name at run time, such as an LLM
        backend), each with everything it imports."""
        modules = [type(component).__module__, *getattr(component, "code_modules", ())]
        for module in modules:
            self.code[module] = code_identity(module)
        identities = [self.code[m] for m in modules]
        if None in identities:
            identity = None  # some source cannot be found: never cached (component_code_version)
        elif len(modules) == 1:
            identity = identities[0]  # the common case, keyed as before
        else:
            identity = sha256_text("\n".join(f"{m} {i}" for m, i in zip(modules, identities)))
        return component_code_version(component, identity)

    def _stage(
        self, name: str, key: str, compute: Callable[[], Any], codec: Codec = JSON,
        final: Callable[[Any], bool] | None = None, retry: Callable[[Any], Any] | None = None,
    ) -> Any:
        t0 = time.perf_counter()
        value, hit = self.cache.get_or_compute(name, key, compute, codec, final, retry)
        self.stages[name] = StageStat("hit" if hit else "computed", time.perf_counter() - t0, key)
        log.info("stage %-8s %-8s %.2fs", name, self.stages[name].status, self.stages[name].wall_s)
        return value

    def _outputs(self) -> tuple[dict[str, Any] | None, Path | None]:
        """Another system's outputs to replay (``outputs.path``), and its file; (None, None) for a run of its own."""
        external = self.cfg.get("outputs") if (self.cfg.get("outputs") or {}).get("path") else None
        return external, resolve_path(str(external["path"])) if external else None

    def load_suite(self) -> tuple[list[Document], list[Query]]:
        """The run's suite, its documents and every question (the load stage only, cached like a run's)."""
        documents, queries = self._load(Components.build(self.cfg))[:2]
        return documents, queries

    def _load(self, parts: Components) -> tuple[list[Document], list[Query], dict[str, Any], str, list[Path], dict[str, str]]:
        """(documents, queries, the suite's description, the load key, the data files, their hashes)."""
        cfg = self.cfg
        task, keywords_file, qrels_file = parts.task, parts.keywords_file, parts.qrels_file
        outputs_file = self._outputs()[1]
        data_files = task.data_files() + [f for f in (keywords_file, qrels_file, outputs_file) if f]
        for path in data_files:  # the loaders' own checks name the record; this one names any file left
            if not path.exists():
                raise DataError(path, missing_file_hint(Path(path)))
        data_hashes = sha256_paths(data_files)
        load_key = stage_key("load", STAGE_VERSIONS["load"] + "/" + self._code(task), cfg["task"], None, data_hashes)

        def load() -> dict[str, Any]:
            docs, queries = task.checked_load()
            # With task.limit the files also annotate the questions the limit left out: not an error then.
            limited = bool(cfg["task"].get("limit"))
            if keywords_file:
                queries = apply_keywords(queries, keywords_file, limited)
            if qrels_file:
                queries = apply_qrels(queries, docs, qrels_file, limited)
            return {
                "documents": documents_table(docs),
                "queries": [q.to_dict() for q in queries],
                "description": {**task.describe(), **task.limit_note},
            }

        loaded = self._stage("load", load_key, load, COLUMNS)
        queries = [Query.from_dict(q) for q in loaded["queries"]]
        return documents_from_table(loaded["documents"]), queries, loaded["description"], load_key, data_files, data_hashes

    def run(self) -> PipelineResult:
        cfg = self.cfg
        parts = Components.build(cfg)
        task = parts.task
        external, outputs_file = self._outputs()
        documents, queries, description, load_key, data_files, data_hashes = self._load(parts)
        if self.questions is not None:
            queries = self._only(queries, self.questions)

        selected: list[Retrieved] | None = None
        if external is not None:
            chunks, retrieved, generations, retrieval_report, generate_key = self._replay(external, outputs_file, load_key, documents, queries, parts)
            reranked, chunking_wall_s = retrieved, 0.0
            by_id = {c.chunk_id: c for c in chunks}
        else:
            chunks, chunk_key, chunking_wall_s = self._chunk(parts.chunker, load_key, documents)
            retrieved, retrieve_key, retrieval_report = self._retrieve(parts.retriever, chunk_key, chunks, queries)
            by_id = {c.chunk_id: c for c in chunks}
            reranked, rerank_key = self._rerank(parts.reranker, retrieve_key, by_id, queries, retrieved)
            selected, select_key = self._select(parts.selector, rerank_key, by_id, queries, reranked)
            generations, generate_key = self._generate(parts.generator, select_key, by_id, queries, reranked if selected is None else selected,
                                                       selected is not None)
        brackets = self._brackets(parts.generator, load_key, documents, queries) if external is None else {}
        judgements = self._judge(parts.judge, generate_key, by_id, queries, generations)
        judged = bool(judgements)
        assessments, assessment_stats = self._assess(parts.assessor, documents, chunks, queries, reranked, generations)
        return PipelineResult(
            documents=documents, queries=queries, chunks=chunks, retrieved=retrieved, reranked=reranked, generations=generations, selected=selected or [],
            bracket_generations=brackets,
            judgements=judgements, stages=self.stages, data_hashes=data_hashes, language=task.language,
            task_description=description, breakdown_keys=task.breakdown_keys, headline_metric=parts.headline_metric or task.headline_metric,
            chunking_wall_s=chunking_wall_s, retrieval_report=retrieval_report, data_files=[os.path.abspath(p) for p in data_files],
            failed_llm_results=self.failed_llm_results, code=dict(sorted(self.code.items())),
            lower_is_better=list(parts.judge.lower_is_better) if judged else [],
            headline_extra=list(parts.judge.headline_columns) if judged else [],
            column_judges=dict(parts.judge.column_judges) if judged else {},
            assessments=assessments, assessment_stats=assessment_stats,
            assessor_judges=parts.assessor.judges() if parts.assessor is not None else {},
        )

    @staticmethod
    def _only(queries: list[Query], ids: Sequence[str]) -> list[Query]:
        by_id = {q.query_id: q for q in queries}
        if missing := [i for i in ids if i not in by_id]:
            raise ConfigError(f"questions {', '.join(map(repr, missing[:3]))} are not in this suite ({len(missing)} of {len(ids)} asked)")
        return [by_id[i] for i in ids]

    def _chunk(self, chunker: Any, load_key: str, documents: list[Document]) -> tuple[list[Chunk], str, float]:
        """(chunks, the chunk stage's key, the chunker's wall time)."""
        chunk_key = stage_key("chunk", STAGE_VERSIONS["chunk"] + "/" + self._code(chunker), self.cfg["chunker"], load_key)

        def chunk() -> dict[str, Any]:
            t0 = time.perf_counter()
            try:
                chunks = chunker.chunk(documents, self.progress)
            except ContractError as err:
                raise named("chunker", chunker, err) from None
            check_chunks(chunker, documents, chunks)
            return {"chunks": chunks_table(chunks), "wall_s": time.perf_counter() - t0}

        chunked = self._stage("chunk", chunk_key, chunk, COLUMNS)
        return chunks_from_table(chunked["chunks"]), chunk_key, chunked["wall_s"]

    def _replay(self, external: dict[str, Any], path: Path, load_key: str, documents: list[Document], queries: list[Query],
                parts: Components) -> tuple[list[Chunk], list[Retrieved], list[Generation], dict[str, Any], str | None]:
        """Another system's outputs (``outputs.path``) in place of chunking, retrieval and generation: (its passages as
        chunks, its rankings, its answers, what was replayed, the key the judge builds on). The file's bytes are in the
        load key (it is one of the run's data files), so the judge's key changes with them."""
        from ragsweep.external.readers import read_outputs
        from ragsweep.external.replay import replay

        if parts.reranker is not None:
            raise ConfigError("outputs are scored as the file ranks them: reranker must be none with outputs.path")
        t0 = time.perf_counter()
        outputs = read_outputs(path, str(external.get("format", "auto")), queries, documents,
                               bool(self.cfg["task"].get("limit")))
        chunks, retrieved, generations, report = replay(outputs, queries, documents)
        for stage in ("chunk", "index", "retrieve", "generate"):
            self.stages[stage] = StageStat("replayed", time.perf_counter() - t0 if stage == "chunk" else 0.0)
        log.info("outputs %s: %d of %d queries, %d passages, %s", external["path"], report["queries_with_output"], len(queries), report["passages"],
                 f"{report['answers']} answers" if generations is not None else "no answers")
        key = stage_key("generate", STAGE_VERSIONS["generate"] + "/outputs", {"outputs": external}, load_key) if generations is not None else None
        return chunks, retrieved, generations or [], {"outputs": report}, key

    def _retrieve(self, retriever: Any, chunk_key: str, chunks: list[Chunk], queries: list[Query]) -> tuple[list[Retrieved], str, dict[str, Any]]:
        """(rankings, the retrieve stage's key, what the search reports)."""
        cfg = self.cfg
        index_key = stage_key("index", STAGE_VERSIONS["index"] + "/" + self._code(retriever), cfg["retriever"], chunk_key)
        query_set = sha256_json([[q.query_id, q.question] for q in queries])
        where = retriever.search_identity()  # empty unless the search runs elsewhere than on the CPU
        retrieve_key = stage_key(
            "retrieve", STAGE_VERSIONS["retrieve"], {"top_k": cfg["top_k"], "queries": query_set, **({"search": where} if where else {})}, index_key
        )
        build_index = lambda: self._stage("index", index_key, lambda: retriever.index(chunks), PICKLE, final=retriever.usable)  # noqa: E731
        artifact = None
        if self.cache.contains("retrieve", retrieve_key):
            hit = self.cache.contains("index", index_key, PICKLE)
            self.stages["index"] = StageStat("hit" if hit else "not needed", 0.0, index_key)
        else:
            artifact = build_index()

        def retrieve() -> dict[str, Any]:
            # A retrieval entry found corrupt is recomputed: only then is the index built here.
            ranked = retriever.search(artifact if artifact is not None else build_index(), [q.question for q in queries], cfg["top_k"])
            ranked = check_rankings("retriever", retriever, [q.query_id for q in queries], ranked, len(chunks), cfg["top_k"])
            rows = [
                Retrieved(q.query_id, tuple(chunks[i].chunk_id for i, _ in r), tuple(s for _, s in r)).to_dict()
                for q, r in zip(queries, ranked)
            ]
            # What the search itself reports (an approximate search's recall against exact search): kept
            # with the rankings, so a cached run reports it too.
            return {"rows": rows, "report": dict(getattr(retriever, "report", {}))}

        out = self._stage("retrieve", retrieve_key, retrieve)
        return [Retrieved.from_dict(r) for r in out["rows"]], retrieve_key, out["report"]

    def _rerank(
        self, reranker: Any | None, upstream: str, by_id: dict[str, Chunk], queries: list[Query], retrieved: list[Retrieved]
    ) -> tuple[list[Retrieved], str]:
        """(final rankings, their key: the rerank stage's, or the retrieve stage's where there is no reranker)."""
        cfg = self.cfg
        if reranker is None:
            self.stages["rerank"] = StageStat("skipped")
            return retrieved, upstream
        candidates = cfg["rerank_candidates"]
        key = stage_key("rerank", STAGE_VERSIONS["rerank"] + "/" + self._code(reranker), {**cfg["reranker"], "candidates": candidates}, upstream)

        def rerank() -> list[dict[str, Any]]:
            from tqdm.auto import tqdm

            out = []
            for q, r in tqdm(list(zip(queries, retrieved)), desc="rerank", disable=not self.progress, leave=False):
                pool = [by_id[cid] for cid in r.chunk_ids[:candidates]]
                order = check_ranking(component_name("reranker", reranker), q.query_id, reranker.rerank(q.question, pool), len(pool), len(pool))
                out.append(Retrieved(q.query_id, tuple(pool[i].chunk_id for i, _ in order), tuple(s for _, s in order)).to_dict())
            return out

        return [Retrieved.from_dict(r) for r in self._stage("rerank", key, rerank)], key

    def _select(
        self, selector: Any | None, upstream: str, by_id: dict[str, Chunk], queries: list[Query], ranked: list[Retrieved]
    ) -> tuple[list[Retrieved] | None, str]:
        """(each question's context as the selector chose it, in the order given; its key). Without a selector: (None,
        the upstream key), and the generator takes its own top ``context_k``: the run has no select stage at all (a
        run from before selectors reads the same)."""
        if selector is None:
            return None, upstream
        key = stage_key("select", STAGE_VERSIONS["select"] + "/" + self._code(selector), self.cfg["selector"], upstream)

        def select() -> list[dict[str, Any]]:
            out = []
            for q, r in zip(queries, ranked):
                pool = [by_id[cid] for cid in r.chunk_ids]
                chosen = check_selection(component_name("selector", selector), q.query_id, selector.select(q.question, pool, list(r.scores)), len(pool))
                out.append(Retrieved(q.query_id, tuple(pool[i].chunk_id for i in chosen), tuple(r.scores[i] for i in chosen)).to_dict())
            return out

        return [Retrieved.from_dict(r) for r in self._stage("select", key, select)], key

    def _generate(
        self, generator: Any | None, upstream: str, by_id: dict[str, Chunk], queries: list[Query], ranked: list[Retrieved], selected: bool = False
    ) -> tuple[list[Generation], str | None]:
        """(answers, the generate stage's key; None without a generator). ``selected``: ``ranked`` is a selector's
        context, given whole; else the generator takes its top ``context_k``."""
        if generator is None:
            self.stages["generate"] = StageStat("skipped")
            return [], None
        contexts = [[by_id[cid] for cid in (r.chunk_ids if selected else r.chunk_ids[: generator.context_k])] for r in ranked]
        answers, key = self._answers("generate", generator, {}, upstream, queries, contexts)
        if answers is None:  # planned: each answer at its max_tokens bound, for the stages that read answers
            calls = (self.planned["generate"] or [])[0]
            bound = " ".join(["answer"] * (calls.completion_tokens // max(calls.calls, 1)))
            return [Generation(q.query_id, bound, tuple(c.chunk_id for c in ctx)) for q, ctx in zip(queries, contexts)], key
        return answers, key

    def _answers(self, stage: str, generator: Any, params: dict[str, Any], upstream: str, queries: list[Query],
                 contexts: list[list[Chunk]]) -> tuple[list[Generation] | None, str]:
        """One stage of the generator's answers to ``queries`` from ``contexts`` (the run's own, or a bracket's): keyed
        by the generator, its prompt and ``params``, chained to ``upstream``. In plan mode, where the cache lacks it
        and the generator can count its calls, they are counted instead (None for the answers)."""
        prompt = {"system": generator.system_prompt, "user": generator.user_template, "context_k": generator.context_k}
        if generator.examples:  # few-shot turns are part of the prompt (absent: the key stays as it was)
            prompt["examples"] = generator.examples
        key = stage_key("generate", STAGE_VERSIONS["generate"] + "/" + self._code(generator),
                        {"generator": without_keys(self.cfg["generator"]), "prompt": prompt, **params}, upstream)
        if self.plan_only and not self.cache.contains(stage, key):
            calls = generator.planned_calls(queries, contexts)
            if calls is not None:
                self._planned(stage, key, [calls])
                return None, key
        generated = self._llm_stage(
            stage, key, lambda idx: [g.to_dict() for g in generator.generate([queries[i] for i in idx], [contexts[i] for i in idx])],
            len(queries), failed=lambda g: bool(g.get("error")),
        )
        return [Generation.from_dict(g) for g in generated], key

    def _brackets(self, generator: Any | None, load_key: str, documents: list[Document], queries: list[Query]) -> dict[str, list[Generation]]:
        """The run's generator answering in each of ``brackets`` (engine/brackets.py): keyed by the suite and the
        generator only, so every configuration of a sweep takes them from the cache after the first."""
        out: dict[str, list[Generation]] = {}
        kinds = check_brackets(self.cfg.get("brackets") or [])
        if kinds and generator is None:
            raise ConfigError("brackets answer with the run's generator: this run has none (generator=none)")
        query_set = sha256_json([q.query_id for q in queries])  # a race's batch answers its own questions
        max_tokens = int(self.cfg.get("bracket_max_tokens") or FULL_DOCUMENTS_MAX_TOKENS)
        # What builds the brackets' contexts decides their answers: its code is in their keys, as a component's is.
        contexts_code = self.code.setdefault(bracket_contexts.__module__, code_identity(bracket_contexts.__module__))
        for kind in kinds:
            params = {"bracket": kind, "queries": query_set, "contexts_code": contexts_code,
                      **({"max_tokens": max_tokens} if kind == "full_documents" else {})}
            answers, _ = self._answers(f"bracket_{kind}", generator, params, load_key, queries, bracket_contexts(kind, queries, documents, max_tokens))
            if answers is not None:  # planned otherwise
                out[kind] = answers
        return out

    def _judge(
        self, judge: Any | None, upstream: str | None, by_id: dict[str, Chunk], queries: list[Query], generations: list[Generation]
    ) -> list[dict[str, Any]]:
        """Verdicts keyed by the generate key + the judge config (models, rubrics, prompt texts)."""
        cfg = self.cfg
        if judge is None or upstream is None:
            self.stages["judge"] = StageStat("skipped")
            return []
        key = stage_key("judge", STAGE_VERSIONS["judge"] + "/" + self._code(judge), without_keys(cfg["judge"]), upstream)
        if self.plan_only and not self.cache.contains("judge", key):
            self._planned("judge", key, judge.planned_calls(queries, generations, by_id))
            return []

        return self._llm_stage(
            "judge", key, lambda idx: judge.judge([queries[i] for i in idx], generations, by_id), len(queries),
            failed=lambda v: any(e for errors in v["errors"].values() for e in errors),
        )

    def _assess(
        self, assessor: Any | None, documents: list[Document], chunks: list[Chunk], queries: list[Query], ranked: list[Retrieved],
        generations: list[Generation],
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Labels and nuggets, from the assessment store where it has them (keyed by content, the assessor's identity
        and its code), else asked now. A hit when nothing had to be asked; its failed calls count as failed results."""
        if assessor is None:
            self.stages["assess"] = StageStat("skipped")
            return [], {}
        t0 = time.perf_counter()
        store = AssessmentStore(self.cache, {"version": STAGE_VERSIONS["assess"], "code": self._code(assessor)})
        if self.plan_only:  # its answers are kept by content across runs: what the store lacks is counted
            calls = assessor.planned_calls(store, queries, documents, chunks, ranked, generations)
            if calls is not None and not any(c.calls for c in calls):
                self.stages["assess"] = StageStat("hit", time.perf_counter() - t0, store.identity)
            else:
                self._planned("assess", store.identity, calls)
            return [], {}
        assessments, stats = assessor.assess(store, queries, documents, chunks, ranked, generations)
        asked = [v for v in stats.values() if isinstance(v, dict) and "new" in v]
        self.failed_llm_results += sum(v["failed"] for v in asked)
        status = "computed" if any(v["new"] or v["invalid"] or v["failed"] for v in asked) else "hit"
        self.stages["assess"] = StageStat(status, time.perf_counter() - t0, store.identity)
        log.info("stage %-8s %-8s %.2fs", "assess", status, self.stages["assess"].wall_s)
        return assessments, stats

    def _planned(self, name: str, key: str, calls: list[LLMCalls] | None) -> None:
        self.planned[name] = calls
        self.stages[name] = StageStat("planned", 0.0, key)
        log.info("stage %-8s planned: %s", name, "not counted" if calls is None else
                 ", ".join(f"{c.calls} calls to {c.model}, {c.prompt_tokens} prompt tokens" for c in calls))

    def _llm_stage(self, name: str, key: str, compute: Callable[[list[int]], list[Any]], n: int, failed: Callable[[Any], bool]) -> list[Any]:
        """A stage of one LLM result per query, ``compute(query indices)``. An entry holding failed calls is
        not final: the next run recomputes only the failed queries and keeps the rest."""

        def retry(cached: list[Any]) -> list[Any]:
            redo = [i for i, item in enumerate(cached) if failed(item)]
            log.warning("%s: %d failed LLM results in the cache are retried (%d successful ones kept)", name, len(redo), len(cached) - len(redo))
            out = list(cached)
            for i, item in zip(redo, compute(redo)):
                out[i] = item
            return out

        out = self._stage(name, key, lambda: compute(list(range(n))), final=lambda cached: not any(failed(x) for x in cached), retry=retry)
        self.failed_llm_results += sum(1 for x in out if failed(x))
        return out
