/*
 * splitio - figure (i)'s clock and TCP tool (bench/README.md), the same static binary on the host and in the Linux
 * domUs (the bench passes it to each guest as a read-only disk). Every mode prints one line "bytes=B ns=N" on stdout
 * (CLOCK_MONOTONIC; in a guest, the guest's own clock) and exits 0, or says why on stderr and exits 1.
 *
 *   splitio time PROGRAM ARG...  runs PROGRAM (its stderr to /dev/null: dd's "records in" lines), waits for it and
 *                                prints the time from before fork to its exit; bytes=0; exits 1 if it did not exit 0
 *   splitio recv ADDR PORT       listens on ADDR:PORT, prints "listening" (flushed), accepts one connection, reads it
 *                                to its end and closes it: bytes read, time from accept to the end
 *   splitio send ADDR PORT BYTES connects to ADDR:PORT (retrying a refused connection for up to 300 s: the listener
 *                                may not be up yet), writes BYTES zero bytes in 64 KiB writes, shuts its side down and
 *                                waits for the receiver's close: bytes written, time from connect to that close (all
 *                                of the data read by the other end)
 *   splitio loopback BYTES       send to a recv of its own on 127.0.0.1 (a port the kernel picks; the receiver is a
 *                                forked child): the host's loopback TCP throughput, the send line
 *
 * Written for XenSharp's bench/.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (64 * 1024)

static char buffer[CHUNK];

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void fail(const char *what)
{
    fprintf(stderr, "splitio: %s: %s\n", what, strerror(errno));
    exit(1);
}

static struct sockaddr_in address(const char *ip, const char *port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)atoi(port));
    if ( inet_pton(AF_INET, ip, &a.sin_addr) != 1 )
    {
        fprintf(stderr, "splitio: %s: not an IPv4 address\n", ip);
        exit(1);
    }
    return a;
}

static int listener(struct sockaddr_in *a)
{
    int one = 1;
    socklen_t len = sizeof(*a);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if ( s < 0 )
        fail("socket");
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if ( bind(s, (struct sockaddr *)a, sizeof(*a)) != 0 )
        fail("bind");
    if ( listen(s, 1) != 0 )
        fail("listen");
    if ( getsockname(s, (struct sockaddr *)a, &len) != 0 )
        fail("getsockname");
    return s;
}

/* Accepts one connection on s and reads it to its end; prints the line unless quiet. */
static void receive(int s, int quiet)
{
    long long bytes = 0, t0, t1;
    ssize_t got;
    int c = accept(s, NULL, NULL);
    if ( c < 0 )
        fail("accept");
    t0 = now_ns();
    while ( (got = read(c, buffer, sizeof(buffer))) > 0 )
        bytes += got;
    if ( got < 0 )
        fail("read");
    t1 = now_ns();
    close(c);
    if ( !quiet )
        printf("bytes=%lld ns=%lld\n", bytes, t1 - t0);
}

static void transmit(struct sockaddr_in a, long long total)
{
    long long sent = 0, t0, t1;
    int s = -1;
    for ( int tries = 0; ; tries++ )
    {
        s = socket(AF_INET, SOCK_STREAM, 0);
        if ( s < 0 )
            fail("socket");
        if ( connect(s, (struct sockaddr *)&a, sizeof(a)) == 0 )
            break;
        if ( (errno != ECONNREFUSED && errno != ETIMEDOUT && errno != EHOSTUNREACH) || tries >= 3000 )
            fail("connect");
        close(s);
        usleep(100000);
    }
    t0 = now_ns();
    while ( sent < total )
    {
        size_t want = total - sent < CHUNK ? (size_t)(total - sent) : CHUNK;
        ssize_t put = write(s, buffer, want);
        if ( put <= 0 )
            fail("write");
        sent += put;
    }
    if ( shutdown(s, SHUT_WR) != 0 )
        fail("shutdown");
    while ( read(s, buffer, sizeof(buffer)) > 0 )
        ;
    t1 = now_ns();
    close(s);
    printf("bytes=%lld ns=%lld\n", sent, t1 - t0);
}

int main(int argc, char **argv)
{
    if ( argc >= 3 && strcmp(argv[1], "time") == 0 )
    {
        long long t0 = now_ns(), t1;
        int status;
        pid_t child = fork();
        if ( child < 0 )
            fail("fork");
        if ( child == 0 )
        {
            int null = open("/dev/null", O_WRONLY);
            if ( null >= 0 )
                dup2(null, 2);
            execv(argv[2], argv + 2);
            _exit(127);
        }
        if ( waitpid(child, &status, 0) != child )
            fail("waitpid");
        t1 = now_ns();
        if ( !WIFEXITED(status) || WEXITSTATUS(status) != 0 )
        {
            fprintf(stderr, "splitio: %s did not exit 0 (status %d)\n", argv[2], status);
            return 1;
        }
        printf("bytes=0 ns=%lld\n", t1 - t0);
        return 0;
    }
    if ( argc == 4 && strcmp(argv[1], "recv") == 0 )
    {
        struct sockaddr_in a = address(argv[2], argv[3]);
        int s = listener(&a);
        printf("listening\n");
        fflush(stdout);
        receive(s, 0);
        return 0;
    }
    if ( argc == 5 && strcmp(argv[1], "send") == 0 )
    {
        transmit(address(argv[2], argv[3]), atoll(argv[4]));
        return 0;
    }
    if ( argc == 3 && strcmp(argv[1], "loopback") == 0 )
    {
        struct sockaddr_in a = address("127.0.0.1", "0");
        int s = listener(&a), status;
        pid_t child;
        fflush(stdout);
        child = fork();
        if ( child < 0 )
            fail("fork");
        if ( child == 0 )
        {
            receive(s, 1);
            _exit(0);
        }
        close(s);
        transmit(a, atoll(argv[2]));
        if ( waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0 )
        {
            fprintf(stderr, "splitio: the loopback receiver failed (status %d)\n", status);
            return 1;
        }
        return 0;
    }
    fprintf(stderr, "usage: splitio time PROGRAM ARG... | recv ADDR PORT | send ADDR PORT BYTES | loopback BYTES\n");
    return 1;
}
