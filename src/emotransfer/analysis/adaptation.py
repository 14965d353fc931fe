"""Layer-wise adaptation: which layers of an encoder changed when it was fine-tuned.

Two views per hidden-state index ``0..L`` (0 = the embedding before the first transformer
layer, ``i + 1`` = the output of transformer layer ``i``, as in transformers'
``output_hidden_states``):

- representation change: linear CKA (Kornblith et al. 2019) between the hidden states of the
  encoder before and after fine-tuning on the same held-out clips (1 = same representation
  up to rotation and scale);
- weight change: ``||W_after - W_before||_F / ||W_before||_F`` over the parameters that
  compute that hidden state.

Example:
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(50, 8))
    >>> round(linear_cka(x, 3.0 * x @ np.linalg.qr(rng.normal(size=(8, 8)))[0]), 6)
    1.0

Usage (two model folders, e.g. a checkpoint and its fine-tuned copy)::

    before, after = HFEncoder(model="models/wavlm-base"), HFEncoder(model="runs/wavlm-ft")
    report = adaptation_report(
        before, after, held_out_waves, num_layers=before.num_layers,
        state_before=AutoModel.from_pretrained("models/wavlm-base").state_dict(),
        state_after=AutoModel.from_pretrained("runs/wavlm-ft").state_dict(),
        layer_of=layer_index_for(AutoConfig.from_pretrained("models/wavlm-base")),
    )
"""

from __future__ import annotations

import functools
import math
import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, Protocol

import numpy as np
import torch

Pooling = Literal["mean", "frames"]
EncoderNorm = Literal["first", "last"]
POOLINGS = ("mean", "frames")
ENCODER_NORMS = ("first", "last")
MAX_FRAMES = 20_000
# Wrappers around the encoder's own names (PEFT, transformers task models, emotransfer's
# EmotionModel, DataParallel), stripped so that the same weight has the same name in a bare
# encoder and in a fine-tuned task model.
WRAPPER_PREFIXES = (
    "base_model.model.", "backbone.", "module.", "model.", "wav2vec2.", "hubert.", "wavlm.",
    "data2vec_audio.", "unispeech_sat.", "unispeech.", "encoder.",
)  # fmt: skip
# Modules before the first transformer layer: they compute hidden state 0.
EMBEDDING_MODULES = frozenset(
    {"feature_extractor", "feature_projection", "pos_conv_embed", "masked_spec_embed",
     "conv1", "conv2", "embed_positions"}
)  # fmt: skip
# Anchored at the start of the stripped name: `pos_conv_embed.layers.3` (data2vec-audio),
# `decoder.layers.0` or `adapter.layers.0` are not transformer layers of the encoder.
LAYER = re.compile(r"^layers?\.(\d+)\.")


class Encoder(Protocol):
    """Anything that turns waveforms into all ``L + 1`` hidden states, e.g. ``HFEncoder``."""

    def extract_batch(self, waves: list[np.ndarray]) -> list[np.ndarray]:
        """One ``(L + 1, T, D)`` array per waveform ``(samples,)``."""
        ...


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA between two representations ``(N, D1)`` and ``(N, D2)`` of the same examples.

    ``||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)`` on column-centred float64 features,
    evaluated through the ``N x N`` Gram matrices when that is cheaper (few examples, wide
    features). 1 for representations equal up to rotation and isotropic scaling; near 0 for
    independent ones when ``N`` is much larger than ``D``.

    Raises:
        ValueError: inputs are not 2-D with the same ``N >= 2``, or one has no variance.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(2000, 4))
        >>> round(linear_cka(x, x), 6), round(linear_cka(x, rng.normal(size=(2000, 4))), 2)
        (1.0, 0.0)
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or len(x) != len(y) or len(x) < 2:
        raise ValueError(f"need (N, D) arrays with the same N >= 2, got {x.shape} and {y.shape}")
    x, y = x - x.mean(axis=0), y - y.mean(axis=0)
    count, width_x, width_y = len(x), x.shape[1], y.shape[1]
    if count * (width_x + width_y) < width_x * width_y + width_x**2 + width_y**2:
        gram_x, gram_y = x @ x.T, y @ y.T
        cross, norm_x, norm_y = np.vdot(gram_x, gram_y), gram_x, gram_y
    else:
        cross = np.sum((y.T @ x) ** 2)
        norm_x, norm_y = x.T @ x, y.T @ y
    scale = np.linalg.norm(norm_x) * np.linalg.norm(norm_y)
    if scale == 0:
        raise ValueError("linear CKA is undefined for a representation without variance")
    return float(cross / scale)


def layer_index(
    name: str, *, num_layers: int | None = None, encoder_norm: EncoderNorm = "last"
) -> int | None:
    """The hidden-state index a transformers encoder parameter computes, or ``None``.

    Names are first stripped of wrapper prefixes (:data:`WRAPPER_PREFIXES`, e.g.
    ``base_model.model.``, ``wav2vec2.``, ``encoder.``). Then ``layers.<i>.`` / ``layer.<i>.``
    -> ``i + 1``; the convolutional feature encoder, feature projection and position
    embeddings -> 0; the encoder's own ``layer_norm`` -> ``num_layers`` for
    ``encoder_norm="last"`` (Whisper, wav2vec2-style ``do_stable_layer_norm`` models) or 0 for
    ``"first"`` (post-LN wav2vec2-style base models normalise *before* the first layer: use
    :func:`layer_index_for` to pick from a config); anything else (heads, decoders,
    adapters, LoRA weights of a head) -> ``None``. Note: in transformers 5 the final norm of
    stable-layer-norm wav2vec2-style models reaches ``last_hidden_state`` only, not
    ``hidden_states[L]``, so its change shows in the weights but not in the CKA of state L.

    Raises:
        ValueError: the name is the encoder norm and ``num_layers`` is missing, a layer
            index exceeds ``num_layers``, or ``encoder_norm`` is unknown.

    Example:
        >>> layer_index("base_model.model.encoder.layers.3.self_attn.q_proj.weight")
        4
        >>> layer_index("wav2vec2.feature_extractor.conv_layers.0.conv.weight")
        0
        >>> layer_index("encoder.layer_norm.weight", num_layers=12), layer_index("classifier.bias")
        (12, None)
    """
    if encoder_norm not in ENCODER_NORMS:
        raise ValueError(f"encoder_norm {encoder_norm!r}; known: {ENCODER_NORMS}")
    name = canonical_name(name)
    head = name.split(".", 1)[0]
    if match := LAYER.match(name):
        index = int(match.group(1)) + 1
        if num_layers is not None and index > num_layers:
            raise ValueError(f"{name!r} is past the encoder's {num_layers} layers")
        return index
    if head in EMBEDDING_MODULES:
        return 0
    if head == "layer_norm":
        if encoder_norm == "first":
            return 0
        if num_layers is None:
            raise ValueError(f"{name!r} is the encoder's final norm: pass num_layers")
        return num_layers
    return None


def layer_index_for(config: Any) -> Callable[[str], int | None]:
    """:func:`layer_index` set up for a transformers config (layer count, norm position).

    Example:
        >>> import transformers
        >>> layer_of = layer_index_for(transformers.Wav2Vec2Config())  # post-LN base model
        >>> layer_of("encoder.layer_norm.bias"), layer_of("encoder.layers.11.fc1.weight")
        (0, 12)
    """
    last = config.model_type == "whisper" or bool(getattr(config, "do_stable_layer_norm", False))
    return functools.partial(
        layer_index,
        num_layers=int(config.num_hidden_layers),
        encoder_norm="last" if last else "first",
    )


def canonical_name(name: str) -> str:
    """``name`` without the wrapper prefixes of :data:`WRAPPER_PREFIXES` (repeatedly) and
    without peft's ``.base_layer`` (the wrapped original of an adapted module).

    Example:
        >>> canonical_name("base_model.model.wav2vec2.encoder.layers.0.attention.k_proj.bias")
        'layers.0.attention.k_proj.bias'
    """
    name = name.replace(".base_layer.", ".")
    stripped = True
    while stripped:
        stripped = False
        for prefix in WRAPPER_PREFIXES:
            if name.startswith(prefix):
                name, stripped = name[len(prefix) :], True
    return name


def weight_change(
    before: Mapping[str, torch.Tensor],
    after: Mapping[str, torch.Tensor],
    layer_of: Callable[[str], int | None],
) -> dict[int, float]:
    """Relative weight change ``||W_after - W_before||_F / ||W_before||_F`` per layer.

    All floating-point tensors that ``layer_of`` maps to the same index count as one
    vector (squared differences and squared norms are summed, then the ratio's square root
    is taken). Names are matched after :func:`canonical_name` and ``layer_of`` receives the
    stripped name; names present in only one dict, and names mapped to ``None``, are
    ignored.

    LoRA/PEFT: adapter weights have no "before" value, and the effective change of a layer
    is the merged delta ``B @ A * scaling``. Pass a merged state dict as ``after``:
    :func:`~emotransfer.transfer.merge.merged_state_dict` of the model (any model with peft
    adapters, e.g. emotransfer's LoRA strategy), or
    ``peft_model.merge_and_unload().state_dict()``; unmerged LoRA weights of an encoder layer
    raise an error instead of silently counting as "unchanged".

    Returns:
        ``{layer index: relative change}`` for every layer with matched parameters, sorted by
        index (``inf`` if a layer's weights were all zero before and are not now).

    Raises:
        ValueError: no names match, no matched name belongs to a layer, shapes differ,
            a stripped name occurs twice, or ``after`` holds unmerged LoRA weights of a layer.

    Example:
        >>> before = {"encoder.layers.0.fc.weight": torch.ones(4)}
        >>> after = {"encoder.layers.0.fc.weight": 1.1 * torch.ones(4)}
        >>> {k: round(v, 3) for k, v in weight_change(before, after, layer_index).items()}
        {1: 0.1}
    """
    old, new = _by_canonical_name(before, layer_of), _by_canonical_name(after, layer_of)
    shared = sorted(old.keys() & new.keys())
    if not shared:
        raise ValueError("no parameter names match between the two state dicts")
    changes: dict[int, float] = defaultdict(float)
    norms: dict[int, float] = defaultdict(float)
    for name in shared:
        layer = layer_of(name)
        if layer is None or not old[name].is_floating_point():
            continue
        if old[name].shape != new[name].shape:
            raise ValueError(f"{name!r}: shape {tuple(old[name].shape)} before, "
                             f"{tuple(new[name].shape)} after")  # fmt: skip
        start, end = old[name].detach().double(), new[name].detach().double()
        changes[layer] += float(torch.sum((end - start) ** 2))
        norms[layer] += float(torch.sum(start**2))
    if not changes:
        raise ValueError(f"none of the {len(shared)} matching names belongs to an encoder layer")
    return {layer: _ratio(changes[layer], norms[layer]) for layer in sorted(changes)}


def _by_canonical_name(
    state: Mapping[str, torch.Tensor], layer_of: Callable[[str], int | None]
) -> dict[str, torch.Tensor]:
    renamed: dict[str, torch.Tensor] = {}
    for name, tensor in state.items():
        short = canonical_name(name)
        if short in renamed:
            raise ValueError(f"two parameters are named {short!r} once prefixes are stripped")
        if "lora_" in short and layer_of(short) is not None:
            raise ValueError(
                f"{name!r} is an unmerged LoRA weight of an encoder layer: pass the merged "
                "state dict (merged_state_dict(model) or merge_and_unload().state_dict())"
            )
        renamed[short] = tensor
    return renamed


def _ratio(squared_change: float, squared_norm: float) -> float:
    if squared_norm == 0:
        return 0.0 if squared_change == 0 else math.inf
    return math.sqrt(squared_change / squared_norm)


def representation_cka(
    states_before: Sequence[np.ndarray],
    states_after: Sequence[np.ndarray],
    *,
    pooling: Pooling = "mean",
    max_frames: int = MAX_FRAMES,
    seed: int = 0,
) -> list[float]:
    """Linear CKA per hidden state between an encoder's outputs before and after fine-tuning.

    Args:
        states_before: one ``(L + 1, T, D)`` array per clip, from the encoder before.
        states_after: the same clips, in the same order, from the encoder after.
        pooling: ``"mean"``: one time-averaged vector per clip (``N`` = clips);
            ``"frames"``: every frame is an example (``N`` = all frames, a random subset of
            at most ``max_frames``, the same frames on both sides, to bound memory).
        max_frames: frame budget of ``"frames"``.
        seed: seed of the frame subset.

    Returns:
        ``L + 1`` CKA values, index 0 first.

    Raises:
        ValueError: unknown pooling, no clips, clip counts or shapes ``(L + 1, T)`` differ
            between the two sides, or see :func:`linear_cka`.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> before = [rng.normal(size=(2, 5, 4)) for _ in range(6)]
        >>> after = [np.stack([s[0], s[1] + rng.normal(size=(5, 4))]) for s in before]
        >>> [round(v, 2) for v in representation_cka(before, after, pooling="frames")]
        [1.0, 0.46]
    """
    if pooling not in POOLINGS:
        raise ValueError(f"pooling {pooling!r}; known: {POOLINGS}")
    if not states_before or len(states_before) != len(states_after):
        raise ValueError(f"need the same clips on both sides, got {len(states_before)} "
                         f"and {len(states_after)}")  # fmt: skip
    for clip, (start, end) in enumerate(zip(states_before, states_after)):
        if start.ndim != 3 or start.shape[:2] != end.shape[:2]:
            raise ValueError(f"clip {clip}: states {start.shape} before, {end.shape} after; "
                             "expected (L + 1, T, D) with the same L + 1 and T")  # fmt: skip
    if len({states.shape[0] for states in states_before}) != 1:
        raise ValueError("clips differ in their number of hidden states")
    frames = _frame_subset([len(s[0]) for s in states_before], max_frames, seed)
    return [
        linear_cka(
            _examples(states_before, layer, pooling, frames),
            _examples(states_after, layer, pooling, frames),
        )
        for layer in range(states_before[0].shape[0])
    ]


def _frame_subset(lengths: list[int], max_frames: int, seed: int) -> list[np.ndarray]:
    """Frame indices kept per clip: all of them, or a uniform sample of ``max_frames``."""
    total = sum(lengths)
    if total <= max_frames:
        return [np.arange(length) for length in lengths]
    chosen = np.sort(np.random.default_rng(seed).choice(total, size=max_frames, replace=False))
    starts = np.cumsum([0, *lengths])
    return [chosen[(chosen >= a) & (chosen < b)] - a for a, b in zip(starts[:-1], starts[1:])]


def _examples(
    states: Sequence[np.ndarray], layer: int, pooling: Pooling, frames: list[np.ndarray]
) -> np.ndarray:
    if pooling == "mean":
        return np.stack([clip[layer].mean(axis=0, dtype=np.float64) for clip in states])
    return np.concatenate([clip[layer][kept] for clip, kept in zip(states, frames)])


def adaptation_report(
    encoder_before: Encoder,
    encoder_after: Encoder,
    waves: list[np.ndarray],
    *,
    state_before: Mapping[str, torch.Tensor],
    state_after: Mapping[str, torch.Tensor],
    num_layers: int,
    layer_of: Callable[[str], int | None] | None = None,
    pooling: Pooling = "mean",
) -> dict[str, Any]:
    """Representation and weight change per hidden state of a fine-tuned encoder.

    Args:
        encoder_before: the encoder before fine-tuning (e.g. ``HFEncoder`` on its folder).
        encoder_after: the fine-tuned encoder.
        waves: held-out clips ``(samples,)`` that both encoders see.
        state_before: parameters before fine-tuning (``model.state_dict()``).
        state_after: parameters after (LoRA merged: see :func:`weight_change`).
        num_layers: ``L``, the number of transformer layers.
        layer_of: parameter name -> hidden-state index; default :func:`layer_index` with
            the encoder norm at ``L``. Post-LN wav2vec2-style base models (wav2vec2-base,
            HuBERT/WavLM base, data2vec-audio) normalise before the first layer: pass
            ``layer_index_for(config)``.
        pooling: see :func:`representation_cka`.

    Returns:
        ``{"layers": [{"layer", "cka", "weight_change"}, ...] for 0..L (weight change
        ``None`` where no parameter maps to the layer), "most_adapted": layer indices by
        decreasing 1 - CKA, "pooling": pooling}``.

    Raises:
        ValueError: the encoders' outputs do not have ``num_layers + 1`` hidden states, or
            see :func:`representation_cka` and :func:`weight_change`.

    Example:
        >>> class Fixed:
        ...     def __init__(self, states): self.states = states
        ...     def extract_batch(self, waves): return self.states
        >>> rng = np.random.default_rng(0)
        >>> same = [rng.normal(size=(2, 3, 4)) for _ in range(5)]
        >>> moved = [np.stack([s[0], rng.normal(size=(3, 4))]) for s in same]
        >>> state = {"encoder.layers.0.fc.weight": torch.ones(3)}
        >>> report = adaptation_report(
        ...     Fixed(same), Fixed(moved), [np.zeros(8)] * 5, num_layers=1,
        ...     state_before=state, state_after={"encoder.layers.0.fc.weight": torch.zeros(3)})
        >>> report["most_adapted"], report["layers"][1]["weight_change"]
        ([1, 0], 1.0)
    """
    layer_of = layer_of or functools.partial(layer_index, num_layers=num_layers)
    states_before = encoder_before.extract_batch(waves)
    states_after = encoder_after.extract_batch(waves)
    for side, states in (("before", states_before), ("after", states_after)):
        if any(len(clip) != num_layers + 1 for clip in states):
            raise ValueError(f"encoder {side}: expected {num_layers + 1} hidden states per clip")
    cka = representation_cka(states_before, states_after, pooling=pooling)
    change = weight_change(state_before, state_after, layer_of)
    rows = [
        {"layer": layer, "cka": cka[layer], "weight_change": change.get(layer)}
        for layer in range(num_layers + 1)
    ]
    most_adapted = sorted(range(num_layers + 1), key=lambda layer: (cka[layer], layer))
    return {"layers": rows, "most_adapted": most_adapted, "pooling": pooling}
