/* render_json.c - under construction in this session. */
