"""all-MiniLM-L6-v2 run with torch alone: its BERT encoder, mean pooling and L2 norm (what
sentence-transformers runs for this model), read from the package's safetensors and
tokenizer.json. sentence-transformers imports scipy, scikit-learn and transformers' whole
machinery for it: +176 MB resident before the model (measured 238 -> 414 MB), in a process
whose footprint bar is 700 MB. torch, safetensors and tokenizers are imported on load."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

# sentence_bert_config.json's max_seq_length: longer texts are cut there (tokenizer.json's own
# truncation, 128, is not what sentence-transformers uses).
MAX_TOKENS = 256


class MiniLM:
    """Not thread-safe (the embedder serialises calls). `encode` returns float32 rows of unit
    length, as SentenceTransformer.encode(normalize_embeddings=True) does."""

    def __init__(self, model_dir: Path) -> None:
        import torch
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        self._torch = torch
        config = json.loads((model_dir / "config.json").read_text())
        st = model_dir / "sentence_bert_config.json"
        self.max_tokens = (
            int(json.loads(st.read_text()).get("max_seq_length", MAX_TOKENS))
            if st.is_file()
            else MAX_TOKENS
        )
        pooling = model_dir / "1_Pooling" / "config.json"
        if pooling.is_file() and not json.loads(pooling.read_text()).get(
            "pooling_mode_mean_tokens", False
        ):
            raise ValueError("the model does not pool by the mean of its tokens")
        if config.get("hidden_act") != "gelu" or config.get("model_type") != "bert":
            raise ValueError("not a BERT model with GELU")
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.dim = int(config["hidden_size"])
        self.w = load_file(str(model_dir / "model.safetensors"))
        tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        tok.enable_truncation(self.max_tokens)
        tok.enable_padding(pad_id=int(config.get("pad_token_id", 0)), pad_token="[PAD]")
        self.tokenizer = tok

    def _linear(self, x: Any, name: str) -> Any:
        return self._torch.nn.functional.linear(x, self.w[name + ".weight"], self.w[name + ".bias"])

    def _norm(self, x: Any, name: str) -> Any:
        w = self.w
        return self._torch.nn.functional.layer_norm(
            x, (self.dim,), w[name + ".weight"], w[name + ".bias"], self.eps
        )

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        torch = self._torch
        F = torch.nn.functional
        enc = self.tokenizer.encode_batch(list(texts))
        ids = torch.tensor([e.ids for e in enc], dtype=torch.long)
        types = torch.tensor([e.type_ids for e in enc], dtype=torch.long)
        mask = torch.tensor([e.attention_mask for e in enc], dtype=torch.bool)
        n, length = ids.shape
        w = self.w
        with torch.inference_mode():
            x = (
                F.embedding(ids, w["embeddings.word_embeddings.weight"])
                + F.embedding(types, w["embeddings.token_type_embeddings.weight"])
                + w["embeddings.position_embeddings.weight"][:length]
            )
            x = self._norm(x, "embeddings.LayerNorm")
            head = self.dim // self.heads
            # Padding is masked out of every token's attention (a large negative score).
            bias = torch.zeros((n, 1, 1, length), dtype=x.dtype)
            bias.masked_fill_(~mask[:, None, None, :], torch.finfo(x.dtype).min)
            attention = F.scaled_dot_product_attention
            for i in range(self.layers):
                p = f"encoder.layer.{i}."
                q, k, v = (
                    self._linear(x, p + "attention.self." + part)
                    .view(n, length, self.heads, head)
                    .transpose(1, 2)
                    for part in ("query", "key", "value")
                )
                ctx = attention(q, k, v, attn_mask=bias).transpose(1, 2)
                ctx = ctx.reshape(n, length, self.dim)
                x = self._norm(
                    self._linear(ctx, p + "attention.output.dense") + x,
                    p + "attention.output.LayerNorm",
                )
                hidden = F.gelu(self._linear(x, p + "intermediate.dense"))
                x = self._norm(self._linear(hidden, p + "output.dense") + x, p + "output.LayerNorm")
            m = mask[:, :, None].to(x.dtype)
            pooled = (x * m).sum(1) / m.sum(1).clamp(min=1e-9)
            out = F.normalize(pooled, p=2.0, dim=1)
        return out.numpy().astype(np.float32, copy=False)
