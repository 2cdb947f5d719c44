from restore_core.models import create_model
from restore_core.schema import validate_config
from search_spaces import get_space

SPACE = get_space("lsid_ablation")


def test_eleven_networks_the_second_reading_of_10_and_the_studys_pairs():
    labels = [row.label for row in SPACE.rows]
    assert len(labels) == 12 and labels[0] == "default"
    # the study's numbers sit on its eleven networks, network 10 read as the 1×1 conv; the 3×3 reading has none
    assert set(labels) - set(SPACE.reported) == {"10b · single 3×3 conv"} and "10 · single conv" in SPACE.reported
    steps = [(p.a.split(" ·")[0], p.b.split(" ·")[0]) for p in SPACE.pairs if p.kind == "step"]
    assert steps == [("default", "1"), ("2", "default"), ("default", "3"), ("3", "4"), ("4", "5"), ("5", "6"),
                     ("6", "10"), ("default", "9"), ("9", "8"), ("8", "7")]
    middle = [(p.a.split(" ·")[0], p.b.split(" ·")[0]) for p in SPACE.pairs if p.kind.startswith("middle")]
    assert middle == [("default", "3"), ("9", "4"), ("8", "5"), ("7", "6")]
    assert all(p.a in labels and p.b in labels for p in SPACE.pairs)


def test_with_and_without_middle_differ_only_in_the_middle_pair():
    for pair in (p for p in SPACE.pairs if p.kind.startswith("middle")):
        with_middle = SPACE.row(pair.a).overrides["model"]
        without = SPACE.row(pair.b).overrides["model"]
        assert without.get("middle") is False and with_middle.get("middle", True) is True
        assert with_middle.get("levels") == without.get("levels")


def test_every_variant_validates_and_keeps_the_default_count():
    base = SPACE.base_config("quick")
    for trial in SPACE.grid_trials(seeds=3):
        validate_config(SPACE.resolve(base, trial))
    default = SPACE.resolve(base, {"row": "default"})["model"]
    assert sum(p.numel() for p in create_model(**default).parameters()) == 7_760_748


def test_pair_table_of_the_declared_pairs_on_known_differences():
    """A synthetic results frame where every variant scores its study number plus a seed offset: the paired
    differences must be exactly the study's differences, with zero spread."""
    import pandas as pd
    import pytest

    from analysis.stats import pair_differences

    rows = [{"label": label, "seed": seed, "status": "completed", "best/val/psnr": values["val/psnr"] + 0.3 * seed}
            for label, values in SPACE.reported.items() for seed in range(3)]
    table = pair_differences(pd.DataFrame(rows), SPACE.pairs, ["best/val/psnr"])
    assert len(table) == len(SPACE.pairs) == 14
    for pair, (_, row) in zip(SPACE.pairs, table.iterrows()):
        expected = SPACE.reported[pair.a]["val/psnr"] - SPACE.reported[pair.b]["val/psnr"]
        assert row["mean"] == pytest.approx(expected) and row["n"] == 3 and row["ci"] == pytest.approx(0, abs=1e-9)
    # the study's "Default - 1" row: 30.43 - 30.08
    assert table.iloc[0]["mean"] == pytest.approx(0.35)
