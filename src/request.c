/* request.c - under construction in this session. */
