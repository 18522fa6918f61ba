"""Causal language models shared by the hf generator and the LM-based chunkers.

``token_nlls`` scores a long token sequence in windows with the KV cache carried, which equals one
forward pass over the whole sequence as long as it fits ``max_context``; past that the context restarts
from the last ``context_overlap`` tokens, so positions stay within what the model was trained on.
"""

from __future__ import annotations

import functools
import logging
from typing import Sequence

import numpy as np

from ragsweep import runtime
from ragsweep.models.weights import resolve

log = logging.getLogger(__name__)


def pick_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@functools.lru_cache(maxsize=2)
def load_tokenizer(model_id: str):
    """The model's tokenizer alone, left-padded for batches: counting a plan's tokens needs no weights."""
    from transformers import AutoTokenizer

    resolved = resolve(model_id)
    with runtime.current().working(f"loading {model_id}'s tokenizer"):
        tokenizer = AutoTokenizer.from_pretrained(resolved.path, **({"gguf_file": resolved.gguf_file} if resolved.gguf_file else {}))
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def chat_prompt_tokens(tokenizer, messages) -> int:
    """A conversation's prompt tokens through the tokenizer's chat template with the reply's opening, as a chat
    completion sends it (transformers' generate here, vLLM's chat)."""
    prompt = tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=False)
    return len(tokenizer(prompt, add_special_tokens=False)["input_ids"])


@functools.lru_cache(maxsize=2)
def load_causal_lm(model_id: str, device: str, random_weights: bool = False):
    """Tokenizer and model. ``random_weights``: the architecture its config describes, seeded random weights and
    nothing loaded (vLLM's ``load_format="dummy"``): to measure serving speed for a model shape without weights."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    tokenizer = load_tokenizer(model_id)
    resolved = resolve(model_id)
    log.info("loading causal LM %s from %s (%s%s)", model_id, resolved.path, resolved.source, ", random weights" if random_weights else "")
    kwargs = {"gguf_file": resolved.gguf_file} if resolved.gguf_file else {}
    with runtime.current().working(f"loading {model_id}"):  # a GGUF conversion takes minutes on 2 cores: never silent
        if random_weights:
            torch.manual_seed(0)
            model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(resolved.path, **kwargs)).to(device).eval()
        else:
            model = AutoModelForCausalLM.from_pretrained(resolved.path, **kwargs).to(device).eval()
    return tokenizer, model


def with_cache(model, cache) -> dict:
    """forward()'s key/value cache argument: ``cache`` in transformers >= 5.2x (``past_key_values`` is deprecated
    there, to go in 5.40), ``past_key_values`` before."""
    import inspect

    return {"cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values": cache}


def returned_cache(output):
    """The key/value cache a forward pass returned, under either name."""
    cache = getattr(output, "cache", None)
    return cache if cache is not None else output.past_key_values


def token_nlls(model, ids: Sequence[int], window: int = 512, max_context: int = 4096, context_overlap: int = 256) -> np.ndarray:
    """``nll[t] = -ln p(ids[t] | ids[:t])`` (natural log); ``nll[0]`` and any token right after a
    context restart without overlap are NaN (nothing to condition on)."""
    import torch

    n = len(ids)
    out = np.full(n, np.nan)
    past, prev_logits, cache_len, pos = None, None, 0, 0
    device = next(model.parameters()).device
    with torch.no_grad():
        while pos < n:
            end = min(pos + window, n)
            if past is not None and cache_len + (end - pos) > max_context:
                context = list(ids[max(0, pos - context_overlap) : pos])
                past, prev_logits, cache_len = None, None, 0
                if context:
                    o = model(torch.tensor([context], device=device), use_cache=True)
                    past, prev_logits, cache_len = returned_cache(o), o.logits[0, -1], len(context)
            o = model(torch.tensor([list(ids[pos:end])], device=device), **with_cache(model, past), use_cache=True)
            logp = torch.log_softmax(o.logits[0].float(), dim=-1)
            if prev_logits is not None:
                out[pos] = -torch.log_softmax(prev_logits.float(), dim=-1)[ids[pos]].item()
            if end - pos > 1:
                targets = torch.tensor(list(ids[pos + 1 : end]), device=device)
                out[pos + 1 : end] = -logp[:-1].gather(1, targets[:, None]).squeeze(1).cpu().numpy()
            past, prev_logits, cache_len, pos = returned_cache(o), o.logits[0, -1], cache_len + end - pos, end
    return out
