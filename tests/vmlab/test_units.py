"""The VM lab's pure parts: scale, cgroup mounts, the state file, non-convergence."""

from __future__ import annotations

import json
import math
from types import MappingProxyType

import pytest

from netcfg.errors import InputError
from netcfg.model.host import Kind
from netcfg.model.inventory import Inventory, Machine
from netcfg.rollout.estimate import MIB_PER_GBIT
from netcfg.vmlab import cgroup
from netcfg.vmlab import state as lab_state
from netcfg.vmlab.cgroup import memory_mounts
from netcfg.vmlab.migrate import _Progress
from netcfg.vmlab.proc import Proc
from netcfg.vmlab.replay import planned_hosts, with_graph
from netcfg.vmlab.scale import Scale
from netcfg.vmlab.state import Host, Incoming, LabState, Vm


def test_scale_keeps_convergence_and_divides_time():
    scale = Scale(mib_per_gib=16, speedup=16)
    assert scale.memory_mib(12) == 192
    # A 12 GiB VM over a 1 Gbit/s link: data / rate is the plan's time / speedup.
    plan_s = 12 * 1024 / MIB_PER_GBIT
    lab_s = scale.memory_mib(12) / scale.nic_mib_s(1)
    assert math.isclose(lab_s, plan_s / 16)
    # Dirty rate against link rate, what decides convergence, is unchanged.
    assert math.isclose(scale.rate_mib_s(40) / scale.nic_mib_s(1), 40 / MIB_PER_GBIT)
    assert scale.seconds(60) == 3.75


def test_memory_mounts_finds_v1_memory_and_v2():
    mounts = (
        "tmpfs /sys/fs/cgroup tmpfs rw 0 0\n"
        "cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0\n"
        "cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0\n"
        "cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0\n"
    )
    assert memory_mounts(mounts) == ("/sys/fs/cgroup/memory", "/sys/fs/cgroup/unified")
    assert memory_mounts("cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n") == (None, "/sys/fs/cgroup")
    assert memory_mounts("cgroup /a\\040b cgroup rw,memory 0 0\n") == ("/a b", None)


def sample_state() -> LabState:
    tree = cgroup.detect()
    root = tree.group("t") if tree is not None else "/sys/fs/cgroup/memory/netcfg-vmlab/t"
    host = Host("kvm01", 0, "vml-t-h0", f"{root}/h0", "10.231.0.1", 1024, 1.0, 29.8)
    vm = Vm("vm1", 0, "kvm01", 128, 2.5, 1, Proc(10, 20), "/run/q", "/run/s", Incoming("kvm02", None))
    return LabState(
        name="t",
        inventory="/inv",
        scale=Scale(16, 16),
        allowance_mib=64,
        efficiency=0.8,
        reconfigure_s=60.0,
        cgroup_version=1,
        cgroup_root=root,
        kernel="/k",
        initramfs="/i",
        switch="vml-t-sw",
        hosts=MappingProxyType({"kvm01": host}),
        vms=MappingProxyType({"vm1": vm}),
    )


def test_state_round_trips_through_json(tmp_path):
    state = sample_state()
    lab_state.write(state, str(tmp_path))
    assert lab_state.read("t", str(tmp_path)) == state
    assert lab_state.read("other", str(tmp_path)) is None


def test_a_damaged_state_file_is_an_input_error_saying_how_to_recover(tmp_path):
    state = sample_state()
    lab_state.write(state, str(tmp_path))
    path = tmp_path / "vmlab" / "t" / "state.json"
    data = json.loads(path.read_text())
    data["vms"][0]["proc"] = {"pid": "ten", "start": 1}
    path.write_text(json.dumps(data))
    with pytest.raises(InputError) as error:
        lab_state.read("t", str(tmp_path))
    assert "damaged" in str(error.value) and "netcfg vmlab down --name t" in str(error.value)


@pytest.mark.parametrize(
    "forged",
    [
        {"cgroup": {"version": 1, "root": "/sys/fs/cgroup/memory"}},  # down would kill every process
        {"switch": "some-other-netns"},
    ],
)
def test_a_state_naming_cgroups_or_namespaces_not_the_labs_is_damaged(tmp_path, forged):
    lab_state.write(sample_state(), str(tmp_path))
    path = tmp_path / "vmlab" / "t" / "state.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **forged}))
    with pytest.raises(InputError, match="damaged .'foreign cgroups or namespaces'"):
        lab_state.read("t", str(tmp_path))
    data = json.loads(sample_state().to_json())
    data["hosts"][0]["cgroup"] = "/sys/fs/cgroup/memory/elsewhere"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match="foreign cgroup or netns of kvm01"):
        lab_state.read("t", str(tmp_path))


@pytest.mark.parametrize("name", ["", "a/b", "..", "x" * 33, "a b", "lab\n"])
def test_lab_names_that_would_reach_paths_are_refused(name, tmp_path):
    with pytest.raises(InputError):
        lab_state.lab_dir(name, str(tmp_path))


def test_a_run_dir_too_long_for_qemus_sockets_is_refused():
    with pytest.raises(InputError, match="too long"):
        lab_state.lab_dir("t", "/" + "r" * 100)


def progress(samples: list[tuple[int, int]], dirty_pages_s: int, mbps: float) -> _Progress:
    seen = _Progress({}, {})
    for sync, remaining in samples:
        seen.note(
            {
                "status": "active",
                "ram": {
                    "dirty-sync-count": sync,
                    "remaining": remaining,
                    "dirty-pages-rate": dirty_pages_s,
                    "page-size": 4096,
                    "mbps": mbps,
                },
            }
        )
    return seen


def test_a_migration_whose_dirty_set_stays_flat_at_line_rate_does_not_converge():
    flat = [(1, 300 << 20), (2, 205 << 20), (3, 209 << 20), (4, 207 << 20)]
    # 12,800 pages/s = 50 MiB/s dirtied against 50 MiB/s (419.4 Mbit/s) sent.
    assert progress(flat, 12800, 419.43).not_converging()
    # The same flat set while the guest dirties much less than is sent: not the verdict.
    assert not progress(flat, 2000, 419.43).not_converging()
    # Too few rounds to say.
    assert not progress(flat[:3], 12800, 419.43).not_converging()


def test_a_shrinking_dirty_set_converges():
    shrinking = [(1, 300 << 20), (2, 200 << 20), (3, 120 << 20), (4, 70 << 20), (5, 40 << 20)]
    assert not progress(shrinking, 12800, 419.43).not_converging()


def test_a_timetable_gets_the_graph_it_implies_and_a_graph_is_kept():
    plan = {
        "waves": [],
        "migrations": [
            {"vm": "a", "from": "h1", "to": "h2", "start_s": 0.0, "end_s": 10.0},
            {"vm": "b", "from": "h1", "to": "h3", "start_s": 5.0, "end_s": 20.0},  # overlaps a: no edge
            {"vm": "c", "from": "h3", "to": "h2", "start_s": 20.0, "end_s": 30.0},  # after b (h3) and a (h2)
            {"vm": "d", "from": "h4", "to": "h5", "start_s": 40.0, "end_s": 50.0},  # touches nothing earlier
        ],
        "maintenance": [{"host": "h1", "start_s": 20.0, "end_s": 30.0}, {"host": "a", "start_s": 10.0, "end_s": 11.0}],
    }
    graph = with_graph(plan)
    after = {s["id"]: s["after"] for key in ("migrations", "maintenance") for s in graph[key]}
    assert after == {
        "migrate-0": [],
        "migrate-1": [],
        "migrate-2": ["migrate-0", "migrate-1"],
        "migrate-3": [],
        "maint-h1": ["migrate-0", "migrate-1"],
        "maint-a": ["migrate-0"],
    }
    assert "id" not in plan["migrations"][0]  # the caller's plan is not changed
    assert with_graph(graph) == graph
    assert planned_hosts(plan, Inventory.build({}, [], [Machine("a", Kind.VM, host="h1")])) == {"a": "h2"}


@pytest.mark.parametrize("command", [["status", "--name", "x"], ["down", "--name", "x"]])
def test_vmlab_without_root_says_it_needs_root(command, monkeypatch, capsys):
    from netcfg.cli import main

    monkeypatch.setattr("os.geteuid", lambda: 65534)
    assert main(["vmlab", *command]) == 2
    assert "netcfg vmlab needs root" in capsys.readouterr().err


def test_a_process_is_held_by_the_cgroups_it_is_in_only():
    import os

    tree = cgroup.detect()
    if tree is None:
        pytest.skip("no memory cgroup controller is mounted")
    with open(f"/proc/{os.getpid()}/cgroup") as handle:
        line = next(x for x in handle if ("memory" in x.split(":")[1].split(",")) == (tree.version == 1))
    own = os.path.join(tree.mount, line.rstrip("\n").split(":", 2)[2].lstrip("/"))
    assert cgroup.holds(own, os.getpid(), tree)
    assert cgroup.holds(tree.mount, os.getpid(), tree)  # the root holds everything
    assert not cgroup.holds(tree.group("no-such-lab"), os.getpid(), tree)


def test_a_plan_the_lab_cannot_run_is_refused_before_anything_starts(tmp_path, monkeypatch, capsys):
    """A migration naming a VM or hypervisor the lab lacks failed only when it started,
    independent steps having run; a dry run did not check --lab at all."""
    from netcfg.cli import main
    from tests.execute.helpers import hot, migration, write_plan

    monkeypatch.setenv("NETCFG_RUN_DIR", str(tmp_path))
    lab_state.write(sample_state(), str(tmp_path))
    plan = write_plan(
        tmp_path / "plan.json",
        waves=[hot("hot-0", ["web01"])],
        migrations=[migration("migrate-0", "vm9", "kvm01", "kvm09", ["hot-0"])],
        maint=[],
    )
    for extra in ([], ["--dry-run"]):
        assert main(["rollout", "run", str(plan), "--driver", "qemu", "--lab", "t", *extra]) == 2
        err = capsys.readouterr().err
        assert "--lab: error: migrate-0: 'vm9' is not a VM of lab t" in err
        assert "--lab: error: migrate-0: 'kvm09' is not a hypervisor of lab t" in err
    assert not list(tmp_path.glob("*.journal*"))
    for lab in ([], ["--lab", "absent"]):
        assert main(["rollout", "run", str(plan), "--driver", "qemu", "--dry-run", *lab]) == 2
        assert "--lab: error:" in capsys.readouterr().err


def test_a_lost_vm_is_blamed_on_the_oom_killer_only_for_kills_since_it_came(monkeypatch, tmp_path):
    """Its host's cgroup counts OOM kills for ever: one from before the VM arrived is
    another's death. Without one, QEMU's last words and its guest's say what happened."""
    from dataclasses import replace

    from netcfg.vmlab import lab

    state = sample_state()
    serial = tmp_path / "vm1-g0.serial"
    serial.write_text("beat 1\n---[ end Kernel panic - not syncing: Fatal exception ]---\n")
    (tmp_path / "vm1-g0.log").write_text("")
    vm = replace(state.vms["vm1"], oom_kills=2, serial=str(serial))
    monkeypatch.setattr(lab_state, "oom_kills", lambda state, host: 2)
    assert lab._gone(state, vm) == (
        "its QEMU is gone; its log's last line: 'no message',"
        " its console's: '---[ end Kernel panic - not syncing: Fatal exception ]---'"
    )
    monkeypatch.setattr(lab_state, "oom_kills", lambda state, host: 3)
    assert lab._gone(state, vm) == (
        "its QEMU is gone; kvm01's memory cgroup OOM-killed 1 process since it began to run there"
    )


def test_a_lab_taken_down_meanwhile_does_not_get_its_directory_back(tmp_path):
    lab_state.write(sample_state(), str(tmp_path))
    directory = tmp_path / "vmlab" / "t"
    import shutil

    shutil.rmtree(directory)  # what `down` does while a rollout runs
    with pytest.raises(InputError, match="taken down meanwhile"):
        lab_state.update("t", str(tmp_path), lambda state: state)
    assert not directory.exists()
