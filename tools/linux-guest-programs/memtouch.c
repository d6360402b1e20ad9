/* memtouch [PERCENT]: maps PERCENT (default 90) % of the guest's free memory (MemFree in /proc/meminfo; MemAvailable
 * counts caches an initramfs system cannot give back, and 90 % of it ran a 128 MiB domain out of memory), writes a word to every page of it and reads them all back. Prints one line saying how much it touched
 * and how many pages read back wrong; exit status 0 only when none did. Built static by tools/linux-guest for the
 * Linux guest's initramfs (busybox has no such applet). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static long free_kib(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    long kib = -1;
    if (f == NULL) {
        return -1;
    }

    while (fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "MemFree: %ld kB", &kib) == 1) {
            break;
        }
    }

    fclose(f);
    return kib;
}

int main(int argc, char **argv)
{
    int percent = argc > 1 ? atoi(argv[1]) : 90;
    long kib = free_kib();
    if (percent <= 0 || percent > 100 || kib <= 0) {
        fprintf(stderr, "memtouch: usage: memtouch [PERCENT 1-100]; MemFree %ld kB\n", kib);
        return 2;
    }

    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t pages = (size_t)kib * 1024 / 100 * (size_t)percent / page;
    unsigned char *p = mmap(NULL, pages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("memtouch: mmap");
        return 1;
    }

    for (size_t i = 0; i < pages; i++) {
        *(volatile size_t *)(p + i * page) = i * 2654435761u + 1;
    }

    size_t wrong = 0;
    for (size_t i = 0; i < pages; i++) {
        if (*(volatile size_t *)(p + i * page) != i * 2654435761u + 1) {
            wrong++;
        }
    }

    printf("memtouch: %zu MiB touched (%d%% of %ld MiB free), %zu pages, %zu read back wrong\n",
           pages * page >> 20, percent, kib >> 10, pages, wrong);
    return wrong == 0 ? 0 : 1;
}
