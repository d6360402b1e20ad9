/* pidlog FILE: appends its process id and a newline to FILE and exits: a process as short-lived as one can be, for
 * runs of many processes (a shell's `sh -c 'echo $$ >> FILE'` costs a busybox start each). Built static by
 * tools/linux-guest for the Linux guest's initramfs. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    char line[24];
    if (argc != 2) {
        return 2;
    }

    int fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT, 0644);
    int n = snprintf(line, sizeof line, "%d\n", (int)getpid());
    return fd >= 0 && write(fd, line, (size_t)n) == n ? 0 : 1;
}
