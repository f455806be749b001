"""Forwarding verification: a static model of Linux forwarding (rules, tables,
longest-prefix match, gateways) that follows flows across rendered HostConfigs and
checks each design's promises, with the kernel as its oracle in the lab. Empty until the
verifier lands; see README "Architecture"."""
