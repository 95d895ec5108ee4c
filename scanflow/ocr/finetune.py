"""Fine-tune the line recogniser (PP-OCR rec, an ONNX file) on a folder of line images.

Input: line examples (an image of one handwritten line and its text, as ``<stem>.png`` +
``<stem>.gt.txt`` folders hold them), a base ONNX recogniser and training settings.
Output: a new ONNX recogniser that RapidOCR reads exactly as it reads the stock one (same
input, same character list in its metadata), and the checkpoint it came from.

Needs the training extra (``pip install 'scanflow[train]'``: torch and onnx2torch); only
:func:`read_lines` and :func:`line_cer` (onnxruntime) work without it. The ONNX graph is
turned into torch with onnx2torch, with two repairs measured on PP-OCRv6_rec_small: its
three ``SAME_UPPER`` pads are made explicit (onnx2torch cannot convert them) and its Slice
nodes index with a tuple (onnx2torch's list index means something else in torch >= 2.9;
left alone, outputs differ from onnxruntime by up to 0.99). Every weight, including the
MatMul, LayerNorm and 18,710-class head tensors onnx2torch keeps as buffers, is made a
trainable parameter.

The recipe (why each part): batch-norm statistics stay frozen (batches of 8 lines would
wreck them); the learning rate warms up then decays on a cosine, so the first steps do not
throw away what the stock model knows; an L2 pull towards the base weights ("L2-SP")
stands in for mixing the original training data, which is not available, against
forgetting; augmentation is mild (scale, shift, contrast, blur) because the lines are the
very handwriting to be read; the checkpoint kept is the one that reads the validation
lines best, never simply the last. Measured on IAM (342 lines, 12 passes, pages of other
writers; README): varying the stroke width as well (a 2x2 min/max filter blended in) and
bending letters (a smooth displacement of about a pixel), on top of the wider warp
:func:`augment` explains, read pages at 7.60 % CER and held-back lines at 6.97 %, against
7.55 % and 6.69 % with neither, so it is not done; more passes (:func:`epochs_for`) are
what lowered both.

On a CPU that computes bfloat16 itself (AVX-512 BF16, AMX) the network's arithmetic runs in
bfloat16 (:func:`use_bf16`); the weights, the optimiser and the loss stay float32. On the
IAM run it trained in 673 s instead of 908 and read the pages at 7.49 % instead of 7.55 %.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import sys
import time
import types
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from scanflow.errors import EngineUnavailable, UsageError
from scanflow.ocr.ctc import HEIGHT, MIN_WIDTH, LineRecogniser, decode, latin_mask, normalise_line
from scanflow.ocr.lineprep import fit_line
from scanflow.progress import NullProgress, Progress

TRAIN_HINT = ("Install the training extra: .venv/bin/pip install -e '.[train]' "
              "(or: bash setup.sh train).")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
GT_SUFFIX = ".gt.txt"


@dataclass
class LineExample:
    """One line image and its text; ``group`` is who wrote it (for held-out splits)."""

    image: Path
    text: str
    group: str = ""


def epochs_for(lines: int) -> int:
    """Passes over ``lines`` training lines when none are asked for: about 4,000 lines seen,
    between 3 and 12 passes.

    A school's first few hundred corrected lines need more passes than a year's thousands:
    on 342 IAM lines (benchmarks/finetune.py) pages read 10.1 -> 8.6 % CER after 3 passes,
    8.0 % after 6, 7.84 % after 10 and 7.55 / 7.33 % after 12 (two seeds; held-back lines
    8.2 -> 6.9 % after 6, 6.2 % after 10, 6.7 % after 12), 7.25-7.31 % after 14 (last
    pass). On the two cores of a quiet machine 12 passes took 908 s, 44 minutes per 1,000
    lines (10 took 39); 14 would come near the hour allowed, so at most 12 are made (an
    earlier 53-57 minutes for 12 was measured beside other work). From 1,000 lines up 3-4
    passes keep a run near a quarter of an hour per 1,000 lines.

    >>> epochs_for(200), epochs_for(342), epochs_for(1000), epochs_for(30000)
    (12, 12, 4, 3)
    """
    return min(12, max(3, math.ceil(4000 / max(1, lines))))


@dataclass
class TrainSettings:
    """How to fine-tune. ``max_steps`` caps the run (tests, quick trials); ``threads`` is
    torch's CPU threads."""

    # None: by the amount of data (:func:`epochs_for`).
    epochs: int | None = None
    # 4, not 8: training on full-width IAM lines peaked at 6.9 GB of memory at 8 and 4.5 GB
    # at 4 (benchmarks/finetune.py; README), and school PCs have 8 GB.
    batch_size: int = 4
    learning_rate: float = 5e-5
    warmup: float = 0.1           # share of the steps spent warming up
    anchor: float = 1e-3          # L2 pull towards the base weights
    freeze: int = 0               # leading convolutions kept as they are (0: all train)
    augment: bool = True
    # Lines of similar width share a batch, so little of each step is spent on padding
    # (IAM lines in random batches of 4 are padded to 1.29x their width; bucketed, 1.005x).
    bucket_by_width: bool = True
    seed: int = 0
    threads: int = 1
    checkpoint_every: int = 20    # steps between checkpoints (resume points)
    validate_every: int = 0       # steps between validations; 0 = once per epoch
    max_steps: int | None = None
    # "bf16": the network's arithmetic in bfloat16 (weights, optimiser and loss stay
    # float32); "fp32": all in float32; "auto": bf16 where the CPU computes it natively.
    precision: str = "auto"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainResult:
    """What a run did: ``model`` is the exported ONNX file (the best checkpoint)."""

    model: Path
    steps: int
    train_lines: int
    validation_lines: int
    validation_cer_start: float
    validation_cer_best: float
    best_step: int
    seconds: float
    resumed_from: int = 0
    history: list[dict] = field(default_factory=list)
    # Time in the training steps alone (no validation, no export): what batching and
    # threads change, and what scales with the number of lines.
    step_seconds: float = 0.0
    epochs: int = 0  # passes over the lines asked for (settings', or epochs_for's)
    precision: str = ""  # what "auto" came to on this CPU: "bf16" or "fp32"


# --------------------------------------------------------------------------- data


def read_line_dir(folder: str | Path, group_by: str = "form") -> list[LineExample]:
    """The ``<stem>.<png|jpg|tif>`` + ``<stem>.gt.txt`` pairs of a folder.

    ``group_by="form"`` groups lines by their stem without the last ``-NN`` part (IAM's
    ``a01-063x-00`` belongs to form ``a01-063x``; scanflow's exported ``p12-pg3-l04`` to
    page ``p12-pg3``), so held-out lines never share a page with training lines.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"Line folder not found: {folder}",
                         hint="Give a folder of line images with <stem>.gt.txt beside each.")
    images = {p.stem: p for p in folder.iterdir()
              if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()}
    examples = []
    for gt in sorted(folder.glob("*" + GT_SUFFIX)):
        stem = gt.name[: -len(GT_SUFFIX)]
        if stem not in images:
            continue
        text = " ".join(gt.read_text(encoding="utf-8").split())
        group = stem.rsplit("-", 1)[0] if group_by == "form" else stem
        if text:
            examples.append(LineExample(images[stem], text, f"{folder.name}/{group}"))
    if not examples:
        raise UsageError(f"No line image + .gt.txt pairs in {folder}.",
                         hint="Expected files like line01.png with line01.gt.txt beside it.")
    return examples


def split_by_group(examples: Sequence[LineExample], share: float,
                   seed: int = 0) -> tuple[list[LineExample], list[LineExample]]:
    """(train, held out): about ``share`` of the groups held out, whole groups only."""
    groups = sorted({e.group for e in examples})
    rng = random.Random(seed)
    rng.shuffle(groups)
    n = max(1, round(share * len(groups))) if share > 0 and len(groups) > 1 else 0
    held = set(groups[:n])
    return ([e for e in examples if e.group not in held],
            [e for e in examples if e.group in held])


def load_line(path: Path) -> np.ndarray:
    """A line image as 3-channel BGR uint8 (what rapidocr's recogniser is given)."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise UsageError(f"Cannot read the line image {path}.",
                         hint="Remove it, or replace it with a PNG or JPEG.")
    return img


def batch_array(images: Sequence[np.ndarray]) -> np.ndarray:
    """A batch as rapidocr builds it: every image padded to the widest (at least 320)."""
    ratio = max([MIN_WIDTH / HEIGHT] + [im.shape[1] / im.shape[0] for im in images])
    width = int(HEIGHT * ratio)
    return np.stack([normalise_line(im, width)[0] for im in images])


def augment(img: np.ndarray, rng: random.Random) -> np.ndarray:
    """A mildly varied copy: scale, vertical shift, slant, contrast, blur."""
    h, w = img.shape[:2]
    scale = rng.uniform(0.9, 1.1)
    shear = rng.uniform(-0.15, 0.15)
    dy = rng.uniform(-0.06, 0.06) * h
    # Kept at the old width, a line scaled up loses up to a tenth of its end while its text
    # still names those letters (47.5 % of augmented IAM lines lost 4.8 % of their writing's
    # width). Widening the picture instead measured worse (pages 8.13 % CER against 7.55 %,
    # held-back lines 7.11 % against 6.69 %; one 12-pass run each), so it stays.
    m = np.array([[scale, shear, -shear * h / 2], [0, scale, dy + (1 - scale) * h / 2]],
                 dtype=np.float32)
    out = cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
    alpha, beta = rng.uniform(0.8, 1.2), rng.uniform(-20, 20)
    out = np.clip(out.astype(np.float32) * alpha + beta, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        out = cv2.GaussianBlur(out, (3, 3), 0)
    return out


# --------------------------------------------------------------------------- reading


def characters(model_path: str | Path) -> list[str]:
    """The recogniser's classes: CTC blank, the metadata's characters, then space (the
    order rapidocr decodes with)."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    if "character" not in meta:
        raise UsageError(f"{model_path} has no character list in its metadata.",
                         hint="Use a PP-OCR recognition model exported by scanflow or rapidocr.")
    return ["blank"] + meta["character"].splitlines() + [" "]


def read_lines(model_path: str | Path, images: Sequence[np.ndarray],
               threads: int = 1) -> list[str]:
    """Read line images with a recogniser exactly as the pipeline reads a detected line
    (:class:`~scanflow.ocr.ctc.LineRecogniser`: RapidOCR's resizing, padding and batching
    by width, English-only decoding), without detection."""
    return [r.text for r in LineRecogniser(Path(model_path), threads=threads).read(images)]


def cer(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Corpus character error rate, whitespace collapsed."""
    from rapidfuzz.distance import Levenshtein

    edits = chars = 0
    for ref, hyp in zip(references, hypotheses):
        ref, hyp = " ".join(ref.split()), " ".join(hyp.split())
        edits += Levenshtein.distance(ref, hyp)
        chars += len(ref)
    return edits / max(chars, 1)


def line_cer(model_path: str | Path, examples: Sequence[LineExample], threads: int = 1) -> float:
    """How well ``model_path`` reads ``examples`` (corpus CER, 0..1)."""
    texts = read_lines(model_path, [load_line(e.image) for e in examples], threads=threads)
    return cer([e.text for e in examples], texts)


# --------------------------------------------------------------------------- torch model


def _import_torch():
    # Spinning OpenMP threads (the default) wait for each other at every operation; on a
    # PC doing anything else at the same time a step then took 2.4x the CPU and 2x the
    # time (benchmarks/finetune.py, README). Read once, when torch first loads.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import torch
    except ImportError:
        raise EngineUnavailable("Training needs torch, which is not installed.",
                                hint=TRAIN_HINT) from None
    try:
        import torchvision  # noqa: F401  (onnx2torch imports it at load time)
    except Exception:
        # PyPI's torchvision does not load beside the CPU torch build; onnx2torch only
        # needs it for NMS and RoIAlign nodes, which a recogniser has none of.
        for name in [n for n in sys.modules if n.split(".")[0] == "torchvision"]:
            del sys.modules[name]
        stub, ops = types.ModuleType("torchvision"), types.ModuleType("torchvision.ops")

        def _missing(*_args, **_kwargs):
            raise RuntimeError("torchvision is not available")

        ops.nms = ops.batched_nms = ops.roi_align = _missing
        stub.ops = ops
        sys.modules.update({"torchvision": stub, "torchvision.ops": ops})
    try:
        import onnx  # noqa: F401
        import onnx2torch  # noqa: F401
    except ImportError as exc:
        raise EngineUnavailable(f"Training needs {exc.name}, which is not installed.",
                                hint=TRAIN_HINT) from None
    return torch


def require_training() -> None:
    """Raise :class:`EngineUnavailable` (with the install command) unless training can run."""
    _import_torch()


def training_available() -> str | None:
    """None when training can run here, else why not (for messages and test skips)."""
    try:
        _import_torch()
    except EngineUnavailable as exc:
        return f"{exc} {TRAIN_HINT}"
    return None


def _onnx_for_torch(model_path: Path):
    import onnx
    from onnx import helper

    model = onnx.load(str(model_path))
    for node in model.graph.node:
        if any(a.name == "auto_pad" and a.s == b"SAME_UPPER" for a in node.attribute):
            kernel = next((list(a.ints) for a in node.attribute if a.name == "kernel_shape"), [])
            strides = next((list(a.ints) for a in node.attribute if a.name == "strides"), [])
            if kernel != [2, 2] or strides not in ([], [1, 1]):
                raise UsageError(f"{model_path}: cannot convert the SAME_UPPER pad of "
                                 f"{node.name} (kernel {kernel}, strides {strides}).",
                                 hint="Fine-tune a PP-OCRv5/v6 recognition model.")
            keep = [a for a in node.attribute if a.name != "auto_pad"]
            del node.attribute[:]
            node.attribute.extend(keep + [helper.make_attribute("pads", [0, 0, 1, 1])])
    _drop_identities(model)
    _fold_conv_bias(model)
    return model


def _drop_identities(model) -> None:
    """Remove Identity nodes (Paddle's exporter leaves 135): onnx2torch turns each into a
    full copy of its tensor. With :func:`_fold_conv_bias`, the widest batch of IAM lines
    peaks at 2.24 GB instead of 2.44 (and steps take 0-5 % less time)."""
    graph = model.graph
    outputs = {o.name for o in graph.output}
    alias = {n.output[0]: n.input[0] for n in graph.node
             if n.op_type == "Identity" and n.output[0] not in outputs}

    def source(name: str) -> str:
        while name in alias:
            name = alias[name]
        return name

    keep = [n for n in graph.node if not (n.op_type == "Identity" and n.output[0] in alias)]
    for node in keep:
        for i, name in enumerate(node.input):
            node.input[i] = source(name)
    del graph.node[:]
    graph.node.extend(keep)


def _fold_conv_bias(model) -> None:
    """Turn Conv followed by Add of a per-channel constant into one Conv with a bias: one
    pass less over every feature map, forward and backward."""
    from onnx import numpy_helper

    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    outputs = {o.name for o in graph.output}
    users: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            users.setdefault(name, []).append(node)
    folded = set()
    for conv in graph.node:
        if conv.op_type != "Conv" or len(conv.input) != 2 or conv.input[1] not in inits:
            continue
        out = conv.output[0]
        after = users.get(out, [])
        if out in outputs or len(after) != 1 or after[0].op_type != "Add":
            continue
        add = after[0]
        other = add.input[1] if add.input[0] == out else add.input[0]
        channels = inits[conv.input[1]].dims[0]
        if other not in inits or list(inits[other].dims) != [1, channels, 1, 1]:
            continue
        bias = numpy_helper.from_array(numpy_helper.to_array(inits[other]).reshape(channels),
                                       name=other + ".bias")
        graph.initializer.append(bias)
        conv.input.append(bias.name)
        conv.output[0] = add.output[0]
        folded.add(add.output[0])
    keep = [n for n in graph.node if not (n.op_type == "Add" and n.output[0] in folded)]
    del graph.node[:]
    graph.node.extend(keep)


def _tuple_slice_class(torch):
    class TupleSlice(torch.nn.Module):
        """ONNX Slice with constant starts/ends/axes/steps, indexing by tuple."""

        def forward(self, x, starts, ends, axes=None, steps=None):
            starts, ends = starts.tolist(), ends.tolist()
            axes = axes.tolist() if axes is not None else list(range(len(starts)))
            steps = steps.tolist() if steps is not None else [1] * len(starts)
            index = [slice(None)] * x.dim()
            for s, e, a, st in zip(starts, ends, axes, steps):
                if st < 0:
                    raise ValueError("negative Slice steps are not supported")
                index[a % x.dim()] = slice(s, min(e, 2**62), st)
            return x[tuple(index)]

    return TupleSlice


def to_torch(model_path: str | Path):
    """The recogniser as a trainable torch module that returns *logits* (the final
    softmax is left out; :func:`export_onnx` puts it back)."""
    torch = _import_torch()
    from onnx2torch import convert

    net = convert(_onnx_for_torch(Path(model_path)))
    slice_cls = _tuple_slice_class(torch)
    for name, module in list(net.named_modules()):
        if type(module).__name__ == "OnnxSlice":
            net.add_submodule(name, slice_cls())
    # The last node before the output is the softmax: read its input instead.
    graph = net.graph
    output = next(n for n in graph.nodes if n.op == "output")
    last = output.args[0]
    target = getattr(net, str(last.target), None) if last.op == "call_module" else None
    if target is not None and "Softmax" in type(target).__name__:
        output.args = (last.args[0],)
        graph.erase_node(last)
        graph.lint()
        net.recompile()
    # Weights onnx2torch stored as buffers become parameters, so the whole network trains.
    container = net.initializers
    for name, tensor in list(container._buffers.items()):
        if tensor is not None and tensor.is_floating_point() and tensor.numel() > 1:
            del container._buffers[name]
            container.register_parameter(name, torch.nn.Parameter(tensor.clone()))
    return net


def export_onnx(net, base_model: str | Path, out_path: str | Path) -> Path:
    """Write ``net`` (logits) as an ONNX recogniser with softmax, dynamic batch and width,
    and the base model's metadata (its character list)."""
    torch = _import_torch()
    import onnx

    class WithSoftmax(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return torch.softmax(self.inner(x), dim=-1)

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".part")
    wrapper = WithSoftmax(net).eval()
    dummy = torch.zeros(1, 3, HEIGHT, MIN_WIDTH)
    with torch.no_grad(), contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
        # The tracer warns about every constant shape it bakes in; the recogniser's only
        # dynamic sizes are batch and width, checked to round-trip by the tests.
        warnings.simplefilter("ignore")
        torch.onnx.export(wrapper, (dummy,), str(tmp), opset_version=17, dynamo=False,
                          input_names=["x"], output_names=["fetch_name_0"],
                          dynamic_axes={"x": {0: "batch", 3: "width"},
                                        "fetch_name_0": {0: "batch", 1: "steps"}})
    model = onnx.load(str(tmp))
    base = onnx.load(str(base_model), load_external_data=False)
    del model.metadata_props[:]
    for prop in base.metadata_props:
        model.metadata_props.add(key=prop.key, value=prop.value)
    model.metadata_props.add(key="scanflow_base", value=Path(base_model).name)
    onnx.save(model, str(tmp))
    tmp.replace(out_path)
    return out_path


# --------------------------------------------------------------------------- training


def _encode(text: str, index: dict[str, int]) -> list[int]:
    return [index[ch] for ch in " ".join(text.split()) if ch in index]


def _validate(torch, net, images, chars, batch_size: int = 8) -> list[str]:
    # Decoded as the pipeline decodes (English classes only), so the checkpoint kept is
    # the one that reads pages best, not the one that emits the fewest stray CJK classes.
    net.eval()
    mask = latin_mask(chars)
    order = sorted(range(len(images)), key=lambda i: images[i].shape[1] / images[i].shape[0])
    texts = [""] * len(images)
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            logits = net(torch.from_numpy(batch_array([images[i] for i in idx])))
            for i, probs in zip(idx, torch.softmax(logits, -1).numpy()):
                texts[i] = "".join(c for c, _, _, _ in decode(probs, chars, mask))
    return texts


def epoch_batches(widths: dict[int, float], batch_size: int, bucket: bool,
                  rng: random.Random) -> list[list[int]]:
    """One epoch's batches of line indices (``widths``: index -> width/height).

    With ``bucket``, lines are sorted by width (each width jittered by up to 15 %, so the
    same lines do not always meet) and cut into batches, whose order is then shuffled:
    every batch is padded to its widest line, and padding costs as much to train on as
    writing. Without it, the lines are simply shuffled.
    """
    order = list(widths)
    rng.shuffle(order)
    if bucket:
        jitter = {i: widths[i] * rng.uniform(0.85, 1.15) for i in order}
        order.sort(key=jitter.__getitem__)
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if bucket:
        rng.shuffle(batches)
    return batches


def use_bf16(torch, precision: str) -> bool:
    """Whether to train in bfloat16: asked for, or ``auto`` on a CPU with native bfloat16
    (AVX-512 BF16 or AMX). Elsewhere it is emulated, and slower than float32."""
    if precision not in ("auto", "bf16", "fp32"):
        raise UsageError(f"Unknown training precision '{precision}'.",
                         hint="Use auto, bf16 or fp32.")
    if precision != "auto":
        return precision == "bf16"
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported()) and _cpu_has_bf16()
    except (AttributeError, RuntimeError):
        return False


def _cpu_has_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _set_train_mode(torch, net) -> None:
    net.train()
    for module in net.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.eval()


def fine_tune(base_model: str | Path, train: Sequence[LineExample],
              validation: Sequence[LineExample], out_model: str | Path, work_dir: str | Path,
              settings: TrainSettings = TrainSettings(),
              progress: Progress | None = None, log=None) -> TrainResult:
    """Fine-tune ``base_model`` on ``train``; keep the weights that read ``validation``
    best; write them to ``out_model`` (ONNX).

    ``work_dir`` holds ``checkpoint.pt``: a run interrupted (Ctrl+C, power cut) and started
    again with the same base, data and settings continues from its last checkpoint.
    ``log(message)`` receives one line per validation.
    """
    torch = _import_torch()
    progress = progress or NullProgress()
    log = log or (lambda message: None)
    if not train:
        raise UsageError("There are no lines to train on.",
                         hint="Correct and review some pieces first, or give --extra DIR.")
    if not validation:
        raise UsageError("There are no held-back lines to judge the new model by.",
                         hint="Training needs corrected lines from at least two pupils.")
    if settings.epochs is None:
        settings = replace(settings, epochs=epochs_for(len(train)))
    started = time.monotonic()
    torch.set_num_threads(max(1, settings.threads))
    torch.manual_seed(settings.seed)
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = work_dir / "checkpoint.pt"

    chars = characters(base_model)
    index = {ch: i for i, ch in enumerate(chars) if i > 0}
    # Lines are fitted to the recogniser's letter spacing as the pipeline fits them before
    # reading (scanflow.ocr.lineprep): a model trained on unfitted lines would then read
    # lines shaped unlike any it was taught on.
    train_imgs = [fit_line(load_line(e.image))[0] for e in train]
    labels = [_encode(e.text, index) for e in train]
    usable = [i for i, lab in enumerate(labels) if lab]
    widths = {i: train_imgs[i].shape[1] / train_imgs[i].shape[0] for i in usable}
    val_imgs = [fit_line(load_line(e.image))[0] for e in validation]
    val_refs = [e.text for e in validation]

    net = to_torch(base_model)
    bf16 = use_bf16(torch, settings.precision)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    for conv in convs[:settings.freeze]:
        conv.requires_grad_(False)
    anchor = {n: p.detach().clone() for n, p in net.named_parameters() if p.requires_grad}
    params = [p for p in net.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=0.0)
    per_epoch = max(1, math.ceil(len(usable) / settings.batch_size))
    total = per_epoch * settings.epochs
    if settings.max_steps:
        total = min(total, settings.max_steps)
    warm = max(1, int(settings.warmup * total))

    def rate(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, rate)
    ctc = torch.nn.CTCLoss(blank=0, zero_infinity=True)
    fingerprint = json.dumps({"base": str(Path(base_model).resolve()),
                              "train": [str(e.image) for e in train],
                              "validation": [str(e.image) for e in validation],
                              "settings": settings.to_dict()}, sort_keys=True)
    step, best_cer, best_step, history, resumed = 0, None, 0, [], 0
    step_seconds = 0.0
    best_state = None
    start_cer = None
    if checkpoint.is_file():
        state = torch.load(checkpoint, weights_only=False)
        if state.get("fingerprint") == fingerprint:
            net.load_state_dict(state["model"])
            optimiser.load_state_dict(state["optimiser"])
            scheduler.load_state_dict(state["scheduler"])
            step, best_cer, best_step = state["step"], state["best_cer"], state["best_step"]
            best_state, history = state["best_state"], state["history"]
            start_cer = state["start_cer"]
            resumed = step
            log(f"resuming from step {step} of {total}")
    if start_cer is None:
        start_cer = cer(val_refs, _validate(torch, net, val_imgs, chars))
        best_cer, best_state = start_cer, {k: v.clone() for k, v in net.state_dict().items()}
        log(f"validation CER before training {start_cer:.2%} ({len(validation)} lines)")

    def save() -> None:
        tmp = checkpoint.with_suffix(".tmp")
        torch.save({"fingerprint": fingerprint, "model": net.state_dict(),
                    "optimiser": optimiser.state_dict(), "scheduler": scheduler.state_dict(),
                    "step": step, "best_cer": best_cer, "best_step": best_step,
                    "best_state": best_state, "history": history, "start_cer": start_cer},
                   tmp)
        tmp.replace(checkpoint)

    def validate() -> None:
        nonlocal best_cer, best_step, best_state
        value = cer(val_refs, _validate(torch, net, val_imgs, chars))
        history.append({"step": step, "validation_cer": round(value, 5)})
        if value < best_cer:
            best_cer, best_step = value, step
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        log(f"step {step}/{total}: validation CER {value:.2%} (best {best_cer:.2%} at step "
            f"{best_step})")
        _set_train_mode(torch, net)

    every = settings.validate_every or per_epoch
    progress.start(total, "Training")
    progress.advance(step)
    _set_train_mode(torch, net)
    try:
        while step < total:
            # Each epoch's order depends only on the seed and the epoch: a resumed run
            # sees the same batches it would have.
            epoch, offset = divmod(step, per_epoch)
            batches = epoch_batches(widths, settings.batch_size, settings.bucket_by_width,
                                    random.Random(settings.seed * 1000 + epoch))
            for batch in batches[offset:]:
                if step >= total:
                    break
                tick = time.monotonic()
                rng = random.Random(settings.seed * 100003 + step)
                imgs = [augment(train_imgs[i], rng) if settings.augment else train_imgs[i]
                        for i in batch]
                x = torch.from_numpy(batch_array(imgs))
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    logits = net(x)
                log_probs = logits.float().log_softmax(-1).transpose(0, 1)
                targets = torch.tensor([c for i in batch for c in labels[i]], dtype=torch.long)
                lengths = torch.tensor([len(labels[i]) for i in batch], dtype=torch.long)
                steps_in = torch.full((len(batch),), log_probs.shape[0], dtype=torch.long)
                loss = ctc(log_probs, targets, steps_in, lengths)
                if settings.anchor:
                    loss = loss + settings.anchor * sum(
                        ((p - anchor[n]) ** 2).sum() for n, p in net.named_parameters()
                        if n in anchor)
                optimiser.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 5.0)
                optimiser.step()
                scheduler.step()
                step += 1
                step_seconds += time.monotonic() - tick
                progress.advance()
                if step % every == 0 or step == total:
                    validate()
                if step % settings.checkpoint_every == 0 or step == total:
                    save()
    except KeyboardInterrupt:
        save()
        progress.finish()
        raise
    progress.finish()
    net.load_state_dict(best_state)
    export_onnx(net, base_model, out_model)
    return TrainResult(model=Path(out_model), steps=step, train_lines=len(usable),
                       validation_lines=len(validation), validation_cer_start=start_cer,
                       validation_cer_best=best_cer, best_step=best_step,
                       seconds=round(time.monotonic() - started, 1), resumed_from=resumed,
                       history=history, step_seconds=round(step_seconds, 1),
                       epochs=settings.epochs, precision="bf16" if bf16 else "fp32")
