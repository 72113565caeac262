/* log.c - under construction in this session. */
