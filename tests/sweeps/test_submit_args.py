"""``sweeps/submit.py`` on bad input: one ``error:`` line, exit code 2, before anything is warned, written or sent.
Nothing here starts Ray or submits a job (``slurm --print``, KubeRay manifests under tmp_path, the checks
themselves)."""

from __future__ import annotations

import os

import pytest
import yaml

from restore_core.errors import UserError
from sweeps.launch.cli import run_main
from sweeps.launch.jobs import dashboard_url, parse_env, runtime_env
from sweeps.launch.kuberay import KubeRayOptions, is_dns_label, is_dns_subdomain, is_memory_quantity
from sweeps.launch.slurm import SlurmOptions

SPACE = ["--space", "lsid_lr"]


def fails_with(args: list[str], capsys, *words: str) -> str:
    """Run submit.py with ``args``; it must exit 2 with exactly one stderr line, ``error: ...`` holding ``words``."""
    assert run_main(args) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    for word in words:
        assert word in lines[0], lines[0]
    assert captured.out == ""
    return lines[0]


@pytest.mark.parametrize("address", ["http://127.0.0.1:notaport", "http://127.0.0.1:99999", "http://127.0.0.1:0",
                                     "ftp://x", "http://:8265"])
def test_a_bad_address_is_one_line_before_any_warning(address, tmp_path, capsys):
    # /tmp storage is node-local: the storage warning would come first if the address were checked late
    fails_with(["ray", "--address", address, "--", *SPACE, "--storage", str(tmp_path)], capsys,
               f"--address {address}:", "http://HOST:PORT", "1..65535")


@pytest.mark.parametrize("address, url", [("head", "http://head:8265"), ("http://127.0.0.1:", "http://127.0.0.1:8265"),
                                          ("https://h:443/", "https://h:443"), ("http://[::1]", "http://[::1]:8265")])
def test_the_dashboard_url(address, url):
    assert dashboard_url(address) == url


def test_env_values_are_taken_verbatim():
    items = ["A=1.50", "B=x=y", "C=true", "D=null", "E=1e3", 'F="quoted"', "G=", "_H2= spaced "]
    env = parse_env(items)
    assert env == {"A": "1.50", "B": "x=y", "C": "true", "D": "null", "E": "1e3", "F": '"quoted"', "G": "",
                   "_H2": " spaced "}
    assert runtime_env([], env)["env_vars"]["A"] == "1.50"


@pytest.mark.parametrize("item, words", [
    ("FOO", ["--env expects NAME=VALUE", "'FOO'", "no '='"]),
    ("1X=2", ["'1X' is not a variable name", "NAME=VALUE"]),
    ("=2", ["'' is not a variable name"]),
    ("A-B=2", ["'A-B' is not a variable name"]),
])
def test_a_bad_env_item(item, words, tmp_path, capsys):
    message = fails_with(["ray", "--address", "http://127.0.0.1:8265", "--env", item, "--", *SPACE, "--storage",
                          str(tmp_path)], capsys, *words)
    assert "--set" not in message


def test_a_kuberay_error_comes_without_the_storage_claim_warning(capsys):
    fails_with(["kuberay", "--image", "x", "--workers", "0", "--", *SPACE], capsys, "--workers")


@pytest.mark.parametrize("output, words", [
    ("missing/dir/rayjob.yaml", ["does not exist", "missing/dir"]),
    (".", ["is a folder", "rayjob.yaml"]),
    ("sub/", ["is a folder"]),
])
def test_a_bad_manifest_path(output, words, tmp_path, capsys):
    (tmp_path / "sub").mkdir()
    fails_with(["kuberay", "--image", "x", "-o", str(tmp_path / output), "--", *SPACE], capsys, "-o ", *words)
    assert sorted(os.listdir(tmp_path)) == ["sub"] and os.listdir(tmp_path / "sub") == []


def test_a_manifest_is_replaced_whole_or_kept(tmp_path, capsys):
    out = tmp_path / "rayjob.yaml"
    out.write_text("earlier manifest\n")
    fails_with(["kuberay", "--image", "x", "--namespace", "Bad_NS", "-o", str(out), "--", *SPACE], capsys,
               "--namespace 'Bad_NS'")
    assert out.read_text() == "earlier manifest\n"
    assert run_main(["kuberay", "--image", "x", "--storage-claim", "runs", "-o", str(out), "--", *SPACE,
                     "--name", "k"]) == 0
    assert yaml.safe_load(out.read_text())["kind"] == "RayJob"
    assert os.listdir(tmp_path) == ["rayjob.yaml"]  # no temporary file left behind
    assert capsys.readouterr().err.strip().splitlines() == [f"wrote {out}; submit it with: kubectl apply -f {out}"]


@pytest.mark.parametrize("args, words", [
    (["--image", ""], ["--image ''", "registry.example/restore:1"]),
    (["--image", "a b"], ["--image 'a b'"]),
    (["--image", "x", "--storage-claim", "Runs_RWX"], ["--storage-claim 'Runs_RWX'", "RFC 1123 subdomain"]),
    (["--image", "x", "--namespace=-ml"], ["--namespace '-ml'", "RFC 1123 label"]),
    (["--image", "x", "--memory-per-worker", "banana"], ["--memory-per-worker 'banana'", "16Gi", "512Mi"]),
    (["--image", "x", "--head-memory", "0"], ["--head-memory '0'", "quantity"]),
    (["--image", "x", "--workdir", "app"], ["--workdir 'app'", "absolute", "/app"]),
])
def test_bad_kuberay_values(args, words, capsys):
    fails_with(["kuberay", *args, "--", *SPACE], capsys, *words)


def test_kubernetes_names_and_quantities():
    assert all(map(is_dns_label, ["ml", "ml-sweeps", "a1", "x" * 63]))
    assert not any(map(is_dns_label, ["", "ML", "-ml", "ml-", "a.b", "a_b", "x" * 64]))
    assert all(map(is_dns_subdomain, ["runs", "runs-rwx", "runs.team-a", "x" * 63 + "." + "y" * 63]))
    # Kubernetes limits a subdomain to 253 characters, not each of its labels to 63
    assert is_dns_subdomain("x" * 253) and not is_dns_subdomain("x" * 254)
    assert not any(map(is_dns_subdomain, ["", "Runs", "runs.", ".runs", "a..b", "a_b"]))
    assert all(map(is_memory_quantity, ["16Gi", "512Mi", "8G", "1e9", "1.5Gi", "128974848", "129M", ".5Gi"]))
    assert not any(map(is_memory_quantity, ["", "banana", "16GiB", "16gi", "0", "0Gi", "-1Gi", "Gi", "1 Gi"]))
    KubeRayOptions(image="registry.example/restore:1", namespace="ml", storage_claim="runs.rwx").check()


def test_a_resumed_run_of_an_unknown_space_is_refused(capsys):
    fails_with(["slurm", "--print", "--", "--resume", "--name", "nonexistent", "--space", "nope"], capsys,
               "unknown space 'nope'", "lsid_lr")


def test_a_resumed_run_with_an_unknown_set_key_is_refused(capsys):
    fails_with(["slurm", "--print", "--", "--resume", "--name", "r", "--space", "lsid_lr", "--set", "train.bogus=1"],
               capsys, "unknown config key 'train.bogus'")


def test_a_resumed_run_needs_no_local_run_folder(capsys):
    assert run_main(["slurm", "--print", "--", "--resume", "--name", "r", "--space", "lsid_lr", "--set",
                     "train.steps=40", "--storage", "/shared/runs"]) == 0
    assert "sweeps/run.py --resume --name r --space lsid_lr --set train.steps=40" in capsys.readouterr().out


@pytest.mark.parametrize("args, words", [
    (["--time", "banana"], ["--time 'banana'", "HH:MM:SS", "D-HH:MM:SS"]),
    (["--time", "4h"], ["--time '4h'"]),
    (["--mem", "lots"], ["--mem 'lots'", "K, M, G or T", "64G"]),
    (["--mem", "64GB"], ["--mem '64GB'"]),
    (["--job-name", "a b"], ["--job-name 'a b'", "letters, digits"]),
    (["--partition", "gpu #1"], ["--partition 'gpu #1'", "#SBATCH"]),
    (["--log-dir", "/tmp/a b"], ["--log-dir '/tmp/a b'", "#SBATCH"]),
])
def test_bad_slurm_values(args, words, capsys):
    fails_with(["slurm", "--print", *args, "--", *SPACE], capsys, *words)


@pytest.mark.parametrize("time", ["30", "0", "30:00", "04:00:00", "2-00", "2-12:30", "2-12:30:00", "UNLIMITED"])
def test_slurm_time_formats(time):
    SlurmOptions(time=time, memory="64G").check()


@pytest.mark.parametrize("time", ["", "1.5", "1-", "-1", "1:2:3:4", "1-2:3:4:5", "04:00:00 "])
def test_bad_slurm_time_formats(time):
    with pytest.raises(UserError, match="is not a SLURM time limit"):
        SlurmOptions(time=time).check()


@pytest.mark.parametrize("memory", ["64000", "64G", "512m", "1T", "0"])
def test_slurm_memory_formats(memory):
    SlurmOptions(memory=memory).check()


def test_the_default_job_name_fits_an_sbatch_line(capsys):
    assert run_main(["slurm", "--print", "--", *SPACE, "--name", "my run", "--storage", "/shared/runs"]) == 0
    assert "#SBATCH --job-name=restore-lsid_lr-my-run\n" in capsys.readouterr().out


def test_an_unwritable_log_dir(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    fails_with(["slurm", "--log-dir", str(tmp_path / "file" / "logs"), "--", *SPACE, "--storage", "/shared/runs"],
               capsys, f"--log-dir {tmp_path / 'file' / 'logs'}: cannot write the batch script there")
    assert os.listdir(tmp_path) == ["file"]


def kuberay_job(tmp_path, capsys, *run_args: str) -> dict:
    out = tmp_path / "rayjob.yaml"
    assert run_main(["kuberay", "--image", "x", "--storage-claim", "runs-rwx", "-o", str(out), "--", *run_args]) == 0
    capsys.readouterr()
    return list(yaml.safe_load_all(out.read_text()))[-1]  # the RayJob, after a ConfigMap where a space is a plugin's


def test_every_spaces_rayjob_name_is_one_kuberay_takes_and_new_each_time(tmp_path, capsys):
    import search_spaces

    for space in search_spaces.list_spaces():
        names = {kuberay_job(tmp_path, capsys, "--space", space, "--profile", "smoke", "--name", "n" * 60)[
            "metadata"]["name"] for _ in range(2)}
        assert len(names) == 2 and all(len(name) <= 47 and is_dns_label(name) for name in names), names


def test_a_storage_given_with_an_equals_sign_is_not_overridden(tmp_path, capsys):
    job = kuberay_job(tmp_path, capsys, "--space", "lsid_lr", "--profile", "smoke", "--storage=/runs/mine")
    assert job["spec"]["entrypoint"].split().count("--storage=/runs/mine") == 1
    assert "--storage /runs" not in job["spec"]["entrypoint"]


@pytest.mark.parametrize("abbreviation", ["--addr", "--dry", "--stor"])
def test_an_abbreviated_run_option_is_refused(abbreviation, capsys):
    # run.py would take --addr for --address, which the submission decides, and --stor for --storage
    with pytest.raises(SystemExit) as stopped:
        run_main(["slurm", "--print", "--", *SPACE, abbreviation, "x"])
    captured = capsys.readouterr()
    assert stopped.value.code == 2 and captured.out == ""
    assert captured.err.strip().splitlines() == [f"error: unrecognized arguments: {abbreviation} x (see --help)"]
