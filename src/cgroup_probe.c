/* cgroup_probe.c - under construction in this session. */
