"""Forwarding verification: a static model of Linux forwarding (rules by priority and
selector, tables, longest prefix, gateways, routers, strict rp_filter) that follows
flows across rendered HostConfigs, counts them by class, and checks each design's
promises, with the kernel as its oracle in the lab (docs/verify.md)."""
