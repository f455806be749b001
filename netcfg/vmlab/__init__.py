"""The VM lab: hypervisors as network namespaces with memory cgroups, VMs as real QEMU
(TCG) guests that fill and dirty their memory, live migrations over QMP on tc-shaped
links; the qemu driver that executes a rollout plan on it; and the calibration of the
pre-copy estimator against what QEMU really does. docs/vmlab.md describes it.

Modules, from the edge inwards: artefacts (the guest kernel and busybox, fetched from
Debian's packages and cached), guest (the guest's /init, its initramfs, QEMU's command
line), qmp (the monitor protocol), cgroup (memory limits, v1 or v2), net (namespaces,
veths, tc), proc (processes started in a host's namespace and cgroup), state (the lab's
state file), lab (up, down, status), migrate (one live migration), driver (the qemu
driver of `netcfg rollout run`), calibrate, replay.

Importing this package imports nothing heavy: `spawn` runs as the first process of
every QEMU and must start fast."""
