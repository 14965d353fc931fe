"""Which hidden state a transformers encoder parameter computes, from its name.

Hidden-state indices are ``0..L``: 0 = the embedding before the first transformer layer,
``i + 1`` = the output of transformer layer ``i`` (as in transformers' ``output_hidden_states``).
Names are compared without the wrappers (PEFT, task models, DataParallel) around the encoder.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import transformers

EncoderNorm = Literal["first", "last"]
ENCODER_NORMS = ("first", "last")
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


def layer_index_for(config: transformers.PretrainedConfig) -> Callable[[str], int | None]:
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
