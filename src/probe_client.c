/* probe_client.c - under construction in this session. */
