/* main.c - the command line; wires config, probes, scheduler and HTTP server together. */
#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "vh/clock.h"
#include "vh/config.h"
#include "vh/config_compare.h"
#include "vh/http_server.h"
#include "vh/log.h"
#include "vh/peers.h"
#include "vh/probe_client.h"
#include "vh/probes.h"
#include "vh/random.h"
#include "vh/resolver.h"
#include "vh/scheduler.h"

#define EXIT_USAGE 2
#define DEFAULT_PROBE_TIMEOUT_MS 2000

static const char usage_text[] =
		"usage: veza-health [serve] -c FILE [--listen ADDR:PORT] [--log-level LEVEL]\n"
		"                   [--log-format FORMAT]\n"
		"       veza-health probe URL [--timeout MS]\n"
		"       veza-health check-config FILE\n"
		"       veza-health --help | --version\n"
		"\n"
		"A health-check sidecar: runs checks of a service's process, cgroup and "
		"dependencies in\n"
		"the background and serves the results as liveness, readiness and startup probes.\n"
		"\n"
		"Commands:\n"
		"  serve          run the daemon in the foreground, logging to stderr (the "
		"default)\n"
		"  probe URL      GET an http:// URL; exit 0 on a 2xx answer, 1 otherwise "
		"(refused,\n"
		"                 timeout, non-2xx), 2 for a bad URL. For container HEALTHCHECKs.\n"
		"  check-config   validate FILE and print the effective config, secrets redacted;\n"
		"                 exit 0 when valid, 2 when not\n"
		"\n"
		"Options:\n"
		"  -c, --config FILE      the JSON config (see docs/configuration.md)\n"
		"  -l, --listen ADDR:PORT listen here instead of the config's \"listen\"; ADDR is "
		"an IPv4\n"
		"                         or [IPv6] literal, or empty for all interfaces "
		"(\":8099\")\n"
		"      --log-level LEVEL  debug, info (default), warn or error\n"
		"      --log-format FORMAT\n"
		"                         json (default: one JSON object per line) or text "
		"(logfmt);\n"
		"                         see docs/logging.md\n"
		"      --timeout MS       probe: deadline for the whole exchange (default 2000)\n"
		"  -h, --help             show this help\n"
		"  -V, --version          show the version\n"
		"\n"
		"Endpoints: /live /ready /startup /health /health/CHECK (aliases /livez /healthz "
		"/readyz\n"
		"/startupz /livez/CHECK /readyz/CHECK); ?verbose for text, ?exclude=CHECK to leave "
		"one out,\n"
		"Accept: application/health+json for the IETF draft format. /metrics for "
		"Prometheus\n"
		"(docs/metrics.md); /debug/history and /debug/history/CHECK for the latest "
		"results\n"
		"and transitions of each check (?verbose for text); GET /drain for a preStop "
		"hook.\n"
		"/peers/state is what this replica reports to its peers (config \"peers\").\n"
		"Details (outputs, timings, history, /drain) go to loopback clients and to\n"
		"\"Authorization: Bearer TOKEN\"; others see statuses only (config \"details\").\n"
		"\n"
		"Signals: SIGTERM drains for the config's shutdown_delay, then exits (a second "
		"one\n"
		"exits at once); SIGINT exits at once; SIGHUP reloads the config file.\n";

struct options {
	const char *command;
	const char *config_path;
	const char *listen;
	const char *log_level;
	const char *log_format;
	const char *url;
	const char *timeout;
};

static int usage_error(const char *fmt, ...) VH_PRINTF(1, 2);

/* Usage errors are one line on stderr and exit 2, so scripts can tell them from check failures. */
static int usage_error(const char *fmt, ...) {
	va_list ap;
	fprintf(stderr, "veza-health: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (try --help)\n");
	return EXIT_USAGE;
}

/* Takes the value of an option given as "--opt VALUE" or "--opt=VALUE". */
static bool take_value(int argc, char **argv, int *i, const char *name, const char **out) {
	size_t len = strlen(name);
	if (strncmp(argv[*i], name, len) == 0 && argv[*i][len] == '=') {
		*out = argv[*i] + len + 1;
		return true;
	}
	if (strcmp(argv[*i], name) != 0) {
		return false;
	}
	if (*i + 1 >= argc) {
		*out = NULL;
		return true;
	}
	*out = argv[++*i];
	return true;
}

static bool is_command(const char *arg) {
	return strcmp(arg, "serve") == 0 || strcmp(arg, "probe") == 0 ||
			strcmp(arg, "check-config") == 0;
}

/* Returns -1 to go on, or an exit code. */
static int parse_options(int argc, char **argv, struct options *opts) {
	int i = 1;
	opts->command = "serve";
	if (argc > 1 && is_command(argv[1])) {
		opts->command = argv[1];
		i = 2;
	}
	for (; i < argc; i++) {
		const char *arg = argv[i];
		const char **slot = NULL;
		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			fputs(usage_text, stdout);
			return EXIT_SUCCESS;
		}
		if (strcmp(arg, "-V") == 0 || strcmp(arg, "--version") == 0) {
			printf("veza-health %s\n", VH_VERSION);
			return EXIT_SUCCESS;
		}
		if (take_value(argc, argv, &i, "-c", &opts->config_path) ||
				take_value(argc, argv, &i, "--config", &opts->config_path)) {
			slot = &opts->config_path;
		} else if (take_value(argc, argv, &i, "-l", &opts->listen) ||
				take_value(argc, argv, &i, "--listen", &opts->listen)) {
			slot = &opts->listen;
		} else if (take_value(argc, argv, &i, "--log-level", &opts->log_level)) {
			slot = &opts->log_level;
		} else if (take_value(argc, argv, &i, "--log-format", &opts->log_format)) {
			slot = &opts->log_format;
		} else if (take_value(argc, argv, &i, "--timeout", &opts->timeout)) {
			slot = &opts->timeout;
		} else if (arg[0] == '-' && arg[1] != '\0') {
			return usage_error("unknown option %s", arg);
		} else if (strcmp(opts->command, "probe") == 0 && !opts->url) {
			opts->url = arg;
			continue;
		} else if (strcmp(opts->command, "check-config") == 0 && !opts->config_path) {
			opts->config_path = arg;
			continue;
		} else {
			return usage_error("unexpected argument \"%s\"", arg);
		}
		if (!*slot) {
			return usage_error("option %s needs a value", arg);
		}
	}
	return -1;
}

static int run_probe(const struct options *opts) {
	int64_t timeout_ms = DEFAULT_PROBE_TIMEOUT_MS;
	if (!opts->url) {
		return usage_error("%s", "probe needs a URL, e.g. http://127.0.0.1:8099/ready");
	}
	if (opts->timeout) {
		char *end;
		errno = 0;
		long long value = strtoll(opts->timeout, &end, 10);
		if (errno || *end || end == opts->timeout || value < 1 || value > 3600000) {
			return usage_error("--timeout takes milliseconds from 1 to 3600000, got "
					   "\"%s\"",
					opts->timeout);
		}
		timeout_ms = value;
	}
	struct vh_probe_client_result result;
	int code = vh_probe_client_run(opts->url, timeout_ms, &result);
	fprintf(stderr, "veza-health probe: %s\n", result.message);
	return code;
}

static int run_check_config(const struct options *opts) {
	char err[512];
	if (!opts->config_path) {
		return usage_error("%s", "check-config needs a FILE");
	}
	struct vh_config *config = vh_config_load(opts->config_path, err, sizeof(err));
	if (!config) {
		fprintf(stderr, "veza-health: %s\n", err);
		return EXIT_USAGE;
	}
	char *text = vh_config_dump(config);
	vh_config_destroy(config);
	if (!text) {
		fprintf(stderr, "veza-health: out of memory\n");
		return EXIT_FAILURE;
	}
	printf("%s\n", text);
	free(text);
	return EXIT_SUCCESS;
}

/* What a running daemon owns; torn down in reverse order of creation. */
struct daemon {
	const struct options *opts; /* the command line, read again on SIGHUP */
	struct vh_config *config; /* the one in force; a reload replaces it */
	/* The HTTP server borrows the service name for the daemon's life, while a reload frees
	 * the config that held it: so it lives here and a reload copies the new name in. */
	char service[VH_CONFIG_NAME_MAX];
	struct event_base *base;
	struct vh_resolver *resolver;
	struct vh_probe_env env; /* borrowed by every probe */
	struct vh_scheduler *sched;
	struct vh_peers *peers; /* NULL without "peers" */
	struct vh_http_server *http;
	struct event *sigterm;
	struct event *sigint;
	struct event *sighup;
	struct event *drained; /* ends the drain after shutdown_delay */
	bool draining; /* readiness fails from now on */
	bool drain_over; /* shutdown_delay has passed since the drain began */
	bool exit_when_drained; /* a SIGTERM asked for the exit; a /drain alone does not */
};

/* libevent's own warnings (a failed connect inside evhttp, say) would otherwise reach stderr as
 * bare "[warn] ..." lines that log shippers cannot parse. */
static void on_libevent_log(int severity, const char *msg) {
	enum vh_log_level level = VH_LOG_DEBUG;
	if (severity == EVENT_LOG_WARN) {
		level = VH_LOG_WARN;
	} else if (severity == EVENT_LOG_ERR) {
		level = VH_LOG_ERROR;
	}
	vh_log(level, "libevent", "detail", msg, NULL);
}

static void exit_now(struct daemon *d, const char *key, const char *value) {
	vh_log(VH_LOG_INFO, "shutting down", key, value, NULL);
	event_base_loopexit(d->base, NULL);
}

static void on_drained(evutil_socket_t fd, short what, void *arg) {
	struct daemon *d = arg;
	/* The /drain answers go out now; a moment's grace lets one that met a full socket buffer
	 * finish before the exit closes its connection. */
	struct timeval grace = {0, 50 * 1000};
	d->drain_over = true;
	vh_http_server_drained(d->http);
	if (d->exit_when_drained) {
		vh_log(VH_LOG_INFO, "shutting down", "after", "shutdown_delay", NULL);
		event_base_loopexit(d->base, &grace);
	}
}

/* Readiness turns 503 at once so the load balancer stops sending, while liveness stays 200 and
 * the checks keep running, until shutdown_delay has passed. Returns false when the timer that
 * ends it cannot be armed. */
static bool start_drain(struct daemon *d, const char *key, const char *value) {
	int64_t delay_ms = d->config->shutdown_delay_ms;
	struct timeval tv = {.tv_sec = delay_ms / 1000, .tv_usec = (delay_ms % 1000) * 1000};
	char delay[32];
	d->draining = true;
	vh_scheduler_drain(d->sched);
	if (evtimer_add(d->drained, &tv) != 0) {
		vh_log(VH_LOG_ERROR, "cannot arm the drain timer; exiting now", NULL);
		return false;
	}
	vh_log(VH_LOG_INFO, "draining", key, value, "drain_for",
			vh_clock_format_duration(delay_ms, delay, sizeof(delay)), NULL);
	return true;
}

/* GET /drain (a Kubernetes preStop hook): the same drain as SIGTERM's, without the exit, which
 * is the container's own SIGTERM to ask for. */
static bool on_drain_request(void *arg) {
	struct daemon *d = arg;
	if (!d->draining && !start_drain(d, "cause", "/drain")) {
		/* Without its timer the drain would never end; answer now rather than never. */
		d->drain_over = true;
	}
	return d->drain_over;
}

/* The first SIGTERM drains and then exits; if a /drain began the drain, the exit waits for its
 * end, and if the drain is over, it is at once. A SIGINT (a person at a terminal), a second
 * SIGTERM or a zero delay exits at once. */
static void on_signal(evutil_socket_t signum, short what, void *arg) {
	struct daemon *d = arg;
	const char *name = signum == SIGTERM ? "SIGTERM" : "SIGINT";
	bool first = !d->exit_when_drained;
	d->exit_when_drained = true;
	if (signum == SIGTERM && first && d->config->shutdown_delay_ms > 0 && !d->drain_over) {
		if (d->draining || start_drain(d, "signal", name)) {
			return;
		}
	}
	exit_now(d, "signal", name);
}

/* --listen replaces the file's listen addresses, and with them the peers' default port. */
static void use_listen_option(struct vh_config *config) {
	config->n_listen = 1;
	if (config->peers.enabled && config->peers.port_from_listen) {
		config->peers.port = config->listen[0].port;
	}
}

/* Reads the config file again for a reload, with --listen winning over the file's listen as it
 * did at start. */
static struct vh_config *reload_config(const struct options *opts, char *err, size_t err_len) {
	struct vh_config *config = vh_config_load(opts->config_path, err, err_len);
	if (config && opts->listen) {
		/* Checked at start already, so this cannot fail now. */
		if (!vh_config_parse_listen(opts->listen, &config->listen[0], err, err_len)) {
			vh_config_destroy(config);
			return NULL;
		}
		use_listen_option(config);
	}
	return config;
}

static void log_reloaded(const struct vh_scheduler *sched, const struct vh_scheduler_reload *r) {
	struct vh_snapshot snapshot;
	char generation[24], kept[24], restarted[24], added[24], removed[24];
	vh_scheduler_snapshot(sched, NULL, &snapshot);
	snprintf(generation, sizeof(generation), "%" PRIu64, snapshot.config_generation);
	snprintf(kept, sizeof(kept), "%zu", r->kept);
	snprintf(restarted, sizeof(restarted), "%zu", r->restarted);
	snprintf(added, sizeof(added), "%zu", r->added);
	snprintf(removed, sizeof(removed), "%zu", r->removed);
	vh_log(VH_LOG_INFO, "config reloaded", "generation", generation, "kept", kept, "restarted",
			restarted, "added", added, "removed", removed, NULL);
}

/* SIGHUP: a valid file replaces the checks (vh_scheduler_reload() keeps the unchanged ones
 * running); an invalid one is logged with the message check-config gives and changes nothing.
 * The listeners stay open throughout, so no connection is dropped. */
static void on_sighup(evutil_socket_t signum, short what, void *arg) {
	struct daemon *d = arg;
	char err[512];
	char fixed[64];
	struct vh_scheduler_reload counts;
	struct vh_config *next = reload_config(d->opts, err, sizeof(err));
	if (!next) {
		vh_log(VH_LOG_ERROR, "config reload rejected; the old config stays in force",
				"error", err, NULL);
		return;
	}
	if (vh_config_keep_fixed(d->config, next, fixed, sizeof(fixed)) > 0) {
		vh_log(VH_LOG_WARN, "config change needs a restart; kept as it was", "settings",
				fixed, NULL);
	}
	if (!vh_scheduler_reload(
			    d->sched, next->checks, next->n_checks, &counts, err, sizeof(err))) {
		vh_log(VH_LOG_ERROR, "config reload failed; the old config stays in force", "error",
				err, NULL);
		vh_config_destroy(next);
		return;
	}
	snprintf(d->service, sizeof(d->service), "%s", next->service);
	vh_http_server_set_access(d->http, &next->access);
	vh_config_destroy(d->config);
	d->config = next;
	log_reloaded(d->sched, &counts);
}

static bool make_probe(void *arg, const struct vh_check_config *config, struct vh_probe *out,
		char *err, size_t err_len) {
	struct daemon *d = arg;
	return vh_probes_create(&d->env, config, out, err, err_len);
}

static size_t fleet_views(void *arg, int64_t now_mono_ms, const struct vh_fleet_view **out) {
	struct daemon *d = arg;
	return vh_peers_views(d->peers, now_mono_ms, out);
}

static void on_peer_round(void *arg, int64_t round_started_mono_ms) {
	struct daemon *d = arg;
	struct vh_fleet_status status = {0};
	vh_peers_stats(d->peers, vh_clock_mono_ms(), &status);
	vh_scheduler_fleet_round(d->sched, &status, round_started_mono_ms);
}

/* Replicas tell their own reports from others' by this id. Containers often share pids and
 * start in the same millisecond, so it comes from the kernel's generator, which never blocks
 * with GRND_NONBLOCK; the clock and pid are only the fallback. */
static uint64_t instance_id(void) {
	uint64_t id = 0;
	if (getrandom(&id, sizeof(id), GRND_NONBLOCK) != (ssize_t)sizeof(id) || id == 0) {
		id = vh_random_seed((uintptr_t)&id) | 1;
	}
	return id;
}

static bool start_peers(struct daemon *d, char *err, size_t err_len) {
	const struct vh_config *c = d->config;
	struct vh_fleet_status status = {.instance = instance_id(),
			.panic_threshold = c->peers.panic_threshold,
			.panic_mode = c->peers.panic_mode};
	if (!c->peers.enabled) {
		return true;
	}
	d->peers = vh_peers_create(d->base, d->resolver, &c->peers, c->listen, c->n_listen,
			status.instance, c->access.token, on_peer_round, d, err, err_len);
	if (!d->peers) {
		return false;
	}
	vh_scheduler_set_fleet(d->sched, &status, fleet_views, d);
	if (!vh_peers_start(d->peers)) {
		snprintf(err, err_len, "cannot arm the peer timers");
		return false;
	}
	return true;
}

static bool add_checks(struct daemon *d, char *err, size_t err_len) {
	for (size_t i = 0; i < d->config->n_checks; i++) {
		if (!vh_scheduler_add(d->sched, &d->config->checks[i], err, err_len)) {
			return false;
		}
	}
	return true;
}

static bool daemon_start(struct daemon *d, char *err, size_t err_len) {
	event_set_log_callback(on_libevent_log);
	d->base = event_base_new();
	if (!d->base) {
		snprintf(err, err_len, "cannot create the event loop");
		return false;
	}
	d->resolver = vh_resolver_create(d->base, &d->config->dns, err, err_len);
	if (!d->resolver) {
		return false;
	}
	d->env.base = d->base;
	d->env.resolver = d->resolver;
	d->sched = vh_scheduler_create(d->base, 0, make_probe, d, err, err_len);
	if (!d->sched || !add_checks(d, err, err_len)) {
		return false;
	}
	snprintf(d->service, sizeof(d->service), "%s", d->config->service);
	d->http = vh_http_server_create(d->base, d->service, d->config->listen, d->config->n_listen,
			d->sched, &d->config->access, on_drain_request, d, err, err_len);
	if (!d->http) {
		return false;
	}
	d->sigterm = evsignal_new(d->base, SIGTERM, on_signal, d);
	d->sigint = evsignal_new(d->base, SIGINT, on_signal, d);
	d->sighup = evsignal_new(d->base, SIGHUP, on_sighup, d);
	d->drained = evtimer_new(d->base, on_drained, d);
	if (!d->sigterm || !d->sigint || !d->sighup || !d->drained ||
			evsignal_add(d->sigterm, NULL) || evsignal_add(d->sigint, NULL) ||
			evsignal_add(d->sighup, NULL)) {
		snprintf(err, err_len, "cannot install signal handlers");
		return false;
	}
	return start_peers(d, err, err_len) && vh_scheduler_start(d->sched, err, err_len);
}

/* Probes first: their connections hold events that must go before the loop does. */
static void daemon_stop(struct daemon *d) {
	vh_peers_destroy(d->peers);
	vh_scheduler_destroy(d->sched);
	vh_http_server_destroy(d->http);
	/* After the HTTP server: freeing the resolver turns the loop a few times to let cancelled
	 * lookups go, and no request may be served from a freed scheduler then. */
	vh_resolver_destroy(d->resolver);
	if (d->sigterm) {
		event_free(d->sigterm);
	}
	if (d->sigint) {
		event_free(d->sigint);
	}
	if (d->sighup) {
		event_free(d->sighup);
	}
	if (d->drained) {
		event_free(d->drained);
	}
	if (d->base) {
		event_base_free(d->base);
	}
	vh_config_destroy(d->config);
}

static void log_listening(const struct vh_config *config) {
	for (size_t i = 0; i < config->n_listen; i++) {
		const struct vh_listen *l = &config->listen[i];
		char addr[96];
		bool v6 = strchr(l->host, ':') != NULL;
		snprintf(addr, sizeof(addr), "%s%s%s:%u", v6 ? "[" : "", l->host, v6 ? "]" : "",
				l->port);
		vh_log(VH_LOG_INFO, "listening", "address", addr, NULL);
	}
}

static int run_serve(const struct options *opts) {
	char err[512];
	struct daemon d = {.opts = opts};
	if (!opts->config_path) {
		return usage_error("%s", "serve needs -c FILE");
	}
	d.config = vh_config_load(opts->config_path, err, sizeof(err));
	if (!d.config) {
		fprintf(stderr, "veza-health: %s\n", err);
		return EXIT_USAGE;
	}
	if (opts->listen) {
		if (!vh_config_parse_listen(opts->listen, &d.config->listen[0], err, sizeof(err))) {
			vh_config_destroy(d.config);
			return usage_error("--listen: %s", err);
		}
		use_listen_option(d.config);
	}
	if (geteuid() == 0) {
		vh_log(VH_LOG_WARN, "running as root; run the sidecar as an unprivileged user",
				NULL);
	}
	int code = EXIT_SUCCESS;
	if (!daemon_start(&d, err, sizeof(err))) {
		vh_log(VH_LOG_ERROR, "cannot start", "error", err, NULL);
		code = EXIT_FAILURE;
	} else {
		char n_checks[16];
		snprintf(n_checks, sizeof(n_checks), "%zu", d.config->n_checks);
		log_listening(d.config);
		vh_log(VH_LOG_INFO, "started", "version", VH_VERSION, "service", d.config->service,
				"checks", n_checks, NULL);
		if (event_base_dispatch(d.base) < 0) {
			vh_log(VH_LOG_ERROR, "event loop failed", NULL);
			code = EXIT_FAILURE;
		}
	}
	daemon_stop(&d);
	return code;
}

int main(int argc, char **argv) {
	struct options opts = {0};
	/* hiredis and evbuffer write to sockets that a peer may have closed. */
	signal(SIGPIPE, SIG_IGN);
	int code = parse_options(argc, argv, &opts);
	if (code >= 0) {
		return code;
	}
	if (opts.log_level) {
		enum vh_log_level level;
		if (!vh_log_parse_level(opts.log_level, &level)) {
			return usage_error(
					"--log-level takes debug, info, warn or error, got \"%s\"",
					opts.log_level);
		}
		vh_log_set_level(level);
	}
	if (opts.log_format) {
		enum vh_log_format format;
		if (!vh_log_parse_format(opts.log_format, &format)) {
			return usage_error("--log-format takes json or text, got \"%s\"",
					opts.log_format);
		}
		vh_log_set_format(format);
	}
	if (strcmp(opts.command, "probe") == 0) {
		return run_probe(&opts);
	}
	if (strcmp(opts.command, "check-config") == 0) {
		return run_check_config(&opts);
	}
	return run_serve(&opts);
}
