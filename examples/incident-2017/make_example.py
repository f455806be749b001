#!/usr/bin/env python3
"""Writes the incident-2017 example: the inventory before the change (`inventory/`), the
change (`after/`: one public network added on fe, `reconfigure: restart` as in 2017),
the same fleet and change under `reconfigure: live` (`inventory-live/`, `after-live/`:
a change cannot switch itself to live, so the switch lands first), and the plan the old
automation made for it (`naive-plan.json`); and a copy of the fleet small enough for the
VM lab (`lab/inventory/`, `lab/after/`, `lab/naive-plan.json`: 4 hypervisors, 12 VMs). Deterministic: run it again, get the same
bytes. Run from anywhere: `python examples/incident-2017/make_example.py`.
"""

from __future__ import annotations

import json
from pathlib import Path

from netcfg.vmlab.replay import with_graph

HERE = Path(__file__).resolve().parent
HOSTS = 12
CAPACITY_GIB = 256
NIC_GBIT = 1  # 2017: 1 Gbit/s migration links
# One hypervisor's VMs (rotated per host so hosts differ): GiB and dirty MiB/s.
SIZES = (4, 8, 8, 16, 16, 24, 8, 4, 16, 32, 8, 6)  # 150 GiB of 256
DIRTY = (5, 10, 20, 40, 10, 60, 5, 20, 80, 30, 10, 15)
SERVICES = ("web", "shop", "db", "cache", "mail", "dns", "ci", "backup", "search", "queue", "auth", "mon")
# The VM lab's copy: 4 hypervisors, 3 VMs each, 34 of 48 GiB used (71 %); at the lab's
# 16 MiB per GiB a VM is 128-224 MiB (a lab guest needs 112 at least). Each dirties at
# least half as fast as its share of a link all of its hypervisor's evacuations share
# at once (1 Gbit/s / 3 = 40 MiB/s): none leaves before the others have arrived.
LAB_HOSTS = 4
LAB_CAPACITY_GIB = 48
LAB_SIZES = (8, 12, 14)
LAB_DIRTY = (30, 25, 20)
LAB_SERVICES = ("web", "db", "cache")
NEW_NETWORK = "  - {prefix: 192.0.2.0/26, segment: fe, gateway: 192.0.2.1}  # 2017: the new one\n"

SEGMENTS = """\
segments:
  fe:  {table: 2, priority: 20, description: frontend (public IPv4 of several generations)}
  srv: {table: 3, priority: 30, description: server (private)}
"""

NETWORKS = """\
networks:
  - {prefix: 203.0.113.0/24,  segment: fe,  gateway: 203.0.113.1}   # 2008
  - {prefix: 198.51.100.0/24, segment: fe,  gateway: 198.51.100.1}  # 2012
  - {prefix: 10.20.0.0/16,    segment: srv, gateway: 10.20.0.1, private: true}
"""


def policy(reconfigure: str) -> str:
    return f"""\
policy:
  design: policy-routing
  reconfigure: {reconfigure}
  seatbelt: {{max_fraction: 0.25, max_hosts: 50, stagger_above: 5, approvers: [alice, carol]}}
  rollout: {{max_parallel_evacuations: 2, max_migrations_per_host: 2,
            migration_efficiency: 0.8, reconfigure_s: 60, soak_s: 300}}
"""


def fleet(count=HOSTS, sizes=SIZES, dirty=DIRTY, services=SERVICES) -> tuple[list[dict], list[dict]]:
    hosts, vms = [], []
    for i in range(count):
        name = f"kvm{i + 1:02d}"
        hosts.append({"name": name, "fe": f"203.0.113.{10 + i}", "srv": f"10.20.1.{10 + i}"})
        for j in range(len(sizes)):
            k = (i + j) % len(sizes)
            n = len(vms)
            vms.append({
                "name": f"vm{n + 1:03d}", "host": name, "memory": sizes[k], "dirty": dirty[k],
                "service": services[(i + j) % len(services)],
                "fe": f"198.51.100.{10 + n}" if n < 200 else f"203.0.113.{n - 150}",
                "srv": f"10.20.2.{10 + n}",
            })
    return hosts, vms


def machines_yaml(hosts: list[dict], vms: list[dict], capacity=CAPACITY_GIB,
                  title="12 hypervisors of the 2017 generation (1 Gbit/s links), 12 VMs each.") -> str:
    lines = [f"# {title}", "machines:"]
    for h in hosts:
        lines += [f"  {h['name']}:", "    kind: kvm-host", f"    memory_gib: {capacity}",
                  f"    nic_gbit: {NIC_GBIT}", "    interfaces:",
                  f"      fe: {{addresses: [{h['fe']}]}}", f"      srv: {{addresses: [{h['srv']}]}}"]
    for v in vms:
        lines += [f"  {v['name']}:", "    kind: vm", f"    host: {v['host']}", f"    memory_gib: {v['memory']}",
                  f"    dirty_mib_s: {v['dirty']}", f"    service: {v['service']}", "    interfaces:",
                  f"      fe: {{addresses: [{v['fe']}]}}", f"      srv: {{addresses: [{v['srv']}]}}"]
    return "\n".join(lines) + "\n"


def naive_plan(hosts: list[dict], vms: list[dict], capacity=CAPACITY_GIB) -> dict:
    """What the 2017 automation did: every machine a 1-minute window, the hypervisors'
    windows spread over two hours, every evacuation started at once (all of a host's
    migrations issued together at the start, each timed at full line rate: no dirty
    pages, no sharing of the link), each VM sent to the hypervisor with the most free
    memory in a snapshot taken at the start (its own assignments subtracted; that the
    target still holds VMs it is about to send away was not the automation's concern)."""
    line_mib_s = NIC_GBIT * 1e9 / 8 / 2**20
    free = {h["name"]: capacity - sum(v["memory"] for v in vms if v["host"] == h["name"]) for h in hosts}
    migrations = []
    for v in sorted(vms, key=lambda v: (-v["memory"], v["name"])):
        target = max((h for h in free if h != v["host"]), key=lambda h: (free[h], h))
        free[target] -= v["memory"]
        end = round(v["memory"] * 1024 / line_mib_s, 1)
        migrations.append({"vm": v["name"], "from": v["host"], "to": target,
                           "start_s": 0.0, "end_s": end, "gib": v["memory"]})
    maintenance = [{"host": h["name"], "start_s": 600.0 * (i + 1), "end_s": 600.0 * (i + 1) + 60}
                   for i, h in enumerate(hosts)]
    # VMs: one window each, round-robin over the two hours.
    maintenance += [{"host": v["name"], "start_s": 60.0 * (n % 120), "end_s": 60.0 * (n % 120) + 60}
                    for n, v in enumerate(vms)]
    end = max(m["end_s"] for m in migrations + maintenance)
    migrations.sort(key=lambda m: (m["start_s"], m["from"], m["vm"]))
    maintenance.sort(key=lambda m: (m["start_s"], m["host"]))
    return {"waves": [], "migrations": migrations, "maintenance": maintenance,
            "makespan_s": end, "lower_bound_s": 0}


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def main() -> None:
    hosts, vms = fleet()
    machines = machines_yaml(hosts, vms)
    for name, networks, reconfigure in (
        ("inventory", NETWORKS, "restart"),
        ("after", NETWORKS + NEW_NETWORK, "restart"),
        ("inventory-live", NETWORKS, "live"),
        ("after-live", NETWORKS + NEW_NETWORK, "live"),
    ):
        write(HERE / name / "segments.yaml", SEGMENTS)
        write(HERE / name / "networks.yaml", networks)
        write(HERE / name / "machines.yaml", machines)
        write(HERE / name / "policy.yaml", policy(reconfigure))
    write(HERE / "naive-plan.json", json.dumps(naive_plan(hosts, vms), indent=1) + "\n")
    hosts, vms = fleet(LAB_HOSTS, LAB_SIZES, LAB_DIRTY, LAB_SERVICES)
    machines = machines_yaml(hosts, vms, LAB_CAPACITY_GIB,
                             "The incident's fleet, small enough for the VM lab: 4 hypervisors, 3 VMs each.")
    for name, networks in (("inventory", NETWORKS), ("after", NETWORKS + NEW_NETWORK)):
        write(HERE / "lab" / name / "segments.yaml", SEGMENTS)
        write(HERE / "lab" / name / "networks.yaml", networks)
        write(HERE / "lab" / name / "machines.yaml", machines)
        write(HERE / "lab" / name / "policy.yaml", policy("restart"))
    # `netcfg rollout run` executes a graph: the naive plan gets the dependencies its
    # timetable implies (netcfg/vmlab/replay.py), so the executor runs it as the old
    # automation did: every evacuation at once.
    naive = with_graph(naive_plan(hosts, vms, LAB_CAPACITY_GIB))
    write(HERE / "lab" / "naive-plan.json", json.dumps(naive, indent=1) + "\n")


if __name__ == "__main__":
    main()
