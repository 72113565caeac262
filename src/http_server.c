/* http_server.c - under construction in this session. */
