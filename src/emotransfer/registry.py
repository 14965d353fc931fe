"""One table per component kind: ``name -> "module:Class"``, imported only when built.

A new corpus, upstream, encoder, model, fusion, strategy, head, split, corruption or
few-shot method is one line here plus its own file. Out-of-tree
plug-ins are reached with a class path such as ``"my_pkg.module:MyCorpus"``, imported only
when the caller lists it in ``plugins``: the user's own config (``plugins:``) or command line
(``--plugin``). A name read from a run folder (``model.json``) is therefore a registered name
or refused, so a shared run folder can never make emotransfer import code.

Example:
    >>> "emodb" in names("corpus")
    True
    >>> build("head", "svm", C=1.0).C
    1.0
    >>> resolve("head", "collections:OrderedDict")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    emotransfer.registry.PluginError: head 'collections:OrderedDict' is a class path; ...
    >>> resolve("head", "collections:OrderedDict", plugins=["collections:OrderedDict"])
    <class 'collections.OrderedDict'>
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
from collections.abc import Collection
from pathlib import Path
from typing import Any

TABLES: dict[str, dict[str, str]] = {
    "corpus": {
        "csv": "emotransfer.data.corpora.csv:CsvCorpus",
        "folder": "emotransfer.data.corpora.folder:FolderCorpus",
        "audformat": "emotransfer.data.corpora.audformat_db:AudformatCorpus",
        "hf_dataset": "emotransfer.data.corpora.hf_dataset:HFDatasetCorpus",
        "emodb": "emotransfer.data.corpora.emodb:EmoDB",
        "ravdess": "emotransfer.data.corpora.ravdess:RAVDESS",
        "crema_d": "emotransfer.data.corpora.crema_d:CremaD",
        "tess": "emotransfer.data.corpora.tess:TESS",
        "savee": "emotransfer.data.corpora.savee:SAVEE",
        "emovo": "emotransfer.data.corpora.emovo:EMOVO",
        "shemo": "emotransfer.data.corpora.shemo:ShEMO",
        "urdu": "emotransfer.data.corpora.urdu:URDU",
        "iemocap": "emotransfer.data.corpora.iemocap:IEMOCAP",
        "msp_podcast": "emotransfer.data.corpora.msp_podcast:MSPPodcast",
        "meld": "emotransfer.data.corpora.meld:MELD",
        "synthetic": "emotransfer.data.corpora.synthetic:SyntheticCorpus",
    },
    "upstream": {
        "egemaps": "emotransfer.features.opensmile:EGeMAPS",
        "compare": "emotransfer.features.opensmile:ComParE",
        "opensmile": "emotransfer.features.opensmile:OpenSmile",
        "logmel": "emotransfer.features.logmel:LogMel",
        "hf": "emotransfer.features.hf:HFEncoder",
        "resemblyzer": "emotransfer.features.resemblyzer:Resemblyzer",
        "stack": "emotransfer.features.stack:StackedUpstream",
        "posteriors": "emotransfer.inference.posteriors:RunPosteriors",
    },
    "encoder": {
        "hf": "emotransfer.encoders.hf_audio:HFAudioEncoder",
        "hf_text": "emotransfer.encoders.hf_text:HFTextEncoder",
        "frames": "emotransfer.encoders.frames:FrameFeatures",
        "logmel": "emotransfer.encoders.logmel:LogMelEncoder",
        "leaf": "emotransfer.encoders.leaf:Leaf",
        "upstream": "emotransfer.encoders.upstream:UpstreamEncoder",
    },
    "model": {
        "pooled": "emotransfer.models.emotion_model:EmotionModel",
    },
    "fusion": {
        "identity": "emotransfer.models.fusion:IdentityFusion",
        "concat": "emotransfer.models.fusion:ConcatFusion",
        "late": "emotransfer.models.late_fusion:LateFusion",
        "attention": "emotransfer.models.attention_fusion:CrossAttentionFusion",
        "hopping": "emotransfer.models.modality_hopping:ModalityHopping",
        "key_sparse": "emotransfer.models.key_sparse_fusion:KeySparseCrossFusion",
    },
    "body": {
        "identity": "emotransfer.models.bodies:IdentityBody",
        "mscnn": "emotransfer.models.multiscale:MultiScaleCNN",
        "lkcnn": "emotransfer.models.large_kernel:LargeKernelCNN",
        "kst": "emotransfer.models.key_sparse:KeySparseTransformer",
        "specaugment": "emotransfer.models.masking:SpecAugmentBody",
    },
    "pooling": {
        "mean": "emotransfer.models.frame_pooling:MeanPooling",
        "mean_std": "emotransfer.models.frame_pooling:MeanStdPooling",
        "attentive": "emotransfer.models.frame_pooling:AttentiveStatsPooling",
        "stats": "emotransfer.models.frame_pooling:StatisticsPooling",
    },
    "split": {
        "loso": "emotransfer.data.split_kinds:LeaveOneSpeakerOut",
        "leave_one_session_out": "emotransfer.data.split_kinds:LeaveOneSessionOut",
        "speaker_kfold": "emotransfer.data.split_kinds:SpeakerKFold",
        "predefined": "emotransfer.data.split_kinds:Predefined",
        "cross_corpus": "emotransfer.data.split_kinds:CrossCorpus",
        "disjoint": "emotransfer.data.split_disjoint:SpeakerContentDisjoint",
    },
    "strategy": {
        "frozen": "emotransfer.transfer.probe:FrozenEncoder",
        "finetune": "emotransfer.transfer.finetune:FineTune",
        "full": "emotransfer.transfer.finetune:FullFineTune",
        "lora": "emotransfer.transfer.lora:LoRA",
        "adapters": "emotransfer.transfer.adapters:Adapters",
    },
    "corruption": {
        "noise": "emotransfer.data.corruptions.noise:AddNoise",
        "reverb": "emotransfer.data.corruptions.reverb:Reverb",
        "band_limit": "emotransfer.data.corruptions.band_limit:BandLimit",
        "codec": "emotransfer.data.corruptions.codec:Codec",
        "clip": "emotransfer.data.corruptions.level:Clip",
        "gain": "emotransfer.data.corruptions.level:Gain",
        "chain": "emotransfer.data.corruptions.chain:Chain",
    },
    "head": {
        "logreg": "emotransfer.models.heads:LogisticRegressionHead",
        "svm": "emotransfer.models.heads:SVMHead",
        "ridge": "emotransfer.models.heads:RidgeHead",
        "mlp": "emotransfer.models.mlp:MLPHead",
        "layer_sum": "emotransfer.models.layers:LayerSumHead",
        "dann": "emotransfer.models.dann:DANNHead",
        "multitask": "emotransfer.models.multitask:MultitaskHead",
        "da_autoencoder": "emotransfer.models.da_autoencoder:DAAutoencoderHead",
        "gan": "emotransfer.models.gan_augment:GANAugmentedHead",
    },
    "fewshot": {
        "maml": "emotransfer.models.maml:MAMLClassifier",
        "maml_shared": "emotransfer.models.maml:SharedLabelMAML",
        "maml_second_order": "emotransfer.models.maml:SecondOrderMAML",
        "transfer": "emotransfer.models.fewshot_baselines:TransferBaseline",
        "multitask": "emotransfer.models.fewshot_baselines:MultitaskBaseline",
        "scratch": "emotransfer.models.fewshot_baselines:ScratchBaseline",
    },
}


class PluginError(KeyError):
    """A ``module:Class`` name that the caller did not allow; importing it could run code."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def names(kind: str) -> list[str]:
    """Known names of one component kind."""
    return sorted(_table(kind))


def summary(kind: str, name: str) -> str:
    """The first line of the registered class's docstring, read from its source without
    importing it (listing the components stays fast; ``""`` if none).

    Example:
        >>> summary("corpus", "emodb").startswith("EmoDB")
        True
    """
    module, _, attribute = _table(kind)[name].partition(":")
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return ""
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == attribute:
            lines = (ast.get_docstring(node) or "").strip().splitlines()
            return lines[0] if lines else ""
    return ""


def resolve(kind: str, name: str, *, plugins: Collection[str] = ()) -> type:
    """Import and return the class registered as ``name``, or a ``module:Class`` path that
    ``plugins`` allows.

    Raises:
        KeyError: an unknown name (the message lists the known names).
        PluginError: a class path not in ``plugins``.
        ImportError: an allowed class path that cannot be imported.
    """
    name = str(name)
    if ":" in name and name not in plugins:
        raise PluginError(
            f"{kind} {name!r} is a class path; class paths are imported only when allowed "
            f"explicitly (config `plugins: [{name}]` or `--plugin {name}`); registered "
            f"{kind} names: {', '.join(names(kind))}"
        )
    path = name if ":" in name else _table(kind).get(name)
    if path is None:
        raise KeyError(f"unknown {kind} {name!r}; known: {', '.join(names(kind))}")
    module_name, _, class_name = path.partition(":")
    try:
        return getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as error:
        raise ImportError(f"cannot load {kind} {name!r} from {path!r}: {error}") from error


def check_plugins(plugins: Collection[str]) -> None:
    """Import every allowed ``module:Class`` (the user named them, so importing is their
    choice), so that a typo is reported even when nothing ends up using the class.

    Raises:
        ImportError: a plugin that is not ``module:Class`` or cannot be imported (named).

    Example:
        >>> check_plugins(["emotransfer.models.heads:RidgeHead"])
        >>> check_plugins(["no.such:Module"])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ImportError: --plugin 'no.such:Module': cannot import module 'no.such' (No module ...
    """
    for plugin in plugins:
        module_name, _, class_name = str(plugin).partition(":")
        if not module_name or not class_name:
            raise ImportError(f"--plugin {plugin!r}: must be module:Class")
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            raise ImportError(f"--plugin {plugin!r}: cannot import module {module_name!r} "
                              f"({error})") from None  # fmt: skip
        if not hasattr(module, class_name):
            raise ImportError(f"--plugin {plugin!r}: module {module_name!r} has no "
                              f"{class_name!r}")  # fmt: skip


def build(kind: str, name: str, *, plugins: Collection[str] = (), **params: Any) -> Any:
    """Build a component by name with keyword parameters (``plugins``: see :func:`resolve`)."""
    cls = resolve(kind, name, plugins=plugins)
    try:
        return cls(**params)
    except TypeError as error:
        raise TypeError(f"bad parameters for {kind} {name!r}: {error}") from error


def _table(kind: str) -> dict[str, str]:
    if kind not in TABLES:
        raise KeyError(f"unknown component kind {kind!r}; known: {', '.join(sorted(TABLES))}")
    return TABLES[kind]
