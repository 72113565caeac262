/* render_health.c - under construction in this session. */
