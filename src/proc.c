/* proc.c - under construction in this session. */
