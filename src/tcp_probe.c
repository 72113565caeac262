/* tcp_probe.c - the `tcp` check: connect to host:port within the timeout. */
#include "vh/tcp_probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vh/clock.h"
#include "vh/resolver.h"

/* Each run resolves, then connects; between runs nothing is held open. */
enum tcp_state {
	TCP_IDLE,
	TCP_RESOLVING,
	TCP_CONNECTING,
};

struct tcp_probe {
	struct event_base *base;
	struct vh_resolver *resolver;
	const struct vh_tcp_config *config;
	char target[300]; /* "host:port", "[v6]:port", for messages */
	enum tcp_state state;
	uint64_t run;
	vh_probe_done_fn done;
	void *done_arg;
	struct vh_resolve *lookup;
	int fd;
	struct event *writable;
	char addr[INET6_ADDRSTRLEN];
	int64_t connect_started_ms;
};

/* Closes what the current run holds. Safe in every state. */
static void release(struct tcp_probe *probe) {
	vh_resolve_cancel(probe->lookup);
	probe->lookup = NULL;
	if (probe->writable) {
		event_free(probe->writable);
		probe->writable = NULL;
	}
	if (probe->fd >= 0) {
		close(probe->fd);
		probe->fd = -1;
	}
	probe->state = TCP_IDLE;
}

/* Ends the run: everything is released first, so done may start the next one at once. */
static void finish(struct tcp_probe *probe, const struct vh_check_result *result) {
	release(probe);
	probe->done(probe->done_arg, probe->run, result);
}

static void fail_errno(struct tcp_probe *probe, int error) {
	struct vh_check_result result;
	if (error == ECONNREFUSED) {
		vh_check_result_set(
				&result, VH_STATUS_FAIL, "connection refused (%s)", probe->target);
	} else {
		vh_check_result_set(&result, VH_STATUS_FAIL, "connect to %s failed: %s",
				probe->target, strerror(error));
	}
	finish(probe, &result);
}

static void pass(struct tcp_probe *probe) {
	struct vh_check_result result;
	int64_t took = vh_clock_mono_ms() - probe->connect_started_ms;
	if (strcmp(probe->addr, probe->config->host) == 0) {
		vh_check_result_set(&result, VH_STATUS_PASS, "connected to %s in %lld ms",
				probe->target, (long long)took);
	} else {
		vh_check_result_set(&result, VH_STATUS_PASS, "connected to %s (%s) in %lld ms",
				probe->target, probe->addr, (long long)took);
	}
	vh_check_result_add_measure(&result, "connect_ms", "responseTime", (double)took, "ms");
	finish(probe, &result);
}

static void on_writable(evutil_socket_t fd, short what, void *arg) {
	struct tcp_probe *probe = arg;
	int error = 0;
	socklen_t len = sizeof(error);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0) {
		error = errno;
	}
	if (error != 0) {
		fail_errno(probe, error);
		return;
	}
	pass(probe);
}

/* Fills a socket address for the numeric addr the resolver gave. */
static socklen_t make_sockaddr(const char *addr, unsigned port, struct sockaddr_storage *ss) {
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		return sizeof(*sin);
	}
	if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		return sizeof(*sin6);
	}
	return 0;
}

static void connect_to(struct tcp_probe *probe) {
	struct sockaddr_storage ss;
	socklen_t ss_len = make_sockaddr(probe->addr, probe->config->port, &ss);
	if (ss_len == 0) {
		fail_errno(probe, EAFNOSUPPORT);
		return;
	}
	probe->state = TCP_CONNECTING;
	probe->connect_started_ms = vh_clock_mono_ms();
	probe->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (probe->fd < 0) {
		fail_errno(probe, errno);
		return;
	}
	if (connect(probe->fd, (struct sockaddr *)&ss, ss_len) == 0) {
		pass(probe); /* loopback may connect at once */
		return;
	}
	if (errno != EINPROGRESS) {
		fail_errno(probe, errno);
		return;
	}
	/* No timeout of our own: the scheduler's deadline cancels a connect that hangs. */
	probe->writable = event_new(probe->base, probe->fd, EV_WRITE, on_writable, probe);
	if (!probe->writable || event_add(probe->writable, NULL) != 0) {
		fail_errno(probe, ENOMEM);
	}
}

static void on_resolved(void *arg, const char *addr, const char *error) {
	struct tcp_probe *probe = arg;
	probe->lookup = NULL;
	if (error) {
		struct vh_check_result result;
		vh_check_result_set(&result, VH_STATUS_FAIL, "%s", error);
		finish(probe, &result);
		return;
	}
	snprintf(probe->addr, sizeof(probe->addr), "%s", addr);
	connect_to(probe);
}

static bool tcp_start(void *impl, uint64_t run, vh_probe_done_fn done, void *arg) {
	struct tcp_probe *probe = impl;
	if (probe->state != TCP_IDLE) {
		return false;
	}
	probe->run = run;
	probe->done = done;
	probe->done_arg = arg;
	probe->state = TCP_RESOLVING;
	/* The answer may come before the call returns, and the run may even be over by then. */
	struct vh_resolve *lookup = vh_resolver_lookup(
			probe->resolver, probe->config->host, on_resolved, probe);
	if (lookup) {
		probe->lookup = lookup;
	}
	return true;
}

static void tcp_cancel(void *impl) {
	release(impl);
}

static void tcp_destroy(void *impl) {
	struct tcp_probe *probe = impl;
	if (!probe) {
		return;
	}
	release(probe);
	free(probe);
}

static void tcp_phase(void *impl, char *buf, size_t len) {
	const struct tcp_probe *probe = impl;
	bool v6 = strchr(probe->addr, ':') != NULL;
	switch (probe->state) {
	case TCP_RESOLVING:
		snprintf(buf, len, "resolving \"%s\"", probe->config->host);
		return;
	case TCP_CONNECTING:
		snprintf(buf, len, "connecting to %s%s%s:%u", v6 ? "[" : "", probe->addr,
				v6 ? "]" : "", probe->config->port);
		return;
	case TCP_IDLE:
		break;
	}
	buf[0] = '\0';
}

static const struct vh_probe_ops tcp_ops = {
		.type = "tcp",
		.start = tcp_start,
		.cancel = tcp_cancel,
		.destroy = tcp_destroy,
		.phase = tcp_phase,
};

bool vh_tcp_probe_create(const struct vh_probe_env *env, const struct vh_tcp_config *config,
		struct vh_probe *out, char *err, size_t err_len) {
	if (!config->host || !config->host[0] || config->port == 0 || config->port > 65535) {
		snprintf(err, err_len, "tcp check needs a host and a port from 1 to 65535");
		return false;
	}
	struct tcp_probe *probe = calloc(1, sizeof(*probe));
	if (!probe) {
		snprintf(err, err_len, "out of memory");
		return false;
	}
	probe->base = env->base;
	probe->resolver = env->resolver;
	probe->config = config;
	probe->fd = -1;
	bool v6 = strchr(config->host, ':') != NULL && config->host[0] != '[';
	snprintf(probe->target, sizeof(probe->target), "%s%s%s:%u", v6 ? "[" : "", config->host,
			v6 ? "]" : "", config->port);
	out->ops = &tcp_ops;
	out->impl = probe;
	return true;
}
