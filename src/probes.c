/* probes.c - under construction in this session. */
