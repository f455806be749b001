"""Labs that prove netcfg against reality: the namespace lab (netns.py: a fleet as
network namespaces, probed with real packets by probe.py and check.py), and the VM lab
(real QEMU live migrations under memory cgroups), which lands with the executor."""
