"""Reports of ``kgqa eval``: readable tables, the files of ``--out`` and their plots.

``table`` prints one row per system; ``hop_table`` one row per system and one column per hop
(when the questions came from several files, e.g. MetaQA's ``1-hop/`` ... ``3-hop/``).
``write_report`` saves ``summary.json``, ``questions.jsonl`` (every prediction) and, when
matplotlib is installed, PNG plots: accuracy by question type, latency, the systems side by
side and, with hops, the systems by hop. Deliberately left out: computing metrics
(``pipeline.evaluation.metrics``) and any interactive display.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.evaluation.metrics import correct
from pipeline.evaluation.systems import Prediction

log = logging.getLogger(__name__)


def table(summary: dict[str, Any]) -> str:
    """One readable row per system."""
    cols = ("n", "hits@1", "precision", "recall", "f1", "exact", "linker@1", "uncited")
    w = _name_width(summary)
    head = f"{'system':{w}} " + " ".join(f"{c:>9}" for c in cols) + f" {'p50 ms':>8} {'p95 ms':>8}"
    rows = [head, "-" * len(head)]
    for name, m in summary["systems"].items():
        cells = " ".join(f"{_cell(m[c]):>9}" for c in cols)
        rows.append(f"{name:{w}} {cells} {m['latency_ms']['p50']:>8.1f} {m['latency_ms']['p95']:>8.1f}")
    return "\n".join(rows)


def hop_table(summary: dict[str, Any]) -> str:
    """Hits@1 (and n) per system and hop; empty when the questions carry no hop."""
    hops = sorted({h for m in summary["systems"].values() for h in m.get("by_hop", {})})
    if not hops:
        return ""
    w = _name_width(summary)
    head = f"{'hits@1':{w}} " + " ".join(f"{h:>15}" for h in hops) + f" {'all':>15}"
    rows = [head, "-" * len(head)]
    for name, m in summary["systems"].items():
        cells = [_hits(m["by_hop"].get(h)) for h in hops] + [_hits(m)]
        rows.append(f"{name:{w}} " + " ".join(f"{c:>15}" for c in cells))
    return "\n".join(rows)


def _name_width(summary: dict[str, Any]) -> int:
    return max([10, *(len(name) for name in summary["systems"])])


def _hits(m: dict[str, Any] | None) -> str:
    return "-" if m is None else f"{m['hits@1']:.3f} (n={m['n']})"


def _cell(value: object) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def write_report(directory: Path, results: dict[str, list[Prediction]], summary: dict[str, Any]) -> list[Path]:
    """``summary.json``, ``questions.jsonl`` and, with matplotlib, PNG plots; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = [directory / "summary.json", directory / "questions.jsonl"]
    written[0].write_text(json.dumps(summary, indent=1, ensure_ascii=False))
    with written[1].open("w", encoding="utf-8") as fh:
        for system, preds in results.items():
            for p in preds:
                fh.write(json.dumps({"system": system, "question": p.question.text, "type": p.question.qtype,
                                     "hop": p.question.hop, "gold": sorted(p.question.gold),
                                     "predicted": list(p.answers), "cited": list(p.cited), "correct": correct(p),
                                     "latency_ms": round(p.latency_ms, 2)}, ensure_ascii=False) + "\n")
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only, never a window
        import matplotlib.pyplot as plt
    except ImportError:
        log.warning("matplotlib is not installed: no plots")
        return written
    systems: dict[str, dict[str, Any]] = summary["systems"]
    plots = [("accuracy_by_type.png", _plot_types), ("latency.png", _plot_latency), ("systems.png", _plot_systems)]
    if any(m.get("by_hop") for m in systems.values()):
        plots.append(("systems_by_hop.png", _plot_hops))
    for name, plot in plots:
        fig = plot(plt, results, systems)
        fig.tight_layout()
        fig.savefig(directory / name, dpi=110)
        plt.close(fig)
        written.append(directory / name)
    return written


def _grouped_bars(ax: Any, groups: Sequence[str], systems: dict[str, dict[str, Any]], value: Any) -> None:
    """One group of bars per entry of ``groups``, one bar per system, each labelled with its value."""
    width = 0.8 / max(1, len(systems))
    for i, (name, m) in enumerate(systems.items()):
        values = [value(m, g) for g in groups]
        bars = ax.bar(np.arange(len(groups)) + i * width, values, width, label=name, color=f"C{i}")
        if len(groups) * len(systems) <= 24:  # numbers only where they stay legible
            ax.bar_label(bars, labels=[f"{v:.2f}" for v in values], fontsize=7, padding=1)
    ax.set_ylim(0, 1.08)
    ax.legend(fontsize=8)


def _ticks(ax: Any, labels: Sequence[str], n_systems: int, rotation: int = 0) -> None:
    width = 0.8 / max(1, n_systems)
    ax.set_xticks(np.arange(len(labels)) + width * (n_systems - 1) / 2, labels, rotation=rotation,
                  ha="right" if rotation else "center")


def _plot_types(plt: Any, results: dict[str, list[Prediction]], systems: dict[str, dict[str, Any]]) -> Any:
    """Hits@1 per question type as horizontal bars (long type names stay readable), one per system."""
    types = sorted({t for m in systems.values() for t in m["by_type"]}, reverse=True) or ["all"]
    height = 0.8 / max(1, len(systems))
    fig, ax = plt.subplots(figsize=(8.5, max(3.0, 0.9 + len(types) * (0.12 + 0.1 * len(systems)))))
    for i, (name, m) in enumerate(systems.items()):  # the first system on top of each group, same colours
        values = [m["by_type"][t]["hits@1"] if t in m["by_type"] else m["hits@1"] if t == "all" else 0.0
                  for t in types]
        ax.barh(np.arange(len(types)) + (len(systems) - 1 - i) * height, values, height, label=name, color=f"C{i}")
    counts = {t: max(m["by_type"].get(t, {}).get("n", 0) for m in systems.values()) for t in types}
    ax.set_yticks(np.arange(len(types)) + height * (len(systems) - 1) / 2,
                  [f"{t} (n={counts[t]})" if counts[t] else t for t in types], fontsize=8)
    ax.set_ylim(-0.5, len(types) - 0.1)
    ax.set_xlim(0, 1)
    ax.set_xlabel("Hits@1")
    ax.set_title("Accuracy by question type", pad=24)
    ax.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=len(systems), frameon=False)
    ax.grid(axis="x", alpha=0.3)
    return fig


def _plot_latency(plt: Any, results: dict[str, list[Prediction]], systems: dict[str, dict[str, Any]]) -> Any:
    """A histogram of per-question latency per system (log scale when they differ a lot)."""
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    latencies = {name: [max(p.latency_ms, 0.01) for p in preds] for name, preds in results.items()}
    values = [v for vs in latencies.values() for v in vs] or [1.0]
    wide = max(values) / min(values) > 20  # a long tail: log scale keeps the bulk visible
    space = np.geomspace if wide else np.linspace
    bins = space(min(values), max(values) * 1.0001, 41)  # shared by every system
    for i, (name, vs) in enumerate(latencies.items()):
        ax.hist(vs, bins=bins, alpha=0.6, label=name, color=f"C{i}")
    if wide:
        ax.set_xscale("log")
        ax.minorticks_off()  # plain numbers at 1-2-5 steps instead of crowded powers of ten
        ticks = [m * 10**e for e in range(-1, 6) for m in (1, 2, 5) if min(values) <= m * 10**e <= max(values)]
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("questions")
    ax.set_title("Latency per question")
    ax.legend()
    return fig


def _plot_systems(plt: Any, results: dict[str, list[Prediction]], systems: dict[str, dict[str, Any]]) -> Any:
    """The main metrics of every system side by side."""
    keys = ["hits@1", "precision", "recall", "f1", "exact"]
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    _grouped_bars(ax, keys, systems, lambda m, k: m[k])
    _ticks(ax, keys, len(systems))
    ax.set_title("Systems side by side")
    return fig


def _plot_hops(plt: Any, results: dict[str, list[Prediction]], systems: dict[str, dict[str, Any]]) -> Any:
    """Hits@1 of every system per hop (per question file)."""
    hops = sorted({h for m in systems.values() for h in m.get("by_hop", {})})
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(hops) * len(systems)), 4.5))
    _grouped_bars(ax, hops, systems, lambda m, h: m["by_hop"][h]["hits@1"] if h in m["by_hop"] else 0.0)
    counts = {h: max(m["by_hop"].get(h, {}).get("n", 0) for m in systems.values()) for h in hops}
    _ticks(ax, [f"{h} (n={counts[h]})" for h in hops], len(systems))
    ax.set_ylabel("Hits@1")
    ax.set_title("Systems by hop")
    return fig
