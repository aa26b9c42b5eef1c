"""`ssltheory sweep` on submitit's debug executor: expansion, idempotence, resumption, the table.

Claims: a grid is the cartesian product of [space] x seeds (a random search draws ``samples``
points reproducibly from ``random_seed``); every run gets one result row in OUT/results; running
the sweep again submits nothing; a run killed after a checkpoint resumes from it and ends with
the same encoder as an uninterrupted run; bad configurations fail before anything is submitted,
naming the key. The local executor (separate processes) is exercised by `slow`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from ssltheory import cli
from ssltheory.sweep import (
    expand_runs,
    load_sweep_config,
    read_results,
    results_table,
    run_one,
    run_sweep,
    sweep_config_from_dict,
    train_config,
)

pytest.importorskip("submitit")

BASE = {
    "sweep": {"name": "t", "seeds": [0, 1]},
    "train": {
        "data": "digits",
        "arch": "small_cnn",
        "z_dim": 8,
        "steps": 4,
        "batch_size": 16,
        "aug_strength": 0.5,
        "hidden_dim": 16,
        "proj_dim": 8,
        "n_codes": 12,
    },
    "space": {"method": ["simsiam", "cissl"]},
    "probe": {"probes": ["linear"], "weight_decay": [1e-4]},
    "score": {"images": 8, "views": 2},
    "executor": {"kind": "debug"},
}


def _config(**sections):
    raw = json.loads(json.dumps(BASE))
    for name, values in sections.items():
        raw[name] = {**raw.get(name, {}), **values} if isinstance(values, dict) else values
    return sweep_config_from_dict(raw)


def test_grid_is_the_product_of_the_space_and_the_seeds_and_ids_are_stable():
    config = _config(space={"method": ["simsiam", "cissl"], "lr": [1e-3, 2e-3]})
    runs = expand_runs(config)
    assert [(r.point["method"], r.point["lr"], r.seed) for r in runs] == [
        (m, lr, s) for m in ("simsiam", "cissl") for lr in (1e-3, 2e-3) for s in (0, 1)
    ]
    assert len({r.run_id for r in runs}) == 8
    assert [r.run_id for r in expand_runs(config)] == [r.run_id for r in runs]
    # n_codes in [train] reaches the methods that have it only
    assert train_config(runs[0].settings, Path("x")).method_options == {"hidden_dim": 16, "out_dim": 8}


def test_random_search_is_reproducible_and_within_its_ranges():
    config = _config(
        sweep={"search": "random", "samples": 5, "seeds": [0], "random_seed": 3},
        space={
            "method": ["simsiam"],
            "lr": {"low": 1e-4, "high": 1e-2, "log": True},
            "checkpoint_every": {"low": 4, "high": 16, "integer": True},
        },
    )
    points = [r.point for r in expand_runs(config)]
    assert points == [r.point for r in expand_runs(config)] and len(points) == 5
    assert all(
        1e-4 <= p["lr"] <= 1e-2 and 4 <= p["checkpoint_every"] <= 16 and isinstance(p["checkpoint_every"], int)
        for p in points
    )


@pytest.mark.parametrize(
    "sections, words",
    [
        ({"sweep": {"search": "bayes"}}, "search"),
        ({"sweep": {"seeds": []}}, "seeds"),
        ({"train": {"seed": 3}}, "seed"),
        ({"space": {"method": "cissl"}}, "method"),
        ({"space": {"lr": {"low": 1, "high": 2}}}, "random"),
        ({"executor": {"kind": "pbs"}}, "kind"),
        ({"executor": {"parallel": 0}}, "parallel"),
        ({"train": {"no_such_option": 1}}, "no_such_option"),
        ({"space": {"method": ["nope"]}}, "nope"),
        ({"score": {"images": 4, "views": 1}}, "views"),
    ],
)
def test_bad_configurations_are_refused_naming_the_key(sections, words):
    with pytest.raises(ValueError, match=words):
        expand_runs(_config(**sections))


def test_debug_sweep_writes_one_row_per_run_then_skips_them_all(tmp_path):
    config = _config(sweep={"seeds": [0]})
    summary = run_sweep(config, tmp_path, poll_s=0.01)
    assert (summary["runs"], summary["skipped"], summary["failed"]) == (2, 0, [])
    rows = read_results(tmp_path)
    assert sorted(r["point"]["method"] for r in rows) == ["cissl", "simsiam"]
    for row in rows:
        assert 0 <= row["probe"]["linear_accuracy"] <= 1 and row["probe"]["linear_weight_decay"] == 1e-4
        assert "ideal_score" in row["score"] and row["status"] == "ok"
    table = (tmp_path / "table.md").read_text()
    assert "| method | seeds | linear_accuracy |" in table and "| cissl | 1 |" in table
    again = run_sweep(config, tmp_path, poll_s=0.01)
    assert (again["runs"], again["skipped"]) == (2, 2)


def test_a_killed_run_resumes_from_its_checkpoint_and_ends_with_the_uninterrupted_weights(tmp_path):
    from ssltheory.ssl.train import train

    config = _config(sweep={"seeds": [0]}, space={"method": ["simsiam"]})
    (spec,) = expand_runs(config)
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    for out in (killed, clean):
        out.mkdir()
        (out / "sweep.json").write_text(
            json.dumps({"config": {"probe": config.probe, "score": {"images": 0, "views": 4}}})
        )
    run_dir = killed / "runs" / spec.run_id
    train(train_config(spec.settings, run_dir), callback=lambda step, record: step == 3)  # "killed" after step 3
    assert (run_dir / "checkpoint.pt").exists() and not (run_dir / "encoder.pt").exists()
    resumed = run_one(spec.to_dict(), str(killed))
    fresh = run_one(spec.to_dict(), str(clean))
    assert resumed["resumed_from"] == "checkpoint" and fresh["resumed_from"] is None
    a = torch.load(run_dir / "encoder.pt", weights_only=True)
    b = torch.load(clean / "runs" / spec.run_id / "encoder.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert run_one(spec.to_dict(), str(killed)) == resumed  # the result row is reused as it is


def test_results_table_example():
    rows = [{"point": {"method": "a"}, "probe": {"linear_accuracy": x}, "score": {}} for x in (0.5, 0.7)]
    rows.append({"point": {"method": "b"}, "probe": {"linear_accuracy": 0.9}, "score": {}})
    md, csv_text = results_table(rows, ["method"])
    assert "| a | 2 | 0.6 +- 0.14 |" in md and "| b | 1 | 0.9 +- 0 |" in md
    assert csv_text.splitlines()[0] == "method,seeds,linear_accuracy_mean,linear_accuracy_sd"


def test_cli_dry_run_lists_the_runs_and_bad_files_exit_2(tmp_path, capsys):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(BASE))
    assert cli.main(["sweep", str(path), "--dry-run"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 4
    assert load_sweep_config(path).seeds == [0, 1]
    (tmp_path / "bad.toml").write_text("[sweep]\nsearch = 'grid'\n[nope]\n")
    assert cli.main(["sweep", str(tmp_path / "bad.toml")]) == 2
    assert "unknown section" in capsys.readouterr().err


@pytest.mark.slow
def test_local_executor_runs_jobs_in_separate_processes(tmp_path):
    config = _config(executor={"kind": "local", "parallel": 2, "timeout_min": 10})
    summary = run_sweep(config, tmp_path, poll_s=0.2)
    assert (summary["runs"], summary["failed"]) == (4, [])
    assert len(list((tmp_path / "submitit").glob("*_log.out"))) == 4


def test_slurm_executor_submits_one_array_with_the_resources_and_concurrency_cap(tmp_path, monkeypatch):
    # A stand-in sbatch records the script it is given; srun only has to exist.
    from ssltheory.sweep import make_executor

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "sbatch").write_text(
        f"#!/bin/sh\ncat \"$1\" > {tmp_path / 'submitted.sh'}\necho 'Submitted batch job 4242'\n"
    )
    for tool in ("srun", "sbatch"):
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{__import__('os').environ['PATH']}")
    config = _config(
        executor={
            "kind": "slurm",
            "partition": "gpu",
            "gpus_per_job": 1,
            "cpus_per_job": 4,
            "mem_gb": 16,
            "timeout_min": 90,
            "parallel": 2,
        }
    )
    runs = expand_runs(config)
    jobs = make_executor(config, tmp_path / "submitit").map_array(print, [r.run_id for r in runs])
    script = (tmp_path / "submitted.sh").read_text()
    assert len(jobs) == 4 and jobs[0].job_id.startswith("4242")
    for line in (
        "--array=0-3%2",
        "--partition=gpu",
        "--gpus-per-node=1",
        "--cpus-per-task=4",
        "--mem=16GB",
        "--time=90",
        "export OMP_NUM_THREADS=4",
    ):
        assert line in script, line


def test_slurm_without_a_cluster_is_one_clear_error(tmp_path, monkeypatch):
    from ssltheory.sweep import make_executor

    monkeypatch.setenv("PATH", str(tmp_path))  # no srun anywhere
    with pytest.raises(ValueError, match="needs a Slurm cluster"):
        make_executor(_config(executor={"kind": "slurm"}), tmp_path / "submitit")


def _fake_slurm(tmp_path, monkeypatch, first_id: int) -> Path:
    """Stand-ins for srun, sbatch, sacct and squeue on PATH: sbatch hands out job ids from
    ``first_id`` (logging each call to sbatch.log); sacct and squeue answer from sacct.txt and
    squeue.txt (lines ``JOBID|STATE``) that the test writes."""
    state = tmp_path / "slurm"
    state.mkdir()
    (state / "next").write_text(str(first_id))
    scripts = {
        "srun": "exit 0",
        "sbatch": f'id=$(cat {state}/next); echo $((id + 1)) > {state}/next; echo "$1" >> {state}/sbatch.log\n'
        'echo "Submitted batch job $id"',
        "sacct": f'echo "JobID|State|NodeList"; cat {state}/sacct.txt 2>/dev/null | sed "s/$/|node1/"',
        "squeue": f"cat {state}/squeue.txt 2>/dev/null",
    }
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in scripts.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{__import__('os').environ['PATH']}")
    return state


def test_slurm_sweeps_submit_and_return_and_a_rerun_never_resubmits_queued_or_running_runs(
    tmp_path, monkeypatch, capsys
):
    from ssltheory.sweep import read_jobs, sweep_status

    slurm = _fake_slurm(tmp_path, monkeypatch, first_id=7100)
    out = tmp_path / "sweep"
    config = _config(executor={"kind": "slurm", "parallel": 2})
    runs = expand_runs(config)
    summary = run_sweep(config, out)
    assert summary["waited"] is False and summary["submitted"] == [r.run_id for r in runs] and summary["active"] == []
    jobs = read_jobs(out)
    assert [jobs[r.run_id]["job_id"] for r in runs] == ["7100_0", "7100_1", "7100_2", "7100_3"]
    assert len((slurm / "sbatch.log").read_text().splitlines()) == 1  # one array

    # sacct: one running, one pending, one failed; the fourth is not in sacct yet but squeue lists it
    (slurm / "sacct.txt").write_text("7100_0|RUNNING\n7100_1|PENDING\n7100_2|FAILED\n")
    (slurm / "squeue.txt").write_text("7100_3|PENDING\n")
    assert [s.state for s in sweep_status(config, out)] == ["running", "queued", "failed", "queued"]
    again = run_sweep(config, out)
    assert again["submitted"] == [runs[2].run_id]
    assert again["active"] == [runs[0].run_id, runs[1].run_id, runs[3].run_id]
    jobs = read_jobs(out)
    assert [jobs[r.run_id]["job_id"] for r in runs] == ["7100_0", "7100_1", "7101", "7100_3"]  # one run: a plain job
    assert len((slurm / "sbatch.log").read_text().splitlines()) == 2

    # a job that neither sacct nor squeue knows is left alone unless the user says it is dead
    (slurm / "squeue.txt").write_text("")
    (slurm / "sacct.txt").write_text("7100_0|RUNNING\n7100_1|PENDING\n7101|PENDING\n")
    assert [s.state for s in sweep_status(config, out)] == ["running", "queued", "queued", "unknown"]
    assert run_sweep(config, out)["submitted"] == []
    assert run_sweep(config, out, resubmit_unknown=True)["submitted"] == [runs[3].run_id]
    assert read_jobs(out)[runs[3].run_id]["job_id"] == "7102"

    # a result row makes a run finished, whatever its job says; --status shows every run's state
    (out / "results").mkdir(exist_ok=True)
    (out / "results" / f"{runs[1].run_id}.json").write_text(json.dumps({"run_id": runs[1].run_id, "point": {}}))
    assert cli.main(["sweep", "--status", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in lines[:4]] == ["running", "finished", "queued", "unknown"]
    assert "job 7100_0" in lines[0] and lines[-1] == "1 running, 1 finished, 1 queued, 1 unknown"
    assert cli.main(["sweep", "--status", str(tmp_path / "nowhere")]) == 2
