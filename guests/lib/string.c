/* string.c - the handful of string/memory routines the guests need.
 * gcc may also emit calls to memset/memcpy/memmove/memcmp on its own. */
#include "guest.h"

void *memset(void *d, int c, size_t n)
{
    unsigned char *p = d;

    while ( n-- )
        *p++ = (unsigned char)c;
    return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
    unsigned char *dp = d;
    const unsigned char *sp = s;

    while ( n-- )
        *dp++ = *sp++;
    return d;
}

void *memmove(void *d, const void *s, size_t n)
{
    unsigned char *dp = d;
    const unsigned char *sp = s;

    if ( dp <= sp || dp >= sp + n )
        return memcpy(d, s, n);
    while ( n-- )
        dp[n] = sp[n];
    return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *pa = a, *pb = b;

    for ( ; n; n--, pa++, pb++ )
        if ( *pa != *pb )
            return *pa < *pb ? -1 : 1;
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;

    while ( s[n] )
        n++;
    return n;
}

size_t strnlen(const char *s, size_t max)
{
    size_t n = 0;

    while ( n < max && s[n] )
        n++;
    return n;
}

int strncmp(const char *a, const char *b, size_t n)
{
    for ( ; n; n--, a++, b++ )
    {
        unsigned char ca = *a, cb = *b;

        if ( ca != cb )
            return ca < cb ? -1 : 1;
        if ( !ca )
            break;
    }
    return 0;
}

int strcmp(const char *a, const char *b)
{
    return strncmp(a, b, (size_t)-1);
}

char *strstr(const char *hay, const char *needle)
{
    size_t n = strlen(needle);

    for ( ; *hay; hay++ )
        if ( !strncmp(hay, needle, n) )
            return (char *)hay;
    return n ? NULL : (char *)hay;
}
