"""Several conversations decoded together in one llama.cpp context: llama.cpp's batch API, as its `batched` example.

llama-cpp-python's chat API serves one conversation at a time, so each new token reads the whole model for one
sequence. Here every live sequence adds its next token to one ``llama_decode`` call: the weights are read once a
step for all of them, and the prompts are evaluated packed together. Each sequence keeps its own sampler chain
(the JSON schema's grammar, then greedy or temperature sampling), its own positions and its own stop.

Used by ``LlamaCppBackend.complete`` for every call, one conversation or many, so there is one decoding path.
"""

from __future__ import annotations

import ctypes
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

LOGITS_FOR_NONE, LOGITS_FOR_THIS = 0, 1


@dataclass
class Conversation:
    """One conversation being decoded: its stream (``seq_id``), prompt, limit, sampler, and what it has generated."""

    seq_id: int
    prompt: list[int]
    limit: int
    sampler: Any
    check: Any = None  # greedy under a grammar: the grammar alone, to check the unconstrained choice (see _next_token)
    free: Any = None  # greedy under a grammar: greedy alone, the unconstrained choice
    generated: list[int] = field(default_factory=list)
    done: bool = False
    error: str | None = None

    @property
    def position(self) -> int:
        """The position of the next token this sequence adds to the context."""
        return len(self.prompt) + len(self.generated)


@dataclass(frozen=True)
class Decoded:
    """One conversation's result: its prompt and generated tokens, or why it failed."""

    prompt_tokens: int
    tokens: list[int]
    error: str | None = None


def shared_prefix(prompts: Sequence[list[int]]) -> int:
    """The leading tokens a group's prompts all hold, evaluated once for the group: none for a lone prompt, and
    never a whole prompt (its last token must be evaluated in its own stream, for its logits)."""
    if len(prompts) < 2:
        return 0
    return max(0, min(len(os.path.commonprefix(list(prompts))), min(map(len, prompts)) - 1))


class BatchDecoder:
    """Decodes up to ``n_seq`` conversations at once in a context of its own over an already-loaded model.

    ``model`` is llama-cpp-python's ``Llama`` (its model pointer and vocabulary are shared; the weights are not
    loaded twice). The context holds ``n_seq`` streams of ``n_ctx_per_seq`` cells each (``kv_unified`` off: attention
    looks at each stream's own cells only; the common prefix is copied into each stream once it is evaluated)."""

    def __init__(self, model: Any, n_seq: int, n_ctx_per_seq: int, n_threads: int, n_batch: int = 512):
        import llama_cpp as lc

        self._lc, self.n_seq, self.n_ctx_per_seq, self.n_batch = lc, n_seq, n_ctx_per_seq, n_batch
        params = type(model.context_params).from_buffer_copy(model.context_params)  # llama-cpp-python's own settings
        params.n_ctx = n_seq * n_ctx_per_seq
        params.n_batch = params.n_ubatch = n_batch
        params.n_seq_max = n_seq
        params.n_threads = params.n_threads_batch = n_threads
        params.kv_unified = False
        self.model = model
        self._vocab = model._model.vocab
        self._ctx = lc.llama_init_from_model(model._model.model, params)
        if not self._ctx:
            raise RuntimeError(f"llama.cpp could not make a context of {n_seq} x {n_ctx_per_seq} cells")
        self._batch = lc.llama_batch_init(n_batch, 0, 1)

    def close(self) -> None:
        if self._ctx:
            self._lc.llama_batch_free(self._batch)
            self._lc.llama_free(self._ctx)
            self._ctx = None

    def __del__(self) -> None:
        try:
            self.close()
        except (AttributeError, TypeError):  # at interpreter exit llama_cpp's functions may be gone before us
            pass

    def _conversation(self, seq_id: int, prompt: list[int], limit: int, grammar: str | None, temperature: float, seed: int) -> Conversation:
        seq = Conversation(seq_id, prompt, limit, self._sampler(grammar, temperature, seed))
        if grammar is not None and temperature <= 0:
            seq.check = self._lc.llama_sampler_init_grammar(self._vocab, grammar.encode("utf-8"), b"root")
            seq.free = self._sampler(None, temperature, seed)
        return seq

    def _sampler(self, grammar: str | None, temperature: float, seed: int) -> Any:
        lc = self._lc
        chain = lc.llama_sampler_chain_init(lc.llama_sampler_chain_default_params())
        if grammar is not None:
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_grammar(self._vocab, grammar.encode("utf-8"), b"root"))
        if temperature <= 0:
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_greedy())
        else:
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_temp(temperature))
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_dist(seed))
        return chain

    def decode(self, prompts: Sequence[list[int]], limit: int, json_schema: dict[str, Any] | None = None,
               temperature: float = 0.0, seed: int = 0, on_done: Callable[[int], None] | None = None) -> list[Decoded]:
        """Each prompt (token ids) continued by at most ``limit`` tokens, up to an end-of-generation token.
        ``on_done(i)`` is called as conversation ``i`` ends (progress). A prompt that does not fit its stream with
        room for one token fails alone; a decode llama.cpp refuses fails the conversations in it."""
        from llama_cpp.llama_grammar import json_schema_to_gbnf

        grammar = json_schema_to_gbnf(json.dumps(json_schema)) if json_schema is not None else None
        results: list[Decoded] = []
        for start in range(0, len(prompts), self.n_seq):
            group = range(start, min(start + self.n_seq, len(prompts)))
            seqs = [self._conversation(i - start, list(prompts[i]), limit, grammar, temperature, seed) for i in group]
            try:
                self._run(seqs, on_done=(lambda j, start=start: on_done(start + j)) if on_done else None)
            finally:
                for seq in seqs:
                    for sampler in (seq.sampler, seq.check, seq.free):
                        if sampler is not None:
                            self._lc.llama_sampler_free(sampler)
                self._lc.llama_memory_clear(self._lc.llama_get_memory(self._ctx), True)
            results.extend(Decoded(len(seq.prompt), seq.generated, seq.error) for seq in seqs)
        return results

    def _run(self, seqs: list[Conversation], on_done: Callable[[int], None] | None) -> None:
        def finish(seq: Conversation, error: str | None = None) -> None:
            seq.done, seq.error = True, error
            if on_done:
                on_done(seq.seq_id)

        for seq in seqs:
            if not seq.prompt:
                finish(seq, "empty prompt")
            elif len(seq.prompt) + 1 > self.n_ctx_per_seq:
                finish(seq, f"prompt of {len(seq.prompt)} tokens does not fit the context of {self.n_ctx_per_seq}")
        self._prefill([s for s in seqs if not s.done], finish)
        while live := [s for s in seqs if not s.done]:
            self._step([(s, s.generated[-1], s.position - 1, True) for s in live], finish)

    def _prefill(self, seqs: list[Conversation], finish: Callable[..., None]) -> None:
        """The prompts into the context: their common prefix once (a rubric's instructions and examples are most of
        a verdict prompt), copied to every stream; then the rest of every prompt, packed into steps of ``n_batch``
        tokens, each prompt's first token sampled right after the step that holds its last."""
        shared = shared_prefix([s.prompt for s in seqs])
        if shared > 0:
            self._packed([(seqs[0], t, pos, False) for pos, t in enumerate(seqs[0].prompt[:shared])], finish)
            memory = self._lc.llama_get_memory(self._ctx)
            for seq in seqs[1:]:
                self._lc.llama_memory_seq_cp(memory, seqs[0].seq_id, seq.seq_id, -1, -1)
        self._packed([(s, t, pos, pos == len(s.prompt) - 1) for s in seqs for pos, t in enumerate(s.prompt) if pos >= shared], finish)

    def _packed(self, entries: list[tuple[Conversation, int, int, bool]], finish: Callable[..., None]) -> None:
        for start in range(0, len(entries), self.n_batch):
            self._step(entries[start:start + self.n_batch], finish)

    def _step(self, entries: list[tuple[Conversation, int, int, bool]], finish: Callable[..., None]) -> None:
        """One ``llama_decode`` of (sequence, token, position, wants logits) entries, then the next token of each
        sequence whose logits it made; a decode llama.cpp refuses fails the sequences in it."""
        entries = [e for e in entries if not e[0].done]
        if not entries:
            return
        batch = self._batch
        for i, (seq, token, pos, wants) in enumerate(entries):
            batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, pos, 1
            batch.seq_id[i][0] = seq.seq_id
            batch.logits[i] = LOGITS_FOR_THIS if wants else LOGITS_FOR_NONE
        batch.n_tokens = len(entries)
        status = self._lc.llama_decode(self._ctx, batch)
        if status != 0:
            for seq in {id(s): s for s, *_ in entries}.values():
                if not seq.done:
                    finish(seq, f"llama_decode returned {status}")
            return
        for i, (seq, _, _, wants) in enumerate(entries):
            if wants:
                self._next_token(seq, i, finish)

    def _next_token(self, seq: Conversation, logits_at: int, finish: Callable[..., None]) -> None:
        """The next token by the conversation's sampler. Greedy under a grammar, the grammar is asked about the
        unconstrained choice alone first: when it allows it, that is the constrained greedy choice too (the best
        token overall is the best allowed one), and the grammar need not be applied to the whole vocabulary, the cost
        of a grammar step (llama.cpp's own sampler does the same); only when it refuses is the constrained chain
        sampled. Both grammars then accept the token, so they stay in step."""
        lc = self._lc
        if seq.check is None:
            token = lc.llama_sampler_sample(seq.sampler, self._ctx, logits_at)
        else:
            token = lc.llama_sampler_sample(seq.free, self._ctx, logits_at)
            if self._allows(seq.check, token):
                lc.llama_sampler_accept(seq.sampler, token)
            else:
                token = lc.llama_sampler_sample(seq.sampler, self._ctx, logits_at)
            lc.llama_sampler_accept(seq.check, token)
        if lc.llama_vocab_is_eog(self._vocab, token):
            finish(seq)
            return
        seq.generated.append(token)
        if len(seq.generated) >= seq.limit or seq.position >= self.n_ctx_per_seq:
            finish(seq)

    def _allows(self, grammar: Any, token: int) -> bool:
        lc = self._lc
        one = lc.llama_token_data(id=token, logit=0.0, p=0.0)
        candidates = lc.llama_token_data_array(data=ctypes.pointer(one), size=1, selected=-1, sorted=False)
        lc.llama_sampler_apply(grammar, ctypes.byref(candidates))
        return math.isfinite(one.logit)
