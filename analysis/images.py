"""The image grid of the report: the same crop of the degraded input, each configuration's output and the target,
read from the latest images each trial wrote to TensorBoard (``images/<name>``, one row of N validation images)."""

from __future__ import annotations

import base64
import glob
import io
import math
import os

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analysis import stats

CROP = 128  # pixels of the first validation image shown, centred
MAX_CONFIGS = 11
COLUMNS = 6
MAIN_TAGS = ("input", "output", "target")


def latest_images(trial_dir: str) -> dict[str, np.ndarray]:
    """{name: (H, W, C) uint8} of the latest step of every image tag in the trial's event files (a resumed trial
    has several files; the latest step wins)."""
    from PIL import Image
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    latest: dict[str, tuple[int, float, bytes]] = {}
    for path in sorted(glob.glob(os.path.join(trial_dir, "events.out.tfevents.*"))):
        try:
            accumulator = EventAccumulator(path, size_guidance={"images": 0})
            accumulator.Reload()
            tags = accumulator.Tags().get("images", [])
        except Exception:  # noqa: BLE001 - a file cut short by a killed trial is skipped, the others still count
            continue
        for tag in tags:
            for event in accumulator.Images(tag):
                key = (event.step, event.wall_time)
                if tag not in latest or key > latest[tag][:2]:
                    latest[tag] = (event.step, event.wall_time, event.encoded_image_string)
    out = {}
    for tag, (_, _, encoded) in latest.items():
        image = np.asarray(Image.open(io.BytesIO(encoded)).convert("RGB"))
        out[tag.removeprefix("images/")] = image
    return out


def crop(image: np.ndarray, size: int = CROP) -> np.ndarray:
    """The centred ``size``×``size`` crop of the first image of the row (H, N·W): the same place in every trial."""
    height = image.shape[0]
    first = image[:, : min(height, image.shape[1])]
    side = min(size, first.shape[0], first.shape[1])
    top, left = (first.shape[0] - side) // 2, (first.shape[1] - side) // 2
    return first[top: top + side, left: left + side]


def to_data_uri(image: np.ndarray) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def pick_trials(frame: pd.DataFrame, labels: list[str], metric: str, lower: bool, baseline: str | None) -> list:
    """(label, trial_id) of the best trial of the first ``MAX_CONFIGS`` configurations (and the baseline)."""
    key = f"best/{metric}"
    chosen = list(labels[:MAX_CONFIGS])
    if baseline and baseline in labels and baseline not in chosen:
        chosen.append(baseline)
    picks = []
    for label in chosen:
        rows = frame[frame["label"] == label]
        if rows.empty:
            continue
        counted = stats.counted(rows)  # not a crashed or diverged trial's output, which the tables leave out
        values = pd.to_numeric(counted[key], errors="coerce") if key in counted else pd.Series(dtype=float)
        values = values[np.isfinite(values)]
        fallback = counted.index[0] if not counted.empty else rows.index[0]
        best = (values.idxmin() if lower else values.idxmax()) if not values.empty else fallback
        picks.append((label, rows.at[best, "trial_id"]))
    return picks


def image_tiles(run_dir: str, picks: list) -> list[tuple[str, np.ndarray]]:
    """(title, crop): the input, each picked configuration's output, the target, then the best trial's other
    images (task-specific names such as a dark channel)."""
    tiles: list = []
    first: dict | None = None
    for label, trial_id in picks:
        images = latest_images(os.path.join(run_dir, str(trial_id)))
        if not images:
            continue
        first = first or images
        if "output" in images:
            tiles.append((str(label), crop(images["output"])))
    if first is None:
        return []
    head = [("input (degraded)", crop(first["input"]))] if "input" in first else []
    tail = [("target", crop(first["target"]))] if "target" in first else []
    extra = [(f"{name} (best trial)", crop(image)) for name, image in first.items() if name not in MAIN_TAGS]
    return head + tiles + tail + extra


def image_grid(tiles: list[tuple[str, np.ndarray]]) -> go.Figure | None:
    if not tiles:
        return None
    cols = min(COLUMNS, len(tiles))
    rows = math.ceil(len(tiles) / cols)
    titles = [t if len(t) <= 30 else t[:29] + "…" for t, _ in tiles]
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.01,
                        vertical_spacing=0.12 / rows)
    for i, (_, image) in enumerate(tiles):
        fig.add_trace(go.Image(source=to_data_uri(image)), row=i // cols + 1, col=i % cols + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(title="The same crop: degraded input, each configuration's output (its best trial), target",
                      height=60 + 230 * rows, margin={"l": 10, "r": 10, "t": 80, "b": 10}, template="plotly_white")
    fig.update_annotations(font_size=11)
    return fig
