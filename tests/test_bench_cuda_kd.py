"""bench_cuda's distillation step, rehearsed on CPU with tiny data: teachers, their ensemble, students."""

from __future__ import annotations

import json

from trainer.bench_candidates_md import collect, render
from trainer.bench_cuda import main


def test_teachers_then_their_ensemble_then_students_distilled_from_it(tiny_data, tmp_path):
    out = tmp_path / "cuda"
    main(["--data", str(tiny_data), "--out", str(out), "--device", "cpu", "--skip-preset", "--epochs", "1",
          "--distill-teachers", "1", "2", "--distill-students", "3", "--budget", "900", "--reserve", "0",
          "--student-seconds", "450"])
    results = json.loads((out / "results.json").read_text())
    teachers = ["label-smoothing-0.1-seed-1", "label-smoothing-0.1-seed-2"]
    assert all("test" in results[t] and results[t]["ended"] == "finished" for t in teachers), results
    ensemble = results["teachers-ensemble"]
    assert ensemble["members"] == teachers and "ndcg@10" in ensemble["test"]
    student = results["distilled-seed-3"]
    assert student["ended"] == "finished" and "test" in student, student
    # the student learned from the ensemble this call built, and says so in its saved config
    assert student["config"]["distill"] == [str(out / "teachers-ensemble")]
    assert student["config"]["label_smoothing"] == 0.1 and student["config"]["seed"] == 3
    groups = collect([{**results, "gpu": "none", "torch": "x"}])
    assert [r["seed"] for r in groups[("distilled", "fp32")]] == [3]
    assert sorted(r["seed"] for r in groups[("label-smoothing-0.1", "fp32")]) == [1, 2]
    table = render([out / "results.json"], None)
    assert "| distilled | label_smoothing 0.1, distill teachers | fp32 | 3 |" in table

