"""Metrics files outlive versions: a row appended to a file with older columns must not land under the wrong header."""

import math

import pytest

from prefrl.core.records import append_row, read_rows


def test_appending_with_more_columns_rewrites_the_header_and_keeps_the_old_rows(tmp_path):
    path = tmp_path / "metrics.csv"
    append_row(path, ["timesteps", "wall_time"], {"timesteps": 0, "wall_time": 1.5})
    append_row(
        path, ["timesteps", "wall_time", "update_seconds"], {"timesteps": 512, "wall_time": 9.0, "update_seconds": 4.0}
    )
    rows = read_rows(path)
    assert path.read_text().splitlines()[0] == "timesteps,wall_time,update_seconds"
    assert [r["timesteps"] for r in rows] == [0, 512] and [r["wall_time"] for r in rows] == [1.5, 9.0]
    assert math.isnan(rows[0]["update_seconds"]) and rows[1]["update_seconds"] == 4.0


def test_appending_with_the_same_columns_only_appends(tmp_path):
    path = tmp_path / "metrics.csv"
    for t in range(3):
        append_row(path, ["timesteps", "wall_time"], {"timesteps": t, "wall_time": float(t)})
    assert path.read_text().splitlines() == ["timesteps,wall_time", "0,0.0", "1,1.0", "2,2.0"]


def test_a_folder_is_replaced_as_a_whole_and_a_replacement_killed_midway_is_recovered(tmp_path):
    from prefrl.core.records import recover_folder, write_folder_atomic

    model = tmp_path / "policy"
    write_folder_atomic(model, lambda f: [(f / "weights").write_text("v1"), (f / "head").write_text("v1")])
    write_folder_atomic(model, lambda f: (f / "weights").write_text("v2"))
    assert sorted(p.name for p in model.iterdir()) == ["weights"] and (model / "weights").read_text() == "v2"
    assert [p.name for p in tmp_path.iterdir()] == ["policy"]  # no temp or previous copies left behind

    def crash(folder):
        (folder / "weights").write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_folder_atomic(model, crash)
    assert (model / "weights").read_text() == "v2"  # a write that never finished changes nothing
    model.rename(tmp_path / ".policy.previous")  # killed between its two renames
    recover_folder(model)
    assert (model / "weights").read_text() == "v2"
