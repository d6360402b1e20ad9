/*
 * pingpong - the host's own thread hand-off, the baseline for XenSharp's scheduler switch and wake-up latency.
 *
 *   pingpong pingpong N
 *                  two threads pass a token back and forth N times over two eventfds (each blocks in read() until
 *                  the other's write()); prints the mean ns of one hand-off (one write -> the other thread's read
 *                  returns), i.e. a round trip / 2.
 *
 * Written for XenSharp's bench/ (NativeBaselines compiles it; the mode word matches baselines.c's calling convention).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static int to_b, to_a;
static long rounds;

static void pass(int fd)
{
    uint64_t one = 1;
    if ( write(fd, &one, sizeof(one)) != sizeof(one) )
        exit(2);
}

static void take(int fd)
{
    uint64_t v;
    if ( read(fd, &v, sizeof(v)) != sizeof(v) )
        exit(2);
}

static void *b_side(void *arg)
{
    (void)arg;
    for ( long i = 0; i < rounds; i++ )
    {
        take(to_b);
        pass(to_a);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    rounds = argc > 2 && !strcmp(argv[1], "pingpong") ? strtol(argv[2], NULL, 10) : 0;
    if ( rounds <= 0 )
    {
        fprintf(stderr, "usage: pingpong pingpong N\n");
        return 1;
    }

    to_b = eventfd(0, 0);
    to_a = eventfd(0, 0);
    if ( to_b < 0 || to_a < 0 )
    {
        perror("eventfd");
        return 1;
    }

    pthread_t b;
    if ( pthread_create(&b, NULL, b_side, NULL) != 0 )
        return 1;

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for ( long i = 0; i < rounds; i++ )
    {
        pass(to_b);
        take(to_a);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    pthread_join(b, NULL);

    double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
    printf("%.1f\n", ns / (2.0 * (double)rounds));
    return 0;
}
