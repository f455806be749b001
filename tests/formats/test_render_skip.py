"""`netcfg render` skips machines whose inputs are unchanged since the run that wrote
their files, and then touches nothing; anything that changes a file's inputs or the
file itself brings it back."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from netcfg.cli import main
from netcfg.formats.output import JOURNAL, MANIFEST, RUNNING, STATE, TEMPORARY

INVENTORY = Path(__file__).resolve().parents[2] / "inventory"
TEMPLATES = Path(__file__).resolve().parents[2] / "netcfg" / "templates"


def stamps(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every file with what any write, rename or chmod changes."""
    return {
        str(p.relative_to(root)): (p.stat().st_ino, p.stat().st_ctime_ns, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def render(out: Path, capsys, *extra: str, inventory: Path = INVENTORY) -> str:
    assert main(["render", str(inventory), "--out", str(out), *extra]) == 0
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_a_second_run_touches_no_file_at_all(tmp_path, capsys):
    out = tmp_path / "out"
    first = render(out, capsys)
    n = int(first.split()[0])
    before = stamps(out)
    assert {MANIFEST, STATE} <= set(before)
    assert not [p for p in before if ".tmp" in p]  # each temporary file was renamed away
    assert render(out, capsys) == f"0 files written, {n} unchanged"
    assert stamps(out) == before


def test_a_file_edited_by_hand_is_rewritten_even_with_the_same_size(tmp_path, capsys):
    out = tmp_path / "out"
    render(out, capsys)
    batch = out / "iproute2" / "web01.batch"
    original = batch.read_bytes()
    batch.write_bytes(original.replace(b"rule", b"RULE", 1))
    os.utime(batch, ns=(0, 0))  # an mtime set back proves nothing: ctime cannot be
    assert render(out, capsys).startswith("1 file written")
    assert batch.read_bytes() == original
    chmodded = out / "json" / "web01.json"
    chmodded.chmod(0o600)
    assert render(out, capsys).startswith("1 file written")
    assert chmodded.stat().st_mode & 0o777 == 0o644


def test_only_machines_whose_inputs_changed_are_rendered(tmp_path, capsys):
    inventory = tmp_path / "inventory"
    shutil.copytree(INVENTORY, inventory)
    out = tmp_path / "out"
    render(out, capsys, inventory=inventory)
    machines = inventory / "machines"
    # A file of the inventory changes, no machine's configuration does.
    target = next(p for p in machines.rglob("*.yaml") if "web01:" in p.read_text())
    before = stamps(out)
    target.write_text(target.read_text() + "# reformatted, nothing changes\n")
    assert render(out, capsys, inventory=inventory).startswith("0 files written")
    # No output file is touched; the state records the run's new key.
    assert {p: s for p, s in stamps(out).items() if p != STATE} == {p: s for p, s in before.items() if p != STATE}
    # One VM's address changes within its network: its files change, nobody else's.
    target.write_text(target.read_text().replace("[203.0.113.7,", "[203.0.113.77,", 1))
    render(out, capsys, inventory=inventory)
    after = stamps(out)
    changed = {p for p in after if after[p] != before.get(p)}
    assert changed - {MANIFEST, STATE} and all("web01" in p for p in changed - {MANIFEST, STATE})


def test_other_templates_or_formats_render_again(tmp_path, capsys):
    out = tmp_path / "out"
    first = render(out, capsys, "--format", "json")
    n = int(first.split()[0])
    own = tmp_path / "templates"
    shutil.copytree(TEMPLATES / "json", own / "json")
    # The same text by other means: every file is compared again, and none is rewritten.
    template = own / "json" / "host.json.j2"
    template.write_text(template.read_text() + "{# a comment changes no output #}")
    assert render(out, capsys, "--format", "json", "--templates", str(own)) == f"0 files written, {n} unchanged"
    template.write_text(template.read_text().replace("{{", "{{ ", 1))
    assert render(out, capsys, "--format", "json", "--templates", str(own)) == f"0 files written, {n} unchanged"
    assert render(out, capsys, "--format", "json", "--create-links") == f"0 files written, {n} unchanged"


def test_a_damaged_state_file_costs_a_comparison_not_a_wrong_skip(tmp_path, capsys):
    out = tmp_path / "out"
    first = render(out, capsys)
    n = int(first.split()[0])
    (out / STATE).write_text("{not json")
    (out / "json" / "web01.json").write_text("{}")
    assert render(out, capsys) == f"1 file written, {n - 1} unchanged"


def test_a_manifest_that_is_not_the_states_own_is_rebuilt(tmp_path, capsys):
    """A valid manifest listing nothing (or other files) beside an intact state: the
    machines were reused with the files it listed, none, and it was never rebuilt."""
    out = tmp_path / "out"
    n = int(render(out, capsys, "-f", "json").split()[0])
    for listed in ({}, {"../../etc/passwd": {"format": "json", "host": "web01"}}):
        (out / MANIFEST).write_text(json.dumps({"version": 1, "files": listed}))
        assert render(out, capsys, "-f", "json") == f"0 files written, {n} unchanged"
        assert len(json.loads((out / MANIFEST).read_text())["files"]) == n


def test_a_fifo_in_place_of_the_state_or_manifest_holds_nothing_up(tmp_path, capsys):
    # Run in a process of its own with a time limit: the failure this guards against is a hang.
    out = tmp_path / "out"
    render(out, capsys, "--format", "json")
    for name in (STATE, MANIFEST):
        (out / name).unlink()
        os.mkfifo(out / name)
        done = subprocess.run(
            ["netcfg", "--quiet", "render", str(INVENTORY), "--out", str(out), "--format", "json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert (out / name).is_file()  # replaced by the file it names


def counting_loads(monkeypatch) -> list[Path]:
    """Every inventory `netcfg render` loads from now on."""
    import netcfg.cli.render as cli_render

    loads: list[Path] = []
    real = cli_render.load

    def load(path: Path):  # type: ignore[no-untyped-def]
        loads.append(path)
        return real(path)

    monkeypatch.setattr(cli_render, "load", load)
    return loads


def test_the_same_run_again_loads_nothing(tmp_path, capsys, monkeypatch):
    inventory = tmp_path / "inventory"
    shutil.copytree(INVENTORY, inventory)
    out = tmp_path / "out"
    n = int(render(out, capsys, inventory=inventory).split()[0])
    loads = counting_loads(monkeypatch)
    before = stamps(out)
    assert render(out, capsys, inventory=inventory) == f"0 files written, {n} unchanged"
    assert loads == [] and stamps(out) == before
    # Other options, other inventory bytes or a file touched: loaded and compared again.
    assert render(out, capsys, "--host", "web*", inventory=inventory).startswith("0 files written")
    assert len(loads) == 1
    target = next(p for p in (inventory / "machines").rglob("*.yaml") if "web01:" in p.read_text())
    target.write_text(target.read_text() + "# a comment\n")
    assert render(out, capsys, inventory=inventory) == f"0 files written, {n} unchanged"
    assert len(loads) == 2
    assert render(out, capsys, inventory=inventory) == f"0 files written, {n} unchanged"
    assert len(loads) == 2
    (out / "json" / "web01.json").write_text("{}")
    assert render(out, capsys, inventory=inventory) == f"1 file written, {n - 1} unchanged"
    assert len(loads) == 3


def test_a_run_that_failed_half_way_is_rendered_again(tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    n = int(render(out, capsys, "-f", "json").split()[0])
    from netcfg import formats
    from netcfg.errors import InputError

    real = formats.render_host

    def fail_on_kvm01(config, *args, **kwargs):
        if config.name == "kvm01":
            raise InputError("no space left, say")
        return real(config, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(formats, "render_host", fail_on_kvm01)
        # Under --design flat every machine's files change, those before kvm01 are written.
        assert main(["render", str(INVENTORY), "--out", str(out), "-f", "json", "--design", "flat"]) == 2
    assert json.loads((out / STATE).read_text())["run"] is None
    loads = counting_loads(monkeypatch)
    # The machines before kvm01 (in name order) got the flat files: written back.
    assert not render(out, capsys, "-f", "json").startswith("0 files written")
    assert len(loads) == 1
    assert render(out, capsys, "-f", "json") == f"0 files written, {n} unchanged"
    assert len(loads) == 1


def test_a_file_a_template_includes_is_an_input_whatever_its_name(tmp_path, capsys):
    own = tmp_path / "templates" / "json"
    own.mkdir(parents=True)
    (own / "host.json.j2").write_text('{% include "json/extra.inc" %}{{ host.name }}\n')
    (own / "extra.inc").write_text("v1 ")
    out = tmp_path / "out"
    argv = ("-f", "json", "--templates", str(tmp_path / "templates"))
    render(out, capsys, *argv)
    (own / "extra.inc").write_text("v2 ")
    n = int(render(out, capsys, *argv).split()[0])
    assert n > 0 and (out / "json" / "web01.json").read_text() == "v2 web01\n"


def test_netcfg_files_that_are_directories_are_input_errors(tmp_path, capsys):
    out = tmp_path / "out"
    render(out, capsys)
    (out / STATE).unlink()
    (out / STATE).mkdir()
    assert main(["render", str(INVENTORY), "--out", str(out)]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_temporary_files_of_killed_runs_are_removed_where_the_next_run_writes(tmp_path, capsys):
    out = tmp_path / "out"
    render(out, capsys)
    gone = subprocess.Popen(["true"])
    gone.wait()
    running = subprocess.Popen(["sleep", "60"])
    try:
        killed_run = out / "json" / TEMPORARY.format(pid=gone.pid)  # a SIGKILLed render's
        other_run = out / "json" / TEMPORARY.format(pid=running.pid)  # a render still writing
        for temporary in (killed_run, other_run):
            temporary.write_text("half a file")
        (out / "json" / "web01.json").unlink()  # so that the next run writes in json/
        assert render(out, capsys).startswith("1 file written")
        assert not killed_run.exists()
        assert other_run.exists()
    finally:
        running.kill()
        running.wait()


def test_the_run_after_a_broken_one_sweeps_what_it_left(tmp_path, capsys):
    # A render killed while writing leaves its marker, its temporary files and the
    # directories it made for machines it never finished; with the same inputs again the
    # next run must not take the no-op shortcut past them.
    out = tmp_path / "out"
    render(out, capsys)
    assert not (out / RUNNING).exists()  # a run that ends takes its marker away
    files = stamps(out)
    gone = subprocess.Popen(["true"])
    gone.wait()
    (out / RUNNING).touch()
    left = [out / "iproute2" / TEMPORARY.format(pid=gone.pid), out / "networkd" / TEMPORARY.format(pid=gone.pid)]
    for temporary in left:
        temporary.write_text("half a file")
    (out / "networkd" / "zz-never-finished" / "deeper").mkdir(parents=True)
    (out / "networkd" / "someone-elses").mkdir()
    (out / "networkd" / "someone-elses" / "notes.txt").write_text("kept")
    assert render(out, capsys).startswith("0 files written")
    assert not any(p.exists() for p in left)
    assert not (out / "networkd" / "zz-never-finished").exists()
    assert (out / "networkd" / "someone-elses" / "notes.txt").read_text() == "kept"
    assert not (out / RUNNING).exists()
    del_extra = {k: v for k, v in stamps(out).items() if not k.startswith("networkd/someone-elses")}
    assert del_extra == files  # nothing of ours rewritten


def test_the_files_a_killed_run_created_are_ours_to_the_next(tmp_path, capsys):
    # A run killed before its manifest: the files it created are only in its journal.
    out = tmp_path / "out"
    render(out, capsys)
    gone = subprocess.Popen(["true"])
    gone.wait()
    (out / RUNNING).touch()
    (out / "json" / "zz-renamed.json").write_text("{}")
    (out / "json" / "not-ours.json").write_text("{}")  # someone else's: in no journal
    lines = "json\tzz-renamed\tjson/zz-renamed.json\njson\tx\t../outside.json\n"
    (out / JOURNAL.format(pid=gone.pid)).write_text(lines)
    (tmp_path / "outside.json").write_text("kept")
    assert render(out, capsys).endswith("1 removed")
    assert not (out / "json" / "zz-renamed.json").exists()
    assert (out / "json" / "not-ours.json").exists() and (tmp_path / "outside.json").exists()
    assert not (out / JOURNAL.format(pid=gone.pid)).exists() and not (out / RUNNING).exists()
    assert not [p.name for p in out.iterdir() if p.name.endswith(".new")]  # this run's own are gone too


def test_the_same_narrower_run_again_counts_only_its_own_files(tmp_path, capsys):
    out = tmp_path / "out"
    render(out, capsys)  # every machine, every format: the manifest lists them all
    narrow = ("--host", "web1*", "--format", "json")
    first = render(out, capsys, *narrow)
    n = int(first.split(", ")[1].split()[0])  # "0 files written, N unchanged"
    assert 0 < n < len(json.loads((out / MANIFEST).read_text())["files"])
    assert render(out, capsys, *narrow) == f"0 files written, {n} unchanged"


def test_the_temporary_file_of_a_writer_that_is_now_a_zombie_is_removed(tmp_path):
    from netcfg.formats.output import _remove_stale_temporaries

    child = subprocess.Popen(["true"])  # exits, and stays a zombie until waited for
    try:
        for _ in range(100):
            if Path(f"/proc/{child.pid}/stat").read_bytes().rpartition(b")")[2].split()[0] == b"Z":
                break
            time.sleep(0.05)
        (tmp_path / TEMPORARY.format(pid=child.pid)).write_text("half")
        (tmp_path / TEMPORARY.format(pid=os.getpid())).write_text("ours, running")
        _remove_stale_temporaries(str(tmp_path))
        assert [p.name for p in tmp_path.iterdir()] == [TEMPORARY.format(pid=os.getpid())]
    finally:
        child.wait()
