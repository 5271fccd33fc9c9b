// SPDX-License-Identifier: GPL-2.0
/*
 * toe_bench: the data path of `make bench` (scripts/bench.sh). One
 * program plays both ends of a measurement; the client is the host whose
 * connections may be offloaded (-u: TCP_ULP "toe" right after connect),
 * the server is a plain Linux peer. Each client run prints one JSON line.
 *
 *   toe_bench server -p PORT [-P NPORTS] [-S BUFSZ]
 *   toe_bench stream -c ADDR -p PORT -s STREAMS -b BYTES -d send|recv [-u]
 *   toe_bench rr     -c ADDR -p PORT -m MSGSIZE -i ITERS [-u]
 *   toe_bench conn   -c ADDR -p PORT -n CONNS [-u]
 *   toe_bench scale  -c ADDR -p PORT -P NPORTS -n CONNS -A ACTIVE -t SECS
 *                    [-j THREADS] [-S BUFSZ] [-u]
 *
 * stream: STREAMS connections move BYTES each, all at once, from the
 *	client (send) or to it (recv). Reports bytes, wall time, the CPU
 *	time of the client's transfer threads (RUSAGE_THREAD) and the busy
 *	time of the whole machine (/proc/stat) over the transfer.
 * rr: one connection, ITERS request/response exchanges of MSGSIZE bytes
 *	each way; reports latency percentiles.
 * conn: CONNS connections one after the other: the time of each
 *	connect(), of the offload (setsockopt TCP_ULP "toe") and of the
 *	handback at shutdown(SHUT_WR).
 * scale: CONNS idle connections (offloaded with -u, by THREADS threads
 *	at once) spread over NPORTS server ports, then "ready" on stdout;
 *	on a line on stdin, ACTIVE of them exchange small messages for SECS
 *	seconds; then the result, and on EOF on stdin everything is closed.
 *
 * The server reads a small header on each connection telling it what to
 * do: sink (and acknowledge the last byte), source, echo, or hold (idle
 * connections, echoed from one epoll loop so that 100k of them need no
 * thread each).
 */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/types.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef TCP_ULP
#define TCP_ULP 31
#endif

#define BENCH_MAGIC	0x746f6562u	/* "toeb" */
#define CHUNK		(64 * 1024)
#define MAX_PORTS	64

enum bench_mode { MODE_SINK = 1, MODE_SOURCE, MODE_ECHO, MODE_HOLD };

struct bench_hdr {
	__u32 magic;
	__u32 mode;
	__u64 bytes;		/* sink, source: bytes to move */
	__u32 msg;		/* echo: message size */
	__u32 pad;
};

static struct {
	const char *addr;
	int port, nports, streams, iters, msg, conns, active, secs, threads;
	int bufsz;
	long long bytes;
	bool send, ulp;
} opt = { .port = 5201, .nports = 1, .streams = 1, .iters = 1000, .msg = 1,
	  .conns = 100, .active = 100, .secs = 5, .threads = 16 };

static void die(const char *what)
{
	fprintf(stderr, "toe_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double thread_cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* Busy seconds of the whole machine, every CPU, from /proc/stat. */
static double machine_busy(void)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");
	double busy;

	if (!f)
		return 0;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu",
		   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) != 8)
		v[0] = 0;
	fclose(f);
	/* user nice system [idle iowait] irq softirq steal */
	busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
	return busy / sysconf(_SC_CLK_TCK);
}

static int read_full(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

static void set_bufs(int fd, int size)
{
	if (!size)
		return;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
}

/* ---- one JSON object per line on stdout ----------------------------- */

static bool jfirst;

static void jopen(void)
{
	printf("{");
	jfirst = true;
}

static void jkey(const char *key)
{
	printf("%s\"%s\": ", jfirst ? "" : ", ", key);
	jfirst = false;
}

static void jint(const char *key, long long v)
{
	jkey(key);
	printf("%lld", v);
}

static void jdbl(const char *key, double v)
{
	jkey(key);
	printf("%.6f", v);
}

static void jstr(const char *key, const char *v)
{
	jkey(key);
	printf("\"%s\"", v);
}

static void jclose(void)
{
	printf("}\n");
	fflush(stdout);
}

/* ---- server ----------------------------------------------------------- */

static void *serve_one(void *arg)
{
	int fd = (int)(intptr_t)arg;
	struct bench_hdr h;
	static char zero[CHUNK];
	char *buf = malloc(CHUNK);
	unsigned long long left;
	ssize_t n;

	if (!buf || read_full(fd, &h, sizeof(h)) || h.magic != BENCH_MAGIC)
		goto out;
	left = h.bytes;
	switch (h.mode) {
	case MODE_SINK:
		while (left) {
			n = read(fd, buf, left < CHUNK ? left : CHUNK);
			if (n <= 0)
				goto out;
			left -= n;
		}
		write_full(fd, "k", 1);
		break;
	case MODE_SOURCE:
		while (left) {
			n = write(fd, zero, left < CHUNK ? left : CHUNK);
			if (n <= 0)
				goto out;
			left -= n;
		}
		break;
	case MODE_ECHO:
		if (h.msg > CHUNK)
			goto out;
		while (!read_full(fd, buf, h.msg))
			if (write_full(fd, buf, h.msg))
				break;
		break;
	}
	/* Wait for the client to close first: its side is measured. */
	while (read(fd, buf, CHUNK) > 0)
		;
out:
	free(buf);
	close(fd);
	return NULL;
}

/* Idle connections live in one epoll loop and echo what they get. */
static int hold_ep;

static void *hold_loop(void *arg)
{
	struct epoll_event ev[256];
	char buf[4096];
	int i, n;

	for (;;) {
		n = epoll_wait(hold_ep, ev, 256, -1);
		for (i = 0; i < n; i++) {
			int fd = ev[i].data.fd;
			ssize_t r = read(fd, buf, sizeof(buf));

			if (r > 0 && !write_full(fd, buf, r))
				continue;
			if (r < 0 && errno == EAGAIN)
				continue;
			close(fd);	/* leaves the epoll set too */
		}
	}
	return arg;
}

static int run_server(void)
{
	struct epoll_event ev, evs[64];
	struct sockaddr_in sa = { .sin_family = AF_INET };
	pthread_attr_t attr;
	pthread_t t;
	int ep, i, one = 1;

	ep = epoll_create1(0);
	hold_ep = epoll_create1(0);
	if (ep < 0 || hold_ep < 0)
		die("epoll_create1");
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	if (pthread_create(&t, &attr, hold_loop, NULL))
		die("pthread_create");
	for (i = 0; i < opt.nports; i++) {
		int ls = socket(AF_INET, SOCK_STREAM, 0);

		if (ls < 0)
			die("socket");
		setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		set_bufs(ls, opt.bufsz);
		sa.sin_port = htons(opt.port + i);
		if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) ||
		    listen(ls, 4096))
			die("bind/listen");
		ev.events = EPOLLIN;
		ev.data.fd = ls;
		epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
	}
	printf("listening\n");
	fflush(stdout);
	for (;;) {
		int n = epoll_wait(ep, evs, 64, -1);

		for (i = 0; i < n; i++) {
			struct bench_hdr h;
			int fd = accept(evs[i].data.fd, NULL, NULL);

			if (fd < 0)
				continue;
			/* The client sends the header right after connect. */
			if (recv(fd, &h, sizeof(h), MSG_PEEK | MSG_WAITALL) !=
			    sizeof(h) || h.magic != BENCH_MAGIC) {
				close(fd);
				continue;
			}
			if (h.mode == MODE_HOLD) {
				read_full(fd, &h, sizeof(h));
				fcntl(fd, F_SETFL, O_NONBLOCK);
				ev.events = EPOLLIN;
				ev.data.fd = fd;
				if (epoll_ctl(hold_ep, EPOLL_CTL_ADD, fd, &ev))
					close(fd);
				continue;
			}
			if (pthread_create(&t, &attr, serve_one,
					   (void *)(intptr_t)fd))
				close(fd);
		}
	}
	return 0;
}

/* ---- client ----------------------------------------------------------- */

/* Offload @fd; 0 or -errno. EAGAIN (data in flight) is retried. */
static int offload(int fd)
{
	int i;

	for (i = 0; i < 100; i++) {
		if (!setsockopt(fd, IPPROTO_TCP, TCP_ULP, "toe", 3))
			return 0;
		if (errno != EAGAIN)
			return -errno;
		usleep(1000);
	}
	return -EAGAIN;
}

/* A connection to the server's port @port_off, header sent. */
static int dial(int port_off, __u32 mode, __u64 bytes, __u32 msg,
		int *ulp_err)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct bench_hdr h = { .magic = BENCH_MAGIC, .mode = mode,
			       .bytes = bytes, .msg = msg };
	int fd, one = 1;

	sa.sin_port = htons(opt.port + port_off);
	if (inet_pton(AF_INET, opt.addr, &sa.sin_addr) != 1) {
		errno = EINVAL;
		die("address");
	}
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	set_bufs(fd, opt.bufsz);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	if (mode == MODE_ECHO || mode == MODE_HOLD)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	*ulp_err = opt.ulp ? offload(fd) : 0;
	if (write_full(fd, &h, sizeof(h))) {
		close(fd);
		return -1;
	}
	return fd;
}

struct stream_arg {
	pthread_barrier_t *bar;
	int fd;
	double t0, t1, cpu;
	unsigned long long moved;
};

static void *stream_one(void *p)
{
	struct stream_arg *a = p;
	char *buf = calloc(1, CHUNK);
	unsigned long long left = opt.bytes;
	double c0;
	ssize_t n;

	pthread_barrier_wait(a->bar);
	c0 = thread_cpu();
	a->t0 = now();
	while (buf && left) {
		size_t len = left < CHUNK ? left : CHUNK;

		n = opt.send ? write(a->fd, buf, len) : read(a->fd, buf, len);
		if (n <= 0)
			break;
		left -= n;
		a->moved += n;
	}
	if (buf && opt.send && !left)
		read_full(a->fd, buf, 1);	/* the sink's acknowledgment */
	a->t1 = now();
	a->cpu = thread_cpu() - c0;
	free(buf);
	return NULL;
}

static int run_stream(void)
{
	struct stream_arg *a = calloc(opt.streams, sizeof(*a));
	pthread_t *t = calloc(opt.streams, sizeof(*t));
	unsigned long long moved = 0;
	double t0 = 1e18, t1 = 0, cpu = 0, b0, b1;
	pthread_barrier_t bar;
	int i, offloaded = 0, err;

	if (!a || !t)
		die("calloc");
	pthread_barrier_init(&bar, NULL, opt.streams + 1);
	for (i = 0; i < opt.streams; i++) {
		a[i].bar = &bar;
		a[i].fd = dial(0, opt.send ? MODE_SINK : MODE_SOURCE,
			       opt.bytes, 0, &err);
		if (a[i].fd < 0)
			die("connect");
		offloaded += opt.ulp && !err;
		if (pthread_create(&t[i], NULL, stream_one, &a[i]))
			die("pthread_create");
	}
	b0 = machine_busy();
	pthread_barrier_wait(&bar);
	for (i = 0; i < opt.streams; i++) {
		pthread_join(t[i], NULL);
		moved += a[i].moved;
		cpu += a[i].cpu;
		if (a[i].t0 < t0)
			t0 = a[i].t0;
		if (a[i].t1 > t1)
			t1 = a[i].t1;
	}
	b1 = machine_busy();
	for (i = 0; i < opt.streams; i++)
		close(a[i].fd);
	jopen();
	jstr("test", "stream");
	jstr("dir", opt.send ? "send" : "recv");
	jint("streams", opt.streams);
	jint("offloaded", offloaded);
	jint("bytes", moved);
	jint("expected", opt.bytes * opt.streams);
	jdbl("seconds", t1 - t0);
	jdbl("app_cpu_s", cpu);
	jdbl("machine_busy_s", b1 - b0);
	jclose();
	return moved == (unsigned long long)opt.bytes * opt.streams ? 0 : 1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(const double *v, int n, double p)
{
	int i = (int)(p * (n - 1) + 0.5);

	return n ? v[i] : 0;
}

static int run_rr(void)
{
	double *lat = calloc(opt.iters, sizeof(*lat));
	char *buf = calloc(1, opt.msg);
	int fd, i, err, warm = opt.iters / 10;
	double t, sum = 0;

	if (!lat || !buf)
		die("calloc");
	fd = dial(0, MODE_ECHO, 0, opt.msg, &err);
	if (fd < 0)
		die("connect");
	for (i = -warm; i < opt.iters; i++) {
		t = now();
		if (write_full(fd, buf, opt.msg) || read_full(fd, buf, opt.msg))
			die("echo");
		if (i >= 0) {
			lat[i] = (now() - t) * 1e6;
			sum += lat[i];
		}
	}
	close(fd);
	qsort(lat, opt.iters, sizeof(*lat), cmp_double);
	jopen();
	jstr("test", "rr");
	jint("msg", opt.msg);
	jint("iters", opt.iters);
	jint("offloaded", opt.ulp && !err);
	jdbl("p50_us", pct(lat, opt.iters, 0.5));
	jdbl("p99_us", pct(lat, opt.iters, 0.99));
	jdbl("mean_us", sum / opt.iters);
	jclose();
	return 0;
}

static int run_conn(void)
{
	int n = opt.conns, i, done = 0, offloaded = 0;
	double *tc = calloc(n, sizeof(double)), *th = calloc(n, sizeof(double));
	double *tb = calloc(n, sizeof(double));
	double sc = 0, sh = 0, sb = 0, t0, t;
	int *fds = calloc(n, sizeof(int));
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct bench_hdr h = { .magic = BENCH_MAGIC, .mode = MODE_HOLD };
	char c;

	if (!tc || !th || !tb || !fds)
		die("calloc");
	sa.sin_port = htons(opt.port);
	inet_pton(AF_INET, opt.addr, &sa.sin_addr);
	/* Established per second: connect() alone, then the offloads. */
	for (i = 0; i < n; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		t0 = now();
		if (fds[i] < 0 ||
		    connect(fds[i], (struct sockaddr *)&sa, sizeof(sa)))
			die("connect");
		tc[i] = (now() - t0) * 1e6;
		sc += tc[i];
	}
	for (i = 0; i < n; i++) {
		t0 = now();
		if (opt.ulp && !offload(fds[i]))
			offloaded++;
		th[i] = (now() - t0) * 1e6;
		sh += th[i];
		write_full(fds[i], &h, sizeof(h));
	}
	/* Handback at shutdown(SHUT_WR): the engine drains, Linux sends FIN. */
	for (i = 0; i < n; i++) {
		t0 = now();
		shutdown(fds[i], SHUT_WR);
		tb[i] = (now() - t0) * 1e6;
		sb += tb[i];
	}
	t = now();
	for (i = 0; i < n; i++) {
		if (read(fds[i], &c, 1) == 0)
			done++;
		close(fds[i]);
	}
	t = now() - t;
	qsort(tc, n, sizeof(double), cmp_double);
	qsort(th, n, sizeof(double), cmp_double);
	qsort(tb, n, sizeof(double), cmp_double);
	jopen();
	jstr("test", "conn");
	jint("conns", n);
	jint("offloaded", offloaded);
	jint("closed", done);
	jdbl("connect_p50_us", pct(tc, n, 0.5));
	jdbl("connect_p99_us", pct(tc, n, 0.99));
	jdbl("handover_p50_us", pct(th, n, 0.5));
	jdbl("handover_p99_us", pct(th, n, 0.99));
	jdbl("handback_p50_us", pct(tb, n, 0.5));
	jdbl("handback_p99_us", pct(tb, n, 0.99));
	jdbl("established_per_s", n / (sc / 1e6));
	jdbl("offloaded_per_s", sh ? n / (sh / 1e6) : 0);
	jdbl("close_s", t);
	jclose();
	return 0;
}

/* ---- scale ------------------------------------------------------------- */

static int *scale_fds;
static int scale_next, scale_offloaded, scale_failed, scale_ulp_err;
static pthread_mutex_t scale_lock = PTHREAD_MUTEX_INITIALIZER;

static void *scale_dial(void *arg)
{
	for (;;) {
		int i, fd, err = 0;

		pthread_mutex_lock(&scale_lock);
		i = scale_next++;
		pthread_mutex_unlock(&scale_lock);
		if (i >= opt.conns)
			break;
		fd = dial(i % opt.nports, MODE_HOLD, 0, 0, &err);
		pthread_mutex_lock(&scale_lock);
		if (fd < 0)
			scale_failed++;
		else if (opt.ulp && !err)
			scale_offloaded++;
		else if (opt.ulp && !scale_ulp_err)
			scale_ulp_err = err;
		pthread_mutex_unlock(&scale_lock);
		scale_fds[i] = fd;
	}
	return arg;
}

/* ACTIVE connections, round robin, one small message each, for SECS. */
static void active_phase(void)
{
	int i, n, active = opt.active < opt.conns ? opt.active : opt.conns;
	double t0, secs, *lat = calloc(1 << 20, sizeof(*lat));
	long long exchanges = 0;
	char buf[64] = { 0 };

	if (!lat || !active)
		die("calloc");
	t0 = now();
	while (now() - t0 < opt.secs) {
		for (i = 0; i < active; i++) {
			int fd = scale_fds[i * (opt.conns / active)];
			double t1 = now();

			if (fd < 0)
				continue;
			if (write_full(fd, buf, sizeof(buf)) ||
			    read_full(fd, buf, sizeof(buf)))
				die("active echo");
			if (exchanges < (1 << 20))
				lat[exchanges] = (now() - t1) * 1e6;
			exchanges++;
		}
	}
	secs = now() - t0;
	n = exchanges < (1 << 20) ? exchanges : (1 << 20);
	qsort(lat, n, sizeof(*lat), cmp_double);
	jopen();
	jstr("phase", "active");
	jint("active", active);
	jint("exchanges", exchanges);
	jdbl("seconds", secs);
	jdbl("p50_us", pct(lat, n, 0.5));
	jdbl("p99_us", pct(lat, n, 0.99));
	jclose();
	free(lat);
}

static int run_scale(void)
{
	pthread_t *t = calloc(opt.threads, sizeof(*t));
	char line[64];
	double t0, secs;
	int i;

	scale_fds = calloc(opt.conns, sizeof(int));
	if (!t || !scale_fds)
		die("calloc");
	t0 = now();
	for (i = 0; i < opt.threads; i++)
		if (pthread_create(&t[i], NULL, scale_dial, NULL))
			die("pthread_create");
	for (i = 0; i < opt.threads; i++)
		pthread_join(t[i], NULL);
	secs = now() - t0;
	jopen();
	jstr("phase", "ready");
	jint("conns", opt.conns);
	jint("open", opt.conns - scale_failed);
	jint("offloaded", scale_offloaded);
	jstr("ulp_error", scale_ulp_err ? strerror(-scale_ulp_err) : "");
	jdbl("setup_s", secs);
	jclose();
	/* Each line on stdin: one active phase. EOF: close everything. */
	while (fgets(line, sizeof(line), stdin))
		active_phase();
	for (i = 0; i < opt.conns; i++)
		if (scale_fds[i] >= 0)
			close(scale_fds[i]);
	return 0;
}

static void help(void)
{
	fprintf(stderr, "toe_bench server|stream|rr|conn|scale [options]: see the source\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct rlimit rl;
	const char *cmd;
	int c;

	if (argc < 2)
		help();
	cmd = argv[1];
	optind = 2;
	while ((c = getopt(argc, argv, "c:p:n:P:s:b:d:m:i:A:t:j:S:u")) != -1) {
		switch (c) {
		case 'c':
			opt.addr = optarg;
			break;
		case 'p':
			opt.port = atoi(optarg);
			break;
		case 'n':
			opt.conns = atoi(optarg);
			break;
		case 'P':
			opt.nports = atoi(optarg);
			break;
		case 's':
			opt.streams = atoi(optarg);
			break;
		case 'b':
			opt.bytes = atoll(optarg);
			break;
		case 'd':
			opt.send = !strcmp(optarg, "send");
			break;
		case 'm':
			opt.msg = atoi(optarg);
			break;
		case 'i':
			opt.iters = atoi(optarg);
			break;
		case 'A':
			opt.active = atoi(optarg);
			break;
		case 't':
			opt.secs = atoi(optarg);
			break;
		case 'j':
			opt.threads = atoi(optarg);
			break;
		case 'S':
			opt.bufsz = atoi(optarg);
			break;
		case 'u':
			opt.ulp = true;
			break;
		default:
			help();
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Every connection is a descriptor: raise the limit to the hard one. */
	if (!getrlimit(RLIMIT_NOFILE, &rl)) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (!strcmp(cmd, "server"))
		return run_server();
	if (!opt.addr)
		help();
	if (!strcmp(cmd, "stream"))
		return run_stream();
	if (!strcmp(cmd, "rr"))
		return run_rr();
	if (!strcmp(cmd, "conn"))
		return run_conn();
	if (!strcmp(cmd, "scale"))
		return run_scale();
	help();
	return 2;
}
