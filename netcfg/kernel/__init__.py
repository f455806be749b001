"""The kernel edge: an rtnetlink codec and socket, reading the state netcfg owns, the
steps that reconcile it with a desired HostConfig, and apply with verify and roll back.
It takes HostConfigs and an ownership spec; it never renders and never reads an
inventory's design."""
