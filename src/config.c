/* config.c - under construction in this session. */
