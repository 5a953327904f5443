"""Figures: PNGs embedded as data URIs, each with a caption that says what to look at.

A caption comes, in order of preference, from the claim's ``captions(result)`` hook
(written from the run's own numbers), from the PNG's ``Title`` text chunk, from a fixed
sentence for the figures actlab draws, and last from a sentence made of the file name;
never the bare file name. A ``callout`` (sign-coherence's answer to the seed question)
sits beside the figure it names.
"""

from __future__ import annotations

import base64
import re
import struct
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..claims import CLAIMS
from .values import esc

__all__ = ["png_info", "figure_caption", "render_figures", "PNG_SIGNATURE", "KNOWN_CAPTIONS"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

#: Captions for the figures actlab draws, for results whose plot module has no ``captions``.
KNOWN_CAPTIONS = {
    "sign_coherence_layers": "Per layer, the weight gradient as one whole-layer histogram and row by row: "
                             "look for rows (neurons) that are all one colour.",
    "sign_coherence_histograms": "Histograms of each layer's weight-gradient values: a whole layer can look "
                                 "mixed while every neuron's row has one sign.",
    "sign_coherence_by_layer": "Row coherence (share of neurons whose weight-gradient row has one sign) per "
                               "layer: 1.0 means every neuron's gradients share a sign.",
    "sign_coherence_vs_batch": "Row coherence against batch size: averaging over examples mixes signs, so "
                               "coherence falls as the batch grows.",
    "sign_coherence_maps_by_batch": "Sign maps of one layer's weight gradient at each batch size: rows of one "
                                    "colour are coherent neurons.",
    "zigzag_contours": "Gradient-descent paths on the loss contours, all-positive inputs against centred ones: "
                       "look for the zig-zag across the valley.",
    "zigzag_loss": "Loss over steps for all-positive and centred inputs: the lower curve converges faster.",
    "zigzag_summary": "Condition number, steps to tolerance and same-direction share, all-positive against "
                      "centred inputs.",
    "zigzag_factorial_curves": "Training curves of the centring x gain factorial (sigmoid, sigmoid_centered, "
                               "tanh_shifted, tanh).",
    "zigzag_factorial": "Steps to the target accuracy per variant: which matters, centring or gain.",
    "vanishing_grad_norm": "Weight-gradient norm per layer at initialisation (log scale): a falling line is a "
                           "vanishing gradient.",
    "vanishing_bound": "Sigmoid's gradient shrinkage per layer against the 0.25-per-layer bound of its derivative.",
    "vanishing_decay": "Factor by which the gradient norm changes per layer, per activation and init.",
    "saturation_mean_std": "Mean and spread of each hidden layer's activations over training: look for the top "
                           "sigmoid layer driven towards 0.",
    "saturation_fraction": "Share of each layer's units in the saturated band (|f'| < 5% of max |f'|) over training.",
    "saturation_histograms": "Activation histograms per layer at the end of training.",
    "dead_relu_vs_lr": "Share of dead ReLUs (zero output for every training example) against the learning rate.",
    "dead_relu_layers": "Dead share per layer at each learning rate.",
    "convergence_curves": "Training error over steps per activation: the earlier a curve crosses the target line, "
                          "the faster it converges.",
    "convergence_steps": "Steps to the target training error per activation, mean with 95% interval.",
    "cost_ns_per_element": "Time per element of each activation against tensor size.",
    "cost_ratio": "Time of each activation relative to ReLU and to a plain copy of the same bytes.",
    "cost_train_step": "A whole training step per activation: the matrix products dominate.",
}


def png_info(data: bytes) -> tuple[int, int, str | None] | None:
    """(width, height, title) of a PNG, or None if ``data`` is not a PNG.

    The title is a ``Title`` text chunk, if the figure has one (matplotlib writes it from
    ``savefig(metadata={"Title": ...})``).
    """
    if len(data) < 33 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    if width == 0 or height == 0:
        return None
    title, pos = None, 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IDAT" or kind == b"IEND":
            break
        try:
            if kind == b"tEXt":
                key, _, value = body.partition(b"\0")
                if key == b"Title":
                    title = value.decode("latin-1")
            elif kind == b"iTXt" and body.startswith(b"Title\0"):
                flag, rest = body[6], body[8:]
                value = rest.split(b"\0", 2)[2]
                title = (zlib.decompress(value) if flag else value).decode("utf-8")
        except (IndexError, zlib.error, UnicodeDecodeError):
            pass
        pos += 12 + length
    return width, height, title


def _stem_words(path: Path, claim: str) -> str:
    stem = path.stem
    for prefix in (CLAIMS.get(claim, ""), claim, claim.replace("-", "_")):
        if prefix and stem.lower().startswith(prefix.lower() + "_"):
            stem = stem[len(prefix) + 1:]
            break
    return re.sub(r"[_\-]+", " ", stem).strip() or path.stem


def figure_caption(path: Path, claim: str, title: str | None = None) -> str:
    """A caption for a figure without one from its claim: the PNG title, a known sentence,
    or a sentence made from the file name (never the bare file name)."""
    if title and title.strip() and title.strip() not in (path.name, path.stem):
        return " ".join(title.split())
    stem = path.stem
    for known, sentence in KNOWN_CAPTIONS.items():
        if stem == known or stem.startswith(known + "_"):
            extra = stem[len(known) + 1:]
            return sentence + (f" ({extra.replace('_', ' ')})" if extra else "")
    words = _stem_words(path, claim)
    return f"{words[0].upper() + words[1:]}, as measured in this {claim} run (the numbers are in the tables below)."


def _figure(path: Path, data: bytes, info: tuple[int, int, str | None], label: str, caption: str,
            source: str) -> str:
    width, height, _ = info
    uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return (f'<figure data-file="{esc(path.name)}" data-caption="{source}">'
            f'<img src="{uri}" width="{width}" height="{height}" alt="{esc(caption)}">'
            f'<figcaption><strong>{label}.</strong> {esc(caption)}</figcaption></figure>')


def callout_html(callout: Mapping[str, str]) -> str:
    paras = "".join(f"<p>{esc(' '.join(p.split()))}</p>" for p in re.split(r"\n\s*\n", callout["text"]) if p.strip())
    return f'<aside class="callout"><h4>{esc(callout["title"])}</h4>{paras}</aside>'


def render_figures(figures: Sequence[Path], claim: str, number: str, captions: Mapping[str, str],
                   callout: Mapping[str, str] | None = None) -> tuple[str, list[str]]:
    """The claim's figures as <figure> elements (the call-out beside its figure), and the
    files that could not be shown, with why."""
    out, bad = [], []
    placed = callout is None
    for i, path in enumerate(figures, 1):
        try:
            data = path.read_bytes()
        except OSError as exc:
            bad.append(f"{path.name}: cannot read ({exc.strerror or exc})")
            continue
        info = png_info(data)
        if info is None:
            bad.append(f"{path.name}: not a PNG image")
            continue
        mine = captions.get(path.name) or captions.get(path.stem)
        caption, source = (mine, "claim") if mine else (figure_caption(path, claim, info[2]), "fallback")
        label = f"Figure {number}.{i}" if number else f"Figure {i}"
        html = _figure(path, data, info, label, caption, source)
        if callout is not None and callout.get("figure") in (path.name, path.stem):
            html = f'<div class="with-callout">{html}{callout_html(callout)}</div>'
            placed = True
        out.append(html)
    if not placed and callout is not None:  # its figure is not in the folder: the answer still shows
        out.insert(0, callout_html(callout))
    return "\n".join(out), bad
