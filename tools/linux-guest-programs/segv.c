/* segv: writes to address 0. The guest's kernel must kill it with SIGSEGV (a shell then reports status 139) and carry
 * on. Built static by tools/linux-guest for the Linux guest's initramfs. */
#include <stdio.h>

int main(void)
{
    printf("segv: writing to address 0\n");
    fflush(stdout);
    *(volatile int *)0 = 1;
    printf("segv: still running after the write\n");
    return 0;
}
