// SPDX-License-Identifier: GPL-2.0
/*
 * Differential test of offloaded TCP sockets.
 *
 * Each test is a scripted sequence of socket calls with fixed expected
 * results (return values, errno, data, poll events). It runs on a software
 * connection and on one offloaded with TCP_ULP "toe", over IPv4 and IPv6:
 * the same expectations hold for every variant, since an application must
 * not be able to tell an offloaded connection from one in software.
 *
 * The peer is unmodified Linux TCP in another network namespace. Its
 * listening socket is created there (setns() and back), so this one
 * process drives both ends of each connection and each step of a script
 * happens in a known order; a child process plays the peer where a call
 * must block until the peer acts.
 *
 * Run by toe_diff.sh, which sets up the namespaces and the engine, with
 * the environment:
 *
 *   TOE_DIFF_PEER_NS   the peer's netns (/run/netns/NAME)
 *   TOE_DIFF_PEER4     the peer's IPv4 address
 *   TOE_DIFF_PEER6     the peer's IPv6 address
 *   TOE_DIFF_DEBUGFS   the toesim instance's debugfs directory
 *   TOE_DIFF_DEV       our port (for a netem qdisc)
 *   TOE_DIFF_VARIANTS  if set, only the variants whose name contains it
 *                      (the debug kernel's lane runs "ipv4_toe": the
 *                      software variants run none of our code)
 *   TOE_DIFF_TESTS     if set, only the tests whose name contains it (for
 *                      a developer chasing one)
 */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/errqueue.h>
#include <linux/sock_diag.h>
#include <linux/sockios.h>
#include <linux/tcp.h>

#include "../../kselftest_harness.h"

/* include/net/tcp_states.h */
#define ST_ESTABLISHED	1
#define ST_FIN_WAIT2	5
#define ST_CLOSE	7
#define ST_CLOSE_WAIT	8
#define ST_TIME_WAIT	6

#define UP	1	/* the stream from us to the peer */
#define DOWN	2	/* the stream from the peer to us */

#define PAT_BAD	(-2)	/* received bytes differ from what was sent */

#define EV_IN	(POLLIN | POLLRDNORM)
#define EV_OUT	(POLLOUT | POLLWRNORM)
#define EV_ALL	(EV_IN | EV_OUT | POLLPRI | POLLRDHUP | POLLRDBAND | POLLWRBAND)

#define WAIT_MS	10000

/* --- the byte streams ---------------------------------------------------------- */

/* Byte OFF of stream DIR: no short period, so a lost, repeated or
 * reordered chunk shows.
 */
static unsigned char pat(int dir, uint64_t off)
{
	return (off * 0x9e3779b97f4a7c15ULL + dir * 0x5bd1e995ULL) >> 56;
}

static void pat_fill(unsigned char *buf, int dir, uint64_t off, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = pat(dir, off + i);
}

static bool pat_ok(const unsigned char *buf, int dir, uint64_t off, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i] != pat(dir, off + i))
			return false;
	return true;
}

/* send() LEN bytes of stream DIR from *OFF, advancing *OFF by what went. */
static ssize_t psend(int fd, int dir, uint64_t *off, size_t len, int flags)
{
	unsigned char *buf = malloc(len + 1);
	ssize_t ret;
	int err;

	if (!buf)
		return -1;
	pat_fill(buf, dir, *off, len);
	ret = send(fd, buf, len, flags | MSG_NOSIGNAL);
	err = errno;
	free(buf);
	if (ret > 0)
		*off += ret;
	errno = err;
	return ret;
}

/* recv() up to LEN bytes of stream DIR; PAT_BAD if they are not the bytes
 * at *OFF. *OFF advances unless MSG_PEEK.
 */
static ssize_t precv(int fd, int dir, uint64_t *off, size_t len, int flags)
{
	unsigned char *buf = malloc(len + 1);
	ssize_t ret;
	int err;

	if (!buf)
		return -1;
	ret = recv(fd, buf, len, flags);
	err = errno;
	if (ret > 0) {
		if (!pat_ok(buf, dir, *off, ret)) {
			ret = PAT_BAD;
			err = EBADMSG;
		} else if (!(flags & MSG_PEEK)) {
			*off += ret;
		}
	}
	free(buf);
	errno = err;
	return ret;
}

/* Blocking sends until LEN bytes went; the number sent. */
static ssize_t send_all(int fd, int dir, uint64_t *off, size_t len)
{
	size_t done = 0;
	ssize_t ret;

	while (done < len) {
		ret = psend(fd, dir, off, len - done > 65536 ? 65536 : len - done, 0);
		if (ret <= 0)
			break;
		done += ret;
	}
	return done;
}

/* Receive LEN bytes, waiting at most MS for each; the number received,
 * or PAT_BAD.
 */
static ssize_t recv_all(int fd, int dir, uint64_t *off, size_t len, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t done = 0;
	ssize_t ret;

	while (done < len) {
		if (poll(&pfd, 1, ms) <= 0)
			break;
		ret = precv(fd, dir, off, len - done > 65536 ? 65536 : len - done,
			    MSG_DONTWAIT);
		if (ret == PAT_BAD)
			return PAT_BAD;
		if (ret < 0 && errno == EAGAIN)
			continue;
		if (ret <= 0)
			break;
		done += ret;
	}
	return done;
}

/* The peer acting in a child while we block: after DELAY_MS it sends
 * (bg_send) or receives and checks (bg_recv) LEN bytes of stream DIR. The
 * parent's *OFF advances at once; bg_wait() says whether the child did it.
 */
static pid_t bg_send(int fd, int dir, uint64_t *off, size_t len, int delay_ms)
{
	pid_t pid = fork();

	if (!pid) {
		usleep(delay_ms * 1000);
		_exit(send_all(fd, dir, off, len) == (ssize_t)len ? 0 : 1);
	}
	if (pid > 0)
		*off += len;
	return pid;
}

static pid_t bg_recv(int fd, int dir, uint64_t *off, size_t len, int delay_ms)
{
	pid_t pid = fork();

	if (!pid) {
		usleep(delay_ms * 1000);
		_exit(recv_all(fd, dir, off, len, WAIT_MS) == (ssize_t)len ? 0 : 1);
	}
	if (pid > 0)
		*off += len;
	return pid;
}

/* The child's exit status, or -1. */
static int bg_wait(pid_t pid)
{
	int status;

	if (pid <= 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* --- socket state ------------------------------------------------------------ */

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int ioctl_int(int fd, unsigned long req)
{
	int val = -1;

	if (ioctl(fd, req, &val))
		return -1;
	return val;
}

/* Wait up to MS for SIOCINQ to reach N; the last value read. */
static int wait_inq(int fd, int n, int ms)
{
	long end = now_ms() + ms;
	int inq;

	while ((inq = ioctl_int(fd, SIOCINQ)) < n && now_ms() < end)
		usleep(2000);
	return inq;
}

/* Wait up to MS for SIOCOUTQ to fall to N; the last value read. */
static int wait_outq(int fd, int n, int ms)
{
	long end = now_ms() + ms;
	int outq;

	while ((outq = ioctl_int(fd, SIOCOUTQ)) > n && now_ms() < end)
		usleep(2000);
	return outq;
}

/* poll() FD for EVENTS for at most MS; revents, 0 on timeout. */
static int pollev(int fd, short events, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int ret = poll(&pfd, 1, ms);

	return ret < 0 ? -1 : ret ? pfd.revents : 0;
}

/* Wait up to MS until every one of EVENTS is reported; those of them seen
 * last. poll() takes no socket lock, and POLLERR or POLLHUP end it early:
 * the effects of a RST (sk_err, then the state and sk_shutdown) may show
 * one at a time, so poll again until all are there.
 */
static int wait_events(int fd, short events, int ms)
{
	long end = now_ms() + ms;
	int ev;

	for (;;) {
		ev = pollev(fd, events, end > now_ms() ? end - now_ms() : 0);
		if (ev < 0 || (ev & events) == events || now_ms() >= end)
			return ev < 0 ? ev : ev & events;
		usleep(1000);
	}
}

/* epoll_wait() for at most MS; the events of the one fd, 0 if none. */
static int epev(int ep, int ms)
{
	struct epoll_event ev = {};
	int ret = epoll_wait(ep, &ev, 1, ms);

	return ret < 0 ? -1 : ret ? (int)ev.events : 0;
}

static int sockopt_int(int fd, int level, int name)
{
	socklen_t len = sizeof(int);
	int val = -1;

	if (getsockopt(fd, level, name, &val, &len))
		return -1;
	return val;
}

static int set_int(int fd, int level, int name, int val)
{
	return setsockopt(fd, level, name, &val, sizeof(val));
}

/* Keepalive on, probing after a second idle, every second, CNT times. */
static int set_keepalive(int fd, int cnt)
{
	return set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, 1) ||
	       set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, 1) ||
	       set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, cnt) ||
	       set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
}

static int tcp_state(int fd)
{
	struct tcp_info ti = {};
	socklen_t len = sizeof(ti);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len))
		return -1;
	return ti.tcpi_state;
}

/* Wait up to MS for FD's TCP state to become STATE; the last one read. */
static int wait_state(int fd, int state, int ms)
{
	long end = now_ms() + ms;
	int st;

	while ((st = tcp_state(fd)) != state && now_ms() < end)
		usleep(2000);
	return st;
}

/* The state of the connection from local port LPORT to remote port RPORT
 * in /proc/net/tcp (or tcp6): it outlives the socket, in TIME_WAIT. -1 if
 * there is no such line.
 */
static int proc_state(int family, int lport, int rport)
{
	FILE *f = fopen(family == AF_INET6 ? "/proc/net/tcp6" : "/proc/net/tcp",
			"r");
	unsigned int lp, rp, st;
	char line[512];
	int ret = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, " %*d: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%x %x",
			   &lp, &rp, &st) == 3 &&
		    (int)lp == lport && (int)rp == rport) {
			ret = st;
			break;
		}
	}
	fclose(f);
	return ret;
}

/* Wait up to MS for proc_state() to read STATE; the last value read. */
static int wait_proc_state(int family, int lport, int rport, int state,
			   int ms)
{
	long end = now_ms() + ms;
	int st;

	while ((st = proc_state(family, lport, rport)) != state &&
	       now_ms() < end)
		usleep(2000);
	return st;
}

static int sock_port(int fd, bool peer)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if ((peer ? getpeername : getsockname)(fd, (struct sockaddr *)&ss, &len))
		return -1;
	return ntohs(ss.ss_family == AF_INET6 ?
		     ((struct sockaddr_in6 *)&ss)->sin6_port :
		     ((struct sockaddr_in *)&ss)->sin_port);
}

/* Send from FD to PEER, which does not read, until the send buffer stays
 * full: five MSG_DONTWAIT sends 100 ms apart got EAGAIN, the last one just
 * now. The peer's receive buffer is locked at its initial size, or Linux
 * would grow it as it prunes and the window would open again. The bytes
 * sent, or -1.
 */
static ssize_t fill_sndbuf(int fd, int peer, uint64_t *off)
{
	ssize_t total = 0, ret;
	int idle = 0;

	if (set_int(peer, SOL_SOCKET, SO_RCVBUF, 65536))
		return -1;
	for (;;) {
		ret = psend(fd, UP, off, 16384, MSG_DONTWAIT);
		if (ret > 0) {
			total += ret;
			idle = 0;
			continue;
		}
		if (ret == 0 || errno != EAGAIN)
			return -1;
		if (++idle == 5)
			return total;
		usleep(100000);
	}
}

/* --- the engine ---------------------------------------------------------------- */

/* Is FD's connection listed in /proc/net/toe/connections of this netns? */
static bool toe_offloaded(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char line[512], *sp, *colon;
	bool found = false;
	unsigned int port;
	FILE *f;

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return false;
	port = ntohs(ss.ss_family == AF_INET6 ?
		     ((struct sockaddr_in6 *)&ss)->sin6_port :
		     ((struct sockaddr_in *)&ss)->sin_port);
	f = fopen("/proc/net/toe/connections", "r");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		sp = strchr(line, ' ');
		if (!sp)
			continue;
		*sp = '\0';
		colon = strrchr(line, ':');
		if (colon && strtoul(colon + 1, NULL, 10) == port &&
		    strstr(sp + 1, " offloaded "))
			found = true;
	}
	fclose(f);
	return found;
}

/* A toesim counter; -1 when it cannot be read. */
static long toesim_counter(const char *name)
{
	const char *dir = getenv("TOE_DIFF_DEBUGFS");
	char path[256];
	long val = -1;
	FILE *f;

	if (!dir)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &val) != 1)
		val = -1;
	fclose(f);
	return val;
}

/* --- the host's firewall ------------------------------------------------------ */

/* Run nft(8) on a ruleset in our netns; its exit status. */
static int run_nft(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	FILE *f;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	f = popen("nft -f -", "w");
	if (!f)
		return -1;
	fprintf(f, "%s\n", cmd);
	return pclose(f);
}

/* Run tc(8) with these arguments in our netns; its exit status. */
static int run_tc(const char *fmt, ...)
{
	char cmd[256], args[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "tc %s > /dev/null 2>&1", args);
	return system(cmd);
}

/* Packets the first counter of CHAIN in table inet toe_diff saw; -1. */
static long nft_packets(const char *chain)
{
	char cmd[128], line[512], *p;
	long val = -1;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "nft list chain inet toe_diff %s", chain);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		p = strstr(line, "counter packets ");
		if (val < 0 && p)
			val = strtol(p + strlen("counter packets "), NULL, 10);
	}
	pclose(f);
	return val;
}

/* --- sysctls of our netns ------------------------------------------------------ */

#define RETRIES2 "/proc/sys/net/ipv4/tcp_retries2"

/* An integer from a /proc/sys file, or -1. */
static int read_int_file(const char *path)
{
	FILE *f = fopen(path, "r");
	int val = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%d", &val) != 1)
		val = -1;
	fclose(f);
	return val;
}

static int write_int_file(const char *path, int val)
{
	FILE *f = fopen(path, "w");
	int ret;

	if (!f)
		return -1;
	ret = fprintf(f, "%d\n", val) < 0;
	return fclose(f) || ret ? -1 : 0;
}

/* --- the fixture: one connection, software or offloaded ----------------------- */

FIXTURE(diff) {
	int lfd;		/* the peer's listener */
	int cfd;		/* our end, the one under test */
	int pfd;		/* the peer's end */
	uint64_t up_tx, up_rx;	/* stream offsets: sent by us, read by the peer */
	uint64_t down_tx, down_rx;
	struct tcp_info info0;	/* our TCP_INFO before the offload */
	int sndbuf0;		/* and our SO_SNDBUF */
	bool nft;		/* table inet toe_diff to delete */
	bool netem;		/* a netem qdisc on our port to delete */
	int retries2;		/* tcp_retries2 to restore, or -1 */
};

FIXTURE_VARIANT(diff) {
	int family;
	bool offload;
};

FIXTURE_VARIANT_ADD(diff, ipv4_native) {
	.family = AF_INET,
	.offload = false,
};

FIXTURE_VARIANT_ADD(diff, ipv4_toe) {
	.family = AF_INET,
	.offload = true,
};

FIXTURE_VARIANT_ADD(diff, ipv6_native) {
	.family = AF_INET6,
	.offload = false,
};

FIXTURE_VARIANT_ADD(diff, ipv6_toe) {
	.family = AF_INET6,
	.offload = true,
};

static socklen_t peer_addr(int family, struct sockaddr_storage *ss)
{
	const char *a4 = getenv("TOE_DIFF_PEER4") ?: "10.74.0.2";
	const char *a6 = getenv("TOE_DIFF_PEER6") ?: "2001:db8:74::2";
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		sin6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, a6, &sin6->sin6_addr) != 1)
			return 0;
		return sizeof(*sin6);
	}
	sin->sin_family = AF_INET;
	if (inet_pton(AF_INET, a4, &sin->sin_addr) != 1)
		return 0;
	return sizeof(*sin);
}

FIXTURE_SETUP(diff)
{
	const char *peer_ns = getenv("TOE_DIFF_PEER_NS");
	struct sockaddr_storage ss;
	socklen_t len, alen;
	int here, there;

	self->lfd = -1;
	self->cfd = -1;
	self->pfd = -1;
	self->retries2 = -1;
	signal(SIGPIPE, SIG_IGN);
	ASSERT_NE(NULL, peer_ns) TH_LOG("TOE_DIFF_PEER_NS is not set: run toe_diff.sh");
	alen = peer_addr(variant->family, &ss);
	ASSERT_NE(0, alen);

	/* The listener lives in the peer's netns. */
	here = open("/proc/self/ns/net", O_RDONLY);
	ASSERT_LE(0, here);
	there = open(peer_ns, O_RDONLY);
	ASSERT_LE(0, there) TH_LOG("%s: %s", peer_ns, strerror(errno));
	ASSERT_EQ(0, setns(there, CLONE_NEWNET));
	self->lfd = socket(variant->family, SOCK_STREAM, 0);
	ASSERT_EQ(0, setns(here, CLONE_NEWNET));
	close(here);
	close(there);
	ASSERT_LE(0, self->lfd);
	ASSERT_EQ(0, bind(self->lfd, (struct sockaddr *)&ss, alen));
	ASSERT_EQ(0, listen(self->lfd, 1));
	len = sizeof(ss);
	ASSERT_EQ(0, getsockname(self->lfd, (struct sockaddr *)&ss, &len));

	self->cfd = socket(variant->family, SOCK_STREAM, 0);
	ASSERT_LE(0, self->cfd);
	ASSERT_EQ(0, connect(self->cfd, (struct sockaddr *)&ss, alen))
		TH_LOG("connect: %s", strerror(errno));
	self->pfd = accept(self->lfd, NULL, NULL);
	ASSERT_LE(0, self->pfd);

	len = sizeof(self->info0);
	ASSERT_EQ(0, getsockopt(self->cfd, IPPROTO_TCP, TCP_INFO, &self->info0, &len));
	self->sndbuf0 = sockopt_int(self->cfd, SOL_SOCKET, SO_SNDBUF);
	if (variant->offload)
		ASSERT_EQ(0, setsockopt(self->cfd, IPPROTO_TCP, TCP_ULP, "toe", 4))
			TH_LOG("TCP_ULP toe: %s", strerror(errno));
	ASSERT_EQ(variant->offload, toe_offloaded(self->cfd));
}

FIXTURE_TEARDOWN(diff)
{
	if (self->nft)
		run_nft("delete table inet toe_diff");
	if (self->netem)
		run_tc("qdisc del dev %s root", getenv("TOE_DIFF_DEV"));
	if (self->retries2 >= 0)
		write_int_file(RETRIES2, self->retries2);
	if (self->cfd >= 0)
		close(self->cfd);
	if (self->pfd >= 0)
		close(self->pfd);
	if (self->lfd >= 0)
		close(self->lfd);
}

/* LEN bytes each way, both ends checking what they read. */
static void both_ways(struct __test_metadata *_metadata,
		      struct _test_data_diff *self, size_t len)
{
	pid_t pid;

	pid = bg_recv(self->pfd, UP, &self->up_rx, len, 0);
	EXPECT_EQ((ssize_t)len, send_all(self->cfd, UP, &self->up_tx, len));
	EXPECT_EQ(0, bg_wait(pid));
	pid = bg_send(self->pfd, DOWN, &self->down_tx, len, 0);
	EXPECT_EQ((ssize_t)len, recv_all(self->cfd, DOWN, &self->down_rx, len, WAIT_MS));
	EXPECT_EQ(0, bg_wait(pid));
}

/* The variant is what it says: offloaded connections are listed, report
 * TCP_ULP "toe" and move the engine's frame counters; software ones do
 * none of that.
 */
TEST_F(diff, engine_carries_data)
{
	long rx0 = toesim_counter("rx_frames"), tx0 = toesim_counter("tx_frames");
	char ulp[32] = "";
	socklen_t len = sizeof(ulp);
	pid_t pid;

	ASSERT_LE(0, rx0);
	ASSERT_LE(0, tx0);
	ASSERT_EQ(0, getsockopt(self->cfd, IPPROTO_TCP, TCP_ULP, ulp, &len));
	EXPECT_STREQ(variant->offload ? "toe" : "", ulp);

	pid = bg_recv(self->pfd, UP, &self->up_rx, 100000, 0);
	EXPECT_EQ(100000, send_all(self->cfd, UP, &self->up_tx, 100000));
	EXPECT_EQ(0, bg_wait(pid));
	pid = bg_send(self->pfd, DOWN, &self->down_tx, 100000, 0);
	EXPECT_EQ(100000, recv_all(self->cfd, DOWN, &self->down_rx, 100000, WAIT_MS));
	EXPECT_EQ(0, bg_wait(pid));

	if (variant->offload) {
		EXPECT_LT(rx0, toesim_counter("rx_frames"));
		EXPECT_LT(tx0, toesim_counter("tx_frames"));
	} else {
		EXPECT_EQ(rx0, toesim_counter("rx_frames"));
		EXPECT_EQ(tx0, toesim_counter("tx_frames"));
	}
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));
}

/* sendmsg() and recvmsg() with several iovecs, both ways at once. */
TEST_F_TIMEOUT(diff, sendmsg_recvmsg, 120)
{
	static unsigned char buf[300000];
	struct msghdr msg = {};
	struct iovec iov[3];
	size_t done = 0;
	ssize_t ret;
	pid_t pid;

	/* Three iovecs in one sendmsg(); and an empty one. */
	pat_fill(buf, UP, self->up_tx, 51007);
	iov[0] = (struct iovec){ buf, 1000 };
	iov[1] = (struct iovec){ buf + 1000, 50000 };
	iov[2] = (struct iovec){ buf + 51000, 7 };
	msg.msg_iov = iov;
	msg.msg_iovlen = 3;
	EXPECT_EQ(51007, sendmsg(self->cfd, &msg, 0));
	self->up_tx += 51007;
	msg.msg_iovlen = 0;
	EXPECT_EQ(0, sendmsg(self->cfd, &msg, 0));
	EXPECT_EQ(51007, recv_all(self->pfd, UP, &self->up_rx, 51007, WAIT_MS));

	/* recvmsg() into three iovecs while the peer sends 300000 bytes. */
	pid = bg_send(self->pfd, DOWN, &self->down_tx, sizeof(buf), 0);
	while (done < sizeof(buf)) {
		size_t left = sizeof(buf) - done;

		iov[0] = (struct iovec){ buf + done, left < 10 ? left : 10 };
		iov[1] = (struct iovec){ buf + done + iov[0].iov_len,
					 left - iov[0].iov_len < 1000 ?
					 left - iov[0].iov_len : 1000 };
		iov[2] = (struct iovec){ buf + done + iov[0].iov_len + iov[1].iov_len,
					 left - iov[0].iov_len - iov[1].iov_len };
		msg.msg_iovlen = 3;
		ret = recvmsg(self->cfd, &msg, 0);
		ASSERT_LT(0, ret);
		EXPECT_EQ(0, msg.msg_flags);
		done += ret;
	}
	EXPECT_TRUE(pat_ok(buf, DOWN, self->down_rx, sizeof(buf)));
	self->down_rx += sizeof(buf);
	EXPECT_EQ(0, bg_wait(pid));

	/* 1 MB each way at the same time. */
	pid = bg_recv(self->pfd, UP, &self->up_rx, 1 << 20, 0);
	ret = bg_send(self->pfd, DOWN, &self->down_tx, 1 << 20, 0);
	EXPECT_EQ(1 << 20, send_all(self->cfd, UP, &self->up_tx, 1 << 20));
	EXPECT_EQ(1 << 20, recv_all(self->cfd, DOWN, &self->down_rx, 1 << 20, WAIT_MS));
	EXPECT_EQ(0, bg_wait(pid));
	EXPECT_EQ(0, bg_wait(ret));
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));
}

TEST_F(diff, msg_peek)
{
	ASSERT_EQ(3000, psend(self->pfd, DOWN, &self->down_tx, 3000, 0));
	ASSERT_EQ(3000, wait_inq(self->cfd, 3000, WAIT_MS));

	EXPECT_EQ(100, precv(self->cfd, DOWN, &self->down_rx, 100, MSG_PEEK));
	EXPECT_EQ(3000, ioctl_int(self->cfd, SIOCINQ));
	EXPECT_EQ(3000, precv(self->cfd, DOWN, &self->down_rx, 5000, MSG_PEEK));
	EXPECT_EQ(1000, precv(self->cfd, DOWN, &self->down_rx, 1000, 0));
	EXPECT_EQ(2000, ioctl_int(self->cfd, SIOCINQ));
	EXPECT_EQ(2000, precv(self->cfd, DOWN, &self->down_rx, 5000,
			      MSG_PEEK | MSG_DONTWAIT));
	EXPECT_EQ(2000, precv(self->cfd, DOWN, &self->down_rx, 5000, 0));
	EXPECT_EQ(-1, precv(self->cfd, DOWN, &self->down_rx, 5000,
			    MSG_PEEK | MSG_DONTWAIT));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(0, ioctl_int(self->cfd, SIOCINQ));

	/* MSG_TRUNC discards, and the bytes after come next. */
	ASSERT_EQ(100, psend(self->pfd, DOWN, &self->down_tx, 100, 0));
	ASSERT_EQ(100, wait_inq(self->cfd, 100, WAIT_MS));
	EXPECT_EQ(40, recv(self->cfd, NULL, 40, MSG_TRUNC));
	self->down_rx += 40;
	EXPECT_EQ(60, ioctl_int(self->cfd, SIOCINQ));
	EXPECT_EQ(60, precv(self->cfd, DOWN, &self->down_rx, 100, 0));
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));
}

TEST_F(diff, msg_waitall)
{
	struct timeval tv = { .tv_usec = 300000 };
	pid_t pid;

	/* Three sends 100 ms apart fill one MSG_WAITALL receive. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int i;

		for (i = 0; i < 3; i++) {
			usleep(100000);
			if (psend(self->pfd, DOWN, &self->down_tx, 1000, 0) != 1000)
				_exit(1);
		}
		_exit(0);
	}
	self->down_tx += 3000;
	EXPECT_EQ(3000, precv(self->cfd, DOWN, &self->down_rx, 3000, MSG_WAITALL));
	EXPECT_EQ(0, bg_wait(pid));

	/* A timeout ends it short. */
	ASSERT_EQ(0, setsockopt(self->cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
	ASSERT_EQ(500, psend(self->pfd, DOWN, &self->down_tx, 500, 0));
	EXPECT_EQ(500, precv(self->cfd, DOWN, &self->down_rx, 3000, MSG_WAITALL));
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));

	/* So does the peer's FIN. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		usleep(100000);
		if (psend(self->pfd, DOWN, &self->down_tx, 700, 0) != 700)
			_exit(1);
		usleep(100000);
		_exit(shutdown(self->pfd, SHUT_WR) ? 1 : 0);
	}
	self->down_tx += 700;
	tv.tv_sec = 10;
	ASSERT_EQ(0, setsockopt(self->cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
	EXPECT_EQ(700, precv(self->cfd, DOWN, &self->down_rx, 3000, MSG_WAITALL));
	EXPECT_EQ(0, precv(self->cfd, DOWN, &self->down_rx, 3000, MSG_WAITALL));
	EXPECT_EQ(0, bg_wait(pid));
}

/* One MSG_WAITALL receive of far more than the receive buffer holds: the
 * reader takes bytes off the queue while it waits, and the window must
 * open for the rest (an echo server's client reading its whole reply).
 */
TEST_F_TIMEOUT(diff, msg_waitall_large, 120)
{
	static const size_t sizes[] = { 256 << 10, 1 << 20, 4 << 20 };
	struct timeval tv = { .tv_sec = 20 };
	size_t i;
	pid_t pid;

	ASSERT_EQ(0, setsockopt(self->cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		pid = bg_send(self->pfd, DOWN, &self->down_tx, sizes[i], 0);
		EXPECT_EQ((ssize_t)sizes[i],
			  precv(self->cfd, DOWN, &self->down_rx, sizes[i], MSG_WAITALL))
			TH_LOG("MSG_WAITALL of %zu bytes", sizes[i]);
		EXPECT_EQ(0, bg_wait(pid));
	}
	/* And once more with a small receive buffer. */
	ASSERT_EQ(0, set_int(self->cfd, SOL_SOCKET, SO_RCVBUF, 32768));
	pid = bg_send(self->pfd, DOWN, &self->down_tx, 1 << 20, 0);
	EXPECT_EQ(1 << 20, precv(self->cfd, DOWN, &self->down_rx, 1 << 20, MSG_WAITALL));
	EXPECT_EQ(0, bg_wait(pid));
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));
}

/* TCP_ZEROCOPY_RECEIVE: the kernel maps whole pages of payload, copies
 * the rest into the copy buffer or leaves it for recv(); whichever it
 * chose, the bytes arrive in order and intact, four times what the
 * receive buffer holds (the engine's window must open as they go).
 */
TEST_F_TIMEOUT(diff, zerocopy_receive, 120)
{
	static unsigned char copybuf[65536];
	const size_t total = 4 << 20, maplen = 256 << 10;
	struct tcp_zerocopy_receive zc;
	long end = now_ms() + 60000;
	unsigned char *map;
	ssize_t ret = 0;
	socklen_t len;
	pid_t pid;

	ASSERT_EQ(0, set_int(self->cfd, SOL_SOCKET, SO_RCVBUF, 1 << 19));
	map = mmap(NULL, maplen, PROT_READ, MAP_SHARED, self->cfd, 0);
	ASSERT_NE(MAP_FAILED, map) TH_LOG("mmap: %s", strerror(errno));
	pid = bg_send(self->pfd, DOWN, &self->down_tx, total, 0);
	while (self->down_rx < total && now_ms() < end) {
		if (!(pollev(self->cfd, POLLIN, WAIT_MS) & POLLIN))
			break;
		memset(&zc, 0, sizeof(zc));
		zc.address = (uintptr_t)map;
		zc.length = maplen;
		zc.copybuf_address = (uintptr_t)copybuf;
		zc.copybuf_len = sizeof(copybuf);
		len = sizeof(zc);
		ret = getsockopt(self->cfd, IPPROTO_TCP, TCP_ZEROCOPY_RECEIVE, &zc, &len);
		if (ret)
			break;
		if (zc.length) {
			ASSERT_TRUE(pat_ok(map, DOWN, self->down_rx, zc.length));
			self->down_rx += zc.length;
		}
		if (zc.copybuf_len > 0) {
			ASSERT_TRUE(pat_ok(copybuf, DOWN, self->down_rx, zc.copybuf_len));
			self->down_rx += zc.copybuf_len;
		}
		if (zc.recv_skip_hint) {
			ret = precv(self->cfd, DOWN, &self->down_rx, zc.recv_skip_hint, 0);
			if (ret <= 0)
				break;
			ret = 0;
		}
	}
	EXPECT_EQ(0, ret) TH_LOG("TCP_ZEROCOPY_RECEIVE: %s", strerror(errno));
	EXPECT_EQ(total, self->down_rx);
	EXPECT_EQ(0, bg_wait(pid));
	EXPECT_EQ(0, munmap(map, maplen));
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));
}

TEST_F(diff, msg_dontwait)
{
	EXPECT_EQ(-1, precv(self->cfd, DOWN, &self->down_rx, 100, MSG_DONTWAIT));
	EXPECT_EQ(EAGAIN, errno);
	ASSERT_EQ(10, psend(self->pfd, DOWN, &self->down_tx, 10, 0));
	ASSERT_EQ(10, wait_inq(self->cfd, 10, WAIT_MS));
	EXPECT_EQ(10, precv(self->cfd, DOWN, &self->down_rx, 100, MSG_DONTWAIT));
	EXPECT_EQ(-1, precv(self->cfd, DOWN, &self->down_rx, 100, MSG_DONTWAIT));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(100, psend(self->cfd, UP, &self->up_tx, 100, MSG_DONTWAIT));
	EXPECT_EQ(100, recv_all(self->pfd, UP, &self->up_rx, 100, WAIT_MS));
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));
}

/* O_NONBLOCK: EAGAIN both ways, POLLOUT gone while full and back once the
 * peer reads, every byte intact.
 */
TEST_F(diff, nonblocking)
{
	ssize_t total;
	pid_t pid;

	ASSERT_EQ(0, set_int(self->cfd, SOL_SOCKET, SO_SNDBUF, 65536));
	ASSERT_EQ(0, fcntl(self->cfd, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-1, precv(self->cfd, DOWN, &self->down_rx, 100, 0));
	EXPECT_EQ(EAGAIN, errno);

	total = fill_sndbuf(self->cfd, self->pfd, &self->up_tx);
	ASSERT_LT(0, total);
	EXPECT_EQ(-1, psend(self->cfd, UP, &self->up_tx, 1000, 0));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(0, pollev(self->cfd, POLLOUT, 0));

	pid = bg_recv(self->pfd, UP, &self->up_rx, total, 0);
	EXPECT_EQ(EV_OUT, pollev(self->cfd, EV_OUT, WAIT_MS));
	EXPECT_EQ(0, bg_wait(pid));
	EXPECT_EQ(1000, psend(self->cfd, UP, &self->up_tx, 1000, 0));
	EXPECT_EQ(1000, recv_all(self->pfd, UP, &self->up_rx, 1000, WAIT_MS));

	ASSERT_EQ(20, psend(self->pfd, DOWN, &self->down_tx, 20, 0));
	ASSERT_EQ(20, wait_inq(self->cfd, 20, WAIT_MS));
	EXPECT_EQ(20, precv(self->cfd, DOWN, &self->down_rx, 100, 0));
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));
}

TEST_F(diff, so_rcvtimeo)
{
	struct timeval tv = { .tv_usec = 300000 }, got;
	socklen_t len = sizeof(got);
	long t0, dt;

	ASSERT_EQ(0, setsockopt(self->cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
	ASSERT_EQ(0, getsockopt(self->cfd, SOL_SOCKET, SO_RCVTIMEO, &got, &len));
	EXPECT_EQ(0, got.tv_sec);
	EXPECT_EQ(300000, got.tv_usec);

	t0 = now_ms();
	EXPECT_EQ(-1, precv(self->cfd, DOWN, &self->down_rx, 100, 0));
	EXPECT_EQ(EAGAIN, errno);
	dt = now_ms() - t0;
	EXPECT_LE(250, dt);
	EXPECT_GT(5000, dt);

	ASSERT_EQ(10, psend(self->pfd, DOWN, &self->down_tx, 10, 0));
	EXPECT_EQ(10, precv(self->cfd, DOWN, &self->down_rx, 100, 0));
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));
}

TEST_F(diff, so_sndtimeo)
{
	struct timeval tv = { .tv_usec = 300000 };
	ssize_t total;
	long t0, dt;
	pid_t pid;

	ASSERT_EQ(0, set_int(self->cfd, SOL_SOCKET, SO_SNDBUF, 65536));
	total = fill_sndbuf(self->cfd, self->pfd, &self->up_tx);
	ASSERT_LT(0, total);

	ASSERT_EQ(0, setsockopt(self->cfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)));
	t0 = now_ms();
	EXPECT_EQ(-1, psend(self->cfd, UP, &self->up_tx, 16384, 0));
	EXPECT_EQ(EAGAIN, errno);
	dt = now_ms() - t0;
	EXPECT_LE(250, dt);
	EXPECT_GT(5000, dt);

	/* Once the peer reads, a send with the timeout goes through. */
	pid = bg_recv(self->pfd, UP, &self->up_rx, total + 16384, 0);
	tv.tv_sec = 10;
	ASSERT_EQ(0, setsockopt(self->cfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)));
	EXPECT_EQ(16384, psend(self->cfd, UP, &self->up_tx, 16384, 0));
	EXPECT_EQ(0, bg_wait(pid));
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));
}

/* Below SO_RCVLOWAT the socket is not readable; a blocking read waits for
 * the mark.
 */
TEST_F(diff, so_rcvlowat)
{
	pid_t pid;

	ASSERT_EQ(0, set_int(self->cfd, SOL_SOCKET, SO_RCVLOWAT, 1000));
	EXPECT_EQ(1000, sockopt_int(self->cfd, SOL_SOCKET, SO_RCVLOWAT));

	ASSERT_EQ(500, psend(self->pfd, DOWN, &self->down_tx, 500, 0));
	ASSERT_EQ(500, wait_inq(self->cfd, 500, WAIT_MS));
	EXPECT_EQ(0, pollev(self->cfd, EV_IN, 200));
	ASSERT_EQ(600, psend(self->pfd, DOWN, &self->down_tx, 600, 0));
	EXPECT_EQ(EV_IN, pollev(self->cfd, EV_IN, WAIT_MS));
	EXPECT_EQ(1100, wait_inq(self->cfd, 1100, WAIT_MS));
	EXPECT_EQ(1100, precv(self->cfd, DOWN, &self->down_rx, 5000, 0));

	/* A blocking read that took 500 bytes sleeps until SO_RCVLOWAT more
	 * are queued: 600 do not wake it, 1000 more do.
	 */
	ASSERT_EQ(500, psend(self->pfd, DOWN, &self->down_tx, 500, 0));
	ASSERT_EQ(500, wait_inq(self->cfd, 500, WAIT_MS));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		usleep(200000);
		if (psend(self->pfd, DOWN, &self->down_tx, 600, 0) != 600)
			_exit(1);
		usleep(500000);
		_exit(psend(self->pfd, DOWN, &self->down_tx, 1000, 0) != 1000);
	}
	self->down_tx += 1600;
	EXPECT_EQ(2100, precv(self->cfd, DOWN, &self->down_rx, 5000, 0));
	EXPECT_EQ(0, bg_wait(pid));
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));
}

/* The events of each state, from idle to both sides shut down. */
TEST_F(diff, poll_events)
{
	EXPECT_EQ(EV_OUT, pollev(self->cfd, EV_ALL, 0));
	ASSERT_EQ(10, psend(self->pfd, DOWN, &self->down_tx, 10, 0));
	ASSERT_EQ(10, wait_inq(self->cfd, 10, WAIT_MS));
	EXPECT_EQ(EV_IN | EV_OUT, pollev(self->cfd, EV_ALL, 0));
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));

	ASSERT_EQ(0, shutdown(self->pfd, SHUT_WR));
	EXPECT_EQ(POLLRDHUP, pollev(self->cfd, POLLRDHUP, WAIT_MS));
	EXPECT_EQ(EV_IN | EV_OUT | POLLRDHUP, pollev(self->cfd, EV_ALL, 0));
	EXPECT_EQ(10, precv(self->cfd, DOWN, &self->down_rx, 100, 0));
	EXPECT_EQ(0, precv(self->cfd, DOWN, &self->down_rx, 100, 0));
	EXPECT_EQ(EV_IN | EV_OUT | POLLRDHUP, pollev(self->cfd, EV_ALL, 0));
	EXPECT_EQ(ST_CLOSE_WAIT, tcp_state(self->cfd));

	ASSERT_EQ(0, shutdown(self->cfd, SHUT_WR));
	EXPECT_EQ(EV_IN | EV_OUT | POLLRDHUP | POLLHUP, pollev(self->cfd, EV_ALL, 0));
}

/* Sleepers in poll(), recv() and send() are woken. */
TEST_F(diff, wakeups)
{
	ssize_t total;
	pid_t pid;
	long t0;

	pid = bg_send(self->pfd, DOWN, &self->down_tx, 10, 200);
	t0 = now_ms();
	EXPECT_EQ(EV_IN, pollev(self->cfd, EV_IN, WAIT_MS));
	EXPECT_LE(150, now_ms() - t0);
	EXPECT_EQ(10, precv(self->cfd, DOWN, &self->down_rx, 100, 0));
	EXPECT_EQ(0, bg_wait(pid));

	pid = bg_send(self->pfd, DOWN, &self->down_tx, 10, 200);
	EXPECT_EQ(10, precv(self->cfd, DOWN, &self->down_rx, 100, 0));
	EXPECT_EQ(0, bg_wait(pid));

	ASSERT_EQ(0, set_int(self->cfd, SOL_SOCKET, SO_SNDBUF, 65536));
	total = fill_sndbuf(self->cfd, self->pfd, &self->up_tx);
	ASSERT_LT(0, total);
	pid = bg_recv(self->pfd, UP, &self->up_rx, total + 16384, 200);
	t0 = now_ms();
	EXPECT_EQ(16384, psend(self->cfd, UP, &self->up_tx, 16384, 0));
	EXPECT_LE(150, now_ms() - t0);
	EXPECT_EQ(0, bg_wait(pid));
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));

	/* The peer's FIN wakes a reader. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		usleep(200000);
		_exit(shutdown(self->pfd, SHUT_WR) ? 1 : 0);
	}
	EXPECT_EQ(0, precv(self->cfd, DOWN, &self->down_rx, 100, 0));
	EXPECT_EQ(0, bg_wait(pid));
}

TEST_F(diff, epoll_level)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP };
	int ep = epoll_create1(0);

	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->cfd, &ev));
	EXPECT_EQ(EPOLLOUT, epev(ep, 0));
	EXPECT_EQ(EPOLLOUT, epev(ep, 0));

	ASSERT_EQ(100, psend(self->pfd, DOWN, &self->down_tx, 100, 0));
	ASSERT_EQ(100, wait_inq(self->cfd, 100, WAIT_MS));
	EXPECT_EQ(EPOLLIN | EPOLLOUT, epev(ep, 0));
	EXPECT_EQ(50, precv(self->cfd, DOWN, &self->down_rx, 50, 0));
	EXPECT_EQ(EPOLLIN | EPOLLOUT, epev(ep, 0));
	EXPECT_EQ(50, precv(self->cfd, DOWN, &self->down_rx, 100, 0));
	EXPECT_EQ(EPOLLOUT, epev(ep, 0));
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));

	ASSERT_EQ(0, shutdown(self->pfd, SHUT_WR));
	ASSERT_EQ(POLLRDHUP, pollev(self->cfd, POLLRDHUP, WAIT_MS));
	EXPECT_EQ(EPOLLIN | EPOLLOUT | EPOLLRDHUP, epev(ep, 0));
	EXPECT_EQ(EPOLLIN | EPOLLOUT | EPOLLRDHUP, epev(ep, 0));
	close(ep);
}

TEST_F(diff, epoll_edge)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLET };
	int ep = epoll_create1(0);
	int events;

	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->cfd, &ev));
	EXPECT_EQ(0, epev(ep, 0));

	ASSERT_EQ(100, psend(self->pfd, DOWN, &self->down_tx, 100, 0));
	EXPECT_EQ(EPOLLIN, epev(ep, WAIT_MS));
	EXPECT_EQ(0, epev(ep, 100));
	ASSERT_EQ(100, wait_inq(self->cfd, 100, WAIT_MS));
	EXPECT_EQ(50, precv(self->cfd, DOWN, &self->down_rx, 50, 0));
	EXPECT_EQ(0, epev(ep, 100));

	ASSERT_EQ(10, psend(self->pfd, DOWN, &self->down_tx, 10, 0));
	EXPECT_EQ(EPOLLIN, epev(ep, WAIT_MS));
	EXPECT_EQ(0, epev(ep, 100));
	ASSERT_EQ(60, wait_inq(self->cfd, 60, WAIT_MS));
	EXPECT_EQ(60, precv(self->cfd, DOWN, &self->down_rx, 100, 0));
	EXPECT_EQ(0, epev(ep, 100));
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));

	ASSERT_EQ(0, shutdown(self->pfd, SHUT_WR));
	EXPECT_EQ(EPOLLIN | EPOLLRDHUP, epev(ep, WAIT_MS));
	/* A FIN wakes the socket twice (sk_state_change(), then
	 * sk_data_ready()); a waiter that ran in between sees a second
	 * edge, in software as offloaded. No third one.
	 */
	events = epev(ep, 100);
	EXPECT_TRUE(events == 0 || events == (EPOLLIN | EPOLLRDHUP));
	EXPECT_EQ(0, epev(ep, 100));
	close(ep);
}

TEST_F(diff, epoll_edge_out)
{
	struct epoll_event ev = { .events = EPOLLOUT | EPOLLET };
	int ep = epoll_create1(0);
	ssize_t total;
	pid_t pid;

	ASSERT_LE(0, ep);
	ASSERT_EQ(0, set_int(self->cfd, SOL_SOCKET, SO_SNDBUF, 65536));
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->cfd, &ev));
	EXPECT_EQ(EPOLLOUT, epev(ep, 0));
	EXPECT_EQ(0, epev(ep, 100));

	total = fill_sndbuf(self->cfd, self->pfd, &self->up_tx);
	ASSERT_LT(0, total);
	EXPECT_EQ(0, epev(ep, 100));
	pid = bg_recv(self->pfd, UP, &self->up_rx, total, 0);
	EXPECT_EQ(EPOLLOUT, epev(ep, WAIT_MS));
	EXPECT_EQ(0, bg_wait(pid));
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));
	close(ep);
}

TEST_F(diff, ioctl_inq)
{
	EXPECT_EQ(0, ioctl_int(self->cfd, SIOCINQ));
	EXPECT_EQ(0, ioctl_int(self->cfd, SIOCOUTQ));
	EXPECT_EQ(0, ioctl_int(self->cfd, SIOCOUTQNSD));

	ASSERT_EQ(5000, psend(self->pfd, DOWN, &self->down_tx, 5000, 0));
	EXPECT_EQ(5000, wait_inq(self->cfd, 5000, WAIT_MS));
	EXPECT_EQ(5000, ioctl_int(self->cfd, FIONREAD));
	EXPECT_EQ(1234, precv(self->cfd, DOWN, &self->down_rx, 1234, 0));
	EXPECT_EQ(3766, ioctl_int(self->cfd, SIOCINQ));
	EXPECT_EQ(100, precv(self->cfd, DOWN, &self->down_rx, 100, MSG_PEEK));
	EXPECT_EQ(3766, ioctl_int(self->cfd, SIOCINQ));
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));

	/* The FIN is not a byte to read. */
	ASSERT_EQ(0, shutdown(self->pfd, SHUT_WR));
	ASSERT_EQ(POLLRDHUP, pollev(self->cfd, POLLRDHUP, WAIT_MS));
	EXPECT_EQ(3766, ioctl_int(self->cfd, SIOCINQ));
	EXPECT_EQ(3766, precv(self->cfd, DOWN, &self->down_rx, 5000, 0));
	EXPECT_EQ(0, ioctl_int(self->cfd, SIOCINQ));
}

/* SIOCOUTQ counts what the peer has not acknowledged, SIOCOUTQNSD what was
 * not sent yet.
 */
TEST_F(diff, ioctl_outq)
{
	int outq, nsd, pinq;
	ssize_t total;
	pid_t pid;

	ASSERT_EQ(0, set_int(self->cfd, SOL_SOCKET, SO_SNDBUF, 65536));
	total = fill_sndbuf(self->cfd, self->pfd, &self->up_tx);
	ASSERT_LT(0, total);
	usleep(300000);
	outq = ioctl_int(self->cfd, SIOCOUTQ);
	nsd = ioctl_int(self->cfd, SIOCOUTQNSD);
	pinq = ioctl_int(self->pfd, SIOCINQ);
	EXPECT_LT(0, outq);
	EXPECT_LE(0, nsd);
	EXPECT_GE(outq, nsd);
	EXPECT_EQ(total, outq + pinq)
		TH_LOG("sent %zd, outq %d, nsd %d, peer inq %d", total, outq, nsd, pinq);

	pid = bg_recv(self->pfd, UP, &self->up_rx, total, 0);
	EXPECT_EQ(0, bg_wait(pid));
	EXPECT_EQ(0, wait_outq(self->cfd, 0, WAIT_MS));
	EXPECT_EQ(0, ioctl_int(self->cfd, SIOCOUTQNSD));
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));
}

/* TCP_NOTSENT_LOWAT: with a send buffer of megabytes and a peer that does
 * not read, the application may queue only about the mark's worth of
 * bytes beyond what is in flight: send() says EAGAIN and poll() not
 * writable. Writable again once the peer reads.
 */
TEST_F(diff, notsent_lowat)
{
	ssize_t total;
	int nsd;
	pid_t pid;

	ASSERT_EQ(0, set_int(self->cfd, SOL_SOCKET, SO_SNDBUF, 1 << 20));
	ASSERT_EQ(0, set_int(self->cfd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, 16384));
	total = fill_sndbuf(self->cfd, self->pfd, &self->up_tx);
	ASSERT_LT(0, total);
	nsd = ioctl_int(self->cfd, SIOCOUTQNSD);
	EXPECT_LT(0, nsd);
	/* The mark, plus at most one segment-sized append (64 KB). */
	EXPECT_GE(16384 + 65536 + 16384, nsd)
		TH_LOG("sent %zd, %d bytes not sent", total, nsd);
	EXPECT_EQ(0, pollev(self->cfd, EV_OUT, 200));
	pid = bg_recv(self->pfd, UP, &self->up_rx, total, 0);
	EXPECT_EQ(EV_OUT, pollev(self->cfd, EV_OUT, WAIT_MS));
	EXPECT_EQ(0, bg_wait(pid));
	EXPECT_EQ(0, wait_outq(self->cfd, 0, WAIT_MS));
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));
}

/* A firewall rule added while the connection is up stops it, whoever
 * carries it: a rule dropping one direction's segments sees them (its
 * counter moves) and nothing reaches the receiver; once the rule is gone
 * the sender's retransmissions bring every byte. IN: an input rule on the
 * peer's segments, else an output rule on ours.
 */
static void nft_drop(struct __test_metadata *_metadata,
		     struct _test_data_diff *self,
		     const struct _fixture_variant_diff *variant, bool in)
{
	int port = sock_port(self->pfd, false);
	const char *chain = in ? "in" : "out";
	int from = in ? self->pfd : self->cfd, to = in ? self->cfd : self->pfd;
	int dir = in ? DOWN : UP;
	uint64_t *tx = in ? &self->down_tx : &self->up_tx;
	uint64_t *rx = in ? &self->down_rx : &self->up_rx;

	self->nft = true;
	ASSERT_EQ(0, run_nft("add table inet toe_diff\n"
			     "add chain inet toe_diff %s { type filter hook %s priority 0; }\n"
			     "add rule inet toe_diff %s tcp %s %d counter drop",
			     chain, in ? "input" : "output", chain,
			     in ? "sport" : "dport", port))
		TH_LOG("nft failed: no nf_tables, or no nft(8)?");
	ASSERT_EQ(20000, psend(from, dir, tx, 20000, 0));
	usleep(1500000);
	EXPECT_EQ(0, ioctl_int(to, SIOCINQ));
	EXPECT_LT(0, nft_packets(chain)) TH_LOG("the rule saw no segment");
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));
	ASSERT_EQ(0, run_nft("delete table inet toe_diff"));
	self->nft = false;
	EXPECT_EQ(20000, recv_all(to, dir, rx, 20000, 3 * WAIT_MS));
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));
}

TEST_F_TIMEOUT(diff, nft_input_drop, 60)
{
	nft_drop(_metadata, self, variant, true);
}

TEST_F_TIMEOUT(diff, nft_output_drop, 60)
{
	nft_drop(_metadata, self, variant, false);
}

/* An input rule in table inet toe_diff that drops (and counts) what the
 * peer sends from PORT.
 */
static int drop_peer(struct _test_data_diff *self, int port)
{
	self->nft = true;
	return run_nft("add table inet toe_diff\n"
		       "add chain inet toe_diff in { type filter hook input priority 0; }\n"
		       "add rule inet toe_diff in tcp sport %d counter drop", port);
}

/* We have bytes to deliver, in flight or, with SHUT, behind a window the
 * peer shut, and the peer stops answering: with GONE an input rule drops
 * everything it sends, as if it vanished; without, it answers our window
 * probes but never opens its window. We give up as Linux TCP does, with
 * ETIMEDOUT, when TCP_USER_TIMEOUT (MS, when not 0) or tcp_retries2
 * (RETRIES2, when not 0) says; Linux counts from its first unanswered
 * retransmission or from its first window probe: with TCP_USER_TIMEOUT
 * the error comes within a few seconds of the timeout, with
 * tcp_retries2 at 2 some 3 to 6 s after the data was sent or the window
 * shut. With ANSWERED (ms), the peer keeps answering the probes of the
 * shut window that long before it goes; Linux's probe backoff stops
 * growing at tcp_retries2, so the give-up still comes that soon after.
 * (The socket is closed then, so whether it was offloaded cannot be read
 * back.)
 */
static void give_up(struct __test_metadata *_metadata,
		    struct _test_data_diff *self,
		    const struct _fixture_variant_diff *variant, int ms,
		    int retries2, bool shut, int answered, bool gone)
{
	int port = sock_port(self->pfd, false);
	struct tcp_info ti = {};
	socklen_t len = sizeof(ti);
	long t0, took;
	int ev;

	if (retries2) {
		self->retries2 = read_int_file(RETRIES2);
		ASSERT_LT(0, self->retries2);
		ASSERT_EQ(0, write_int_file(RETRIES2, retries2));
	}
	if (ms)
		ASSERT_EQ(0, set_int(self->cfd, IPPROTO_TCP, TCP_USER_TIMEOUT, ms));
	if (shut) {
		ASSERT_LT(0, fill_sndbuf(self->cfd, self->pfd, &self->up_tx));
		EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));
	}
	/* When the data went, or about when the window shut (the buffer
	 * stayed full for the last 500 ms of fill_sndbuf()).
	 */
	t0 = now_ms() - (shut ? 500 : 0);
	if (answered)
		usleep(answered * 1000);
	/* Where the timers stood, for the log should the bounds not hold. */
	ASSERT_EQ(0, getsockopt(self->cfd, IPPROTO_TCP, TCP_INFO, &ti, &len));
	if (gone)
		ASSERT_EQ(0, drop_peer(self, port))
			TH_LOG("nft failed: no nf_tables, or no nft(8)?");
	if (!shut)
		ASSERT_EQ(20000, psend(self->cfd, UP, &self->up_tx, 20000, 0));
	ev = wait_events(self->cfd, POLLERR, 30000);
	took = now_ms() - t0;
	EXPECT_EQ(POLLERR, ev) TH_LOG("no error after %ld ms: the engine never gave up",
				      took);
	EXPECT_EQ(ETIMEDOUT, sockopt_int(self->cfd, SOL_SOCKET, SO_ERROR));
	if (ms) {
		/* Linux TCP clamps its timers to what is left of the
		 * timeout, and sees it passed at the next one: on veth
		 * some 1.3 s after it (4.3 s for 3 s).
		 */
		EXPECT_LE(ms - (shut ? 500 : 0), took);
		EXPECT_GE(ms + 3000, took);
	} else {
		/* On a slow lane (TOE_SLOW, the debug kernel) only the give
		 * up is checked: there the engine's RTT estimate, and with it
		 * its probe intervals, carry the debug kernel's delays. The
		 * stock lane holds every variant to Linux's schedule.
		 */
		const char *slow = getenv("TOE_SLOW");
		long most = slow && atoi(slow) > 1 ? 30000 : 9000;

		EXPECT_LE(1500 + answered, took);
		EXPECT_GE(most + answered, took)
			TH_LOG("at the start: rto %u ms, backoff %u, probes %u, retransmits %u",
			       ti.tcpi_rto / 1000, ti.tcpi_backoff,
			       ti.tcpi_probes, ti.tcpi_retransmits);
	}
	EXPECT_EQ(ST_CLOSE, tcp_state(self->cfd));
	if (gone)
		EXPECT_LT(0, nft_packets("in")) TH_LOG("the rule saw no segment");
}

/* The peer vanishes with bytes in flight, TCP_USER_TIMEOUT 3 s. */
TEST_F_TIMEOUT(diff, peer_gone_user_timeout, 60)
{
	give_up(_metadata, self, variant, 3000, 0, false, 0, true);
}

/* The peer vanishes with bytes in flight, tcp_retries2 at 2: Linux's
 * model allows (2^3 - 1) * 200 ms after the first retransmission, which
 * it sees expired at its fourth RTO, 3 s after the data was sent.
 */
TEST_F_TIMEOUT(diff, peer_gone_retries2, 60)
{
	give_up(_metadata, self, variant, 0, 2, false, 0, true);
}

/* The peer vanishes behind a shut window, tcp_retries2 at 2: two window
 * probes go unanswered.
 */
TEST_F_TIMEOUT(diff, peer_gone_zero_window, 60)
{
	give_up(_metadata, self, variant, 0, 2, true, 0, true);
}

/* The same after the peer answered the window probes for 4 s: by then
 * Linux probes every 4 RTOs (its backoff stops at tcp_retries2) and
 * gives up after two more.
 */
TEST_F_TIMEOUT(diff, peer_gone_zero_window_late, 60)
{
	give_up(_metadata, self, variant, 0, 2, true, 4000, true);
}

/* The peer answers every window probe but keeps its window shut, with
 * TCP_USER_TIMEOUT 3 s: Linux aborts once the timeout has passed since
 * its first probe.
 */
TEST_F_TIMEOUT(diff, user_timeout_zero_window, 60)
{
	give_up(_metadata, self, variant, 3000, 0, true, 0, false);
}

/* TCP_INFO: the fields that do not depend on timing. */
TEST_F(diff, tcp_info)
{
	int mss = sockopt_int(self->cfd, IPPROTO_TCP, TCP_MAXSEG);
	struct tcp_info ti = {};
	socklen_t len = sizeof(ti);
	pid_t pid;

	pid = bg_recv(self->pfd, UP, &self->up_rx, 100000, 0);
	EXPECT_EQ(100000, send_all(self->cfd, UP, &self->up_tx, 100000));
	EXPECT_EQ(0, bg_wait(pid));
	EXPECT_EQ(0, wait_outq(self->cfd, 0, WAIT_MS));
	pid = bg_send(self->pfd, DOWN, &self->down_tx, 50000, 0);
	EXPECT_EQ(50000, recv_all(self->cfd, DOWN, &self->down_rx, 50000, WAIT_MS));
	EXPECT_EQ(0, bg_wait(pid));

	ASSERT_EQ(0, getsockopt(self->cfd, IPPROTO_TCP, TCP_INFO, &ti, &len));
	EXPECT_EQ(ST_ESTABLISHED, ti.tcpi_state);
	EXPECT_EQ(self->info0.tcpi_options, ti.tcpi_options);
	EXPECT_EQ((int)self->info0.tcpi_snd_wscale, (int)ti.tcpi_snd_wscale);
	EXPECT_EQ((int)self->info0.tcpi_rcv_wscale, (int)ti.tcpi_rcv_wscale);
	EXPECT_EQ(variant->family == AF_INET6 ? 1428 : 1448, ti.tcpi_snd_mss);
	EXPECT_EQ(mss, ti.tcpi_snd_mss);
	EXPECT_EQ(self->info0.tcpi_snd_mss, ti.tcpi_snd_mss);
	EXPECT_EQ(self->info0.tcpi_advmss, ti.tcpi_advmss);
	EXPECT_EQ(self->info0.tcpi_pmtu, ti.tcpi_pmtu);
	/* Full-sized segments came in: the estimate of the peer's MSS. */
	EXPECT_EQ(ti.tcpi_snd_mss, ti.tcpi_rcv_mss);
	EXPECT_EQ(0, ti.tcpi_unacked);
	EXPECT_EQ(0, ti.tcpi_notsent_bytes);
	EXPECT_EQ(100000, ti.tcpi_bytes_acked - self->info0.tcpi_bytes_acked);
	EXPECT_EQ(50000, ti.tcpi_bytes_received - self->info0.tcpi_bytes_received);
	/* Retransmitted bytes count too, a tail loss probe for one. */
	EXPECT_LE(100000, ti.tcpi_bytes_sent - self->info0.tcpi_bytes_sent);
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));
}

/* TCP_INFO: the timing fields, from whoever carries the data. */
TEST_F(diff, tcp_info_timing)
{
	struct tcp_info ti = {};
	socklen_t len = sizeof(ti);
	pid_t pid;

	pid = bg_recv(self->pfd, UP, &self->up_rx, 4000000, 0);
	EXPECT_EQ(4000000, send_all(self->cfd, UP, &self->up_tx, 4000000));
	EXPECT_EQ(0, bg_wait(pid));
	EXPECT_EQ(0, wait_outq(self->cfd, 0, WAIT_MS));

	ASSERT_EQ(0, getsockopt(self->cfd, IPPROTO_TCP, TCP_INFO, &ti, &len));
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));
	/* A congestion window that lets data out, of at least the initial
	 * ten segments after four megabytes acknowledged.
	 */
	EXPECT_LE(10, ti.tcpi_snd_cwnd);
	EXPECT_LT(0, ti.tcpi_rtt);
	/* An RTO of at least the 200 ms minimum, and not backed off. */
	EXPECT_LE(200000, ti.tcpi_rto);
	EXPECT_GE(3000000, ti.tcpi_rto);
	EXPECT_EQ(0, ti.tcpi_backoff);
	EXPECT_GE(ti.tcpi_total_retrans, ti.tcpi_retrans);
	/* The send buffer never shrinks below what the handshake made it.
	 * Linux grows it (tcp_new_space()) only when it frees space while
	 * the window has room for more than is in flight, which a run may
	 * never see; the engine grows it with a window larger than the
	 * initial buffer holds (some 60 segments). An early loss or HyStart
	 * can keep the window smaller.
	 */
	EXPECT_LE(self->sndbuf0, sockopt_int(self->cfd, SOL_SOCKET, SO_SNDBUF));
	if (variant->offload && ti.tcpi_snd_cwnd >= 64) {
		EXPECT_LT(self->sndbuf0,
			  sockopt_int(self->cfd, SOL_SOCKET, SO_SNDBUF));
	} else {
		TH_LOG("window of %u segments, sndbuf %d of %d at first",
		       ti.tcpi_snd_cwnd,
		       sockopt_int(self->cfd, SOL_SOCKET, SO_SNDBUF),
		       self->sndbuf0);
	}
}

/* Nothing sent yet: the send buffer is what the handshake made it. */
TEST_F(diff, so_sndbuf)
{
	int sndbuf = sockopt_int(self->cfd, SOL_SOCKET, SO_SNDBUF);

	ASSERT_LT(0, self->sndbuf0);
	EXPECT_EQ(self->sndbuf0, sndbuf);
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));
}

/* Receive memory is bounded by SO_RCVBUF, counted in truesize: a peer
 * that sends 100-byte segments to a reader that reads nothing fills the
 * receive buffer and then waits (each such segment costs Linux TCP far
 * more than 100 bytes of skb, until it coalesces them). Read back with
 * SO_MEMINFO once the peer is stalled: at most one 64 KB skb over.
 */
TEST_F_TIMEOUT(diff, rcvbuf_small_segments, 90)
{
	const int seg = 100, nsegs = 20000;
	uint32_t mem[SK_MEMINFO_VARS];
	socklen_t len = sizeof(mem);
	pid_t pid;

	ASSERT_EQ(0, set_int(self->cfd, SOL_SOCKET, SO_RCVBUF, 65536));
	ASSERT_EQ(0, set_int(self->pfd, IPPROTO_TCP, TCP_NODELAY, 1));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		uint64_t off = self->down_tx;
		int i;

		for (i = 0; i < nsegs; i++) {
			if (psend(self->pfd, DOWN, &off, seg, 0) != seg)
				_exit(1);
			usleep(100);
		}
		_exit(0);
	}
	self->down_tx += (uint64_t)seg * nsegs;
	/* Long enough for the peer to fill the window and stall. */
	sleep(6);
	ASSERT_EQ(0, getsockopt(self->cfd, SOL_SOCKET, SO_MEMINFO, mem, &len));
	EXPECT_GE(mem[SK_MEMINFO_RCVBUF] + 65536, mem[SK_MEMINFO_RMEM_ALLOC])
		TH_LOG("receive memory %u for a buffer of %u",
		       mem[SK_MEMINFO_RMEM_ALLOC], mem[SK_MEMINFO_RCVBUF]);
	EXPECT_LT(0, ioctl_int(self->cfd, SIOCINQ));
	EXPECT_EQ((ssize_t)seg * nsegs,
		  recv_all(self->cfd, DOWN, &self->down_rx, (size_t)seg * nsegs,
			   30000));
	EXPECT_EQ(0, bg_wait(pid));
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));
}

/* Options the engine honours: set and read back, the connection stays
 * where it is and carries data.
 */
TEST_F(diff, sockopt_passthrough)
{
	static const struct { int level, name, val, got; } opts[] = {
		{ IPPROTO_TCP, TCP_NODELAY, 1, 1 },
		{ IPPROTO_TCP, TCP_CORK, 1, 1 },
		{ IPPROTO_TCP, TCP_CORK, 0, 0 },
		{ IPPROTO_TCP, TCP_KEEPIDLE, 30, 30 },
		{ IPPROTO_TCP, TCP_KEEPINTVL, 5, 5 },
		{ IPPROTO_TCP, TCP_KEEPCNT, 3, 3 },
		{ IPPROTO_TCP, TCP_USER_TIMEOUT, 10000, 10000 },
		{ IPPROTO_TCP, TCP_NOTSENT_LOWAT, 65536, 65536 },
		{ SOL_SOCKET, SO_RCVBUF, 200000, 400000 },
		{ SOL_SOCKET, SO_SNDBUF, 200000, 400000 },
	};
	size_t i;
	pid_t pid;

	for (i = 0; i < ARRAY_SIZE(opts); i++) {
		EXPECT_EQ(0, set_int(self->cfd, opts[i].level, opts[i].name, opts[i].val))
			TH_LOG("option %d/%d", opts[i].level, opts[i].name);
		EXPECT_EQ(opts[i].got, sockopt_int(self->cfd, opts[i].level, opts[i].name))
			TH_LOG("option %d/%d", opts[i].level, opts[i].name);
	}
	/* Bad values are refused alike. */
	EXPECT_EQ(-1, set_int(self->cfd, IPPROTO_TCP, TCP_KEEPIDLE, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, setsockopt(self->cfd, IPPROTO_TCP, TCP_NODELAY, "", 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));

	pid = bg_recv(self->pfd, UP, &self->up_rx, 200000, 0);
	EXPECT_EQ(200000, send_all(self->cfd, UP, &self->up_tx, 200000));
	EXPECT_EQ(0, bg_wait(pid));
	pid = bg_send(self->pfd, DOWN, &self->down_tx, 200000, 0);
	EXPECT_EQ(200000, recv_all(self->cfd, DOWN, &self->down_rx, 200000, WAIT_MS));
	EXPECT_EQ(0, bg_wait(pid));
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));
}

/* Segments with payload the peer's socket received. */
static unsigned int data_segs_in(int fd)
{
	struct tcp_info ti = {};
	socklen_t len = sizeof(ti);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len))
		return 0;
	return ti.tcpi_data_segs_in;
}

/* Nagle's rule (Minshall's variant, as Linux TCP has it): with TCP_NODELAY
 * off, a short write waits while a short segment is unacknowledged, and
 * goes with whatever came meanwhile at its ACK: three 100-byte writes
 * 30 ms apart behind a 200 ms path reach the peer in two segments. With
 * TCP_NODELAY, in three.
 */
TEST_F_TIMEOUT(diff, nagle, 60)
{
	unsigned int segs;
	int nodelay;

	self->netem = true;
	ASSERT_EQ(0, run_tc("qdisc replace dev %s root netem delay 200ms",
			    getenv("TOE_DIFF_DEV"))) TH_LOG("no netem?");
	for (nodelay = 0; nodelay <= 1; nodelay++) {
		ASSERT_EQ(0, set_int(self->cfd, IPPROTO_TCP, TCP_NODELAY,
				     nodelay));
		EXPECT_EQ(0, wait_outq(self->cfd, 0, WAIT_MS));
		segs = data_segs_in(self->pfd);
		/* 30 ms apart, within the first one's RTT: an engine
		 * that takes the three at once would send them as one.
		 */
		EXPECT_EQ(100, psend(self->cfd, UP, &self->up_tx, 100, 0));
		usleep(30000);
		EXPECT_EQ(100, psend(self->cfd, UP, &self->up_tx, 100, 0));
		usleep(30000);
		EXPECT_EQ(100, psend(self->cfd, UP, &self->up_tx, 100, 0));
		EXPECT_EQ(300, recv_all(self->pfd, UP, &self->up_rx, 300,
					WAIT_MS));
		EXPECT_EQ(segs + (nodelay ? 3 : 2), data_segs_in(self->pfd))
			TH_LOG("TCP_NODELAY %d: three writes in %u segments",
			       nodelay, data_segs_in(self->pfd) - segs);
	}
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));
}

/* TCP_CORK and MSG_MORE hold back a partial segment: nothing reaches the
 * peer until the application uncorks, or sends without MSG_MORE, and then
 * all of it in one segment. Corked bytes left alone go out after about an
 * RTO (at least 200 ms: Linux's window probe timer sends them, the "200
 * millisecond ceiling" of tcp(7)). A MSG_MORE tail behind bytes in flight
 * goes once they are acknowledged (Nagle's rule), long before that.
 */
TEST_F_TIMEOUT(diff, cork, 60)
{
	const char *slow = getenv("TOE_SLOW");
	unsigned int segs;
	long t0, took;
	pid_t pid;
	int mss;

	ASSERT_EQ(0, set_int(self->cfd, IPPROTO_TCP, TCP_CORK, 1));
	EXPECT_EQ(100, psend(self->cfd, UP, &self->up_tx, 100, 0));
	EXPECT_EQ(100, psend(self->cfd, UP, &self->up_tx, 100, 0));
	EXPECT_EQ(0, pollev(self->pfd, POLLIN, 50))
		TH_LOG("TCP_CORK: the peer got bytes before the uncork");
	segs = data_segs_in(self->pfd);
	ASSERT_EQ(0, set_int(self->cfd, IPPROTO_TCP, TCP_CORK, 0));
	EXPECT_EQ(200, recv_all(self->pfd, UP, &self->up_rx, 200, WAIT_MS));
	EXPECT_EQ(segs + 1, data_segs_in(self->pfd));

	/* Their ACK first: one that came after the next send would let a
	 * MSG_MORE tail go at once (Nagle's rule), in software too.
	 */
	EXPECT_EQ(0, wait_outq(self->cfd, 0, WAIT_MS));
	EXPECT_EQ(100, psend(self->cfd, UP, &self->up_tx, 100, MSG_MORE));
	EXPECT_EQ(0, pollev(self->pfd, POLLIN, 50))
		TH_LOG("MSG_MORE: the peer got bytes before the next send");
	segs = data_segs_in(self->pfd);
	EXPECT_EQ(100, psend(self->cfd, UP, &self->up_tx, 100, 0));
	EXPECT_EQ(200, recv_all(self->pfd, UP, &self->up_rx, 200, WAIT_MS));
	EXPECT_EQ(segs + 1, data_segs_in(self->pfd));

	EXPECT_EQ(0, wait_outq(self->cfd, 0, WAIT_MS));
	ASSERT_EQ(0, set_int(self->cfd, IPPROTO_TCP, TCP_CORK, 1));
	t0 = now_ms();
	EXPECT_EQ(100, psend(self->cfd, UP, &self->up_tx, 100, 0));
	EXPECT_EQ(100, recv_all(self->pfd, UP, &self->up_rx, 100, 5000))
		TH_LOG("corked bytes never left");
	took = now_ms() - t0;
	EXPECT_LE(150, took);
	EXPECT_GE(3000, took);
	ASSERT_EQ(0, set_int(self->cfd, IPPROTO_TCP, TCP_CORK, 0));

	/* 10 KB in flight for 100 ms (within the initial window): the
	 * MSG_MORE tail goes at their ACK, not an RTO (300 ms or so at that
	 * RTT) after it.
	 */
	self->netem = true;
	ASSERT_EQ(0, run_tc("qdisc replace dev %s root netem delay 100ms",
			    getenv("TOE_DIFF_DEV"))) TH_LOG("no netem?");
	EXPECT_EQ(1000, psend(self->cfd, UP, &self->up_tx, 1000, 0));
	EXPECT_EQ(1000, recv_all(self->pfd, UP, &self->up_rx, 1000, WAIT_MS));
	usleep(300000);
	pid = bg_recv(self->pfd, UP, &self->up_rx, 10100, 0);
	t0 = now_ms();
	EXPECT_EQ(10000, psend(self->cfd, UP, &self->up_tx, 10000, 0));
	EXPECT_EQ(100, psend(self->cfd, UP, &self->up_tx, 100, MSG_MORE));
	EXPECT_EQ(0, bg_wait(pid));
	took = now_ms() - t0;
	/* The debug kernel's lane checks only that the bytes arrive. */
	if (!slow || atoi(slow) <= 1)
		EXPECT_GT(350, took) TH_LOG("MSG_MORE behind data: %ld ms", took);

	/* Corked, five full segments and 100 bytes, then uncorked: with
	 * only full segments in flight, Minshall's rule (tcp_nagle_check())
	 * lets the tail go at once, not 100 ms later at their ACK.
	 */
	usleep(300000);
	mss = sockopt_int(self->cfd, IPPROTO_TCP, TCP_MAXSEG);
	ASSERT_LT(500, mss);
	ASSERT_EQ(0, set_int(self->cfd, IPPROTO_TCP, TCP_CORK, 1));
	pid = bg_recv(self->pfd, UP, &self->up_rx, 5 * mss + 100, 0);
	t0 = now_ms();
	EXPECT_EQ(5 * mss + 100, psend(self->cfd, UP, &self->up_tx, 5 * mss + 100, 0));
	ASSERT_EQ(0, set_int(self->cfd, IPPROTO_TCP, TCP_CORK, 0));
	EXPECT_EQ(0, bg_wait(pid));
	took = now_ms() - t0;
	if (!slow || atoi(slow) <= 1)
		EXPECT_GT(170, took) TH_LOG("tail after an uncork: %ld ms", took);
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));
}

/* Keepalive with timers of a second on a connection that carries data
 * all the while: nothing is ever probed, nothing is reset.
 */
TEST_F_TIMEOUT(diff, keepalive_busy, 60)
{
	int i;

	ASSERT_EQ(0, set_keepalive(self->cfd, 1));
	for (i = 0; i < 40; i++) {
		usleep(100000);
		ASSERT_EQ(1000, psend(self->pfd, DOWN, &self->down_tx, 1000, 0));
		EXPECT_EQ(1000, recv_all(self->cfd, DOWN, &self->down_rx, 1000, WAIT_MS))
			TH_LOG("after %d.%d s", i / 10, i % 10);
		EXPECT_EQ(1000, psend(self->cfd, UP, &self->up_tx, 1000, 0));
		EXPECT_EQ(1000, recv_all(self->pfd, UP, &self->up_rx, 1000, WAIT_MS));
	}
	EXPECT_EQ(0, sockopt_int(self->cfd, SOL_SOCKET, SO_ERROR));
	EXPECT_EQ(ST_ESTABLISHED, tcp_state(self->cfd));
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));
}

/* An output rule in table inet toe_diff that counts what we send to the
 * peer's PORT.
 */
static int count_to_peer(struct _test_data_diff *self, int port)
{
	self->nft = true;
	return run_nft("add table inet toe_diff\n"
		       "add chain inet toe_diff out { type filter hook output priority 0; }\n"
		       "add rule inet toe_diff out tcp dport %d counter", port);
}

/* Keepalive on an idle connection whose peer answers: the probes go out
 * (one a second: each answer restarts the idle time), keep it up, and it
 * carries data afterwards, both ways.
 */
TEST_F_TIMEOUT(diff, keepalive_idle, 60)
{
	long probes;

	ASSERT_EQ(0, count_to_peer(self, sock_port(self->pfd, false)))
		TH_LOG("nft failed: no nf_tables, or no nft(8)?");
	ASSERT_EQ(0, set_keepalive(self->cfd, 2));
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));
	sleep(5);
	probes = nft_packets("out");
	EXPECT_LE(3, probes) TH_LOG("%ld keepalive probes in 5 s", probes);
	EXPECT_GE(6, probes) TH_LOG("%ld keepalive probes in 5 s", probes);
	EXPECT_EQ(0, sockopt_int(self->cfd, SOL_SOCKET, SO_ERROR));
	EXPECT_EQ(ST_ESTABLISHED, tcp_state(self->cfd));
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));
	both_ways(_metadata, self, 100000);
}

/* Keepalive on an idle connection whose peer vanished: idle 1 s, probes
 * 1 s apart, two unanswered: ETIMEDOUT some 3 s after the peer was last
 * heard, as tcp_keepalive_timer() has it.
 */
static void keepalive_gone(struct __test_metadata *_metadata,
			   struct _test_data_diff *self,
			   const struct _fixture_variant_diff *variant,
			   bool again)
{
	long t0, took;
	int i;

	ASSERT_EQ(0, drop_peer(self, sock_port(self->pfd, false)))
		TH_LOG("nft failed: no nf_tables, or no nft(8)?");
	t0 = now_ms();
	ASSERT_EQ(0, set_keepalive(self->cfd, 2));
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));
	for (i = 0; again && i < 40; i++) {
		if (pollev(self->cfd, POLLERR, 500) & POLLERR)
			break;
		set_int(self->cfd, SOL_SOCKET, SO_KEEPALIVE, 1);
	}
	EXPECT_EQ(POLLERR, wait_events(self->cfd, POLLERR, 20000))
		TH_LOG("no error: keepalive never gave up");
	took = now_ms() - t0;
	EXPECT_EQ(ETIMEDOUT, sockopt_int(self->cfd, SOL_SOCKET, SO_ERROR));
	EXPECT_LE(2500, took);
	EXPECT_GE(6000, took);
	EXPECT_LT(0, nft_packets("in")) TH_LOG("the peer answered no probe");
	EXPECT_EQ(ST_CLOSE, tcp_state(self->cfd));
}

TEST_F_TIMEOUT(diff, keepalive_peer_gone, 60)
{
	keepalive_gone(_metadata, self, variant, false);
}

/* The same while the application sets SO_KEEPALIVE again every 500 ms
 * (sock_set_keepalive() callers do): turning on what is on changes
 * nothing (tcp_set_keepalive()), the probes go on.
 */
TEST_F_TIMEOUT(diff, keepalive_peer_gone_again, 60)
{
	keepalive_gone(_metadata, self, variant, true);
}

/* The peer's keepalive probes (a segment at our rcv_nxt - 1, no payload)
 * are answered: an idle connection whose peer probes every second and
 * gives up after two unanswered probes lives on, and carries data.
 */
TEST_F_TIMEOUT(diff, peer_keepalive, 60)
{
	struct tcp_info ti = {};
	socklen_t len = sizeof(ti);

	ASSERT_EQ(0, set_keepalive(self->pfd, 2));
	sleep(5);
	EXPECT_EQ(0, sockopt_int(self->pfd, SOL_SOCKET, SO_ERROR));
	EXPECT_EQ(ST_ESTABLISHED, tcp_state(self->pfd));
	ASSERT_EQ(0, getsockopt(self->pfd, IPPROTO_TCP, TCP_INFO, &ti, &len));
	EXPECT_GE(1, ti.tcpi_probes) TH_LOG("the peer's probes are unanswered");
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));
	both_ways(_metadata, self, 100000);
}

/* The window we advertise is what the receive buffer backs as Linux TCP
 * reckons it (tcp_win_from_space(): half of the buffer, by the default
 * tcp_adv_win_scale of 1, the other half for the skbs' overhead), never
 * the whole buffer: the peer's view of it after a read-out exchange.
 */
TEST_F(diff, rcv_window)
{
	struct tcp_info tc = {}, tpeer = {};
	socklen_t len = sizeof(tc);
	int rcvbuf;

	both_ways(_metadata, self, 100000);
	ASSERT_EQ(1, psend(self->cfd, UP, &self->up_tx, 1, 0));
	ASSERT_EQ(1, recv_all(self->pfd, UP, &self->up_rx, 1, WAIT_MS));
	rcvbuf = sockopt_int(self->cfd, SOL_SOCKET, SO_RCVBUF);
	ASSERT_EQ(0, getsockopt(self->cfd, IPPROTO_TCP, TCP_INFO, &tc, &len));
	len = sizeof(tpeer);
	ASSERT_EQ(0, getsockopt(self->pfd, IPPROTO_TCP, TCP_INFO, &tpeer, &len));
	/* Open, too, read out as it is: more than a few segments. */
	EXPECT_LE(16384, tpeer.tcpi_snd_wnd)
		TH_LOG("a window of %u for a buffer of %d", tpeer.tcpi_snd_wnd,
		       rcvbuf);
	EXPECT_GE(rcvbuf - rcvbuf / 2 + (1 << tc.tcpi_rcv_wscale),
		  tpeer.tcpi_snd_wnd)
		TH_LOG("a window of %u for a buffer of %d", tpeer.tcpi_snd_wnd,
		       rcvbuf);
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));
}

/* The receive buffer grows with a reader that keeps up (receive buffer
 * autotuning, tcp_rcv_space_adjust()), on a connection that received
 * nothing before it was offloaded as on one in software.
 */
TEST_F_TIMEOUT(diff, rcv_buffer_grows, 90)
{
	const size_t total = 16 << 20;
	int before = sockopt_int(self->cfd, SOL_SOCKET, SO_RCVBUF), after;
	pid_t pid;

	pid = bg_send(self->pfd, DOWN, &self->down_tx, total, 0);
	EXPECT_EQ((ssize_t)total, recv_all(self->cfd, DOWN, &self->down_rx, total,
					   30000));
	EXPECT_EQ(0, bg_wait(pid));
	after = sockopt_int(self->cfd, SOL_SOCKET, SO_RCVBUF);
	EXPECT_LT(before, after)
		TH_LOG("SO_RCVBUF %d before 16 MB in, %d after", before, after);
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));
}

/* The peer's zero-window probes are answered: our reader stops until the
 * window is shut and the peer probes it; the peer's probe counter stays
 * low (an answered probe clears it) and, with TCP_USER_TIMEOUT longer than
 * the pause, the connection survives it and everything arrives.
 */
TEST_F_TIMEOUT(diff, peer_zero_window, 60)
{
	const size_t total = 4 << 20;
	struct tcp_info ti = {};
	socklen_t len;
	int probes = 100, i;
	unsigned int wnd = ~0U;
	pid_t pid;

	ASSERT_EQ(0, set_int(self->cfd, SOL_SOCKET, SO_RCVBUF, 65536));
	ASSERT_EQ(0, set_int(self->pfd, IPPROTO_TCP, TCP_USER_TIMEOUT, 20000));
	pid = bg_send(self->pfd, DOWN, &self->down_tx, total, 0);
	/* Six seconds of a shut window: probes at about 0.2, 0.6, 1.4, 3 s. */
	sleep(6);
	for (i = 0; i < 5; i++) {
		len = sizeof(ti);
		ASSERT_EQ(0, getsockopt(self->pfd, IPPROTO_TCP, TCP_INFO, &ti, &len));
		if ((int)ti.tcpi_probes < probes)
			probes = ti.tcpi_probes;
		if (ti.tcpi_snd_wnd < wnd)
			wnd = ti.tcpi_snd_wnd;
		usleep(50000);
	}
	/* It was shut, so the peer probed... */
	EXPECT_EQ(0, wnd) TH_LOG("the peer never saw a shut window");
	EXPECT_GE(1, probes) TH_LOG("the peer's zero-window probes are unanswered");
	EXPECT_EQ(total, recv_all(self->cfd, DOWN, &self->down_rx, total, 30000));
	EXPECT_EQ(0, bg_wait(pid));
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));
}

/* Options that hand an offloaded connection back to Linux TCP first, set
 * with bytes unread and bytes unacknowledged: same results, no byte lost.
 */
TEST_F(diff, sockopt_handback)
{
	char cc[16] = "";
	socklen_t len = sizeof(cc);
	int level = variant->family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP;
	int tos = variant->family == AF_INET6 ? IPV6_TCLASS : IP_TOS;
	pid_t pid;

	ASSERT_EQ(20000, psend(self->pfd, DOWN, &self->down_tx, 20000, 0));
	ASSERT_EQ(20000, wait_inq(self->cfd, 20000, WAIT_MS));
	ASSERT_EQ(30000, psend(self->cfd, UP, &self->up_tx, 30000, 0));

	EXPECT_EQ(0, set_int(self->cfd, level, tos, 0x10));
	EXPECT_EQ(0x10, sockopt_int(self->cfd, level, tos));
	EXPECT_EQ(0, setsockopt(self->cfd, IPPROTO_TCP, TCP_CONGESTION, "reno", 4));
	EXPECT_EQ(0, getsockopt(self->cfd, IPPROTO_TCP, TCP_CONGESTION, cc, &len));
	EXPECT_STREQ("reno", cc);
	EXPECT_EQ(0, set_int(self->cfd, IPPROTO_TCP, TCP_WINDOW_CLAMP, 100000));
	EXPECT_EQ(100000, sockopt_int(self->cfd, IPPROTO_TCP, TCP_WINDOW_CLAMP));
	EXPECT_EQ(-1, set_int(self->cfd, IPPROTO_TCP, TCP_MAXSEG, 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(false, toe_offloaded(self->cfd));

	EXPECT_EQ(20000, ioctl_int(self->cfd, SIOCINQ));
	EXPECT_EQ(20000, recv_all(self->cfd, DOWN, &self->down_rx, 20000, WAIT_MS));
	EXPECT_EQ(30000, recv_all(self->pfd, UP, &self->up_rx, 30000, WAIT_MS));
	pid = bg_recv(self->pfd, UP, &self->up_rx, 200000, 0);
	EXPECT_EQ(200000, send_all(self->cfd, UP, &self->up_tx, 200000));
	EXPECT_EQ(0, bg_wait(pid));
	pid = bg_send(self->pfd, DOWN, &self->down_tx, 200000, 0);
	EXPECT_EQ(200000, recv_all(self->cfd, DOWN, &self->down_rx, 200000, WAIT_MS));
	EXPECT_EQ(0, bg_wait(pid));
	EXPECT_EQ(ST_ESTABLISHED, tcp_state(self->cfd));
}

/* Packets we sent to the peer's PORT with skb->mark MARK, counted by an
 * output rule in table inet toe_diff (chain "marked": "mark" is
 * a keyword of nft).
 */
static int count_marked(struct _test_data_diff *self, int port, int mark)
{
	self->nft = true;
	return run_nft("add table inet toe_diff\n"
		       "add chain inet toe_diff marked { type filter hook output priority 0; }\n"
		       "add rule inet toe_diff marked meta mark %#x tcp dport %d counter",
		       mark, port);
}

/* SO_MARK set on a connection that sends: its next segments carry the
 * mark (Linux TCP reads sk_mark for each). SOL_SOCKET options do not
 * reach the proto: an offloaded one goes back at its next send.
 */
TEST_F(diff, so_mark_send)
{
	pid_t pid;

	ASSERT_EQ(0, count_marked(self, sock_port(self->pfd, false), 0x42))
		TH_LOG("nft failed: no nf_tables, or no nft(8)?");
	ASSERT_EQ(0, set_int(self->cfd, SOL_SOCKET, SO_MARK, 0x42));
	pid = bg_recv(self->pfd, UP, &self->up_rx, 100000, 0);
	EXPECT_EQ(100000, send_all(self->cfd, UP, &self->up_tx, 100000));
	EXPECT_EQ(0, bg_wait(pid));
	EXPECT_LT(0, nft_packets("marked")) TH_LOG("no segment carried the mark");
	EXPECT_EQ(false, toe_offloaded(self->cfd));
}

/* SO_MARK set on a connection that only receives: the ACKs carry the
 * mark too; an offloaded one goes back within a second.
 */
TEST_F_TIMEOUT(diff, so_mark_recv, 60)
{
	pid_t pid;
	int i;

	ASSERT_EQ(0, count_marked(self, sock_port(self->pfd, false), 0x43))
		TH_LOG("nft failed: no nf_tables, or no nft(8)?");
	ASSERT_EQ(0, set_int(self->cfd, SOL_SOCKET, SO_MARK, 0x43));
	for (i = 0; i < 50 && toe_offloaded(self->cfd); i++)
		usleep(100000);
	pid = bg_send(self->pfd, DOWN, &self->down_tx, 100000, 0);
	EXPECT_EQ(100000, recv_all(self->cfd, DOWN, &self->down_rx, 100000, WAIT_MS));
	EXPECT_EQ(0, bg_wait(pid));
	EXPECT_LT(0, nft_packets("marked")) TH_LOG("no ACK carried the mark");
	EXPECT_EQ(false, toe_offloaded(self->cfd));
}

/* A pacing rate, set at the socket level (sock_setsockopt(), which the
 * proto never sees): the connection goes back to Linux TCP, which paces,
 * at the next send, and carries on.
 */
TEST_F(diff, so_max_pacing_rate)
{
	unsigned int rate = 10 * 1000 * 1000;
	pid_t pid;

	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));
	ASSERT_EQ(0, setsockopt(self->cfd, SOL_SOCKET, SO_MAX_PACING_RATE,
				&rate, sizeof(rate)));
	EXPECT_EQ((int)rate,
		  sockopt_int(self->cfd, SOL_SOCKET, SO_MAX_PACING_RATE));
	pid = bg_recv(self->pfd, UP, &self->up_rx, 200000, 0);
	EXPECT_EQ(200000, send_all(self->cfd, UP, &self->up_tx, 200000));
	EXPECT_EQ(0, bg_wait(pid));
	EXPECT_EQ(false, toe_offloaded(self->cfd));
	EXPECT_EQ(ST_ESTABLISHED, tcp_state(self->cfd));
}

/* MSG_ZEROCOPY: the completion arrives on the error queue, whoever sent. */
TEST_F(diff, msg_zerocopy)
{
	struct sock_extended_err *ee;
	char control[128];
	struct msghdr msg = {
		.msg_control = control, .msg_controllen = sizeof(control),
	};
	/* The kernel sends from these pages: they must outlive the send. */
	static unsigned char buf[10000];
	struct cmsghdr *cm;
	pid_t pid;

	ASSERT_EQ(0, set_int(self->cfd, SOL_SOCKET, SO_ZEROCOPY, 1));
	pid = bg_recv(self->pfd, UP, &self->up_rx, sizeof(buf), 0);
	pat_fill(buf, UP, self->up_tx, sizeof(buf));
	EXPECT_EQ(sizeof(buf), send(self->cfd, buf, sizeof(buf),
				    MSG_ZEROCOPY | MSG_NOSIGNAL));
	self->up_tx += sizeof(buf);
	EXPECT_EQ(0, bg_wait(pid));
	EXPECT_EQ(POLLERR, pollev(self->cfd, 0, WAIT_MS) & POLLERR);
	ASSERT_EQ(0, recvmsg(self->cfd, &msg, MSG_ERRQUEUE));
	cm = CMSG_FIRSTHDR(&msg);
	ASSERT_NE(NULL, cm);
	ee = (struct sock_extended_err *)CMSG_DATA(cm);
	EXPECT_EQ(SO_EE_ORIGIN_ZEROCOPY, ee->ee_origin);
	EXPECT_EQ(0, ee->ee_errno);
	EXPECT_EQ(false, toe_offloaded(self->cfd));
}

/* sendfile() from a memfd (sendpage underneath). */
TEST_F(diff, sendfile)
{
	const size_t size = 300000;
	unsigned char *buf = malloc(size);
	ssize_t ret, done = 0;
	off_t off = 0;
	int mfd;
	pid_t pid;

	ASSERT_NE(NULL, buf);
	mfd = memfd_create("toe_diff", 0);
	ASSERT_LE(0, mfd);
	pat_fill(buf, UP, self->up_tx, size);
	ASSERT_EQ(size, write(mfd, buf, size));
	free(buf);

	pid = bg_recv(self->pfd, UP, &self->up_rx, size, 0);
	while (done < (ssize_t)size) {
		ret = sendfile(self->cfd, mfd, &off, size + 1000 - done);
		ASSERT_LT(0, ret) TH_LOG("sendfile: %s", strerror(errno));
		done += ret;
	}
	self->up_tx += size;
	EXPECT_EQ(size, done);
	EXPECT_EQ(size, off);
	EXPECT_EQ(0, sendfile(self->cfd, mfd, &off, 1000));
	EXPECT_EQ(0, bg_wait(pid));
	close(mfd);
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));
}

/* splice() from a pipe to the socket. */
TEST_F(diff, splice_to_socket)
{
	unsigned char buf[60000];
	ssize_t ret, done = 0;
	int p[2];
	pid_t pid;

	ASSERT_EQ(0, pipe(p));
	pat_fill(buf, UP, self->up_tx, sizeof(buf));
	ASSERT_EQ(sizeof(buf), write(p[1], buf, sizeof(buf)));
	pid = bg_recv(self->pfd, UP, &self->up_rx, sizeof(buf), 0);
	while (done < (ssize_t)sizeof(buf)) {
		ret = splice(p[0], NULL, self->cfd, NULL, sizeof(buf) - done,
			     SPLICE_F_MORE);
		ASSERT_LT(0, ret) TH_LOG("splice: %s", strerror(errno));
		done += ret;
	}
	self->up_tx += sizeof(buf);
	EXPECT_EQ(0, bg_wait(pid));
	close(p[0]);
	close(p[1]);
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));
}

/* splice() from the socket into a pipe, more than the receive buffer. */
TEST_F_TIMEOUT(diff, splice_read, 120)
{
	const size_t size = 2 << 20;
	unsigned char buf[65536];
	ssize_t ret, n;
	size_t done = 0;
	bool ok = true;
	int p[2];
	pid_t pid;

	/* SPLICE_F_NONBLOCK is for the pipe; the socket's O_NONBLOCK counts. */
	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(0, fcntl(self->cfd, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-1, splice(self->cfd, NULL, p[1], NULL, 100, 0));
	EXPECT_EQ(EAGAIN, errno);
	ASSERT_EQ(0, fcntl(self->cfd, F_SETFL, 0));

	pid = bg_send(self->pfd, DOWN, &self->down_tx, size, 0);
	while (done < size) {
		ret = splice(self->cfd, NULL, p[1], NULL, sizeof(buf), 0);
		ASSERT_LT(0, ret) TH_LOG("splice at %zu: %s", done, strerror(errno));
		n = read(p[0], buf, ret);
		ASSERT_EQ(ret, n);
		ok &= pat_ok(buf, DOWN, self->down_rx + done, n);
		done += n;
	}
	self->down_rx += done;
	EXPECT_TRUE(ok);
	EXPECT_EQ(0, bg_wait(pid));
	EXPECT_EQ(0, ioctl_int(self->cfd, SIOCINQ));
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));

	ASSERT_EQ(0, shutdown(self->pfd, SHUT_WR));
	EXPECT_EQ(0, splice(self->cfd, NULL, p[1], NULL, 100, 0));
	close(p[0]);
	close(p[1]);
}

TEST_F(diff, shutdown_wr)
{
	ASSERT_EQ(1000, psend(self->cfd, UP, &self->up_tx, 1000, 0));
	EXPECT_EQ(0, shutdown(self->cfd, SHUT_WR));
	EXPECT_EQ(1000, recv_all(self->pfd, UP, &self->up_rx, 1000, WAIT_MS));
	EXPECT_EQ(EV_IN, pollev(self->pfd, EV_IN, WAIT_MS));
	EXPECT_EQ(0, precv(self->pfd, UP, &self->up_rx, 100, 0));

	EXPECT_EQ(-1, psend(self->cfd, UP, &self->up_tx, 100, 0));
	EXPECT_EQ(EPIPE, errno);
	EXPECT_EQ(EV_OUT, pollev(self->cfd, EV_ALL, 0));
	EXPECT_EQ(ST_FIN_WAIT2, wait_state(self->cfd, ST_FIN_WAIT2, WAIT_MS));

	/* Still receiving. */
	ASSERT_EQ(1000, psend(self->pfd, DOWN, &self->down_tx, 1000, 0));
	EXPECT_EQ(1000, recv_all(self->cfd, DOWN, &self->down_rx, 1000, WAIT_MS));
	EXPECT_EQ(0, shutdown(self->cfd, SHUT_WR));

	close(self->pfd);
	self->pfd = -1;
	EXPECT_EQ(0, precv(self->cfd, DOWN, &self->down_rx, 100, 0));
	EXPECT_EQ(EV_IN | EV_OUT | POLLRDHUP | POLLHUP, pollev(self->cfd, EV_ALL, 0));
}

TEST_F(diff, shutdown_rd)
{
	EXPECT_EQ(0, shutdown(self->cfd, SHUT_RD));
	EXPECT_EQ(0, precv(self->cfd, DOWN, &self->down_rx, 100, 0));
	EXPECT_EQ(EV_IN | EV_OUT | POLLRDHUP, pollev(self->cfd, EV_ALL, 0));
	EXPECT_EQ(ST_ESTABLISHED, tcp_state(self->cfd));

	ASSERT_EQ(1000, psend(self->cfd, UP, &self->up_tx, 1000, 0));
	EXPECT_EQ(1000, recv_all(self->pfd, UP, &self->up_rx, 1000, WAIT_MS));
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));

	/* Data still arriving is still readable. */
	ASSERT_EQ(500, psend(self->pfd, DOWN, &self->down_tx, 500, 0));
	EXPECT_EQ(500, wait_inq(self->cfd, 500, WAIT_MS));
	EXPECT_EQ(500, precv(self->cfd, DOWN, &self->down_rx, 1000, 0));
	EXPECT_EQ(0, precv(self->cfd, DOWN, &self->down_rx, 1000, 0));

	EXPECT_EQ(0, shutdown(self->cfd, SHUT_RDWR));
	EXPECT_EQ(EV_IN, pollev(self->pfd, EV_IN, WAIT_MS));
	EXPECT_EQ(0, precv(self->pfd, UP, &self->up_rx, 100, 0));
}

/* close() with unread bytes resets the connection. */
TEST_F(diff, close_unread)
{
	ASSERT_EQ(1000, psend(self->pfd, DOWN, &self->down_tx, 1000, 0));
	ASSERT_EQ(1000, wait_inq(self->cfd, 1000, WAIT_MS));
	EXPECT_EQ(0, close(self->cfd));
	self->cfd = -1;
	EXPECT_EQ(POLLERR, pollev(self->pfd, 0, WAIT_MS) & POLLERR);
	EXPECT_EQ(EV_IN | EV_OUT | POLLRDHUP | POLLERR | POLLHUP,
		  pollev(self->pfd, EV_ALL, 0));
	EXPECT_EQ(-1, precv(self->pfd, UP, &self->up_rx, 100, 0));
	EXPECT_EQ(ECONNRESET, errno);
}

/* close() after the bytes were read: the peer reads them all, then EOF. */
TEST_F(diff, close_clean)
{
	ASSERT_EQ(30000, psend(self->cfd, UP, &self->up_tx, 30000, 0));
	EXPECT_EQ(0, close(self->cfd));
	self->cfd = -1;
	EXPECT_EQ(30000, recv_all(self->pfd, UP, &self->up_rx, 30000, WAIT_MS));
	EXPECT_EQ(EV_IN, pollev(self->pfd, EV_IN, WAIT_MS));
	EXPECT_EQ(0, precv(self->pfd, UP, &self->up_rx, 100, 0));
}

/* Closing first after data both ways: our end of the connection stays in
 * TIME_WAIT once the peer has closed too, as without offload (teardown is
 * Linux TCP's).
 */
TEST_F(diff, time_wait)
{
	int lport = sock_port(self->cfd, false);
	int rport = sock_port(self->cfd, true);

	ASSERT_EQ(1000, psend(self->cfd, UP, &self->up_tx, 1000, 0));
	ASSERT_EQ(1000, psend(self->pfd, DOWN, &self->down_tx, 1000, 0));
	EXPECT_EQ(1000, recv_all(self->pfd, UP, &self->up_rx, 1000, WAIT_MS));
	EXPECT_EQ(1000, recv_all(self->cfd, DOWN, &self->down_rx, 1000, WAIT_MS));
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));
	EXPECT_EQ(ST_ESTABLISHED, proc_state(variant->family, lport, rport));

	EXPECT_EQ(0, close(self->cfd));
	self->cfd = -1;
	EXPECT_EQ(EV_IN, pollev(self->pfd, EV_IN, WAIT_MS));
	EXPECT_EQ(0, precv(self->pfd, UP, &self->up_rx, 100, 0));
	EXPECT_EQ(0, close(self->pfd));
	self->pfd = -1;
	EXPECT_EQ(ST_TIME_WAIT, wait_proc_state(variant->family, lport, rport,
						ST_TIME_WAIT, WAIT_MS));
}

/* SO_LINGER with a zero timeout: close() sends a reset. */
TEST_F(diff, close_linger0)
{
	struct linger lin = { .l_onoff = 1, .l_linger = 0 };

	ASSERT_EQ(0, setsockopt(self->cfd, SOL_SOCKET, SO_LINGER, &lin, sizeof(lin)));
	EXPECT_EQ(variant->offload, toe_offloaded(self->cfd));
	EXPECT_EQ(0, close(self->cfd));
	self->cfd = -1;
	EXPECT_EQ(POLLERR, pollev(self->pfd, 0, WAIT_MS) & POLLERR);
	EXPECT_EQ(-1, precv(self->pfd, UP, &self->up_rx, 100, 0));
	EXPECT_EQ(ECONNRESET, errno);
}

/* connect(AF_UNSPEC) disconnects with a reset. */
TEST_F(diff, disconnect)
{
	struct sockaddr sa = { .sa_family = AF_UNSPEC };

	EXPECT_EQ(0, connect(self->cfd, &sa, sizeof(sa)));
	EXPECT_EQ(ST_CLOSE, tcp_state(self->cfd));
	EXPECT_EQ(false, toe_offloaded(self->cfd));
	EXPECT_EQ(POLLERR, pollev(self->pfd, 0, WAIT_MS) & POLLERR);
	EXPECT_EQ(-1, precv(self->pfd, UP, &self->up_rx, 100, 0));
	EXPECT_EQ(ECONNRESET, errno);
	EXPECT_EQ(-1, psend(self->cfd, UP, &self->up_tx, 100, 0));
	EXPECT_EQ(ECONNRESET, errno);
	EXPECT_EQ(-1, psend(self->cfd, UP, &self->up_tx, 100, 0));
	EXPECT_EQ(EPIPE, errno);
}

/* The peer closes: EOF, then a send draws its reset and EPIPE. */
TEST_F(diff, peer_close)
{
	ASSERT_EQ(300, psend(self->pfd, DOWN, &self->down_tx, 300, 0));
	EXPECT_EQ(0, close(self->pfd));
	self->pfd = -1;
	EXPECT_EQ(POLLRDHUP, pollev(self->cfd, POLLRDHUP, WAIT_MS));
	EXPECT_EQ(ST_CLOSE_WAIT, tcp_state(self->cfd));
	EXPECT_EQ(300, precv(self->cfd, DOWN, &self->down_rx, 1000, 0));
	EXPECT_EQ(0, precv(self->cfd, DOWN, &self->down_rx, 1000, 0));

	EXPECT_EQ(100, psend(self->cfd, UP, &self->up_tx, 100, 0));
	EXPECT_EQ(POLLERR, pollev(self->cfd, 0, WAIT_MS) & POLLERR);
	EXPECT_EQ(EPIPE, sockopt_int(self->cfd, SOL_SOCKET, SO_ERROR));
	EXPECT_EQ(-1, psend(self->cfd, UP, &self->up_tx, 100, 0));
	EXPECT_EQ(EPIPE, errno);
	EXPECT_EQ(ST_CLOSE, tcp_state(self->cfd));
}

/* The peer resets with bytes still unread here: they stay readable, then
 * ECONNRESET, then EOF.
 */
TEST_F(diff, peer_reset)
{
	struct linger lin = { .l_onoff = 1, .l_linger = 0 };

	ASSERT_EQ(1000, psend(self->pfd, DOWN, &self->down_tx, 1000, 0));
	ASSERT_EQ(1000, wait_inq(self->cfd, 1000, WAIT_MS));
	ASSERT_EQ(0, setsockopt(self->pfd, SOL_SOCKET, SO_LINGER, &lin, sizeof(lin)));
	EXPECT_EQ(0, close(self->pfd));
	self->pfd = -1;

	EXPECT_EQ(POLLERR, pollev(self->cfd, 0, WAIT_MS) & POLLERR);
	/* poll() takes no lock: it may run between the RST's sk_err and
	 * tcp_done()'s sk_shutdown update (any wakeup in between, such as
	 * a transmitted frame freed, shows it). Wait for the last effect.
	 */
	EXPECT_EQ(POLLRDHUP, wait_events(self->cfd, POLLRDHUP, WAIT_MS));
	EXPECT_EQ(EV_IN | EV_OUT | POLLRDHUP | POLLERR | POLLHUP,
		  pollev(self->cfd, EV_ALL, 0));
	EXPECT_EQ(1000, precv(self->cfd, DOWN, &self->down_rx, 2000, 0));
	EXPECT_EQ(-1, precv(self->cfd, DOWN, &self->down_rx, 2000, 0));
	EXPECT_EQ(ECONNRESET, errno);
	EXPECT_EQ(0, precv(self->cfd, DOWN, &self->down_rx, 2000, 0));
	EXPECT_EQ(-1, psend(self->cfd, UP, &self->up_tx, 100, 0));
	EXPECT_EQ(EPIPE, errno);
	EXPECT_EQ(ST_CLOSE, tcp_state(self->cfd));
}

/* Urgent data, received then sent (an offloaded connection goes back to
 * Linux TCP for it, either way).
 */
TEST_F(diff, msg_oob)
{
	char c = 0;

	EXPECT_EQ(-1, recv(self->cfd, &c, 1, MSG_OOB));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(100, psend(self->pfd, DOWN, &self->down_tx, 100, 0));
	EXPECT_EQ(2, send(self->pfd, "CD", 2, MSG_OOB));
	EXPECT_EQ(POLLPRI, pollev(self->cfd, POLLPRI, WAIT_MS));
	EXPECT_EQ(1, recv(self->cfd, &c, 1, MSG_OOB));
	EXPECT_EQ('D', c);
	EXPECT_EQ(-1, recv(self->cfd, &c, 1, MSG_OOB));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(100, recv_all(self->cfd, DOWN, &self->down_rx, 100, WAIT_MS));
	EXPECT_EQ(1, recv(self->cfd, &c, 1, 0));
	EXPECT_EQ('C', c);

	ASSERT_EQ(100, psend(self->cfd, UP, &self->up_tx, 100, 0));
	EXPECT_EQ(2, send(self->cfd, "AB", 2, MSG_OOB));
	EXPECT_EQ(100, recv_all(self->pfd, UP, &self->up_rx, 100, WAIT_MS));
	EXPECT_EQ(POLLPRI, pollev(self->pfd, POLLPRI, WAIT_MS));
	EXPECT_EQ(1, recv(self->pfd, &c, 1, MSG_OOB));
	EXPECT_EQ('B', c);
	EXPECT_EQ(1, recv(self->pfd, &c, 1, 0));
	EXPECT_EQ('A', c);

	ASSERT_EQ(50000, psend(self->cfd, UP, &self->up_tx, 50000, 0));
	EXPECT_EQ(50000, recv_all(self->pfd, UP, &self->up_rx, 50000, WAIT_MS));
	ASSERT_EQ(50000, psend(self->pfd, DOWN, &self->down_tx, 50000, 0));
	EXPECT_EQ(50000, recv_all(self->cfd, DOWN, &self->down_rx, 50000, WAIT_MS));
}

/* SO_OOBINLINE, set while offloaded: the urgent byte stays in the stream
 * and SIOCATMARK finds it.
 */
TEST_F(diff, oob_inline)
{
	char buf[16] = "";

	ASSERT_EQ(0, set_int(self->cfd, SOL_SOCKET, SO_OOBINLINE, 1));
	EXPECT_EQ(1, sockopt_int(self->cfd, SOL_SOCKET, SO_OOBINLINE));
	ASSERT_EQ(4, send(self->pfd, "abcd", 4, 0));
	ASSERT_EQ(4, wait_inq(self->cfd, 4, WAIT_MS));
	ASSERT_EQ(2, send(self->pfd, "XY", 2, MSG_OOB));
	EXPECT_EQ(POLLPRI, pollev(self->cfd, POLLPRI, WAIT_MS));
	EXPECT_EQ(6, wait_inq(self->cfd, 6, WAIT_MS));
	EXPECT_EQ(0, ioctl_int(self->cfd, SIOCATMARK));
	EXPECT_EQ(5, recv(self->cfd, buf, 5, 0));
	EXPECT_STREQ("abcdX", buf);
	EXPECT_EQ(1, ioctl_int(self->cfd, SIOCATMARK));
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(1, recv(self->cfd, buf, sizeof(buf), 0));
	EXPECT_STREQ("Y", buf);
	EXPECT_EQ(-1, recv(self->cfd, buf, 1, MSG_OOB));
	EXPECT_EQ(EINVAL, errno);
}

/* Unlink the entries of the harness's list at @headp (next-linked, with
 * the head's prev at the tail) whose name lacks @only: 6.1's harness has
 * no filter.
 */
#define KEEP_NAMED(headp, only)						\
	do {								\
		__typeof__(headp) hp_ = (headp);			\
		const char *only_ = (only);				\
		__typeof__(*hp_) v_, next_;				\
									\
		for (v_ = *hp_; v_; v_ = next_) {			\
			next_ = v_->next;				\
			if (strstr(v_->name, only_))			\
				continue;				\
			if (v_ == *hp_) {				\
				*hp_ = next_;				\
			} else {					\
				v_->prev->next = next_;			\
				if (!next_)				\
					(*hp_)->prev = v_->prev;	\
			}						\
			if (next_)					\
				next_->prev = v_->prev;			\
		}							\
	} while (0)

int main(int argc, char **argv)
{
	const char *variants = getenv("TOE_DIFF_VARIANTS");
	const char *tests = getenv("TOE_DIFF_TESTS");

	if (variants && *variants)
		KEEP_NAMED(&_diff_fixture_object.variant, variants);
	if (tests && *tests)
		KEEP_NAMED(&_diff_fixture_object.tests, tests);
	/* A filter that matches nothing is a mistake, not a pass. */
	if (!_diff_fixture_object.variant || !_diff_fixture_object.tests) {
		fprintf(stderr, "toe_diff: no %s matches '%s'\n",
			_diff_fixture_object.variant ? "test" : "variant",
			_diff_fixture_object.variant ? tests : variants);
		return KSFT_FAIL;
	}
	return test_harness_run(argc, argv);
}
