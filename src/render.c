/* render.c - under construction in this session. */
