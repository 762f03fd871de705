"""`pipeline(task, model=DIR, tokenizer=DIR)`: transformers' one-line inference, over the code
the commands run.

    fill-mask            `minibert fill-mask`'s fill_mask   [{score, token, token_str, sequence}]
    text-classification  `minibert predict`'s classify      [{label, score}], one per text
    text-generation      `minibert generate`'s generate_text [{generated_text}]

    fill_mask = pipeline("fill-mask", model="./KantaiBERT", tokenizer="./KantaiBERT")
    fill_mask("Human thinking involves human <mask>.")   # the 5 best, best first

`model` and `tokenizer` are folders, loaded as the commands load them (a head that was never
trained, or a causal LM for fill-mask and a masked LM for text-generation, is refused, as
there; to see its output anyway, load the model with from_pretrained and pass the object), or
objects already in memory (a transformers-style tokenizer is read through the tokenizer it
wraps). One text gives one answer; a list gives a list.
Results keep transformers' shapes, so the chapters' cells print what they printed there.
"sentiment-analysis" is transformers' other name for text-classification.

Left out on purpose: other tasks, fill-mask's `targets=`, text pairs, batching options, and
downloading a default model when none is named.
"""

from __future__ import annotations

import os

import torch

from minibert.auto import load_backend_tokenizer
from train.cli.cmd_fill_mask import fill_mask, load_masked_lm
from train.cli.cmd_generate import generate_text, load_causal_lm, prompt_ids
from train.cli.cmd_predict import classify, label_names
from train.cli.cmd_predict import load as load_classifier
from train.cli.errors import refuse_untrained_head
from train.data.datasets import backend
from train.device import pick_device


class Pipeline:
    """What the tasks share: loading model and tokenizer, the device, eval mode. Each task's
    class loads a model folder with its own `load`."""

    task = ""
    auto_class = ""  # the Auto class that loads this task's model, named in refusals

    @classmethod
    def how_to_allow(cls, directory) -> str:
        """The Python way past an untrained-head refusal: load the model and pass it."""
        return (f"load it yourself (model = {cls.auto_class}.from_pretrained({str(directory)!r}))"
                f" and pass pipeline({cls.task!r}, model=model, tokenizer={str(directory)!r})")

    def __init__(self, model, tokenizer=None, device=None):
        if tokenizer is None:
            if not isinstance(model, (str, os.PathLike)):
                raise ValueError(f"pipeline({self.task!r}): with a model object, pass "
                                 f"tokenizer= too (a folder or a tokenizer)")
            tokenizer = model
        if isinstance(model, (str, os.PathLike)):
            model = self.load(model)
        if isinstance(tokenizer, (str, os.PathLike)):
            tokenizer = load_backend_tokenizer(tokenizer)
        if device is not None:  # transformers' convention: -1 the CPU, k the k-th GPU
            name = "cpu" if device == -1 else f"cuda:{device}" if isinstance(device, int) \
                else str(device)
            model = model.to(pick_device(name, "device"))
        self.model, self.tokenizer = model.eval(), backend(tokenizer)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device


class FillMaskPipeline(Pipeline):
    task, auto_class = "fill-mask", "AutoModelForMaskedLM"

    @classmethod
    def load(cls, directory):
        return load_masked_lm(directory, how_to_allow=cls.how_to_allow(directory),
                              how_to_use="use pipeline('text-generation')")

    def __call__(self, inputs, top_k: int = 5):
        """The `top_k` best tokens for the one mask in each text, best first."""
        if isinstance(inputs, str):
            return fill_mask(self.model, self.tokenizer, inputs, top_k)
        return [fill_mask(self.model, self.tokenizer, text, top_k) for text in inputs]


class TextClassificationPipeline(Pipeline):
    task, auto_class = "text-classification", "AutoModelForSequenceClassification"

    @classmethod
    def load(cls, directory):
        model, _ = load_classifier(directory)
        refuse_untrained_head(model, directory, False, cls.how_to_allow(directory))
        return model

    def __call__(self, inputs, top_k: int | None = 1, max_length: int = 128):
        """The best label and its probability per text; top_k > 1 (or None: all labels)
        gives a list of them per text, best first."""
        texts = [inputs] if isinstance(inputs, str) else list(inputs)
        probs = classify(self.model, self.tokenizer, texts, None, self.device, max_length)  # (N, K)
        names = label_names(self.model)
        ranked = [sorted(({"label": n, "score": p} for n, p in zip(names, row.tolist())),
                         key=lambda d: -d["score"])[:top_k] for row in probs]
        if top_k == 1:  # one dict per text, in a list even for one text
            return [r[0] for r in ranked]
        return ranked[0] if isinstance(inputs, str) else ranked


class TextGenerationPipeline(Pipeline):
    task, auto_class = "text-generation", "AutoModelForCausalLM"

    @classmethod
    def load(cls, directory):
        return load_causal_lm(directory, how_to_allow=cls.how_to_allow(directory),
                              how_to_train="train one as a causal LM (RobertaForCausalLM, "
                                           "config is_decoder=True, with Trainer)")

    def __call__(self, text_inputs, max_new_tokens: int | None = None,
                 max_length: int | None = None, do_sample: bool = False,
                 temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
                 seed: int = 0):
        """The prompt and its continuation; greedy unless do_sample (transformers' default),
        sampling seeded by `seed` so a call repeats. max_new_tokens counts new tokens (50 when
        neither is given), max_length, as in transformers, the prompt's tokens and the new ones
        together; max_new_tokens wins when both are given."""
        def one(prompt: str) -> list[dict]:
            new = max_new_tokens
            if new is None and max_length is not None:
                new = max_length - len(prompt_ids(self.tokenizer, prompt))
                if new < 1:
                    raise ValueError(f"text-generation: max_length={max_length} leaves no room "
                                     f"after the prompt's {max_length - new} tokens; raise it, "
                                     f"or pass max_new_tokens")
            elif new is None:
                new = 50
            elif new < 1:
                raise ValueError(f"text-generation: max_new_tokens={new}, expected >= 1")
            text = generate_text(self.model, self.tokenizer, prompt, new,
                                 temperature if do_sample else 0.0, top_k, top_p, seed)
            return [{"generated_text": text}]

        return one(text_inputs) if isinstance(text_inputs, str) else [one(t) for t in text_inputs]


TASKS = {"fill-mask": FillMaskPipeline, "text-classification": TextClassificationPipeline,
         "sentiment-analysis": TextClassificationPipeline,
         "text-generation": TextGenerationPipeline}


def pipeline(task: str, model=None, tokenizer=None, device=None) -> Pipeline:
    """transformers' `pipeline` for the tasks in TASKS; see the module docstring."""
    if task not in TASKS:
        raise ValueError(f"pipeline: task {task!r} is not built; choose one of {sorted(TASKS)}")
    if model is None:
        raise ValueError(f"pipeline({task!r}): pass model= (a folder or a model); minibert "
                         f"downloads no default model")
    return TASKS[task](model, tokenizer, device)
