/* cgroup.c - under construction in this session. */
