/* scheduler.c - under construction in this session. */
