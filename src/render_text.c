/* render_text.c - under construction in this session. */
