"""Executing a rollout plan: walk its dependency graph, start each step through a driver
(qemu for the VM lab, libvirt, or a command template), and journal every start and end
so an interrupted run resumes without repeating a finished step. Empty until the
executor lands; see README "Architecture"."""
