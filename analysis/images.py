"""The image grid of the report: each configuration's output from the checkpoint whose number the table reports, on
one fixed crop of the first test image (the same place for every configuration), beside that image's degraded input
and target; for a trial that fell from its peak (degraded), its last checkpoint's output beside it.

The images come from each trial's ``test.json`` (the test evaluation of its selected checkpoint). A run without test
evaluations (from before the test split) shows the validation images its trials wrote to TensorBoard at their
selected step instead, and says so.
"""

from __future__ import annotations

import base64
import glob
import io
import math
import os

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from PIL import Image
from plotly.subplots import make_subplots

from analysis import stats
from analysis.rows import Row
from restore_core.run_files import decode_png, read_test

CROP = 128  # pixels of the first test image shown, centred
MAX_CONFIGS = 11
COLUMNS = 6
# what each task calls its degraded input, its output and its target (TCFL: noisy, denoised, clean)
ROLES = {"input": ("input", "noisy"), "output": ("output", "denoised"), "target": ("target", "clean")}
TARGET = "target"  # the title of the target's tile, which the difference view subtracts
AMPLIFY = 4  # the difference view's gain: restored outputs differ from the target by a few levels of 255
MARGIN = {"l": 10, "r": 10, "t": 80, "b": 50}  # the view and size buttons sit in the bottom margin
MIN_WIDTH = 720  # px: the buttons' room; a wider grid keeps 1:1, as each tile's height sets its image's size


def _role(images: dict, role: str) -> str | None:
    return next((name for name in ROLES[role] if name in images), None)


def images_at_step(trial_dir: str, step: int) -> dict[str, np.ndarray]:
    """{name: (H, W, C) uint8} of every image tag the trial wrote to TensorBoard at ``step`` (the last write of that
    step wins: a resumed trial writes it again)."""
    # lazy: TensorBoard's event reader imports most of TensorBoard, and only runs without test evaluations need it
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # lazy: see above

    found: dict[str, tuple[float, bytes]] = {}
    for path in sorted(glob.glob(os.path.join(trial_dir, "events.out.tfevents.*"))):
        try:
            accumulator = EventAccumulator(path, size_guidance={"images": 0})
            accumulator.Reload()
            tags = accumulator.Tags().get("images", [])
        except Exception:  # noqa: BLE001 - a file cut short by a killed trial is skipped, the others still count
            continue
        for tag in tags:
            for event in accumulator.Images(tag):
                if event.step == step and (tag not in found or event.wall_time >= found[tag][0]):
                    found[tag] = (event.wall_time, event.encoded_image_string)
    return {tag.removeprefix("images/"): np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
            for tag, (_, data) in found.items()}


def crop(image: np.ndarray, size: int = CROP) -> np.ndarray:
    """The centred ``size``×``size`` crop of the first image of a TensorBoard row (H, N·W), or of one image."""
    height = image.shape[0]
    first = image[:, : min(height, image.shape[1])]
    side = min(size, first.shape[0], first.shape[1])
    top, left = (first.shape[0] - side) // 2, (first.shape[1] - side) // 2
    return first[top: top + side, left: left + side]


def to_data_uri(image: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def representative(row: Row, column: str) -> pd.Series | None:
    """The row's trial whose value is nearest the row's mean (the trial the grid shows for the configuration)."""
    counted = stats.counted(row.trials)
    if counted.empty:
        return None
    values = pd.to_numeric(counted[column], errors="coerce") if column in counted else pd.Series(np.nan, counted.index)
    values = values.where(np.isfinite(values.to_numpy(dtype=float)))  # an infinite value is no trial's number
    if not values.notna().any():
        return counted.iloc[0]
    return counted.loc[(values - values.mean()).abs().idxmin()]


def pick_trials(rows: list[Row], column: str, baseline: str | None) -> list[tuple[Row, pd.Series]]:
    """(row, trial) of the first ``MAX_CONFIGS`` rows in table order (and the baseline's first row)."""
    chosen = list(rows[:MAX_CONFIGS])
    if baseline and not any(r.label == baseline for r in chosen):
        chosen += [r for r in rows if r.label == baseline][:1]
    picks = []
    for row in chosen:
        trial = representative(row, column)
        if trial is not None:
            picks.append((row, trial))
    return picks


def _decoded(images: dict) -> dict[str, np.ndarray]:
    return {name: decode_png(text) for name, text in images.items()}


def trial_images(run_dir: str, trial: pd.Series) -> tuple[dict, dict, int | None, int | None]:
    """(images of the selected checkpoint, images of the last one when the trial fell from its peak, the selected
    step, the last step): from test.json, else TensorBoard's validation images at those steps."""
    folder = os.path.join(run_dir, str(trial["trial_id"]))
    record = read_test(folder)
    if record is not None:
        last = record.get("last") or {}
        return (_decoded(record.get("images", {})), _decoded(last.get("images", {})), record["step"],
                last.get("step"))
    step = trial.get("best/step")
    if step is None or (isinstance(step, float) and math.isnan(step)):
        return {}, {}, None, None
    last_step = trial.get("last/step") if bool(trial.get("degraded")) else None
    later = images_at_step(folder, int(last_step)) if last_step is not None else {}
    return images_at_step(folder, int(step)), later, int(step), last_step


def image_tiles(run_dir: str, picks: list[tuple[Row, pd.Series]], column: str) -> tuple[list, bool]:
    """(title, crop) tiles: the degraded input, each picked configuration's output (and a degraded trial's last
    output beside it), the target, then the first trial's other images (a dark channel, a smoke mask); and whether
    they are test images."""
    tiles: list = []
    first: dict | None = None
    on_test = False
    for row, trial in picks:
        selected, last, step, last_step = trial_images(run_dir, trial)
        output = _role(selected, "output")
        if output is None:
            continue
        if first is None:
            first, on_test = selected, read_test(os.path.join(run_dir, str(trial["trial_id"]))) is not None
        value = trial.get(column)
        number = f": {value:.4g}" if isinstance(value, float) and math.isfinite(value) else ""
        tiles.append((f"{row.label} (seed {trial['seed']}, step {step}){number}", crop(selected[output])))
        if last and _role(last, "output"):
            tiles.append((f"{row.label}: last (step {last_step}), degraded", crop(last[_role(last, "output")])))
    if first is None:
        return [], False
    head = [("input (degraded)", crop(first[_role(first, "input")]))] if _role(first, "input") else []
    tail = [(TARGET, crop(first[_role(first, "target")]))] if _role(first, "target") else []
    known = {name for names in ROLES.values() for name in names}
    extra = [(name, crop(image)) for name, image in first.items() if name not in known]
    return head + tiles + tail + extra, on_test


def difference(image: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``|image − target|`` averaged over channels, times :data:`AMPLIFY`, clipped to 255, as grey (H, W, 3) uint8."""
    gap = np.abs(image.astype(np.int16) - target.astype(np.int16)).mean(axis=-1) * AMPLIFY
    return np.repeat(np.clip(np.rint(gap), 0, 255).astype(np.uint8)[..., None], 3, axis=-1)


def image_grid(tiles: list[tuple[str, np.ndarray]], on_test: bool = True) -> go.Figure | None:
    """The tiles in a grid, with buttons for the difference-to-target view and for 1:1 (one image pixel per screen
    pixel; dragging a box zooms further)."""
    if not tiles:
        return None
    cols = min(COLUMNS, len(tiles))
    rows = math.ceil(len(tiles) / cols)
    titles = [t if len(t) <= 40 else t[:39] + "…" for t, _ in tiles]
    hspace, vspace = 0.01, 0.12 / rows
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=hspace, vertical_spacing=vspace)
    target = next((image for title, image in tiles if title == TARGET), None)
    for i, (_, image) in enumerate(tiles):
        fig.add_trace(go.Image(source=to_data_uri(image), name="image"), row=i // cols + 1, col=i % cols + 1)
    if target is not None:  # one difference per tile of the target's size, hidden until its button shows them
        for i, (_, image) in enumerate(tiles):
            if image.shape == target.shape:
                fig.add_trace(go.Image(source=to_data_uri(difference(image, target)), name="difference",
                                       visible=False), row=i // cols + 1, col=i % cols + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    where = ("the first test image, from the checkpoint each configuration's number comes from (the trial nearest "
             "its mean)" if on_test else "the first validation image at the selected step (this run has no test "
             "evaluation)")
    fig.update_layout(title=f"The same crop of {where}: degraded input, outputs, target",
                      # fixed margins: plotly would grow them around the buttons, shrinking the tiles below 1:1
                      height=60 + 230 * rows, margin={**MARGIN, "autoexpand": False}, template="plotly_white",
                      updatemenus=[_view_buttons(fig), _size_buttons(fig, tiles, cols, rows, hspace, vspace)])
    fig.update_annotations(font_size=10)
    return fig


def _view_buttons(fig: go.Figure) -> dict:
    kinds = [trace.name for trace in fig.data]
    images = {"label": "images", "method": "restyle", "args": [{"visible": [k == "image" for k in kinds]}]}
    differences = {"label": f"|image − target| ×{AMPLIFY}", "method": "restyle",
                   "args": [{"visible": [k == "difference" for k in kinds]}]}
    return {"type": "buttons", "direction": "right", "x": 0, "y": 0, "yanchor": "top", "pad": {"t": 8},
            "buttons": [images, differences] if "difference" in kinds else [images]}


def _size_buttons(fig: go.Figure, tiles: list, cols: int, rows: int, hspace: float, vspace: float) -> dict:
    """Sizes at which each tile's plotting area is as many screen pixels high as the crop has pixels (1:1), or twice,
    and at least as wide (an image keeps its aspect, so the smaller side of its area sets its size)."""
    side = max(max(image.shape[:2]) for _, image in tiles)
    # a subplot's share of the plotting area, after the gaps between subplots
    width_share, height_share = (1 - (cols - 1) * hspace) / cols, (1 - (rows - 1) * vspace) / rows

    def size(scale: int) -> dict:
        return {"width": max(MIN_WIDTH, round(MARGIN["l"] + MARGIN["r"] + scale * side / width_share)),
                "height": round(MARGIN["t"] + MARGIN["b"] + scale * side / height_share)}

    fit = {"label": "fit", "method": "relayout", "args": [{"autosize": True, "width": None, "height": 60 + 230 * rows}]}
    return {"type": "buttons", "direction": "right", "x": 1.0, "xanchor": "right", "y": 0, "yanchor": "top",
            "pad": {"t": 8}, "buttons": [fit, *({"label": f"{s}:1", "method": "relayout", "args": [size(s)]}
                                         for s in (1, 2))]}
